/* basic_posix_named_sem.c - a POSIX named semaphore shared by processes that meet by name
 *
 * sem_open(O_CREAT | O_EXCL) creates a counting semaphore under a name; any process that
 * knows the name opens the same one, related or not.  sem_wait() takes one unit and sleeps
 * while the count is 0; sem_post() adds one and wakes a sleeper.  sem_close() drops this
 * process's handle, sem_unlink() removes the name.  On Linux, glibc keeps the semaphore in
 * a small file /dev/shm/sem.NAME that every user maps: the count is a word in shared memory.
 * Guide part: theory (POSIX named semaphores).
 * Trace: openat link unlink mmap futex clone wait4
 * Run: ./basic_posix_named_sem [--count N]
 *      two terminals: ./basic_posix_named_sem --waiter /demo   (creates it, waits N times)
 *                     ./basic_posix_named_sem --poster /demo   (opens it, posts N times)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--count N] [--waiter /NAME | --poster /NAME]    (N from 1 to 100)";

/* A portable name is "/" and up to NAME_MAX - 4 other characters, none a "/": glibc
 * turns it into the file /dev/shm/sem.NAME. */
static void check_name(const char *name)
{
    size_t len = strlen(name);

    if (name[0] != '/' || len < 2 || strchr(name + 1, '/') != NULL || len > NAME_MAX - 4)
        die_usage(usage, "'%s' is not a semaphore name: '/' then 1 to %d characters, no other '/'",
                  name, NAME_MAX - 4);
}

static void print_value(const char *role, sem_t *sem)
{
    int value;

    if (sem_getvalue(sem, &value) == -1)
        die_errno("sem_getvalue");
    printf("[%s] sem_getvalue: %d\n", role, value);
}

/* Creates the semaphore with count 0; returns its cleanup slot in *slot. */
static sem_t *create_sem(const char *name, int *slot)
{
    sigset_t saved;
    sem_t *sem;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the name behind */
    sem = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
    if (sem == SEM_FAILED)
        die_errno("sem_open %s (O_CREAT | O_EXCL)", name);
    *slot = cleanup_add_sem(name);
    if (*slot == -1)
        die_errno("cleanup_add_sem %s", name);
    stop_signals_release(&saved);
    printf("[waiter] created semaphore %s with value 0 (file /dev/shm/sem.%s)\n", name, name + 1);
    return sem;
}

/* Waits for `count` posts, then closes and removes the semaphore. */
static void run_waiter(const char *name, sem_t *sem, int slot, long count)
{
    print_value("waiter", sem);

    for (long i = 1; i <= count; i++) {
        printf("[waiter] sem_wait: sleeps until a post makes the value positive\n");
        if (sem_wait(sem) == -1)
            die_errno("sem_wait");
        printf("[waiter] sem_wait returned: took unit %ld of %ld\n", i, count);
    }
    print_value("waiter", sem);
    if (sem_close(sem) == -1)
        die_errno("sem_close");
    if (sem_unlink(name) == -1)
        die_errno("sem_unlink %s", name);
    cleanup_forget(slot);
    printf("[waiter] sem_close and sem_unlink: the name is gone\n");
}

/* Opens an existing semaphore by name (no O_CREAT) and posts `count` times. */
static void run_poster(const char *name, long count)
{
    sem_t *sem = sem_open(name, 0);

    if (sem == SEM_FAILED)
        die_errno("sem_open %s", name);
    printf("[poster] opened semaphore %s by its name\n", name);
    for (long i = 1; i <= count; i++) {
        sleep_ms(50); /* let the waiter be seen asleep first */
        printf("[poster] sem_post %ld of %ld\n", i, count);
        if (sem_post(sem) == -1)
            die_errno("sem_post");
    }
    if (sem_close(sem) == -1)
        die_errno("sem_close");
    printf("[poster] sem_close: done (the name stays until sem_unlink)\n");
}

/* The demo: the child uses only the name, as an unrelated process would. */
static void demo(long count)
{
    char name[64];
    pid_t poster;
    sem_t *sem;
    int slot;

    snprintf(name, sizeof name, "/basic_posix_named_sem.%d", (int)getpid());
    sem = create_sem(name, &slot);
    poster = fork_or_die();
    if (poster == 0) {
        /* The inherited handle is not used: the poster finds the semaphore by name.
         * Should the reader of our narration go away (`| head -3`), SIGPIPE must not
         * kill the poster before its posts: the waiter would sleep forever. */
        signal(SIGPIPE, SIG_IGN);
        run_poster(name, count);
        exit(0);
    }
    printf("[parent] started the poster as pid %d; it knows only the name\n", (int)poster);
    run_waiter(name, sem, slot, count);
    if (reap_child(poster, "parent") != 0)
        die("the poster failed");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"waiter", required_argument, NULL, 'w'},
        {"poster", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL;
    long count = 3;
    int c, side = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1) {
        if (c == 'n') {
            count = cli_long(optarg, 1, 100, "--count", usage);
            continue;
        }
        if (side != 0)
            die_usage(usage, "give only one of --waiter and --poster");
        side = c;
        name = optarg;
    }
    cli_no_operands(argc, argv, usage);

    if (side == 0) {
        demo(count);
    } else {
        check_name(name);
        if (side == 'w') {
            int slot;
            sem_t *sem = create_sem(name, &slot);

            run_waiter(name, sem, slot, count);
        } else {
            run_poster(name, count);
        }
    }
    return 0;
}
