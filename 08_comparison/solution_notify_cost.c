/* solution_notify_cost.c - what a wake-up costs: a polled word against two eventfds
 *
 * Exercise 4 (performance): a parent and a forked child pass a turn back and forth through
 * a word in a shared page.  --mode spin: each side polls the word (acquire loads, a
 * sched_yield() now and then so one CPU still works) and makes no other system call while
 * it waits.  --mode eventfd: each side sleeps in read() on an eventfd until the other writes
 * it, one eventfd per direction.  One CPU each where two are allowed.  N/10 warm-up round
 * trips, then N timed ones; the report is the wall time and the CPU time of both processes
 * (getrusage, the child's sent back through the page), per round trip: across two CPUs the
 * spinner is faster and pays with both of them.
 * Guide part: exercise 4 (performance).
 * Run: ./solution_notify_cost --mode spin   or   ./solution_notify_cost --mode eventfd
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define YIELD_AFTER 1000 /* polls between two sched_yield() calls */

static const char usage[] = "[--mode spin|eventfd] [--rounds N]   (default eventfd, N 1000; "
                            "N from 1 to 1000000)";

struct shared {
    atomic_uint turn;   /* round trip r: the parent sets 2r - 1, the child answers 2r */
    uint64_t child_cpu; /* the child's CPU ns in the timed round trips, stored before exit */
};

struct channel {
    bool spin;
    atomic_uint *turn;
    int to_child, to_parent; /* the two eventfds */
};

static uint64_t cpu_ns(int who)
{
    struct rusage ru;

    if (getrusage(who, &ru) == -1)
        die_errno("getrusage");
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
}

/* Hands the turn over: the new value of the word, and a wake-up in eventfd mode. */
static void signal_turn(const struct channel *c, int efd, unsigned value)
{
    uint64_t one = 1;

    atomic_store_explicit(c->turn, value, memory_order_release);
    if (!c->spin && write(efd, &one, sizeof one) != (ssize_t)sizeof one)
        die_errno("write to eventfd");
}

/* Waits until the word holds `value`: polling, or asleep in read() on the eventfd. */
static void wait_turn(const struct channel *c, int efd, unsigned value)
{
    uint64_t count;

    if (!c->spin) {
        if (read(efd, &count, sizeof count) != (ssize_t)sizeof count)
            die_errno("read from eventfd");
        return;
    }
    for (long polls = 1; atomic_load_explicit(c->turn, memory_order_acquire) != value; polls++)
        if (polls % YIELD_AFTER == 0)
            sched_yield();
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"mode", required_argument, NULL, 'm'},
                                             {"rounds", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct channel c = {.spin = false};
    struct shared *page;
    long rounds = 1000, total;
    int cpus[2], ncpus;
    uint64_t start = 0, cpu_start = 0, wall, cpu;
    pid_t parent, child;
    int opt;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'n')
            rounds = cli_long(optarg, 1, 1000000, "--rounds", usage);
        else if (strcmp(optarg, "spin") == 0 || strcmp(optarg, "eventfd") == 0)
            c.spin = strcmp(optarg, "spin") == 0;
        else
            die_usage(usage, "--mode must be spin or eventfd, not '%s'", optarg);
    }
    cli_no_operands(argc, argv, usage);
    total = rounds / 10 + rounds;

    page = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        die_errno("mmap");
    atomic_init(&page->turn, 0);
    c.turn = &page->turn;
    /* One CPU each where there are two: a wake-up then crosses CPUs, and a spinner burns two. */
    ncpus = allowed_cpus(cpus, 2);
    if (ncpus == 2 && pin_to_cpu(cpus[0]) == -1)
        die_errno("pin to CPU %d", cpus[0]);
    c.to_child = c.spin ? -1 : eventfd(0, EFD_CLOEXEC);
    c.to_parent = c.spin ? -1 : eventfd(0, EFD_CLOEXEC);
    if (!c.spin && (c.to_child == -1 || c.to_parent == -1))
        die_errno("eventfd");
    /* A parent stopped mid-run must not leave the child waiting for a turn that never comes
     * (asleep in read() for ever, or spinning for ever): the cleanup registry ends and reaps
     * it at SIGINT, SIGTERM or SIGHUP (registered by fork_registered before one can come),
     * and a SIGKILLed parent takes it along (PDEATHSIG). */
    parent = getpid();
    child = fork_registered(NULL);
    if (child == 0) {
        uint64_t child_start = 0;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
            die_errno("child: prctl(PR_SET_PDEATHSIG)");
        if (getppid() != parent)
            exit(1); /* it died before the prctl() */
        if (ncpus == 2 && pin_to_cpu(cpus[1]) == -1)
            die_errno("child: pin to CPU %d", cpus[1]);
        for (unsigned r = 1; r <= (unsigned)total; r++) {
            if (r == (unsigned)(total - rounds + 1))
                child_start = cpu_ns(RUSAGE_SELF);
            wait_turn(&c, c.to_child, 2 * r - 1);
            signal_turn(&c, c.to_parent, 2 * r);
        }
        page->child_cpu = cpu_ns(RUSAGE_SELF) - child_start; /* read after the reaping */
        if (!c.spin) {
            close(c.to_child);
            close(c.to_parent);
        }
        exit(0);
    }
    for (unsigned r = 1; r <= (unsigned)total; r++) {
        if (r == (unsigned)(total - rounds + 1)) { /* the warm-up is over */
            start = now_ns();
            cpu_start = cpu_ns(RUSAGE_SELF);
        }
        signal_turn(&c, c.to_child, 2 * r - 1);
        wait_turn(&c, c.to_parent, 2 * r);
    }
    wall = elapsed_ns(start);
    if (reap_quietly(child) != 0)
        die("the child failed");
    cpu = cpu_ns(RUSAGE_SELF) - cpu_start + page->child_cpu;
    printf("[notify] %s: %ld round trips, %llu ns wall, %llu ns CPU per round trip\n",
           c.spin ? "spin" : "eventfd", rounds, (unsigned long long)(wall / (uint64_t)rounds),
           (unsigned long long)(cpu / (uint64_t)rounds));
    if (!c.spin) {
        close(c.to_child);
        close(c.to_parent);
    }
    munmap(page, sizeof *page);
    return 0;
}
