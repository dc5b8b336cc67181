/* solution_ring_tuning.c - exercise 5: tune an SPSC ring and measure it against memcpy
 *
 * The worked answer to exercise 5 of the README.  It sends --total bytes in --message-sized
 * messages through the chapter's ring (ring.h) from a producer process to a consumer process,
 * and publishes the producer's index only every --batch messages (or when the ring is full):
 * fewer release stores, fewer cache-line transfers of the index.  The consumer copies each
 * message out and compares it with what was sent.  The same bytes are then copied with
 * memcpy() by one process; both rates are medians of --runs runs after a warm-up.
 * Guide part: exercise 5 (performance).
 * Run: ./solution_ring_tuning [--message SIZE] [--batch N] [--total SIZE] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "ring.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--message SIZE] [--batch N] [--total SIZE] [--runs N]    "
                            "(message 64-16M, batch 1-1024, total 1M-4G, runs 1-15)";

#define RING_BYTES (8u << 20)

struct shared_result {
    atomic_uint_fast64_t wrong, elapsed_ns, go;
};

static size_t msg_size = 1 << 20;
static long batch = 1;
static uint64_t total = (uint64_t)64 << 20;

static void *map(size_t len, int sharing)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

static void backoff(unsigned *spins)
{
    if (++*spins % 512 == 0)
        sched_yield(); /* one CPU, or the other side preempted: let it run */
}

/* Writes one message; publishes it (and any before it) only when told to or when full. */
static void send_message(struct ring_producer *p, const unsigned char *msg, bool publish)
{
    size_t off = 0;
    unsigned spins = 0;

    while (off < msg_size) {
        unsigned char *where;
        size_t room = ring_write_reserve(p, &where);

        if (room == 0) {
            ring_write_commit(p, 0); /* full: what is written must become visible */
            backoff(&spins);
            continue;
        }
        if (room > msg_size - off)
            room = msg_size - off;
        memcpy(where, msg + off, room);
        p->head += room; /* written, not yet published */
        off += room;
    }
    if (publish)
        ring_write_commit(p, 0);
}

static void producer(void *mem, const unsigned char *msg, uint64_t messages)
{
    struct ring_producer p;

    if (ring_producer_open(&p, mem) == -1)
        die_errno("ring_producer_open");
    for (uint64_t m = 1; m <= messages; m++)
        send_message(&p, msg, m % (uint64_t)batch == 0 || m == messages);
}

static uint64_t consumer(void *mem, const unsigned char *msg, unsigned char *copy,
                         uint64_t messages)
{
    struct ring_consumer c;
    uint64_t wrong = 0;

    if (ring_consumer_open(&c, mem) == -1)
        die_errno("ring_consumer_open");
    for (uint64_t m = 0; m < messages; m++) {
        size_t got = 0;
        unsigned spins = 0;

        while (got < msg_size) {
            size_t n = ring_read(&c, copy + got, msg_size - got);

            if (n == 0)
                backoff(&spins);
            got += n;
        }
        if (memcmp(copy, msg, msg_size) != 0)
            for (size_t i = 0; i < msg_size; i++)
                wrong += copy[i] != msg[i];
    }
    return wrong;
}

/* One timed transfer; returns nanoseconds, adds the wrong bytes to *wrong. */
static uint64_t ring_run(void *mem, struct shared_result *res, const unsigned char *msg,
                         unsigned char *copy, uint64_t *wrong)
{
    uint64_t messages = total / msg_size;
    int status;
    pid_t pid;

    if (ring_init(mem, RING_BYTES) == -1)
        die_errno("ring_init");
    atomic_store(&res->go, 0);
    fflush(stdout);
    pid = fork();
    if (pid == -1)
        die_errno("fork");
    if (pid == 0) {
        unsigned spins = 0;

        while (atomic_load(&res->go) == 0)
            backoff(&spins);
        uint64_t start = now_ns();

        atomic_store(&res->wrong, consumer(mem, msg, copy, messages));
        atomic_store(&res->elapsed_ns, elapsed_ns(start));
        _exit(0);
    }
    atomic_store(&res->go, 1);
    producer(mem, msg, messages);
    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the consumer failed");
    *wrong += atomic_load(&res->wrong);
    return atomic_load(&res->elapsed_ns);
}

static uint64_t memcpy_run(unsigned char *dst, const unsigned char *src)
{
    uint64_t start = now_ns();

    for (uint64_t done = 0; done + msg_size <= total; done += msg_size) {
        memcpy(dst, src, msg_size);
        __asm__ volatile("" : : "r"(dst) : "memory");
    }
    return elapsed_ns(start);
}

static double median(double *v, long n)
{
    struct stats st;

    if (stats_compute(v, (size_t)n, &st) == -1)
        die_errno("stats_compute");
    return st.p50;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"message", required_argument, NULL, 'm'}, {"batch", required_argument, NULL, 'b'},
        {"total", required_argument, NULL, 't'},   {"runs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    double ring_ns[15], copy_ns[15];
    uint64_t wrong = 0, bytes;
    unsigned char *msg, *copy;
    long runs = 3;
    void *mem;
    int opt;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        switch (opt) {
        case 'm': msg_size = cli_size(optarg, 64, 16 << 20, "--message", usage); break;
        case 'b': batch = cli_long(optarg, 1, 1024, "--batch", usage); break;
        case 't': total = cli_size(optarg, 1 << 20, (uint64_t)4 << 30, "--total", usage); break;
        case 'r': runs = cli_long(optarg, 1, 15, "--runs", usage); break;
        }
    }
    cli_no_operands(argc, argv, usage);
    if (total < msg_size)
        die_usage(usage, "--total must be at least --message");
    bytes = total / msg_size * msg_size;

    mem = map(ring_mapping_size(RING_BYTES) + 4096, MAP_SHARED);
    msg = map(2 * msg_size, MAP_PRIVATE); /* page-aligned: the message and the copy-out */
    copy = msg + msg_size;
    for (size_t i = 0; i < msg_size; i++)
        msg[i] = (unsigned char)(i * 7 + (i >> 12));
    struct shared_result *res =
        (struct shared_result *)((char *)mem + ring_mapping_size(RING_BYTES));

    printf("[parent] producer and consumer processes, unpinned; a warm-up, then %ld runs\n", runs);
    for (long r = -1; r < runs; r++) {
        double t = (double)ring_run(mem, res, msg, copy, &wrong);

        if (r >= 0)
            ring_ns[r] = t;
    }
    /* After the last fork: a fork makes our private pages copy-on-write, and memcpy() into
     * them would pay a page fault per page. */
    for (long r = -1; r < runs; r++) {
        double c = (double)memcpy_run(copy, msg);

        if (r >= 0)
            copy_ns[r] = c;
    }
    double ring_med = median(ring_ns, runs), copy_med = median(copy_ns, runs);

    printf("ring: %llu bytes, %zu-byte messages, batch %ld: %.2f GB/s (median of %ld runs)\n",
           (unsigned long long)bytes, msg_size, batch, (double)bytes / ring_med, runs);
    printf("memcpy: %llu bytes: %.2f GB/s (median of %ld runs)\n", (unsigned long long)bytes,
           (double)bytes / copy_med, runs);
    printf("ratio: %.0f%% of memcpy\n", 100.0 * copy_med / ring_med);
    printf("verified: %llu bytes, %llu wrong\n", (unsigned long long)(bytes * (uint64_t)(runs + 1)),
           (unsigned long long)wrong);
    munmap(msg, 2 * msg_size);
    munmap(mem, ring_mapping_size(RING_BYTES) + 4096);
    return wrong == 0 ? 0 : 1;
}
