/* advanced_spsc_ring.c - a lock-free SPSC ring in shared memory, measured against its limits
 *
 * The ring of ring.h carries a stream of messages from a producer process to a consumer
 * process pinned to another core.  No system call and no lock on the data path: C11 release
 * stores and acquire loads order the bytes, the two indices live on separate cache lines, and
 * each side caches the other's index so it touches the other's line only when it must.  The
 * consumer checks every byte in place.  The throughput is printed beside the limit it
 * approaches, measured in the same run: a plain memcpy() of the same bytes by one core.  (The
 * ring's latency, against a bare cache line, is advanced_ring_round_trip.)
 * Guide part: kernel/performance (lock-free rings, cache lines, memory ordering).
 * Run: ./advanced_spsc_ring [--message SIZE] [--total SIZE] [--ring SIZE] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pair.h"
#include "ring.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--message SIZE] [--total SIZE] [--ring SIZE] [--runs N]";

struct control { /* the first page of the shared mapping; the ring follows */
    struct pair_start start;
    alignas(64) uint64_t bad_bytes; /* what the consumer found */
    uint64_t end_ns;                /* when the consumer had the last byte */
};

struct bench {
    struct control *ctl;
    void *ring_mem;
};

static size_t message_size = 1 << 20, ring_size = 4 << 20;
static uint64_t total = (uint64_t)128 << 20;
static long runs = 5;
static unsigned char *pattern; /* the message body both sides know, page-aligned */

/* Message i is the pattern with its first 8 bytes replaced by i: no two are alike. */
static void produce(void *arg)
{
    struct bench *b = arg;
    struct ring_producer p;
    uint64_t messages = total / message_size;
    unsigned spins = 0;

    if (ring_producer_open(&p, b->ring_mem) == -1)
        die_errno("ring_producer_open");
    pair_wait_for_go(&b->ctl->start);
    for (uint64_t seq = 0; seq < messages; seq++) {
        size_t off = 0;

        while (off < message_size) {
            unsigned char *where;
            size_t room = ring_write_reserve(&p, &where);

            if (room == 0) {
                pair_relax(&spins);
                continue;
            }
            if (room > message_size - off)
                room = message_size - off;
            memcpy(where, pattern + off, room);
            for (size_t i = off; i < 8 && i < off + room; i++) /* the sequence number */
                where[i - off] = (unsigned char)(seq >> (8 * i));
            ring_write_commit(&p, room); /* one publication per contiguous piece */
            off += room;
        }
    }
}

/* Verifies bytes [off, off + n) of message seq where they lie in the ring. */
static uint64_t count_bad(const unsigned char *where, size_t off, size_t n, uint64_t seq)
{
    uint64_t bad = 0;
    size_t i = off;

    for (; i < 8 && i < off + n; i++)
        bad += where[i - off] != (unsigned char)(seq >> (8 * i));
    if (i < off + n && memcmp(where + (i - off), pattern + i, off + n - i) != 0)
        for (; i < off + n; i++)
            bad += where[i - off] != pattern[i];
    return bad;
}

static void consume(void *arg)
{
    struct bench *b = arg;
    struct ring_consumer c;
    uint64_t messages = total / message_size, bad = 0;
    unsigned spins = 0;

    if (ring_consumer_open(&c, b->ring_mem) == -1)
        die_errno("ring_consumer_open");
    pair_wait_for_go(&b->ctl->start);
    for (uint64_t seq = 0; seq < messages; seq++) {
        size_t off = 0;

        while (off < message_size) {
            const unsigned char *where;
            size_t avail = ring_read_peek(&c, &where);

            if (avail == 0) {
                pair_relax(&spins);
                continue;
            }
            if (avail > message_size - off)
                avail = message_size - off;
            bad += count_bad(where, off, avail, seq);
            ring_read_release(&c, avail);
            off += avail;
        }
    }
    b->ctl->end_ns = now_ns();
    b->ctl->bad_bytes = bad;
}

