/* pitfall_false_sharing.c - two processes' private counters on one cache line
 *
 * Caches keep coherence per line (64 bytes on x86), not per variable.  Two counters that are
 * never shared logically, but sit in one line, make the line travel between the two cores on
 * every write: each core must own it exclusively before it stores (MESI).  The work stays the
 * same and runs several times slower.  --fixed puts each counter on its own line, 128 bytes
 * apart (Intel's adjacent-line prefetcher pairs lines, so 64 is not always enough).
 * Guide part: pitfall (false sharing in shared-memory layouts).
 * Run: ./pitfall_false_sharing [--fixed] [--iterations N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pair.h"
#include "proc.h"
#include "timing.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed] [--iterations N]    (N from 1000 to 100000000)";

#define LINE 64

struct packed_counters { /* the broken layout: neighbours on one line */
    atomic_long a;
    atomic_long b;
};

struct padded_counters { /* the fixed layout: two lines apart */
    alignas(128) atomic_long a;
    alignas(128) atomic_long b;
};

union layouts {
    struct packed_counters packed;
    struct padded_counters padded;
};

static void count(atomic_long *counter, long iterations)
{
    for (long i = 0; i < iterations; i++)
        atomic_fetch_add_explicit(counter, 1, memory_order_relaxed); /* one owner: no race */
}

/* Runs `procs` processes, the i-th on counters[i], and returns the wall time. */
static uint64_t time_counting(atomic_long *counters[2], int procs, long iterations)
{
    uint64_t start = now_ns();
    pid_t pids[2];

    for (int i = 0; i < procs; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            pair_pin(i);
            count(counters[i], iterations);
            exit(0);
        }
    }
    for (int i = 0; i < procs; i++)
        if (reap_child(pids[i], "parent") != 0)
            die("a counting process failed");
    return elapsed_ns(start);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"iterations", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long iterations = 5000000;
    atomic_long *counters[2];
    uint64_t alone, together;
    union layouts *mem;
    size_t off_a, off_b;
    bool fixed = false;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            fixed = true;
        else
            iterations = cli_long(optarg, 1000, 100000000, "--iterations", usage);
    }
    cli_no_operands(argc, argv, usage);

    mem = mmap(NULL, sizeof *mem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) /* page-aligned, so offsets are cache-line positions */
        die_errno("mmap");
    counters[0] = fixed ? &mem->padded.a : &mem->packed.a;
    counters[1] = fixed ? &mem->padded.b : &mem->packed.b;
    off_a = (size_t)((char *)counters[0] - (char *)mem);
    off_b = (size_t)((char *)counters[1] - (char *)mem);
    printf("[parent] counters at offsets %zu and %zu: %s\n", off_a, off_b,
           off_a / LINE == off_b / LINE ? "the SAME 64-byte cache line" : "different cache lines");
    if (pair_cpus() < 2)
        printf("[parent] only one CPU is allowed: the processes take turns and the line never "
               "bounces, so the times below show no difference\n");
    else
        printf("[parent] process 1 pinned to CPU %d, process 2 to CPU %d\n", pair_cpu(0),
               pair_cpu(1));

    alone = time_counting(counters, 1, iterations);
    printf("[parent] one process, %ld increments alone: %s\n", iterations,
           fmt_duration((double)alone).s);
    together = time_counting(counters, 2, iterations);
    printf("[parent] two processes, %ld increments each, at the same time: %s\n", iterations,
           fmt_duration((double)together).s);
    printf("[parent] %.1fx the time of one alone (1.0x is no interference; one run each, not a "
           "benchmark)\n",
           (double)together / (double)(alone > 0 ? alone : 1));
    if (atomic_load(counters[0]) != 2 * iterations || atomic_load(counters[1]) != iterations)
        die("a counter has the wrong value");
    munmap(mem, sizeof *mem);
    return 0;
}
