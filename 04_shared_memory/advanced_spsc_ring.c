/* advanced_spsc_ring.c - a lock-free SPSC ring in shared memory, measured against its limits
 *
 * The ring of ring.h carries a stream of messages from a producer process to a consumer
 * process pinned to another core.  No system call and no lock on the data path: C11 release
 * stores and acquire loads order the bytes, the two indices live on separate cache lines, and
 * each side caches the other's index so it touches the other's line only when it must.  The
 * consumer checks every byte in place.  Each figure is printed beside the limit it approaches,
 * measured in the same run: throughput beside a plain memcpy() of the same bytes, and one
 * message's round trip beside a bare cache line bounced between the same two cores.
 * Guide part: kernel/performance (lock-free rings, cache lines, memory ordering).
 * Run: ./advanced_spsc_ring [--message SIZE] [--total SIZE] [--ring SIZE] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "ring.h"
#include "stats.h"
#include "timing.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--message SIZE] [--total SIZE] [--ring SIZE] [--runs N] "
                            "[--round-trips N]";

struct control { /* beside the ring, in the same shared mapping */
    alignas(64) atomic_int ready;
    atomic_int go;
    alignas(64) atomic_uint_fast64_t flag; /* the bare cache line of the round-trip baseline */
    alignas(64) uint64_t bad_bytes;
    uint64_t start_ns; /* set by the parent at go */
    uint64_t end_ns;   /* when the consumer had the last byte, or a ping side's own time */
    uint64_t count;    /* round trips a ping side made */
};

static size_t message_size = 1 << 20, ring_size = 4 << 20;
static uint64_t total = (uint64_t)128 << 20;
static long runs = 5, round_trips = 20000;
static int cpus[2], ncpus;
static unsigned char *pattern; /* the message body both sides know, page-aligned */

static void *map_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap %zu bytes", size);
    return p;
}

static void pin(int which)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpus[which % ncpus], &set);
    if (sched_setaffinity(0, sizeof set, &set) == -1)
        die_errno("sched_setaffinity");
}

/* Spinning is right on two cores; on one, the other side needs our time slice. */
static void relax(unsigned *spins)
{
    if (ncpus < 2 || ++*spins % 1024 == 0)
        sched_yield();
}

static void wait_for_go(struct control *ctl)
{
    unsigned spins = 0;

    atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&ctl->go, memory_order_acquire) == 0)
        relax(&spins);
}

