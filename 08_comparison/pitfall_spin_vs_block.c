/* pitfall_spin_vs_block.c - a spinning transport "wins" a benchmark that counts no CPU time
 *
 * A shared-memory flag polled in a loop answers in well under a microsecond, a pipe in
 * several: the kernel must wake the sleeping reader (and on another CPU, interrupt it).  But
 * the spinner never sleeps: both of its processes burn a whole CPU while they wait.  ipc-bench
 * put such a busy-waiting row beside blocking ones.  Broken: wall time only, and the spinner
 * looks many times faster.  --fixed: each row is labelled (spins / blocks) and reports the
 * CPU seconds of both processes (getrusage) beside the wall time, the honest comparison.
 * Each row runs 100 ms, the two sides pinned to two CPUs when two are allowed.
 * Guide part: pitfall (benchmarking: comparing a spinning and a blocking transport).
 * Run: ./pitfall_spin_vs_block [--fixed]
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define ROW_MS 100       /* each row runs this long: getrusage() is coarser than a few ms */
#define YIELD_AFTER 1000 /* polls before a sched_yield(): on one CPU the peer must get to run */
#define PING 1
#define PONG 0
#define STOP 2

static const char usage[] = "[--fixed]";

struct result {
    long rounds;
    double wall_us, cpu_us; /* per round trip; CPU of both processes */
};

