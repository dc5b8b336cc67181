/* pitfall_store_load_reorder.c - Peterson's lock fails on x86 without a full fence
 *
 * Peterson's algorithm is correct on paper: raise my flag, give the other the turn, then wait
 * while the other's flag is up and it is its turn.  It relies on my stores being seen before
 * my loads.  x86 keeps stores in a store buffer and lets a later load of another address go
 * first (the one reordering x86-TSO allows), so both processes can read the other's flag as 0
 * and enter together.  Release stores and acquire loads do not forbid it; --fixed puts a
 * seq_cst fence (mfence) between the stores and the loads.
 * Guide part: pitfall (memory ordering: store-load reordering).
 * Run: ./pitfall_store_load_reorder [--fixed] [--iterations N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pair.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--fixed] [--iterations N]    (N from 1000 to 10000000)";

struct peterson {
    atomic_int flag[2];
    atomic_int turn;
    atomic_long counter; /* guarded by the lock: updated with a plain load and store */
    atomic_int ready;    /* a start line: both sides begin together */
    atomic_long done[2]; /* iterations each side finished before the deadline */
    uint64_t deadline_ns;
};

/* How long the broken version keeps trying before it gives up (8 s). */
#define BOUND_NS 8000000000ull

static bool fixed;

static void lock(struct peterson *p, int me)
{
    int other = 1 - me;
    unsigned spins = 0;

    atomic_store_explicit(&p->flag[me], 1, memory_order_release);
    atomic_store_explicit(&p->turn, other, memory_order_release);
    if (fixed) /* THE FIX: the stores above reach memory before the loads below */
        atomic_thread_fence(memory_order_seq_cst);
    while (atomic_load_explicit(&p->flag[other], memory_order_acquire) == 1 &&
           atomic_load_explicit(&p->turn, memory_order_acquire) == other) {
        if (++spins % 4096 == 0)
            sched_yield(); /* on one CPU the other side cannot run while we spin */
    }
}

static void unlock(struct peterson *p, int me)
{
    atomic_store_explicit(&p->flag[me], 0, memory_order_release);
}

static void run_side(struct peterson *p, int me, long iterations)
{
    unsigned spins = 0;
    long i;

    atomic_fetch_add(&p->ready, 1);
    while (atomic_load(&p->ready) < 2)
        if (++spins % 256 == 0)
            sched_yield();
    for (i = 0; i < iterations; i++) {
        if (i % 1024 == 0 && now_ns() > p->deadline_ns)
            break; /* a loaded machine: stop the round on time */
        lock(p, me);
        /* A read-modify-write in two steps: only the lock makes it safe. */
        long seen = atomic_load_explicit(&p->counter, memory_order_relaxed);

        atomic_store_explicit(&p->counter, seen + 1, memory_order_relaxed);
        unlock(p, me);
    }
    atomic_store(&p->done[me], i);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"iterations", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long iterations = 300000, expected, lost = 0;
    struct peterson *p;
    int opt, round;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            fixed = true;
        else
            iterations = cli_long(optarg, 1000, 10000000, "--iterations", usage);
    }
    cli_no_operands(argc, argv, usage);

    p = mmap(NULL, sizeof *p, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die_errno("mmap");
    if (pair_cpus() >= 2)
        printf("[parent] two processes pinned to CPUs %d and %d", pair_cpu(0), pair_cpu(1));
    else
        printf("[parent] two processes on one allowed CPU");
    printf(" take Peterson's lock up to %ld times each (0.25 s at most a round), %s\n", iterations,
           fixed ? "with a seq_cst fence after the stores" : "with release stores, acquire loads");
    /* The two must really run at once: on a busy machine (a load of 10 on 2 cores) a round
     * may barely overlap, so the broken version tries again until it sees the reordering or
     * BOUND_NS have passed.  Unloaded, the first round shows it. */
    uint64_t begin = now_ns();

    for (round = 1; elapsed_ns(begin) < BOUND_NS; round++) {
        uint64_t start = now_ns();
        pid_t sides[2];

        atomic_store(&p->counter, 0);
        atomic_store(&p->ready, 0);
        p->deadline_ns = start + 250000000; /* at most a quarter of a second a round */
        for (int me = 0; me < 2; me++) {
            sides[me] = fork_or_die();
            if (sides[me] == 0) {
                pair_pin(me); /* on two CPUs at once, or the stores never race the loads */
                run_side(p, me, iterations);
                exit(0);
            }
        }
        for (int me = 0; me < 2; me++) { /* quietly: there may be hundreds of rounds */
            int status;

            while (waitpid(sides[me], &status, 0) == -1)
                if (errno != EINTR)
                    die_errno("waitpid");
            if (status != 0)
                die("a locking process failed: %s", fmt_wait_status(status).s);
        }
        expected = atomic_load(&p->done[0]) + atomic_load(&p->done[1]);
        lost = expected - atomic_load(&p->counter);
        if (round > 1 && lost == 0 && !fixed && round % 50 != 0)
            continue; /* a quiet round: not worth a line each */
        printf("[parent] round %d: counter %ld of %ld, %ld increments lost inside the lock "
               "(%s)\n",
               round, atomic_load(&p->counter), expected, lost,
               fmt_duration((double)elapsed_ns(start)).s);
        if (fixed || lost != 0)
            break;
    }
    if (lost != 0)
        printf("[parent] MUTUAL EXCLUSION BROKEN: both sides read the other's flag as 0 while "
               "their own stores still sat in the store buffer\n");
    else if (fixed)
        printf("[parent] exact: with the fence, no two critical sections overlapped\n");
    else
        printf("[parent] no reordering seen in %d rounds (%s; one CPU, or not x86?)\n", round - 1,
               fmt_duration((double)elapsed_ns(begin)).s);
    munmap(p, sizeof *p);
    if (fixed && lost != 0)
        die("the fenced lock still lost updates");
    return 0;
}
