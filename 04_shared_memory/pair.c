/* pair.c - the two measuring processes of pair.h. */
#define _GNU_SOURCE
#include "pair.h"

#include "common.h"
#include "proc.h"
#include "timing.h"

#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int cpus[2];
static int ncpus; /* 0 until the first pair_cpus() */

int pair_cpus(void)
{
    if (ncpus == 0) {
        ncpus = allowed_cpus(cpus, 2);
        if (ncpus == -1)
            die_errno("sched_getaffinity");
    }
    return ncpus;
}

int pair_cpu(int side)
{
    return cpus[side % pair_cpus()];
}

void pair_pin(int side)
{
    if (pin_to_cpu(pair_cpu(side)) == -1)
        die_errno("sched_setaffinity to CPU %d", pair_cpu(side));
}

void pair_relax(unsigned *spins)
{
    if (pair_cpus() < 2 || ++*spins % 1024 == 0)
        sched_yield();
}

void pair_wait_for_go(struct pair_start *start)
{
    unsigned spins = 0;

    atomic_fetch_add_explicit(&start->ready, 1, memory_order_acq_rel);
    while (atomic_load_explicit(&start->go, memory_order_acquire) == 0)
        pair_relax(&spins);
}

int pair_try_run(struct pair_start *start, pair_side_fn *side0, pair_side_fn *side1, void *arg)
{
    pair_side_fn *sides[2] = {side0, side1};
    unsigned spins = 0;
    pid_t pids[2];

    pair_cpus(); /* found before the fork: both children know the CPUs */
    atomic_store(&start->ready, 0);
    atomic_store(&start->go, 0);
    for (int i = 0; i < 2; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            pair_pin(i);
            sides[i](arg);
            exit(0);
        }
    }
    /* A side that dies before the line would leave us here for ever: watch for it. */
    while (atomic_load_explicit(&start->ready, memory_order_acquire) < 2) {
        for (int i = 0; i < 2; i++) {
            int status;

            if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
                kill(pids[1 - i], SIGKILL);
                reap_quietly(pids[1 - i]);
                return -1;
            }
        }
        pair_relax(&spins);
    }
    start->start_ns = now_ns();
    atomic_store_explicit(&start->go, 1, memory_order_release);
    for (int i = 0; i < 2; i++) {
        if (reap_quietly(pids[i]) != 0) {
            /* The other side would spin for ever waiting for this one: stop it. */
            if (i == 0) {
                kill(pids[1], SIGKILL);
                reap_quietly(pids[1]);
            }
            return -1;
        }
    }
    return 0;
}

void pair_run(struct pair_start *start, pair_side_fn *side0, pair_side_fn *side1, void *arg)
{
    if (pair_try_run(start, side0, side1, arg) == -1)
        die("a measuring process failed");
}
