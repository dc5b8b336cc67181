/* solution_read_vs_mmap.c - exercise 5: read() against mmap(), sequential and random access
 *
 * The worked answer to exercise 5 of the chapter README.  One file (256 MiB by default, 32 MiB in
 * the no-argument demo) is summed four ways: pread() of 1 MiB chunks, a walk over a mapping,
 * pread() of each 4 KiB page in a scattered order, the same order over a mapping.  read() copies
 * every byte out of the page cache; a mapping copies nothing but pays a fault per page touched.
 * One untimed pass, then --runs timed ones: medians, pinned, beside the limit (the same loop over
 * a hot buffer).  The file is in $TMPDIR: on tmpfs, copy cost against fault cost, no disk.
 * Guide part: exercise 5 (performance).
 * Run: ./solution_read_vs_mmap [--size SIZE] [--runs R]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "cleanup.h"
#include "io.h"
#include "stats.h"
#include "timing.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--size SIZE] [--runs R]    (SIZE a power of two from 1M to 1G, "
                            "default 256M; R from 1 to 15, default 3)";

#define CHUNK (1 << 20)
#define PAGE 4096
#define STRIDE 40503 /* odd: with a power-of-two page count, k * STRIDE visits every page */
#define MAX_RUNS 15
#define DEFAULT_SIZE ((uint64_t)256 << 20)
#define DEMO_SIZE ((uint64_t)32 << 20)

static unsigned char *buffer; /* page-aligned, CHUNK bytes */

static uint64_t sum(const unsigned char *p, size_t n)
{
    uint64_t total = 0;

    for (size_t i = 0; i < n; i++)
        total += p[i];
    return total;
}

static uint64_t read_sequential(int fd, size_t size)
{
    uint64_t total = 0;

    for (size_t off = 0; off < size; off += CHUNK) {
        if (pread(fd, buffer, CHUNK, (off_t)off) != CHUNK)
            die_errno("pread");
        total += sum(buffer, CHUNK);
    }
    return total;
}

static uint64_t read_random(int fd, size_t size)
{
    size_t pages = size / PAGE;
    uint64_t total = 0;

    for (size_t k = 0; k < pages; k++) {
        size_t page = (k * STRIDE) % pages;

        if (pread(fd, buffer, PAGE, (off_t)(page * PAGE)) != PAGE)
            die_errno("pread");
        total += sum(buffer, PAGE);
    }
    return total;
}

/* One fresh mapping per run: its page faults are part of what is measured. */
static uint64_t map_walk(int fd, size_t size, bool random)
{
    size_t pages = size / PAGE;
    uint64_t total = 0;
    unsigned char *data = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

    if (data == MAP_FAILED)
        die_errno("mmap");
    for (size_t k = 0; k < pages; k++) {
        size_t page = random ? (k * STRIDE) % pages : k;

        total += sum(data + page * PAGE, PAGE);
    }
    if (munmap(data, size) == -1)
        die_errno("munmap");
    return total;
}

enum way { READ_SEQ, MMAP_SEQ, READ_RANDOM, MMAP_RANDOM };

static uint64_t run_way(enum way way, int fd, size_t size)
{
    switch (way) {
    case READ_SEQ: return read_sequential(fd, size);
    case MMAP_SEQ: return map_walk(fd, size, false);
    case READ_RANDOM: return read_random(fd, size);
    default: return map_walk(fd, size, true);
    }
}

/* Warm-up, then `runs` timed runs; returns the median rate in MiB/s, checks the sum. */
static double measure(enum way way, int fd, size_t size, int runs, uint64_t expected)
{
    double mib_s[MAX_RUNS];
    struct stats st;

    if (run_way(way, fd, size) != expected)
        die("wrong checksum: the file changed under the benchmark");
    for (int r = 0; r < runs; r++) {
        uint64_t start = now_ns();

        if (run_way(way, fd, size) != expected)
            die("wrong checksum: the file changed under the benchmark");
        mib_s[r] = (double)size / (1 << 20) / ns_to_s(elapsed_ns(start));
    }
    stats_compute(mib_s, (size_t)runs, &st);
    return st.p50;
}

