/* pitfall_lost_wakeup.c - a wake-up sent before the waiter sleeps is lost
 *
 * A condition variable has no memory: pthread_cond_signal() wakes a thread that is
 * waiting NOW, and is lost when none is.  A waiter that calls pthread_cond_wait() without
 * a predicate (a flag it checks under the mutex) sleeps through an event that already
 * happened.  Here the event comes at once and the waiter arrives 100 ms later; its wait,
 * bounded to 300 ms, times out.  --fixed: the event is a flag set under the mutex, and the
 * waiter sleeps only `while (!ready)`.  A futex carries the same check into the kernel:
 * FUTEX_WAIT sleeps only if the word still holds the value the caller saw, so a change
 * made just before the call makes it return EAGAIN instead of sleeping; that too is shown.
 * Guide part: pitfall (lost wake-ups).
 * Run: ./pitfall_lost_wakeup [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static bool ready; /* the predicate: only read or written with `mutex` held */
static bool fixed;

static int futex_wait(atomic_uint *word, unsigned expected)
{
    return (int)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void *waiter(void *arg)
{
    struct timespec deadline;
    bool *woken = arg;
    int err = 0;

    sleep_ms(100); /* arrives late: the event has already happened */
    if (clock_gettime(CLOCK_MONOTONIC, &deadline) == -1)
        die_errno("clock_gettime");
    deadline.tv_nsec += 300000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;

    pthread_mutex_lock(&mutex);
    printf("[waiter] arrives 100 ms late and waits (at most 300 ms)%s\n",
           fixed ? " while !ready" : " with no predicate");
    if (fixed) {
        while (!ready && err == 0) /* THE FIX: the event is remembered in `ready` */
            err = pthread_cond_timedwait(&cond, &mutex, &deadline);
    } else {
        err = pthread_cond_timedwait(&cond, &mutex, &deadline); /* THE BUG */
    }
    pthread_mutex_unlock(&mutex);
    if (err != 0 && err != ETIMEDOUT)
        die_errnum(err, "pthread_cond_timedwait");
    *woken = err == 0;
    return NULL;
}

/* The kernel's own value check: the word changed before FUTEX_WAIT, so it does not sleep. */
static void futex_check(void)
{
    atomic_uint word = 0;
    unsigned seen = atomic_load(&word);

    atomic_store(&word, 1); /* the "event" arrives between the look and the wait */
    printf("[main] futex: saw %u, the word is now 1; FUTEX_WAIT(expected %u)\n", seen, seen);
    if (futex_wait(&word, seen) == -1 && errno == EAGAIN)
        printf("[main] FUTEX_WAIT returned EAGAIN at once: the value check caught the change\n");
    else
        die_errno("FUTEX_WAIT should have failed with EAGAIN");
}

int main(int argc, char *argv[])
{
    pthread_condattr_t attr;
    pthread_t thread;
    bool woken = false;
    int err;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&cond, &attr) != 0)
        die("cannot set up the condition variable");
    err = pthread_create(&thread, NULL, waiter, &woken);
    if (err != 0)
        die_errnum(err, "pthread_create");

    pthread_mutex_lock(&mutex);
    printf("[main] the event happens: %spthread_cond_signal\n", fixed ? "ready = true, " : "");
    ready = fixed; /* the broken waiter never looks at it */
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mutex);

    err = pthread_join(thread, NULL);
    if (err != 0)
        die_errnum(err, "pthread_join");
    if (woken)
        printf("[waiter] saw the event and went on\n");
    else
        printf("[waiter] timed out: the signal came before it waited and was lost\n");
    if (fixed)
        futex_check();
    pthread_cond_destroy(&cond);
    pthread_condattr_destroy(&attr);
    if (woken != fixed)
        die("the demonstration did not behave as described");
    return 0;
}
