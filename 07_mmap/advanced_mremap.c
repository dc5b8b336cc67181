/* advanced_mremap.c - growing a mapping with mremap(MREMAP_MAYMOVE) against copying it
 *
 * A growing buffer (a vector, a hash table, a log) can be reallocated by mapping a larger region
 * and copying every byte, or with mremap() (Linux-specific, mm/mremap.c): the kernel extends the
 * VMA if the addresses after it are free, else (MREMAP_MAYMOVE) moves its page-table entries to
 * a new address; no page is copied.  Both ways grow a region to 64 MiB step by step, the data
 * checked each time; printed: how often mremap moved, the bytes copied, both times (median of 5
 * after a warm-up; not pinned).
 * Guide part: kernel (VMAs, mremap).
 * Run: ./advanced_mremap [--mib N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--mib N]    (final size, a power of two from 2 to 256, default 64)";

#define START (1 << 20)
#define RUNS 5

struct result {
    double ns;
    int moves;
    uint64_t copied;
};

static void *map_fresh(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

static void check(const char *p, size_t filled)
{
    for (size_t off = 0; off < filled; off += 4096)
        if (p[off] != (char)(off >> 12))
            die("data lost at offset %zu", off);
}

static void fill_new_half(char *p, size_t from, size_t to)
{
    for (size_t off = from; off < to; off += 4096)
        p[off] = (char)(off >> 12);
}

static struct result grow(size_t final, bool use_mremap)
{
    struct result r = {0, 0, 0};
    uint64_t start = now_ns();
    size_t size = START;
    char *p = map_fresh(size);

    fill_new_half(p, 0, size);
    while (size < final) {
        char *bigger;

        if (use_mremap) {
            bigger = mremap(p, size, size * 2, MREMAP_MAYMOVE);
            if (bigger == MAP_FAILED)
                die_errno("mremap");
            r.moves += bigger != p;
        } else {
            bigger = map_fresh(size * 2);
            memcpy(bigger, p, size);
            r.copied += size;
            munmap(p, size);
        }
        p = bigger;
        fill_new_half(p, size, size * 2);
        size *= 2;
        check(p, size);
    }
    r.ns = (double)elapsed_ns(start);
    munmap(p, size);
    return r;
}

static struct result median_of_runs(size_t final, bool use_mremap)
{
    double ns[RUNS];
    struct result r = grow(final, use_mremap); /* warm-up */
    struct stats st;

    for (int i = 0; i < RUNS; i++) {
        r = grow(final, use_mremap);
        ns[i] = r.ns;
    }
    stats_compute(ns, RUNS, &st);
    r.ns = st.p50;
    return r;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"mib", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct result moved, copied;
    long mib = 64;
    int c, steps = 0;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'm')
            mib = cli_long(optarg, 2, 256, "--mib", usage);
    cli_no_operands(argc, argv, usage);
    if ((mib & (mib - 1)) != 0)
        die_usage(usage, "--mib must be a power of two");
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    for (long m = 1; m < mib; m *= 2)
        steps++;

    printf("[main] growing 1 MiB to %ld MiB by doubling: %d steps, data checked each time\n", mib,
           steps);
    moved = median_of_runs((size_t)mib << 20, true);
    copied = median_of_runs((size_t)mib << 20, false);
    printf("[mremap] %d of %d steps moved the mapping; 0 bytes copied: page tables were moved\n",
           moved.moves, steps);
    printf("[copy] %s copied through memcpy into new mappings\n", fmt_bytes(copied.copied).s);
    printf("[main] median of %d runs after a warm-up, not pinned: mremap %s, copy %s\n", RUNS,
           fmt_duration(moved.ns).s, fmt_duration(copied.ns).s);
    return 0;
}
