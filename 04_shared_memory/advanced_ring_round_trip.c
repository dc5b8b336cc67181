/* advanced_ring_round_trip.c - one message's round trip through the ring, beside a bare line
 *
 * Latency, the other half of advanced_spsc_ring: 8 bytes go from one pinned process to another
 * through one ring of ring.h and come back through a second ring.  The limit it approaches is
 * measured in the same run between the same two cores: a bare cache line, one side storing an
 * odd number and the other answering with the next even one.  A ring message costs more than
 * the bare line because it moves at least two lines each way (the index the other side polls
 * and the line holding the data), and the consumer's index travels back later too.
 * Guide part: kernel/performance (cache-to-cache transfers, memory ordering).
 * Run: ./advanced_ring_round_trip [--round-trips N] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pair.h"
#include "ring.h"
#include "stats.h"
#include "timing.h"

#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--round-trips N] [--runs N]";

/* On a loaded machine a partner descheduled for a time slice turns each round trip into
 * milliseconds: every run stops after LIMIT_NS and reports how many it made. */
#define LIMIT_NS 300000000ull
#define STOP UINT64_MAX
#define RING_BYTES 4096 /* two small rings: the 8-byte message never waits for room */

struct control { /* the first page of the shared mapping; the two rings follow */
    struct pair_start start;
    alignas(64) atomic_uint_fast64_t flag; /* the bare cache line, alone on it */
    alignas(64) uint64_t elapsed_ns;       /* the pinging side's own time */
    uint64_t count;                        /* round trips it made */
};

struct bench {
    struct control *ctl;
    void *there; /* ring from ping to pong */
    void *back;  /* ring from pong to ping */
};

static long round_trips = 20000, runs = 5;

static bool time_is_up(uint64_t i, uint64_t start)
{
    return i % 256 == 0 && elapsed_ns(start) > LIMIT_NS;
}

static void ring_ping(void *arg)
{
    struct bench *b = arg;
    struct ring_producer out;
    struct ring_consumer in;
    unsigned spins = 0;
    uint64_t start, i, stop = STOP;

    if (ring_producer_open(&out, b->there) == -1 || ring_consumer_open(&in, b->back) == -1)
        die_errno("ring open");
    pair_wait_for_go(&b->ctl->start);
    start = now_ns();
    for (i = 0; i < (uint64_t)round_trips && !time_is_up(i, start); i++) {
        uint64_t echo;

        while (ring_write(&out, &i, sizeof i) == 0)
            pair_relax(&spins);
        while (ring_read(&in, &echo, sizeof echo) == 0)
            pair_relax(&spins);
        if (echo != i)
            die("round trip %llu came back as %llu", (unsigned long long)i,
                (unsigned long long)echo);
    }
    b->ctl->elapsed_ns = elapsed_ns(start);
    b->ctl->count = i;
    while (ring_write(&out, &stop, sizeof stop) == 0)
        pair_relax(&spins);
}

static void ring_pong(void *arg)
{
    struct bench *b = arg;
    struct ring_consumer in;
    struct ring_producer out;
    unsigned spins = 0;

    if (ring_consumer_open(&in, b->there) == -1 || ring_producer_open(&out, b->back) == -1)
        die_errno("ring open");
    pair_wait_for_go(&b->ctl->start);
    for (;;) {
        uint64_t v;

        while (ring_read(&in, &v, sizeof v) == 0)
            pair_relax(&spins);
        if (v == STOP)
            break;
        while (ring_write(&out, &v, sizeof v) == 0)
            pair_relax(&spins);
    }
}

/* The bare line: ping stores an odd number, pong answers with the next even one. */
static void line_ping(void *arg)
{
    struct control *ctl = ((struct bench *)arg)->ctl;
    unsigned spins = 0;
    uint64_t start, i;

    pair_wait_for_go(&ctl->start);
    start = now_ns();
    for (i = 0; i < (uint64_t)round_trips && !time_is_up(i, start); i++) {
        atomic_store_explicit(&ctl->flag, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&ctl->flag, memory_order_acquire) != 2 * i + 2)
            pair_relax(&spins);
    }
    ctl->elapsed_ns = elapsed_ns(start);
    ctl->count = i;
    atomic_store_explicit(&ctl->flag, STOP, memory_order_release);
}

static void line_pong(void *arg)
{
    struct control *ctl = ((struct bench *)arg)->ctl;
    unsigned spins = 0;

    pair_wait_for_go(&ctl->start);
    for (;;) {
        uint64_t v = atomic_load_explicit(&ctl->flag, memory_order_acquire);

        if (v == STOP)
            break;
        if (v % 2 == 1)
            atomic_store_explicit(&ctl->flag, v + 1, memory_order_release);
        else
            pair_relax(&spins);
    }
}

/* One run of a ping-pong pair: the mean round trip in nanoseconds. */
static double round_trip_ns(struct bench *b, pair_side_fn *ping, pair_side_fn *pong)
{
    if (ring_init(b->there, RING_BYTES) == -1 || ring_init(b->back, RING_BYTES) == -1)
        die_errno("ring_init");
    atomic_store(&b->ctl->flag, 0);
    pair_run(&b->ctl->start, ping, pong, b);
    return (double)b->ctl->elapsed_ns / (double)(b->ctl->count > 0 ? b->ctl->count : 1);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"round-trips", required_argument, NULL, 'R'},
        {"runs", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t mapping = 4096 + 2 * ring_mapping_size(RING_BYTES);
    double ring_rt[15], line_rt[15];
    unsigned char *mem;
    struct bench b;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'R')
            round_trips = cli_long(optarg, 100, 10000000, "--round-trips", usage);
        else
            runs = cli_long(optarg, 1, 15, "--runs", usage);
    }
    cli_no_operands(argc, argv, usage);

    mem = mmap(NULL, mapping, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        die_errno("mmap %zu bytes", mapping);
    b.ctl = (struct control *)mem;
    b.there = mem + 4096;
    b.back = mem + 4096 + ring_mapping_size(RING_BYTES);

    if (pair_cpus() >= 2)
        printf("[parent] the pinging side pinned to CPU %d, the answering side to CPU %d\n",
               pair_cpu(0), pair_cpu(1));
    else
        printf("[parent] one CPU allowed: both sides share it and yield instead of spinning; "
               "the figures measure scheduling, not caches\n");
    printf("[parent] round trips of 8 bytes, up to %ld per run (at most 0.3 s), a warm-up, then "
           "the median of %ld runs\n",
           round_trips, runs);
    for (long r = -1; r < runs; r++) { /* run -1 is the warm-up: page faults, caches */
        double ring = round_trip_ns(&b, ring_ping, ring_pong);
        double line = round_trip_ns(&b, line_ping, line_pong);

        if (r >= 0) {
            ring_rt[r] = ring;
            line_rt[r] = line;
        }
    }
    struct stats ring_st, line_st; /* medians; runs >= 1, so stats_compute cannot fail */

    stats_compute(ring_rt, (size_t)runs, &ring_st);
    stats_compute(line_rt, (size_t)runs, &line_st);
    double ring_lat = ring_st.p50, line_lat = line_st.p50;

    printf("[parent] through two rings: %s per round trip\n", fmt_duration(ring_lat).s);
    printf("[parent] one bare cache line: %s per round trip: the limit\n",
           fmt_duration(line_lat).s);
    printf("[parent] the ring's round trip is %.1fx the bare line's\n", ring_lat / line_lat);
    munmap(mem, mapping);
    return 0;
}
