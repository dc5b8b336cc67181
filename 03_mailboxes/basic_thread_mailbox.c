/* basic_thread_mailbox.c - a bounded mailbox between threads: one mutex, two condition variables
 *
 * Before crossing process boundaries, the model: a mailbox is a bounded FIFO that a
 * sender blocks on when it is full and a receiver blocks on when it is empty.  One mutex
 * guards the queue; `not_full` wakes senders, `not_empty` wakes receivers; every wait
 * sits in a loop that re-tests its predicate.  A timed receive gives up with ETIMEDOUT
 * (pthread_cond_timedwait() on CLOCK_MONOTONIC, so a clock change cannot stretch it).
 * Guide part: theory (the mailbox abstraction: capacity, blocking, timeouts).
 * Run: ./basic_thread_mailbox [--capacity N] [--messages N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] = "[--capacity N] [--messages N]    (capacity 1 to 64, default 3; "
                            "messages 1 to 1000, default 8)";

enum { MAX_CAPACITY = 64, STOP = -1, TIMED_WAIT_MS = 100 };

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t not_empty; /* signalled after a put */
    pthread_cond_t not_full;  /* signalled after a get */
    int slots[MAX_CAPACITY];
    int head, count, capacity;
};

static void mailbox_init(struct mailbox *mb, int capacity)
{
    pthread_condattr_t attr;
    int err;

    memset(mb, 0, sizeof *mb);
    mb->capacity = capacity;
    if ((err = pthread_mutex_init(&mb->lock, NULL)) != 0 ||
        (err = pthread_condattr_init(&attr)) != 0 ||
        (err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
        (err = pthread_cond_init(&mb->not_empty, &attr)) != 0 ||
        (err = pthread_cond_init(&mb->not_full, &attr)) != 0)
        die_errnum(err, "initialise the mailbox");
    pthread_condattr_destroy(&attr);
}

static void mailbox_destroy(struct mailbox *mb)
{
    pthread_cond_destroy(&mb->not_full);
    pthread_cond_destroy(&mb->not_empty);
    pthread_mutex_destroy(&mb->lock);
}

/* The narration of each step is printed under the lock, so its lines come in the
 * order the steps really happened: a wake-up is never told before its cause. */
static void say(const struct mailbox *mb, const char *what, int value)
{
    if (value == STOP)
        printf("%s STOP (%d of %d slots used)\n", what, mb->count, mb->capacity);
    else
        printf("%s message %d (%d of %d slots used)\n", what, value, mb->count, mb->capacity);
}

/* Blocks while the mailbox is full. */
static void mailbox_put(struct mailbox *mb, int value)
{
    bool waited = false;

    pthread_mutex_lock(&mb->lock);
    if (mb->count == mb->capacity) {
        printf("[producer] mailbox full (%d of %d): waiting for room\n", mb->count, mb->capacity);
        waited = true;
    }
    while (mb->count == mb->capacity) /* a loop: a wake-up is a hint, not a promise */
        pthread_cond_wait(&mb->not_full, &mb->lock);
    mb->slots[(mb->head + mb->count) % mb->capacity] = value;
    mb->count++;
    say(mb, waited ? "[producer] woke up to room: put" : "[producer] put", value);
    pthread_cond_signal(&mb->not_empty);
    pthread_mutex_unlock(&mb->lock);
}

/* Waits at most timeout_ms (forever when negative).  0 with *value, or ETIMEDOUT. */
static int mailbox_get(struct mailbox *mb, int *value, int timeout_ms)
{
    struct timespec deadline;
    int err = 0;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mb->lock);
    while (mb->count == 0 && err == 0) {
        if (timeout_ms < 0)
            err = pthread_cond_wait(&mb->not_empty, &mb->lock);
        else
            err = pthread_cond_timedwait(&mb->not_empty, &mb->lock, &deadline);
    }
    if (mb->count > 0) { /* a message that came just as the time ran out still counts */
        *value = mb->slots[mb->head];
        mb->head = (mb->head + 1) % mb->capacity;
        mb->count--;
        say(mb, "[consumer] took", *value);
        pthread_cond_signal(&mb->not_full);
        err = 0;
    }
    pthread_mutex_unlock(&mb->lock);
    return err;
}

struct demo {
    struct mailbox mb;
    long messages;
};

static void *producer(void *arg)
{
    struct demo *d = arg;

    for (int i = 1; i <= d->messages; i++)
        mailbox_put(&d->mb, i);
    /* Let the consumer find the mailbox empty and time out before the last word. */
    sleep_ms(3 * TIMED_WAIT_MS);
    mailbox_put(&d->mb, STOP);
    return NULL;
}

static void consume(struct demo *d)
{
    int value = 0, received = 0, timeouts = 0;
    uint64_t t0;

    for (;;) {
        int err;

        /* Slow at first, so the producer fills the mailbox and has to wait. */
        if (received < d->messages)
            sleep_ms(20);
        t0 = now_ns();
        err = mailbox_get(&d->mb, &value, received < d->messages ? -1 : TIMED_WAIT_MS);
        if (err == ETIMEDOUT) {
            if (timeouts++ == 0)
                printf("[consumer] timed receive on the empty mailbox: nothing within %d ms "
                       "(ETIMEDOUT after %.0f ms)\n",
                       TIMED_WAIT_MS, ns_to_s(elapsed_ns(t0)) * 1000);
            continue;
        }
        if (err != 0)
            die_errnum(err, "pthread_cond_timedwait");
        if (value == STOP)
            break;
        if (value != ++received)
            die("message %d arrived where %d was due", value, received);
    }
    printf("[consumer] STOP after %d messages, all in order, and %d timed-out wait%s\n", received,
           timeouts, timeouts == 1 ? "" : "s");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"capacity", required_argument, NULL, 'c'},
        {"messages", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct demo d;
    long capacity = 3;
    pthread_t thread;
    int c, err;

    d.messages = 8;
    while ((c = cli_getopt(argc, argv, "c:m:h", longopts, usage)) != -1) {
        if (c == 'c')
            capacity = cli_long(optarg, 1, MAX_CAPACITY, "--capacity", usage);
        else
            d.messages = cli_long(optarg, 1, 1000, "--messages", usage);
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    mailbox_init(&d.mb, (int)capacity);
    printf("[main] mailbox of %ld slots; the producer sends %ld messages and then STOP\n", capacity,
           d.messages);
    if ((err = pthread_create(&thread, NULL, producer, &d)) != 0)
        die_errnum(err, "pthread_create");
    consume(&d);
    if ((err = pthread_join(thread, NULL)) != 0)
        die_errnum(err, "pthread_join");
    mailbox_destroy(&d.mb);
    printf("[main] producer joined, mailbox destroyed\n");
    return 0;
}
