/* basic_sem_timed.c - sem_trywait and sem_timedwait: waiting without blocking, or for a while
 *
 * sem_trywait() never sleeps: it takes a unit or fails at once with EAGAIN.
 * sem_timedwait() sleeps until a unit comes or an ABSOLUTE CLOCK_REALTIME deadline passes,
 * then fails with ETIMEDOUT; it is "now + timeout" the caller computes, not a duration.
 * A unit that is there is taken even when the deadline is already past.  POSIX lets a
 * malformed deadline (tv_nsec out of range) go unchecked when a unit is there; glibc
 * checks it first and fails with EINVAL even then, leaving the unit in place.
 * glibc's sem_clockwait() (Linux, not POSIX) takes CLOCK_MONOTONIC, immune to clock steps.
 * Guide part: theory (non-blocking and timed waits).
 * Run: ./basic_sem_timed [--timeout-ms MS]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

static const char usage[] = "[--timeout-ms MS]    (MS from 10 to 2000)";

static sem_t sem; /* pshared 0: this program's threads only */
static sem_t go;  /* starts the poster's clock once the deadline is set */

/* The deadline sem_timedwait() wants: the wall clock now plus `ms`. */
static struct timespec deadline_in(long ms)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
        die_errno("clock_gettime");
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* "0" or the errno name, for the narration. */
static const char *result(int ret)
{
    if (ret == 0)
        return "0 (took a unit)";
    switch (errno) {
    case EAGAIN: return "-1, errno EAGAIN (no unit, did not sleep)";
    case ETIMEDOUT: return "-1, errno ETIMEDOUT (deadline passed)";
    case EINVAL: return "-1, errno EINVAL (malformed deadline)";
    default: die_errno("sem_timedwait");
    }
}

static void timed(const char *what, const struct timespec *deadline)
{
    uint64_t start = now_ns();
    int ret = sem_timedwait(&sem, deadline);

    printf("[main] sem_timedwait(%s) = %s after %s\n", what, result(ret),
           fmt_duration((double)elapsed_ns(start)).s);
}

static void *late_poster(void *arg)
{
    while (sem_wait(&go) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
    sleep_ms((unsigned)*(long *)arg);
    if (sem_post(&sem) == -1)
        die_errno("sem_post");
    return NULL;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"timeout-ms", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long timeout_ms = 200, post_after_ms;
    struct timespec deadline, bad = {.tv_sec = 0, .tv_nsec = 1000000000L};
    pthread_t poster;
    int c, err;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:h", longopts, usage)) != -1)
        timeout_ms = cli_long(optarg, 10, 2000, "--timeout-ms", usage);
    cli_no_operands(argc, argv, usage);

    if (sem_init(&sem, 0, 0) == -1 || sem_init(&go, 0, 0) == -1)
        die_errno("sem_init");
    printf("[main] sem_init: value 0\n");
    printf("[main] sem_trywait = %s\n", result(sem_trywait(&sem)));

    deadline = deadline_in(timeout_ms);
    printf("[main] deadline = CLOCK_REALTIME now + %ld ms, no one posts\n", timeout_ms);
    timed("deadline", &deadline);

    post_after_ms = timeout_ms / 4;
    printf("[main] a thread posts after %ld ms; deadline now + %ld ms\n", post_after_ms,
           timeout_ms);
    err = pthread_create(&poster, NULL, late_poster, &post_after_ms);
    if (err != 0)
        die_errnum(err, "pthread_create");
    deadline = deadline_in(timeout_ms);
    if (sem_post(&go) == -1) /* a slow thread start does not eat into the deadline */
        die_errno("sem_post");
    timed("deadline", &deadline);
    err = pthread_join(poster, NULL);
    if (err != 0)
        die_errnum(err, "pthread_join");

    printf("[main] sem_post twice: value 2; a deadline in 1970, then a malformed one\n");
    if (sem_post(&sem) == -1 || sem_post(&sem) == -1)
        die_errno("sem_post");
    timed("1970-01-01", &(struct timespec){.tv_sec = 0, .tv_nsec = 0});
    timed("tv_nsec = 1000000000", &bad);
    printf("[main] the unit is still there: sem_trywait = %s\n", result(sem_trywait(&sem)));
    printf("[main] sem_trywait = %s\n", result(sem_trywait(&sem)));
    if (sem_destroy(&sem) == -1 || sem_destroy(&go) == -1)
        die_errno("sem_destroy");
    return 0;
}