/* Message i is the pattern with its first 8 bytes replaced by i: no two are alike. */
static void produce(void *ring_mem, struct control *ctl)
{
    struct ring_producer p;
    uint64_t messages = total / message_size;
    unsigned spins = 0;

    if (ring_producer_open(&p, ring_mem) == -1)
        die_errno("ring_producer_open");
    wait_for_go(ctl);
    for (uint64_t seq = 0; seq < messages; seq++) {
        size_t off = 0;

        while (off < message_size) {
            unsigned char *where;
            size_t room = ring_write_reserve(&p, &where);

            if (room == 0) {
                relax(&spins);
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

static void consume(void *ring_mem, struct control *ctl)
{
    struct ring_consumer c;
    uint64_t messages = total / message_size, bad = 0;
    unsigned spins = 0;

    if (ring_consumer_open(&c, ring_mem) == -1)
        die_errno("ring_consumer_open");
    wait_for_go(ctl);
    for (uint64_t seq = 0; seq < messages; seq++) {
        size_t off = 0;

        while (off < message_size) {
            const unsigned char *where;
            size_t avail = ring_read_peek(&c, &where);

            if (avail == 0) {
                relax(&spins);
                continue;
            }
            if (avail > message_size - off)
                avail = message_size - off;
            bad += count_bad(where, off, avail, seq);
            ring_read_release(&c, avail);
            off += avail;
        }
    }
    ctl->end_ns = now_ns();
    ctl->bad_bytes = bad;
}

/* Runs side 0 and side 1 in two processes pinned to two cores, started together. */
static void run_pair(void (*side0)(void *, struct control *),
                     void (*side1)(void *, struct control *), void *mem, struct control *ctl)
{
    void (*sides[2])(void *, struct control *) = {side0, side1};
    unsigned spins = 0;
    pid_t pids[2];

    atomic_store(&ctl->ready, 0);
    atomic_store(&ctl->go, 0);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            pin(i);
            sides[i](mem, ctl);
            exit(0);
        }
    }
    while (atomic_load_explicit(&ctl->ready, memory_order_acquire) < 2)
        relax(&spins);
    ctl->start_ns = now_ns();
    atomic_store_explicit(&ctl->go, 1, memory_order_release);
    for (int i = 0; i < 2; i++) {
        if (reap_child(pids[i], "parent") != 0) {
            /* The other side would spin for ever waiting for this one: stop it. */
            kill(pids[1 - i], SIGKILL);
            if (i == 0)
                reap_child(pids[1], "parent");
            die("a measuring process failed");
        }
    }
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

/* ---- round trips: 8 bytes there and back, through two rings or one bare line ----
 * On a loaded machine a partner descheduled for a time slice turns each round trip into
 * milliseconds: every run stops after ROUND_TRIP_LIMIT_NS and reports how many it made. */

#define ROUND_TRIP_LIMIT_NS 300000000ull
#define STOP UINT64_MAX

static bool time_is_up(uint64_t i, uint64_t start)
{
    return i % 256 == 0 && elapsed_ns(start) > ROUND_TRIP_LIMIT_NS;
}

static void ring_ping(void *mem, struct control *ctl)
{
    struct ring_producer out;
    struct ring_consumer in;
    unsigned spins = 0;
    uint64_t start, i, stop = STOP;

    if (ring_producer_open(&out, mem) == -1 ||
        ring_consumer_open(&in, (char *)mem + ring_mapping_size(4096)) == -1)
        die_errno("ring open");
    wait_for_go(ctl);
    start = now_ns();
    for (i = 0; i < (uint64_t)round_trips && !time_is_up(i, start); i++) {
        uint64_t echo;

        while (ring_write(&out, &i, sizeof i) == 0)
            relax(&spins);
        while (ring_read(&in, &echo, sizeof echo) == 0)
            relax(&spins);
        if (echo != i)
            die("round trip %llu came back as %llu", (unsigned long long)i,
                (unsigned long long)echo);
    }
    ctl->end_ns = elapsed_ns(start);
    ctl->count = i;
    while (ring_write(&out, &stop, sizeof stop) == 0)
        relax(&spins);
}

static void ring_pong(void *mem, struct control *ctl)
{
    struct ring_consumer in;
    struct ring_producer out;
    unsigned spins = 0;

    if (ring_consumer_open(&in, mem) == -1 ||
        ring_producer_open(&out, (char *)mem + ring_mapping_size(4096)) == -1)
        die_errno("ring open");
    wait_for_go(ctl);
    for (;;) {
        uint64_t v;

        while (ring_read(&in, &v, sizeof v) == 0)
            relax(&spins);
        if (v == STOP)
            break;
        while (ring_write(&out, &v, sizeof v) == 0)
            relax(&spins);
    }
}

/* The bare line: ping stores an odd number, pong answers with the next even one. */
static void line_ping(void *mem, struct control *ctl)
{
    unsigned spins = 0;
    uint64_t start, i;

    (void)mem;
    wait_for_go(ctl);
    start = now_ns();
    for (i = 0; i < (uint64_t)round_trips && !time_is_up(i, start); i++) {
        atomic_store_explicit(&ctl->flag, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&ctl->flag, memory_order_acquire) != 2 * i + 2)
            relax(&spins);
    }
    ctl->end_ns = elapsed_ns(start);
    ctl->count = i;
    atomic_store_explicit(&ctl->flag, STOP, memory_order_release);
}

static void line_pong(void *mem, struct control *ctl)
{
    unsigned spins = 0;

    (void)mem;
    wait_for_go(ctl);
    for (;;) {
        uint64_t v = atomic_load_explicit(&ctl->flag, memory_order_acquire);

        if (v == STOP)
            break;
        if (v % 2 == 1)
            atomic_store_explicit(&ctl->flag, v + 1, memory_order_release);
        else
            relax(&spins);
    }
}

static double median(double *samples, long n)
{
    struct stats st;

    if (stats_compute(samples, (size_t)n, &st) == -1)
        die_errno("stats_compute");
    return st.p50;
}

static void find_cpus(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) == -1)
        die_errno("sched_getaffinity");
    for (int c = 0; c < CPU_SETSIZE && ncpus < 2; c++)
        if (CPU_ISSET(c, &set))
            cpus[ncpus++] = c;
}

/* The control page, then the big ring, or the two small rings of the round trips there. */
static size_t mapping_size(void)
{
    size_t rings = ring_mapping_size(ring_size);

    if (rings < 2 * ring_mapping_size(4096))
        rings = 2 * ring_mapping_size(4096);
    return 4096 + rings;
}

