/* advanced_zero_copy_handoff.c - hand over a large buffer in place instead of copying it
 *
 * A producer fills a large buffer once; a consumer checks every byte of it.  Through a pipe the
 * bytes are copied twice by the kernel (write() into pipe pages, read() out of them) and the
 * consumer needs its own buffer.  Through shared memory the producer builds the data where the
 * consumer will read it, and only a 24-byte descriptor (offset, length, checksum) crosses the
 * pipe: zero bytes of payload copied.  Both are timed end to end in the same run: bytes copied
 * and time, side by side.
 * Guide part: advanced (zero-copy designs with shared memory).
 * Run: ./advanced_zero_copy_handoff [--size SIZE] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "pair.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--size SIZE] [--runs N]    (SIZE 1M-1G, a multiple of 1M; N 1-15)";

#define CHUNK (1 << 20) /* pipe transfers, page-aligned buffers */

struct handoff { /* what crosses the pipe in the zero-copy version */
    uint64_t offset, length, checksum;
};

static size_t size = 64 << 20;

static void *map_anon(size_t len, int sharing)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap %zu bytes", len);
    return p;
}

/* The "work" of producing: 8-byte words that depend on their position and the run. */
static uint64_t produce(uint64_t *words, size_t n, uint64_t first, uint64_t run)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++) {
        words[i] = (first + i) * 0x9e3779b97f4a7c15ULL ^ run;
        sum += words[i];
    }
    return sum;
}

static uint64_t checksum(const uint64_t *words, size_t n)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < n; i++)
        sum += words[i];
    return sum;
}

/* Shared memory: produce in place, send the descriptor, the consumer checks in place. */
static uint64_t run_shared(uint64_t *shared, uint64_t run)
{
    struct handoff h = {.offset = 0, .length = size};
    uint64_t start = now_ns();
    int fds[2];
    pid_t consumer;

    if (pipe(fds) == -1)
        die_errno("pipe");
    consumer = fork_or_die();
    if (consumer == 0) {
        close(fds[1]);
        pair_pin(1);
        if (read_full(fds[0], &h, sizeof h) != sizeof h)
            die("no handoff descriptor");
        if (checksum(shared + h.offset / 8, h.length / 8) != h.checksum)
            die("the shared buffer does not match its checksum");
        close(fds[0]);
        exit(0);
    }
    close(fds[0]);
    h.checksum = produce(shared, size / 8, 0, run);
    if (write_full(fds[1], &h, sizeof h) != sizeof h)
        die_errno("write handoff");
    close(fds[1]);
    if (reap_child(consumer, "parent") != 0)
        die("the shared-memory consumer failed");
    return elapsed_ns(start);
}

/* A pipe: produce into a private chunk, write it; the consumer reads into its own and checks. */
static uint64_t run_pipe(uint64_t *chunk, uint64_t run)
{
    uint64_t start = now_ns(), sum = 0;
    int fds[2];
    pid_t consumer;

    if (pipe(fds) == -1)
        die_errno("pipe");
    consumer = fork_or_die();
    if (consumer == 0) {
        uint64_t got = 0, expected;

        close(fds[1]);
        pair_pin(1);
        for (size_t done = 0; done < size; done += CHUNK) {
            if (read_full(fds[0], chunk, CHUNK) != CHUNK)
                die("short pipe data");
            got += checksum(chunk, CHUNK / 8);
        }
        if (read_full(fds[0], &expected, sizeof expected) != sizeof expected || got != expected)
            die("the piped data does not match its checksum");
        close(fds[0]);
        exit(0);
    }
    close(fds[0]);
    for (size_t done = 0; done < size; done += CHUNK) {
        sum += produce(chunk, CHUNK / 8, done / 8, run);
        if (write_full(fds[1], chunk, CHUNK) != CHUNK)
            die_errno("write to pipe");
    }
    if (write_full(fds[1], &sum, sizeof sum) != sizeof sum)
        die_errno("write to pipe");
    close(fds[1]);
    if (reap_child(consumer, "parent") != 0)
        die("the pipe consumer failed");
    return elapsed_ns(start);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"runs", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double shared_ns[15], pipe_ns[15];
    uint64_t *shared, *chunk;
    long runs = 3;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 's')
            size = cli_size(optarg, 1 << 20, 1 << 30, "--size", usage);
        else
            runs = cli_long(optarg, 1, 15, "--runs", usage);
    }
    cli_no_operands(argc, argv, usage);
    if (size % CHUNK != 0)
        die_usage(usage, "--size must be a multiple of 1 MiB");
    pair_pin(0);

    shared = map_anon(size, MAP_SHARED); /* page-aligned, as mmap always is */
    chunk = map_anon(CHUNK, MAP_PRIVATE);
    printf("[parent] %s produced once and checked by another process; %s; median of %ld runs "
           "after a warm-up of each\n",
           fmt_bytes(size).s,
           pair_cpus() >= 2 ? "producer and consumer pinned to two CPUs" : "one CPU", runs);
    for (long r = -1; r < runs; r++) {
        double s = (double)run_shared(shared, (uint64_t)(r + 2));
        double p = (double)run_pipe(chunk, (uint64_t)(r + 2));

        if (r >= 0) {
            shared_ns[r] = s;
            pipe_ns[r] = p;
        }
    }
    struct stats s_st, p_st; /* medians; runs >= 1, so stats_compute cannot fail */

    stats_compute(shared_ns, (size_t)runs, &s_st);
    stats_compute(pipe_ns, (size_t)runs, &p_st);
    double s_med = s_st.p50, p_med = p_st.p50;

    printf("[parent] shared memory: payload bytes copied 0, %zu bytes of descriptor; %s (%s)\n",
           sizeof(struct handoff), fmt_duration(s_med).s, fmt_rate(size, (uint64_t)s_med).s);
    printf("[parent] pipe:          payload bytes copied %s (%s by write(), %s by read()); %s "
           "(%s)\n",
           fmt_bytes(2 * (uint64_t)size).s, fmt_bytes(size).s, fmt_bytes(size).s,
           fmt_duration(p_med).s, fmt_rate(size, (uint64_t)p_med).s);
    printf("[parent] the pipe took %.1fx as long; both include producing and checking every "
           "byte\n",
           p_med / s_med);
    munmap(chunk, CHUNK);
    munmap(shared, size);
    return 0;
}