/* The ceiling: the same loop over a buffer already in the cache, no copy, no fault. */
static double hot_limit(void)
{
    static volatile uint64_t sink; /* keeps the compiler from dropping the loop */
    double mib_s[MAX_RUNS];
    struct stats st;

    for (int r = 0; r < MAX_RUNS; r++) {
        uint64_t start = now_ns();

        for (int i = 0; i < 16; i++)
            sink = sink + sum(buffer, CHUNK);
        mib_s[r] = 16.0 / ns_to_s(elapsed_ns(start));
    }
    stats_compute(mib_s, MAX_RUNS, &st);
    return st.p50;
}

static int make_file(size_t size, uint64_t *checksum)
{
    static unsigned char pattern[CHUNK + 251];
    char path[4096];
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/read_vs_mmap.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    /* The pattern has a period of 251 bytes: one buffer of CHUNK + 251 bytes holds every
     * chunk, starting at offset (chunk's file offset) % 251. */
    for (size_t i = 0; i < CHUNK + 251; i++)
        pattern[i] = (unsigned char)(i % 251);
    *checksum = 0;
    for (size_t off = 0; off < size; off += CHUNK) {
        const unsigned char *chunk = pattern + off % 251;

        *checksum += sum(chunk, CHUNK);
        if (write_full(fd, chunk, CHUNK) == -1)
            die_errno("write %s", path);
    }
    printf("[main] %s: %s, byte i = i %% 251\n", path, fmt_bytes(size).s);
    return fd;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"runs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* The no-argument demo is smaller, to end within 2 s; any option means the 256 MiB default. */
    bool demo = argc == 1;
    uint64_t size = demo ? DEMO_SIZE : DEFAULT_SIZE, checksum;
    double seq_read, seq_map, rnd_read, rnd_map, limit;
    int fd, c, runs = 3, cpu;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 's')
            size = cli_size(optarg, 1 << 20, 1 << 30, "--size", usage);
        else if (c == 'r')
            runs = (int)cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
    cli_no_operands(argc, argv, usage);
    if ((size & (size - 1)) != 0)
        die_usage(usage, "--size must be a power of two");
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    buffer = aligned_alloc(PAGE, CHUNK);
    if (buffer == NULL)
        die_errno("aligned_alloc");
    cpu = sched_getcpu();
    if (cpu >= 0 && pin_to_cpu(cpu) == 0)
        printf("[main] pinned to CPU %d; medians of %d run(s) after one warm-up each\n", cpu, runs);
    else
        printf("[main] not pinned; medians of %d run(s) after one warm-up each\n", runs);
    if (demo)
        printf("[main] no arguments: a %s demonstration (the exercise's default, with any "
               "option, is %s)\n",
               fmt_bytes(DEMO_SIZE).s, fmt_bytes(DEFAULT_SIZE).s);
    fd = make_file(size, &checksum);

    limit = hot_limit();
    seq_read = measure(READ_SEQ, fd, size, runs, checksum);
    seq_map = measure(MMAP_SEQ, fd, size, runs, checksum);
    rnd_read = measure(READ_RANDOM, fd, size, runs, checksum);
    rnd_map = measure(MMAP_RANDOM, fd, size, runs, checksum);
    close(fd);
    free(buffer);

    printf("size=%llu runs=%d\n", (unsigned long long)size, runs);
    printf("sequential read=%.1f MiB/s mmap=%.1f MiB/s checksum=%llu\n", seq_read, seq_map,
           (unsigned long long)checksum);
    printf("random read=%.1f MiB/s mmap=%.1f MiB/s checksum=%llu\n", rnd_read, rnd_map,
           (unsigned long long)checksum);
    printf("[limit] the same summing loop over a hot 1 MiB buffer: %.1f MiB/s (median of %d)\n",
           limit, MAX_RUNS);
    return 0;
}
