/* test_pair.c - Check unit tests of the two measuring processes (pair.h): both sides run in
 * processes of their own, pinned to the CPUs pair_cpu() names, released together after
 * start_ns is set; a side that fails before or after the start line never leaves the other
 * one spinning.
 */
#define _GNU_SOURCE
#include "pair.h"
#include "timing.h"

#include <check.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct record {
    struct pair_start start;
    pid_t pid[2];
    int cpu[2];
    uint64_t released_ns[2];
};

static struct record *map_record(void)
{
    struct record *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(r, MAP_FAILED);
    return r;
}

static void note(struct record *r, int side)
{
    pair_wait_for_go(&r->start);
    r->released_ns[side] = now_ns();
    r->pid[side] = getpid();
    r->cpu[side] = sched_getcpu();
}

static void note0(void *arg)
{
    note(arg, 0);
}
static void note1(void *arg)
{
    note(arg, 1);
}

static void fail_early(void *arg)
{
    (void)arg;
    exit(3); /* before the start line */
}

static void fail_late(void *arg)
{
    pair_wait_for_go(&((struct record *)arg)->start);
    exit(3);
}

static void spin_for_ever(void *arg)
{
    unsigned spins = 0;

    pair_wait_for_go(&((struct record *)arg)->start);
    for (;;)
        pair_relax(&spins);
}

START_TEST(cpus_are_allowed_ones)
{
    cpu_set_t set;

    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    ck_assert(pair_cpus() == 1 || pair_cpus() == 2);
    ck_assert(CPU_ISSET(pair_cpu(0), &set));
    ck_assert(CPU_ISSET(pair_cpu(1), &set));
    if (pair_cpus() == 2)
        ck_assert_int_ne(pair_cpu(0), pair_cpu(1));
    else
        ck_assert_int_eq(pair_cpu(0), pair_cpu(1));
}
END_TEST

START_TEST(sides_run_pinned_in_their_own_processes)
{
    struct record *r = map_record();

    ck_assert_int_eq(pair_try_run(&r->start, note0, note1, r), 0);
    ck_assert_int_ne(r->pid[0], getpid());
    ck_assert_int_ne(r->pid[1], getpid());
    ck_assert_int_ne(r->pid[0], r->pid[1]);
    ck_assert_int_eq(r->cpu[0], pair_cpu(0));
    ck_assert_int_eq(r->cpu[1], pair_cpu(1));
    ck_assert_uint_ge(r->released_ns[0], r->start.start_ns);
    ck_assert_uint_ge(r->released_ns[1], r->start.start_ns);
    /* A second run starts from a fresh line. */
    ck_assert_int_eq(pair_try_run(&r->start, note0, note1, r), 0);
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(a_side_failing_before_the_line_is_reported)
{
    struct record *r = map_record();

    ck_assert_int_eq(pair_try_run(&r->start, fail_early, spin_for_ever, r), -1);
    ck_assert_int_eq(pair_try_run(&r->start, spin_for_ever, fail_early, r), -1);
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(a_side_failing_after_the_line_stops_the_other)
{
    struct record *r = map_record();

    ck_assert_int_eq(pair_try_run(&r->start, fail_late, spin_for_ever, r), -1);
    ck_assert_int_eq(pair_try_run(&r->start, note0, fail_late, r), -1);
    munmap(r, sizeof *r);
}
END_TEST

START_TEST(pair_run_dies_when_a_side_fails)
{
    struct record *r = map_record();

    pair_run(&r->start, fail_late, spin_for_ever, r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pair");
    TCase *tc = tcase_create("pair");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cpus_are_allowed_ones);
    tcase_add_test(tc, sides_run_pinned_in_their_own_processes);
    tcase_add_test(tc, a_side_failing_before_the_line_is_reported);
    tcase_add_test(tc, a_side_failing_after_the_line_stops_the_other);
    tcase_add_exit_test(tc, pair_run_dies_when_a_side_fails, 1);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
