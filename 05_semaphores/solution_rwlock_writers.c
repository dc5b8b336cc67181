/* solution_rwlock_writers.c - exercise 3: a readers-writer lock that prefers writers
 *
 * The second readers-writers solution of Courtois, Heymans and Parnas (1971), from five
 * semaphores: the first writer to arrive closes `read_gate`, so no new reader gets in
 * while any writer waits or writes; the last writer out opens it again.  `read_queue`
 * keeps readers from piling up on `read_gate` ahead of a writer.  A fixed scenario of four
 * readers and two writers, with arrival times in units of --unit ms, prints who enters and
 * leaves; with writer preference the order is fixed (see the README).
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_rwlock_writers [--unit MS]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--unit MS]    (MS from 10 to 1000, default 50)";

static sem_t read_gate;  /* closed by the first waiting writer */
static sem_t read_queue; /* one reader at a time queues on read_gate */
static sem_t write_lock; /* the resource: one writer, or the readers as a group */
static sem_t readers_mtx, writers_mtx;
static int readers, writers; /* guarded by readers_mtx and writers_mtx */
static long unit_ms = 50;
static struct timespec start; /* CLOCK_MONOTONIC, taken before the first thread starts */

static void P(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void V(sem_t *s)
{
    if (sem_post(s) == -1)
        die_errno("sem_post");
}

static void reader_lock(void)
{
    P(&read_queue);
    P(&read_gate);
    P(&readers_mtx);
    if (++readers == 1)
        P(&write_lock);
    V(&readers_mtx);
    V(&read_gate);
    V(&read_queue);
}

static void reader_unlock(void)
{
    P(&readers_mtx);
    if (--readers == 0)
        V(&write_lock);
    V(&readers_mtx);
}

static void writer_lock(void)
{
    P(&writers_mtx);
    if (++writers == 1)
        P(&read_gate); /* the first writer shuts new readers out */
    V(&writers_mtx);
    P(&write_lock);
}

static void writer_unlock(void)
{
    V(&write_lock);
    P(&writers_mtx);
    if (--writers == 0)
        V(&read_gate);
    V(&writers_mtx);
}

struct actor {
    const char *kind;
    int number;
    long arrive, hold; /* in units */
    pthread_t thread;
};

static void say(const struct actor *a, const char *what)
{
    char line[48];
    int len = snprintf(line, sizeof line, "%s %d %s\n", a->kind, a->number, what);

    if (write_full(STDOUT_FILENO, line, (size_t)len) == -1)
        die_errno("write to stdout");
}

/* Sleeps until `units` after the start: arrivals do not drift with thread start-up. */
static void sleep_until_unit(long units)
{
    struct timespec at = start;
    long long ns = (long long)at.tv_nsec + (long long)units * unit_ms * 1000000LL;
    int err;

    at.tv_sec += (time_t)(ns / 1000000000LL);
    at.tv_nsec = (long)(ns % 1000000000LL);
    while ((err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL)) == EINTR)
        ;
    if (err != 0)
        die_errnum(err, "clock_nanosleep");
}

static void *act(void *arg)
{
    struct actor *a = arg;
    bool writer = a->kind[0] == 'w';

    sleep_until_unit(a->arrive);
    if (writer)
        writer_lock();
    else
        reader_lock();
    say(a, "enters");
    sleep_ms((unsigned)(a->hold * unit_ms));
    say(a, "leaves");
    if (writer)
        writer_unlock();
    else
        reader_unlock();
    return NULL;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"unit", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct actor cast[] = {
        {"reader", 1, 0, 6, 0}, {"writer", 1, 2, 2, 0},  {"reader", 2, 4, 1, 0},
        {"writer", 2, 5, 1, 0}, {"reader", 3, 12, 2, 0}, {"reader", 4, 13, 2, 0},
    };
    int c, err;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        unit_ms = cli_long(optarg, 10, 1000, "--unit", usage);
    cli_no_operands(argc, argv, usage);
    if (argc == 1)
        printf("[main] writer preference; arrivals at 0, 2, 4, 5, 12, 13 units of 50 ms\n");
    fflush(stdout); /* the actors write their lines with write(2) */

    if (sem_init(&read_gate, 0, 1) == -1 || sem_init(&read_queue, 0, 1) == -1 ||
        sem_init(&write_lock, 0, 1) == -1 || sem_init(&readers_mtx, 0, 1) == -1 ||
        sem_init(&writers_mtx, 0, 1) == -1)
        die_errno("sem_init");
    if (clock_gettime(CLOCK_MONOTONIC, &start) == -1)
        die_errno("clock_gettime");
    start.tv_nsec += 200000000L; /* time 0 is 200 ms away: every thread is up by then */
    if (start.tv_nsec >= 1000000000L) {
        start.tv_sec++;
        start.tv_nsec -= 1000000000L;
    }
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        if ((err = pthread_create(&cast[i].thread, NULL, act, &cast[i])) != 0)
            die_errnum(err, "pthread_create");
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        if ((err = pthread_join(cast[i].thread, NULL)) != 0)
            die_errnum(err, "pthread_join");
    return 0;
}