static double cpu_s(int who)
{
    struct rusage ru;

    if (getrusage(who, &ru) == -1)
        die_errno("getrusage");
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Polls until *turn is no longer `was`, yielding now and then so that one CPU still works. */
static int spin_while(atomic_int *turn, int was)
{
    int now;

    for (long polls = 1; (now = atomic_load_explicit(turn, memory_order_acquire)) == was; polls++)
        if (polls % YIELD_AFTER == 0)
            sched_yield();
    return now;
}

/* The parent pings (sets PING) and waits for the pong, until ROW_MS is over; then STOP. */
static long spin_parent(atomic_int *turn, uint64_t start)
{
    long rounds = 0;

    while (elapsed_ns(start) < ROW_MS * 1000000ULL) {
        atomic_store_explicit(turn, PING, memory_order_release);
        spin_while(turn, PING);
        rounds++;
    }
    atomic_store_explicit(turn, STOP, memory_order_release);
    return rounds;
}

static void spin_peer(atomic_int *turn)
{
    while (spin_while(turn, PONG) == PING)
        atomic_store_explicit(turn, PONG, memory_order_release);
}

static long pipe_parent(int in, int out, uint64_t start)
{
    char byte = 'p';
    long rounds = 0;

    while (elapsed_ns(start) < ROW_MS * 1000000ULL) {
        ssize_t got;

        if (write_full(out, &byte, 1) == -1)
            die_errno("write");
        if ((got = read_full(in, &byte, 1)) == -1)
            die_errno("read");
        if (got == 0)
            die("the peer ended before its reply");
        rounds++;
    }
    return rounds; /* the caller's close() is the peer's EOF */
}

static void pipe_peer(int in, int out)
{
    char byte;
    ssize_t n;

    while ((n = read_full(in, &byte, 1)) == 1)
        if (write_full(out, &byte, 1) == -1)
            die_errno("peer: write");
    if (n == -1)
        die_errno("peer: read");
}

/* One row: round trips with a forked peer for ROW_MS; CPU of both sides from getrusage. */
static struct result run_row(bool spin, const int *cpus, int ncpus)
{
    atomic_int *turn =
        mmap(NULL, sizeof *turn, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    double cpu_before = cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN);
    int ping[2], pong[2];
    uint64_t start;
    long rounds;
    pid_t parent, peer;
    int slot;

    if (turn == MAP_FAILED)
        die_errno("mmap");
    atomic_init(turn, PONG);
    if (pipe(ping) == -1 || pipe(pong) == -1)
        die_errno("pipe");
    /* A parent stopped mid-row must not leave the spinner burning a CPU for ever: the cleanup
     * registry ends and reaps it at SIGINT, SIGTERM or SIGHUP, and a SIGKILLed parent takes
     * it along (PDEATHSIG). */
    parent = getpid();
    peer = fork_registered(&slot);
    if (peer == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
            die_errno("peer: prctl(PR_SET_PDEATHSIG)");
        if (getppid() != parent)
            exit(1); /* it died before the prctl() */
        if (ncpus == 2 && pin_to_cpu(cpus[1]) == -1)
            die_errno("peer: pin to CPU %d", cpus[1]);
        close(ping[1]);
        close(pong[0]);
        if (spin)
            spin_peer(turn);
        else
            pipe_peer(ping[0], pong[1]);
        close(ping[0]);
        close(pong[1]);
        exit(0);
    }
    close(ping[0]);
    close(pong[1]);
    start = now_ns(); /* the fork is not timed */
    rounds = spin ? spin_parent(turn, start) : pipe_parent(pong[0], ping[1], start);
    close(ping[1]);
    close(pong[0]);
    reap_quietly(peer); /* its CPU time joins RUSAGE_CHILDREN only once it is reaped */
    cleanup_forget(slot);
    munmap(turn, sizeof *turn);
    return (struct result){rounds, (double)elapsed_ns(start) / 1e3 / (double)rounds,
                           (cpu_s(RUSAGE_SELF) + cpu_s(RUSAGE_CHILDREN) - cpu_before) * 1e6 /
                               (double)rounds};
}

int main(int argc, char *argv[])
{
    bool fixed = cli_pitfall_fixed(argc, argv, usage);
    struct result spin, block;
    int cpus[2], ncpus;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Two CPUs, one per side: the case where spinning pays (on one CPU it cannot). */
    ncpus = allowed_cpus(cpus, 2);
    if (ncpus == 2 && pin_to_cpu(cpus[0]) == -1)
        die_errno("pin to CPU %d", cpus[0]);
    printf("[bench] %d ms of one-byte round trips each: a shared word polled in a loop, then a "
           "pipe; ",
           ROW_MS);
    if (ncpus == 2)
        printf("the two sides pinned to CPUs %d and %d\n", cpus[0], cpus[1]);
    else
        printf("one CPU only: the poller yields every %d polls\n", YIELD_AFTER);
    spin = run_row(true, cpus, ncpus);
    block = run_row(false, cpus, ncpus);
    if (!fixed) {
        /* THE MISTAKE: wall time is all that is printed, and the rows carry no label. */
        printf("[bench] shm:  %.2f µs per round trip (%ld trips)\n", spin.wall_us, spin.rounds);
        printf("[bench] pipe: %.2f µs per round trip (%ld trips)\n", block.wall_us, block.rounds);
        printf("[bench] shm looks %.1fx faster than pipe (wall time only: the CPU it burned is "
               "not counted)\n",
               block.wall_us / spin.wall_us);
        return 0;
    }
    /* THE FIX: say which row spins, and count what each costs in CPU as well as in time. */
    printf("[bench] %-22s %8.2f µs wall, %8.2f µs CPU per round trip (%.2f CPUs busy, %ld "
           "trips)\n",
           "shm busy-poll (SPINS)", spin.wall_us, spin.cpu_us, spin.cpu_us / spin.wall_us,
           spin.rounds);
    printf("[bench] %-22s %8.2f µs wall, %8.2f µs CPU per round trip (%.2f CPUs busy, %ld "
           "trips)\n",
           "pipe (blocks)", block.wall_us, block.cpu_us, block.cpu_us / block.wall_us,
           block.rounds);
    if (spin.wall_us < block.wall_us)
        printf("[bench] the spinner buys %.1fx lower latency with its CPUs: %.1f CPUs busy while "
               "it waits, against %.1f\n",
               block.wall_us / spin.wall_us, spin.cpu_us / spin.wall_us,
               block.cpu_us / block.wall_us);
    else /* one CPU: the poller can see nothing until it yields to the peer */
        printf(
            "[bench] the spinner is no faster here (%.1fx the pipe's round trip): %.1f CPUs busy "
            "while it waits, against %.1f\n",
            spin.wall_us / block.wall_us, spin.cpu_us / spin.wall_us, block.cpu_us / block.wall_us);
    return 0;
}
