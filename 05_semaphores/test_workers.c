/* test_workers.c - Check unit tests of the worker processes (workers.h): each worker runs the
 * body with its own index in a process of its own; reaping counts the ones that failed and
 * only touches the range asked for; a stop (cleanup_run, as the registry's signal handler runs
 * it) stops and reaps the workers still there; a worker dies with its parent; asking for more
 * than WORKERS_MAX dies.
 */
#define _GNU_SOURCE
#include "workers.h"
#include "cleanup.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct record {
    pid_t pid[WORKERS_MAX];
    int ran[WORKERS_MAX];
};

static struct record *map_record(void)
{
    struct record *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(r, MAP_FAILED);
    return r;
}

static void note(void *arg, int index)
{
    struct record *r = arg;

    r->pid[index] = getpid();
    r->ran[index]++;
}

static void fail_odd(void *arg, int index)
{
    (void)arg;
    if (index % 2 == 1)
        exit(3);
}

static void sleep_for_ever(void *arg, int index)
{
    note(arg, index);
    for (;;)
        pause();
}

/* Polls until `pid` no longer exists (waitpid gives ECHILD: reaped by someone else). */
static bool gone(pid_t pid)
{
    for (int tick = 0; tick < 300; tick++) {
        if (waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD)
            return true;
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    return false;
}

START_TEST(each_worker_runs_once_with_its_index)
{
    struct record *r = map_record();
    struct workers w = {0};

    ck_assert_int_eq(workers_start(&w, 3, note, r), 0);
    ck_assert_int_eq(workers_start(&w, 2, note, r), 3);
    ck_assert_int_eq(w.count, 5);
    ck_assert_int_eq(workers_reap(&w, 0, 5, NULL), 0);
    /* The second call's workers are indexed 0 and 1 again: the body's index is per call. */
    ck_assert_int_eq(r->ran[0], 2);
    ck_assert_int_eq(r->ran[1], 2);
    ck_assert_int_eq(r->ran[2], 1);
    ck_assert_int_eq(r->ran[3], 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(w.pid[i], 0); /* all reaped */
    ck_assert_int_ne(r->pid[0], getpid());
    ck_assert_int_ne(r->pid[0], r->pid[1]);
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(reap_counts_failures_in_its_range_only)
{
    struct workers w = {0};

    workers_start(&w, 4, fail_odd, NULL);
    ck_assert_int_eq(workers_reap(&w, 0, 2, NULL), 1);   /* worker 1 exited 3 */
    ck_assert_int_ne(w.pid[2], 0);                       /* not asked for: not reaped */
    ck_assert_int_eq(workers_reap(&w, 2, 2, "test"), 1); /* worker 3 */
    ck_assert_int_eq(workers_reap(&w, 0, 4, NULL), 0);   /* nothing left to reap */
}
END_TEST

START_TEST(a_stop_reaps_the_workers_still_there)
{
    struct record *r = map_record();
    struct workers w = {0};

    workers_start(&w, 2, sleep_for_ever, r);
    while (r->ran[0] == 0 || r->ran[1] == 0)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    cleanup_run(); /* what the registry's SIGTERM handler does before it re-raises */
    ck_assert(gone(w.pid[0]));
    ck_assert(gone(w.pid[1]));
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(a_worker_dies_with_its_parent)
{
    struct record *r = map_record();
    int status;

    /* Orphans come to us, so the worker's end can be seen and its cause read. */
    ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    pid_t parent = fork();
    ck_assert_int_ne(parent, -1);
    if (parent == 0) {
        struct workers w = {0};

        workers_start(&w, 1, sleep_for_ever, r);
        while (r->ran[0] == 0)
            nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
        _exit(0); /* no exit(): the registry would stop the worker itself */
    }
    ck_assert_int_eq(waitpid(parent, &status, 0), parent);
    ck_assert_int_eq(waitpid(r->pid[0], &status, 0), r->pid[0]);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(too_many_workers_dies)
{
    struct workers w = {0};

    workers_start(&w, WORKERS_MAX, fail_odd, NULL);
    workers_reap(&w, 0, WORKERS_MAX, NULL);
    workers_start(&w, 1, fail_odd, NULL); /* the entries are not reused: one too many */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("workers");
    TCase *tc = tcase_create("workers");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, each_worker_runs_once_with_its_index);
    tcase_add_test(tc, reap_counts_failures_in_its_range_only);
    tcase_add_test(tc, a_stop_reaps_the_workers_still_there);
    tcase_add_test(tc, a_worker_dies_with_its_parent);
    tcase_add_exit_test(tc, too_many_workers_dies, 1);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