static void parse_args(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"message", required_argument, NULL, 'm'},
        {"total", required_argument, NULL, 't'},
        {"ring", required_argument, NULL, 'r'},
        {"runs", required_argument, NULL, 'n'},
        {"round-trips", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        switch (opt) {
        case 'm': message_size = cli_size(optarg, 64, 64 << 20, "--message", usage); break;
        case 't': total = cli_size(optarg, 1 << 20, (uint64_t)16 << 30, "--total", usage); break;
        case 'r': ring_size = cli_size(optarg, 4096, 1 << 30, "--ring", usage); break;
        case 'n': runs = cli_long(optarg, 1, 15, "--runs", usage); break;
        case 'R': round_trips = cli_long(optarg, 100, 10000000, "--round-trips", usage); break;
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
    double ring_ns[15], copy_ns[15], ring_rt[15], line_rt[15];
    unsigned char *mem, *dst;
    struct control *ctl;
    uint64_t bytes;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    parse_args(argc, argv);
    find_cpus();
    bytes = total / message_size * message_size;

    /* One shared mapping: the control lines, then the ring (both page-aligned). */
    mem = map_shared(mapping_size());
    ctl = (struct control *)mem;
    pattern = mmap(NULL, 2 * (size_t)message_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pattern == MAP_FAILED)
        die_errno("mmap");
    dst = pattern + message_size;
    for (size_t i = 0; i < message_size; i++)
        pattern[i] = (unsigned char)(i * 131 + (i >> 9));

    if (ncpus >= 2)
        printf("[parent] producer pinned to CPU %d, consumer to CPU %d\n", cpus[0], cpus[1]);
    else
        printf("[parent] one CPU allowed: both sides share it and yield instead of spinning; "
               "the figures measure scheduling, not caches\n");
    printf("[parent] %s in %s messages through a %s ring; every byte checked by the consumer; "
           "%ld runs after one warm-up\n",
           fmt_bytes(bytes).s, fmt_bytes(message_size).s, fmt_bytes(ring_size).s, runs);
    for (long r = -1; r < runs; r++) { /* run -1 is the warm-up: page faults, caches */
        if (ring_init(mem + 4096, ring_size) == -1)
            die_errno("ring_init");
        run_pair(produce, consume, mem + 4096, ctl);
        if (ctl->bad_bytes != 0)
            die("the consumer found %llu wrong bytes", (unsigned long long)ctl->bad_bytes);
        pin(0);
        copy_ns[r < 0 ? 0 : r] = (double)memcpy_run(dst);
        if (r >= 0)
            ring_ns[r] = (double)(ctl->end_ns - ctl->start_ns);
    }
    double ring_med = median(ring_ns, runs), copy_med = median(copy_ns, runs);

    printf("[parent] ring:   %s (median), 0 wrong bytes\n", fmt_rate(bytes, (uint64_t)ring_med).s);
    printf("[parent] memcpy: %s (median, one core, hot %s buffers): the limit\n",
           fmt_rate(bytes, (uint64_t)copy_med).s, fmt_bytes(message_size).s);
    printf("[parent] the ring moves %.0f%% of memcpy's rate, with a copy in and a check out\n",
           100.0 * copy_med / ring_med);

    printf("[parent] round trips of 8 bytes, up to %ld per run (at most 0.3 s), median of %ld "
           "runs:\n",
           round_trips, runs);
    for (long r = -1; r < runs; r++) {
        ring_init(mem + 4096, 4096);
        ring_init(mem + 4096 + ring_mapping_size(4096), 4096);
        run_pair(ring_ping, ring_pong, mem + 4096, ctl);
        if (r >= 0)
            ring_rt[r] = (double)ctl->end_ns / (double)(ctl->count > 0 ? ctl->count : 1);
        atomic_store(&ctl->flag, 0);
        run_pair(line_ping, line_pong, mem + 4096, ctl);
        if (r >= 0)
            line_rt[r] = (double)ctl->end_ns / (double)(ctl->count > 0 ? ctl->count : 1);
    }
    double ring_lat = median(ring_rt, runs), line_lat = median(line_rt, runs);

    printf("[parent] through two rings: %s per round trip\n", fmt_duration(ring_lat).s);
    printf("[parent] one bare cache line: %s per round trip: the limit\n",
           fmt_duration(line_lat).s);
    printf("[parent] the ring's round trip is %.1fx the bare line's\n", ring_lat / line_lat);
    munmap(pattern, 2 * (size_t)message_size);
    munmap(mem, mapping_size());
    return 0;
}
