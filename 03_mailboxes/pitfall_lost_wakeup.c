/* pitfall_lost_wakeup.c - a mailbox that takes a wake-up for a message loses messages
 *
 * A condition variable has no memory: pthread_cond_signal() with nobody waiting does
 * nothing.  The broken mailbox treats each wake-up as "one message arrived": its receiver
 * waits first and looks at the queue after.  The producer posts five messages while the
 * receiver is still busy, so all five signals fall on nobody, and the receiver then
 * sleeps beside a full queue (bounded here by a 200 ms timed wait).  --fixed waits only
 * while its predicate, "the queue is empty", holds, and so sees the five at once.
 * Guide part: pitfall (condition variables: always wait on a predicate, in a loop).
 * Run: ./pitfall_lost_wakeup [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static const char usage[] = "[--fixed]";

enum { MESSAGES = 5, BUSY_MS = 50, WAIT_MS = 200 };

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    int queue[MESSAGES];
    int count, head;
};

static struct mailbox mb = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0};

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 1; i <= MESSAGES; i++) {
        pthread_mutex_lock(&mb.lock);
        mb.queue[mb.count++] = i;
        printf("[producer] posted message %d and signalled (%d queued)\n", i, mb.count);
        pthread_cond_signal(&mb.arrived); /* nobody is waiting yet: this is lost */
        pthread_mutex_unlock(&mb.lock);
    }
    return NULL;
}

static struct timespec deadline_in(int ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t); /* the default clock of a condition variable */
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Takes one message; false when the bounded wait ran out first. */
static bool receive(bool fixed, int *value)
{
    struct timespec deadline = deadline_in(WAIT_MS);
    int err = 0;

    pthread_mutex_lock(&mb.lock);
    if (fixed) {
        while (mb.count == mb.head && err == 0) /* THE FIX: the predicate, in a loop */
            err = pthread_cond_timedwait(&mb.arrived, &mb.lock, &deadline);
    } else {
        /* THE BUG: wait for "the" signal without looking at the queue.  Without the
         * timeout this would sleep for ever beside five queued messages. */
        err = pthread_cond_timedwait(&mb.arrived, &mb.lock, &deadline);
    }
    if (err == ETIMEDOUT || mb.count == mb.head) {
        printf("[receiver] waited %d ms for a signal that had already come and gone; "
               "%d messages sit in the queue\n",
               WAIT_MS, mb.count - mb.head);
        pthread_mutex_unlock(&mb.lock);
        return false;
    }
    *value = mb.queue[mb.head++];
    pthread_mutex_unlock(&mb.lock);
    return true;
}

int main(int argc, char *argv[])
{
    pthread_t thread;
    int err, value = 0, received = 0;
    bool fixed;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    printf("[receiver] busy for %d ms before my first receive (%s)\n", BUSY_MS,
           fixed ? "fixed: wait only while the queue is empty"
                 : "broken: wait for a signal, then look");
    if ((err = pthread_create(&thread, NULL, producer, NULL)) != 0)
        die_errnum(err, "pthread_create");
    sleep_ms(BUSY_MS);
    if ((err = pthread_join(thread, NULL)) != 0) /* all five posted before we wait */
        die_errnum(err, "pthread_join");

    while (received < MESSAGES && receive(fixed, &value)) {
        received++;
        printf("[receiver] took message %d\n", value);
    }
    if (received < MESSAGES)
        printf("[receiver] gave up: %d of %d messages lost to wake-ups nobody heard\n",
               MESSAGES - received, MESSAGES);
    else
        printf("[receiver] all %d messages taken, no wait needed\n", MESSAGES);
    pthread_mutex_destroy(&mb.lock);
    pthread_cond_destroy(&mb.arrived);
    if ((received == MESSAGES) != fixed)
        die(fixed ? "the fixed mode lost messages" : "the broken mode lost nothing");
    return 0;
}
