/* pair.h - two measuring processes, pinned to two CPUs, started at one instant.
 *
 * The chapter's second module: the scaffolding shared by the programs that time or race
 * processes against each other (advanced_spsc_ring, advanced_ring_round_trip,
 * advanced_zero_copy_handoff, pitfall_false_sharing, pitfall_race_counter,
 * pitfall_store_load_reorder).  It is not their lesson: it only makes sure both sides run at
 * the same time, each on its own core when the machine allows two, and that a side which
 * fails does not leave the other spinning for ever.  test_pair checks it.
 */
#ifndef PAIR_H
#define PAIR_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

/* The start line, in memory both sides share (MAP_SHARED). */
struct pair_start {
    alignas(64) atomic_int ready; /* sides at the line */
    atomic_int go;                /* set once both are there */
    uint64_t start_ns;            /* now_ns() when the parent said go */
};

/* How many CPUs the pair runs on: 2, or 1 when only one is allowed (then the sides take turns
 * and a spinning side must yield).  The first call reads the affinity mask. */
int pair_cpus(void);
/* The CPU side 0 or side 1 is pinned to. */
int pair_cpu(int side);
/* Pins the calling process to pair_cpu(side); dies if the kernel refuses. */
void pair_pin(int side);
/* Called in every spin loop: yields the CPU each 1024 spins, or at once on one CPU. */
void pair_relax(unsigned *spins);

typedef void pair_side_fn(void *arg);

/* A side's first step: says it is ready and spins until the parent's go. */
void pair_wait_for_go(struct pair_start *start);
/* Forks side 0 and side 1, each pinned (pair_pin) and called with `arg`; they must call
 * pair_wait_for_go(start) before the timed part.  Sets start->start_ns at go, then reaps both
 * quietly.  If one side fails, the other is killed and reaped and the program dies. */
void pair_run(struct pair_start *start, pair_side_fn *side0, pair_side_fn *side1, void *arg);
/* As pair_run, without dying: returns 0, or -1 when a side failed (both reaped). */
int pair_try_run(struct pair_start *start, pair_side_fn *side0, pair_side_fn *side1, void *arg);

#endif
