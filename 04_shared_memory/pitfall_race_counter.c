/* pitfall_race_counter.c - several processes increment one shared counter and lose updates
 *
 * `(*counter)++` is three steps: load, add, store.  Two processes on two CPUs both load 41,
 * both store 42, and one increment is gone.  `volatile` does not help: it only forces the
 * load and the store to happen, not to happen as one.  --fixed uses C11 atomic_fetch_add(),
 * one indivisible read-modify-write (a `lock xadd` on x86); a process-shared mutex would do
 * too, at a higher price.
 * Guide part: pitfall (unsynchronised read-modify-write on shared memory).
 * Run: ./pitfall_race_counter [--fixed] [--procs N] [--increments N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pair.h"
#include "proc.h"
#include "timing.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed] [--procs N] [--increments N]    (N procs 2-16, "
                            "increments 1000-100000000)";

struct shared_counter {
    volatile long plain; /* the broken version: volatile, and still not atomic */
    atomic_long atomic;  /* the fixed version */
};

static void increment_many(struct shared_counter *c, long increments, bool fixed)
{
    for (long i = 0; i < increments; i++) {
        if (fixed)
            atomic_fetch_add_explicit(&c->atomic, 1, memory_order_relaxed);
        else
            c->plain++; /* load, add, store: another process can store in between */
    }
}

/* How long the broken version keeps trying before it gives up (8 s). */
#define BOUND_NS 8000000000ull

/* One round: every process adds `increments`; returns the final count. */
static long run_round(struct shared_counter *c, long procs, long increments, bool fixed)
{
    pid_t pids[16];

    c->plain = 0;
    atomic_store(&c->atomic, 0);
    for (long p = 0; p < procs; p++) {
        pids[p] = fork_or_die();
        if (pids[p] == 0) {
            pair_pin((int)(p % 2)); /* half on each CPU: they really run at once */
            increment_many(c, increments, fixed);
            exit(0);
        }
    }
    for (long p = 0; p < procs; p++) {
        int status = reap_quietly(pids[p]); /* quietly: there may be many rounds */

        if (status != 0)
            die("an incrementing process failed: %s", fmt_wait_status(status).s);
    }
    return fixed ? atomic_load(&c->atomic) : c->plain;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"procs", required_argument, NULL, 'p'},
        {"increments", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long procs = 4, increments = 1000000, expected, got = 0;
    struct shared_counter *c;
    bool fixed = false;
    int opt, round;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            fixed = true;
        else if (opt == 'p')
            procs = cli_long(optarg, 2, 16, "--procs", usage);
        else
            increments = cli_long(optarg, 1000, 100000000, "--increments", usage);
    }
    cli_no_operands(argc, argv, usage);

    c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        die_errno("mmap");
    expected = procs * increments;
    printf("[parent] %ld processes on %ld online CPUs each add 1 to a shared counter %ld times, "
           "with %s\n",
           procs, sysconf(_SC_NPROCESSORS_ONLN), increments,
           fixed ? "atomic_fetch_add()" : "a plain ++ on a volatile long");
    /* Losses need two processes running at once; on a busy machine (a load of 10 on 2 cores)
     * a round may barely overlap, so the broken version tries again until it loses updates
     * or BOUND_NS have passed.  Unloaded, the first round shows it. */
    uint64_t begin = now_ns();

    for (round = 1; elapsed_ns(begin) < BOUND_NS; round++) {
        uint64_t start = now_ns();

        got = run_round(c, procs, increments, fixed);
        if (round > 1 && got == expected && !fixed && round % 50 != 0)
            continue; /* a quiet round: not worth a line each */
        printf("[parent] round %d: counter %ld, expected %ld, lost %ld updates (%s)\n", round, got,
               expected, expected - got, fmt_duration((double)elapsed_ns(start)).s);
        if (fixed || got != expected)
            break;
    }
    if (got != expected)
        printf("[parent] LOST UPDATES: two processes read the same value and both stored +1\n");
    else if (fixed)
        printf("[parent] exact: every read-modify-write was one indivisible operation\n");
    else
        printf("[parent] no update lost in %d rounds (one CPU, or lucky scheduling)\n", round - 1);
    munmap(c, sizeof *c);
    if (fixed && got != expected)
        die("atomic increments lost updates");
    return 0;
}
