/* advanced_bounded_buffer.c - producers and consumers across processes: empty, full and mutex
 *
 * The classical bounded buffer (Dijkstra): a ring of SLOTS items in shared memory and
 * three semaphores.  `empty` counts free slots (starts at SLOTS) and stops a producer when
 * the ring is full; `full` counts filled slots (starts at 0) and stops a consumer when it is
 * empty; `mutex` (starts at 1) lets one process at a time move an index.  A producer does
 * wait(empty), wait(mutex), put, post(mutex), post(full); a consumer the mirror image.
 * Every item carries (producer, sequence number); consumers tick it off in a shared table,
 * which proves at the end that every item was consumed exactly once, none twice or lost.
 * Guide part: theory (classical problems: producer/consumer).
 * Run: ./advanced_bounded_buffer [--producers N] [--consumers N] [--items N] [--slots N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "workers.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_PRODUCERS 8
#define MAX_CONSUMERS 8
#define MAX_ITEMS 100000 /* per producer */
#define MAX_SLOTS 64
#define STOP (-1) /* the item that tells a consumer to end */

static const char usage[] = "[--producers N] [--consumers N] [--items N] [--slots N]    "
                            "(producers, consumers 1 to 8; items 1 to 100000; slots 1 to 64)";

struct item {
    int producer;
    int seq; /* STOP ends a consumer */
};

struct ring {
    sem_t empty, full, mutex;
    int slots, in, out; /* in and out: moved only with `mutex` held */
    struct item buf[MAX_SLOTS];
    /* consumed[p][s]: how many times item s of producer p was taken (must end at 1) */
    atomic_uchar consumed[MAX_PRODUCERS][MAX_ITEMS];
    atomic_long taken_by[MAX_CONSUMERS];
};

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

static void put(struct ring *r, struct item it)
{
    wait_sem(&r->empty); /* a free slot, or sleep until a consumer frees one */
    wait_sem(&r->mutex);
    r->buf[r->in] = it;
    r->in = (r->in + 1) % r->slots;
    post_sem(&r->mutex);
    post_sem(&r->full); /* one more item for the consumers */
}

static struct item take(struct ring *r)
{
    struct item it;

    wait_sem(&r->full);
    wait_sem(&r->mutex);
    it = r->buf[r->out];
    r->out = (r->out + 1) % r->slots;
    post_sem(&r->mutex);
    post_sem(&r->empty);
    return it;
}

struct producer_job {
    struct ring *ring;
    int items;
};

/* Producers and consumers are worker processes (workers.h), which exit 0 when these return. */
static void producer(void *arg, int id)
{
    const struct producer_job *job = arg;

    for (int s = 0; s < job->items; s++)
        put(job->ring, (struct item){.producer = id, .seq = s});
}

static void consumer(void *arg, int id)
{
    struct ring *r = arg;

    for (;;) {
        struct item it = take(r);

        if (it.seq == STOP)
            return;
        atomic_fetch_add(&r->consumed[it.producer][it.seq], 1);
        atomic_fetch_add(&r->taken_by[id], 1);
    }
}

/* Every item exactly once: counts how many were taken 0 times and more than once. */
static bool check_all(struct ring *r, int producers, int items)
{
    long lost = 0, doubled = 0;

    for (int p = 0; p < producers; p++)
        for (int s = 0; s < items; s++) {
            unsigned n = atomic_load(&r->consumed[p][s]);

            lost += n == 0;
            doubled += n > 1;
        }
    printf("[parent] checked %ld items: %ld never consumed, %ld consumed more than once\n",
           (long)producers * items, lost, doubled);
    return lost == 0 && doubled == 0;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"producers", required_argument, NULL, 'p'},
        {"consumers", required_argument, NULL, 'c'},
        {"items", required_argument, NULL, 'n'},
        {"slots", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long producers = 3, consumers = 2, items = 20000, slots = 8;
    struct workers w = {0};
    struct ring *r;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "p:c:n:s:h", longopts, usage)) != -1) {
        if (c == 'p')
            producers = cli_long(optarg, 1, MAX_PRODUCERS, "--producers", usage);
        else if (c == 'c')
            consumers = cli_long(optarg, 1, MAX_CONSUMERS, "--consumers", usage);
        else if (c == 'n')
            items = cli_long(optarg, 1, MAX_ITEMS, "--items", usage);
        else
            slots = cli_long(optarg, 1, MAX_SLOTS, "--slots", usage);
    }
    cli_no_operands(argc, argv, usage);

    r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        die_errno("mmap");
    r->slots = (int)slots;
    if (sem_init(&r->empty, 1, (unsigned)slots) == -1 || sem_init(&r->full, 1, 0) == -1 ||
        sem_init(&r->mutex, 1, 1) == -1)
        die_errno("sem_init");
    printf("[parent] ring of %ld slots: empty = %ld, full = 0, mutex = 1\n", slots, slots);
    printf("[parent] %ld producers x %ld items, %ld consumers\n", producers, items, consumers);

    workers_start(&w, (int)consumers, consumer, r); /* workers 0 .. consumers-1 */
    int first_producer =
        workers_start(&w, (int)producers, producer, &(struct producer_job){r, (int)items});
    if (workers_reap(&w, first_producer, (int)producers, "parent") != 0)
        die("a producer failed");
    printf("[parent] every producer is done; one STOP item per consumer\n");
    for (int i = 0; i < consumers; i++)
        put(r, (struct item){.producer = 0, .seq = STOP});
    if (workers_reap(&w, 0, (int)consumers, "parent") != 0)
        die("a consumer failed");
    for (int i = 0; i < consumers; i++)
        printf("[parent] consumer %d took %ld items\n", i, atomic_load(&r->taken_by[i]));
    if (!check_all(r, (int)producers, (int)items))
        die("the buffer lost or duplicated items");
    printf("[parent] every item was consumed exactly once\n");
    if (sem_destroy(&r->empty) == -1 || sem_destroy(&r->full) == -1 ||
        sem_destroy(&r->mutex) == -1 || munmap(r, sizeof *r) == -1)
        die_errno("sem_destroy/munmap");
    return 0;
}
