/* advanced_readers_writers.c - a readers-writer lock from semaphores that does not starve writers
 *
 * Many readers may be inside at once, a writer only alone.  The first reader in takes
 * `room_empty` for all readers and the last one out gives it back (a `count_mutex` guards
 * the count).  That alone prefers readers: while readers overlap, the count never drops
 * to 0 and a writer waits for ever.  The fairness rule here: every reader and writer first
 * passes a `turnstile` semaphore, and a writer keeps it while it waits for the room, so a
 * reader that arrives after a waiting writer queues behind it; the readers already inside
 * finish, then the writer goes (Downey, "The Little Book of Semaphores", 4.2.5).  Readers
 * check that a writer never changes the data under them.
 * --readers-preference runs the lock without the turnstile, to show the starvation.
 * Guide part: theory (classical problems: readers and writers).
 * Run: ./advanced_readers_writers [--readers N] [--readers-preference]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_READERS 8
#define RUN_MS 400 /* readers keep reading this long */
#define READ_MS 10 /* each read holds the lock this long */
#define WORDS 64

static const char usage[] = "[--readers N] [--readers-preference]    (N from 2 to 8)";

static sem_t turnstile, room_empty, count_mutex;
static int readers_inside; /* guarded by count_mutex */
static bool use_turnstile = true;
static int data[WORDS]; /* all words equal, unless a writer is half-way */
static atomic_bool writer_waiting;
static uint64_t started; /* set before any thread starts */
static atomic_int entered_while_waiting, torn_reads;

static void wait_sem(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void post_sem(sem_t *s)
{
    if (sem_post(s) == -1)
        die_errno("sem_post");
}

static void read_lock(void)
{
    if (use_turnstile) {
        wait_sem(&turnstile); /* behind any writer that is waiting */
        post_sem(&turnstile);
    }
    wait_sem(&count_mutex);
    if (++readers_inside == 1)
        wait_sem(&room_empty); /* the first reader locks the writers out */
    post_sem(&count_mutex);
}

static void read_unlock(void)
{
    wait_sem(&count_mutex);
    if (--readers_inside == 0)
        post_sem(&room_empty); /* the last reader lets a writer in */
    post_sem(&count_mutex);
}

static void *reader(void *arg)
{
    (void)arg;
    while (elapsed_ns(started) < (uint64_t)RUN_MS * 1000000) {
        bool late = atomic_load(&writer_waiting); /* arrives after the writer? */

        read_lock();
        if (late && atomic_load(&writer_waiting))
            atomic_fetch_add(&entered_while_waiting, 1);
        for (int i = 1; i < WORDS; i++)
            if (data[i] != data[0]) {
                atomic_fetch_add(&torn_reads, 1);
                break;
            }
        sleep_ms(READ_MS);
        read_unlock();
    }
    return NULL;
}

/* One write after the readers have been going for a while; returns its wait in ns. */
static uint64_t write_once(void)
{
    uint64_t start;

    sleep_ms(100);
    printf("[writer] wants to write while readers keep coming\n");
    start = now_ns();
    atomic_store(&writer_waiting, true);
    if (use_turnstile)
        wait_sem(&turnstile); /* new readers now queue behind us */
    wait_sem(&room_empty);    /* the readers inside finish first */
    atomic_store(&writer_waiting, false);
    for (int i = 0; i < WORDS; i++)
        data[i]++;
    post_sem(&room_empty);
    if (use_turnstile)
        post_sem(&turnstile);
    return elapsed_ns(start);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"readers", required_argument, NULL, 'r'},
        {"readers-preference", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pthread_t tids[MAX_READERS];
    long nreaders = 4;
    uint64_t waited;
    bool stopped_first;
    int c, err;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "r:h", longopts, usage)) != -1) {
        if (c == 'r')
            nreaders = cli_long(optarg, 2, MAX_READERS, "--readers", usage);
        else
            use_turnstile = false;
    }
    cli_no_operands(argc, argv, usage);

    if (sem_init(&turnstile, 0, 1) == -1 || sem_init(&room_empty, 0, 1) == -1 ||
        sem_init(&count_mutex, 0, 1) == -1)
        die_errno("sem_init");
    printf("[main] %s lock; %ld readers, each read holds it %d ms, for %d ms\n",
           use_turnstile ? "fair (turnstile)" : "readers-preference", nreaders, READ_MS, RUN_MS);
    started = now_ns();
    for (long i = 0; i < nreaders; i++) {
        if ((err = pthread_create(&tids[i], NULL, reader, NULL)) != 0)
            die_errnum(err, "pthread_create");
        sleep_ms(READ_MS / 2); /* staggered, so the reads overlap */
    }
    waited = write_once();
    stopped_first = elapsed_ns(started) >= (uint64_t)RUN_MS * 1000000;
    printf("[writer] wrote after waiting %s; %d reads began after it arrived and got in first\n",
           fmt_duration((double)waited).s, atomic_load(&entered_while_waiting));
    for (long i = 0; i < nreaders; i++)
        if ((err = pthread_join(tids[i], NULL)) != 0)
            die_errnum(err, "pthread_join");
    printf("[main] torn reads (a writer inside with a reader): %d\n", atomic_load(&torn_reads));
    if (atomic_load(&torn_reads) != 0)
        die("the lock let a writer in with readers");
    if (use_turnstile && atomic_load(&entered_while_waiting) > nreaders)
        die("readers overtook the waiting writer: the turnstile did not hold them");
    if (use_turnstile)
        printf("[main] not starved: at most the %ld readers already queued went first\n", nreaders);
    else if (stopped_first)
        printf("[main] starved: the writer got in only after the readers stopped coming\n");
    sem_destroy(&turnstile);
    sem_destroy(&room_empty);
    sem_destroy(&count_mutex);
    return 0;
}
