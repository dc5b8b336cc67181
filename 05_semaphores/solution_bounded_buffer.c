/* solution_bounded_buffer.c - exercise 2: a bounded buffer between P producers and C consumers
 *
 * The ring lives in a MAP_SHARED page; a System V set of three semaphores guards it:
 * EMPTY counts free slots, FULL filled ones, MUTEX lets one process move an index.  Each
 * consumer reports every item it takes as one line written with one write(2), so lines of
 * different consumers never mix.  A STOP item per consumer ends them; the parent prints
 * the total once every child is reaped.  On a stop signal the parent stops and reaps them all,
 * removes the set and dies of that signal (the cleanup registry does it: workers.h).
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_bounded_buffer [--producers P] [--consumers C] [--items K] [--slots S]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "workers.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <unistd.h>

#define MAX_SLOTS 1024
#define MAX_PROCS 16

enum { EMPTY, FULL, MUTEX, NSEMS };

static const char usage[] = "[--producers P] [--consumers C] [--items K] [--slots S]    (P, C "
                            "1 to 16; K 0 to 1000000; S 1 to 1024)";

struct ring {
    long in, out, slots;
    struct {
        long producer, seq; /* producer -1: STOP */
    } slot[MAX_SLOTS];
};

static int semid;

static void op(int num, int delta)
{
    struct sembuf sop = {.sem_num = (unsigned short)num, .sem_op = (short)delta, .sem_flg = 0};

    while (semop(semid, &sop, 1) == -1)
        if (errno != EINTR)
            die_errno("semop");
}

static void produce(struct ring *r, long producer, long seq)
{
    op(EMPTY, -1);
    op(MUTEX, -1);
    r->slot[r->in].producer = producer;
    r->slot[r->in].seq = seq;
    r->in = (r->in + 1) % r->slots;
    op(MUTEX, +1);
    op(FULL, +1);
}

/* A worker (workers.h): returns, and so exits 0, at its STOP item. */
static void consumer(void *arg, int id)
{
    struct ring *r = arg;
    char line[80];

    for (;;) {
        long producer, seq;
        int len;

        op(FULL, -1);
        op(MUTEX, -1);
        producer = r->slot[r->out].producer;
        seq = r->slot[r->out].seq;
        r->out = (r->out + 1) % r->slots;
        op(MUTEX, +1);
        op(EMPTY, +1);
        if (producer < 0)
            return;
        len = snprintf(line, sizeof line, "consumer %d took %ld:%ld\n", id, producer, seq);
        if (write_full(STDOUT_FILENO, line, (size_t)len) == -1)
            die_errno("write to stdout");
    }
}

struct producer_job {
    struct ring *ring;
    long items;
};

static void producer(void *arg, int id)
{
    const struct producer_job *job = arg;

    for (long s = 0; s < job->items; s++)
        produce(job->ring, id, s);
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
    long producers = 2, consumers = 2, items = 1000, slots = 4;
    unsigned short values[NSEMS];
    struct workers w = {0};
    struct ring *r;
    int c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'p')
            producers = cli_long(optarg, 1, MAX_PROCS, "--producers", usage);
        else if (c == 'c')
            consumers = cli_long(optarg, 1, MAX_PROCS, "--consumers", usage);
        else if (c == 'n')
            items = cli_long(optarg, 0, 1000000, "--items", usage);
        else
            slots = cli_long(optarg, 1, MAX_SLOTS, "--slots", usage);
    }
    cli_no_operands(argc, argv, usage);

    r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        die_errno("mmap");
    r->slots = slots;
    values[EMPTY] = (unsigned short)slots;
    values[FULL] = 0;
    values[MUTEX] = 1;
    semid = sysv_sem_create(NSEMS, values);
    if (argc == 1) /* narration only in the demo: with options stdout is the result alone */
        printf("[parent] %ld producers x %ld items, %ld consumers, %ld slots\n", producers, items,
               consumers, slots);
    /* Before fork, and before the children's write(2) lines.  A stop signal from now on: the
     * cleanup registry stops and reaps every child (workers.h), then removes the set. */
    fflush(stdout);
    workers_start(&w, (int)consumers, consumer, r); /* workers 0 .. C-1 */
    int first_producer =
        workers_start(&w, (int)producers, producer, &(struct producer_job){r, items});
    if (workers_reap(&w, first_producer, (int)producers, NULL) != 0)
        die("a producer failed");
    for (long i = 0; i < consumers; i++)
        produce(r, -1, 0); /* one STOP for each consumer */
    if (workers_reap(&w, 0, (int)consumers, NULL) != 0)
        die("a consumer failed");
    printf("total %ld\n", producers * items);
    munmap(r, sizeof *r);
    return 0;
}