/* The limit of throughput: the same bytes copied by one core from a hot buffer. */
static uint64_t memcpy_run(unsigned char *dst)
{
    uint64_t start = now_ns();

    for (uint64_t done = 0; done + message_size <= total; done += message_size) {
        memcpy(dst, pattern, message_size);
        __asm__ volatile("" : : "r"(dst) : "memory"); /* the copy must really happen */
    }
    return elapsed_ns(start);
}

static void parse_args(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"message", required_argument, NULL, 'm'}, {"total", required_argument, NULL, 't'},
        {"ring", required_argument, NULL, 'r'},    {"runs", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        switch (opt) {
        case 'm': message_size = cli_size(optarg, 64, 64 << 20, "--message", usage); break;
        case 't': total = cli_size(optarg, 1 << 20, (uint64_t)16 << 30, "--total", usage); break;
        case 'r': ring_size = cli_size(optarg, 4096, 1 << 30, "--ring", usage); break;
        case 'n': runs = cli_long(optarg, 1, 15, "--runs", usage); break;
        }
    }
    cli_no_operands(argc, argv, usage);
    if ((ring_size & (ring_size - 1)) != 0)
        die_usage(usage, "--ring must be a power of two");
    if (total < message_size)
        die_usage(usage, "--total must be at least one --message");
}

int main(int argc, char *argv[])
{
    double ring_ns[15], copy_ns[15];
    size_t mapping;
    unsigned char *mem, *dst;
    struct bench b;
    uint64_t bytes;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    parse_args(argc, argv);
    bytes = total / message_size * message_size;

    /* One shared mapping: the control page, then the ring (both page-aligned). */
    mapping = 4096 + ring_mapping_size(ring_size);
    mem = mmap(NULL, mapping, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pattern = mmap(NULL, 2 * (size_t)message_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || pattern == MAP_FAILED)
        die_errno("mmap");
    b.ctl = (struct control *)mem;
    b.ring_mem = mem + 4096;
    dst = pattern + message_size;
    for (size_t i = 0; i < message_size; i++)
        pattern[i] = (unsigned char)(i * 131 + (i >> 9));

    if (pair_cpus() >= 2)
        printf("[parent] producer pinned to CPU %d, consumer to CPU %d\n", pair_cpu(0),
               pair_cpu(1));
    else
        printf("[parent] one CPU allowed: both sides share it and yield instead of spinning; "
               "the figures measure scheduling, not caches\n");
    printf("[parent] %s in %s messages through a %s ring; every byte checked by the consumer; "
           "%ld runs after one warm-up\n",
           fmt_bytes(bytes).s, fmt_bytes(message_size).s, fmt_bytes(ring_size).s, runs);
    for (long r = -1; r < runs; r++) { /* run -1 is the warm-up: page faults, caches */
        if (ring_init(b.ring_mem, ring_size) == -1)
            die_errno("ring_init");
        pair_run(&b.ctl->start, produce, consume, &b);
        if (b.ctl->bad_bytes != 0)
            die("the consumer found %llu wrong bytes", (unsigned long long)b.ctl->bad_bytes);
        pair_pin(0); /* the copy runs on the producer's core */
        copy_ns[r < 0 ? 0 : r] = (double)memcpy_run(dst);
        if (r >= 0)
            ring_ns[r] = (double)(b.ctl->end_ns - b.ctl->start.start_ns);
    }
    struct stats ring_st, copy_st; /* medians; runs >= 1, so stats_compute cannot fail */

    stats_compute(ring_ns, (size_t)runs, &ring_st);
    stats_compute(copy_ns, (size_t)runs, &copy_st);
    double ring_med = ring_st.p50, copy_med = copy_st.p50;

    printf("[parent] ring:   %s (median), 0 wrong bytes\n", fmt_rate(bytes, (uint64_t)ring_med).s);
    printf("[parent] memcpy: %s (median, one core, hot %s buffers): the limit\n",
           fmt_rate(bytes, (uint64_t)copy_med).s, fmt_bytes(message_size).s);
    printf("[parent] the ring moves %.0f%% of memcpy's rate, with a copy in and a check out\n",
           100.0 * copy_med / ring_med);
    munmap(pattern, 2 * (size_t)message_size);
    munmap(mem, mapping);
    return 0;
}
