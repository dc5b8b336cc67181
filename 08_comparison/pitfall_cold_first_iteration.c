/* pitfall_cold_first_iteration.c - the first iteration pays the page faults, and the mean too
 *
 * A benchmark that times its first iteration measures the kernel handing out pages: a fresh
 * buffer is mapped but not yet backed, and each first touch of a page is a minor page fault
 * (handle_mm_fault() in mm/memory.c) that allocates and zeroes it.  Here a peer sends 1 MiB
 * through a pipe into a freshly mapped buffer, 8 times.  Broken: all 8 are timed, and the
 * first, 256 page faults heavier (and the peer's own first touch), drags the mean.  --fixed:
 * two untimed warm-up iterations touch every page first; the timed ones pay no faults.
 * getrusage() counts the faults.  Both sides are pinned to one CPU.
 * Guide part: pitfall (benchmarking: a cold first iteration).
 * Run: ./pitfall_cold_first_iteration [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define SIZE (1024 * 1024) /* bytes per iteration: 256 pages of 4 KiB */
#define TIMED 8
#define WARMUP 2

static const char usage[] = "[--fixed]";

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

/* The peer: `count` times SIZE bytes from a buffer it touched once (its faults are its own). */
static noreturn void run_peer(int to_parent, int count)
{
    char *data = aligned_alloc(4096, SIZE);

    if (data == NULL)
        die_errno("peer: aligned_alloc");
    memset(data, 'x', SIZE);
    for (int i = 0; i < count; i++)
        if (write_full(to_parent, data, SIZE) == -1)
            die_errno("peer: write to pipe");
    free(data);
    close(to_parent);
    exit(0);
}

/* One iteration: SIZE bytes from the pipe into buf; *faults gets the faults it paid. */
static double receive_us(int from_peer, char *buf, long *faults)
{
    long before = minor_faults();
    uint64_t start = now_ns();
    ssize_t got = read_full(from_peer, buf, SIZE);

    if (got == -1)
        die_errno("read from pipe");
    if (got != SIZE)
        die("the peer ended after %zd of %d bytes", got, SIZE);
    *faults = minor_faults() - before;
    return (double)elapsed_ns(start) / 1000.0;
}

int main(int argc, char *argv[])
{
    bool fixed = cli_pitfall_fixed(argc, argv, usage);
    int warmup = fixed ? WARMUP : 0, fds[2], cpu;
    double us[TIMED], rest[TIMED - 1];
    long faults[TIMED], warm_faults = 0, timed_faults = 0;
    struct stats st;
    char *buf;
    pid_t peer;

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A fresh anonymous mapping: no page is backed until it is touched.  No huge pages, so
     * the count below is one fault per 4 KiB page whatever the THP setting. */
    buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        die_errno("mmap");
    if (madvise(buf, SIZE, MADV_NOHUGEPAGE) == -1)
        die_errno("madvise(MADV_NOHUGEPAGE)");
    /* Both sides on one CPU: every pipe refill is then a context switch, the same each time,
     * not a cross-CPU wake-up whose cost depends on where the scheduler put the two. */
    if (allowed_cpus(&cpu, 1) != 1 || pin_to_cpu(cpu) == -1)
        die_errno("pin to one CPU");
    if (pipe(fds) == -1)
        die_errno("pipe");
    peer = fork_or_die();
    if (peer == 0) {
        close(fds[0]);
        munmap(buf, SIZE);
        run_peer(fds[1], warmup + TIMED);
    }
    close(fds[1]);
    printf("[bench] %d iterations of 1 MiB through a pipe into a freshly mapped buffer, both "
           "sides on CPU %d, %s\n",
           TIMED, cpu, fixed ? "after 2 untimed warm-up iterations" : "all timed");
    for (int i = 0; i < warmup; i++) {
        long f;

        receive_us(fds[0], buf, &f); /* THE FIX: the cold iterations are not measured */
        warm_faults += f;
    }
    if (fixed)
        printf("[bench] warm-up paid %ld page faults, untimed\n", warm_faults);
    for (int i = 0; i < TIMED; i++) {
        us[i] = receive_us(fds[0], buf, &faults[i]);
        timed_faults += faults[i];
        printf("[bench] iteration %d: %8.1f µs, %3ld page faults\n", i + 1, us[i], faults[i]);
    }
    close(fds[0]);
    reap_quietly(peer);
    munmap(buf, SIZE);

    memcpy(rest, us + 1, sizeof rest);
    stats_compute(rest, TIMED - 1, &st); /* iterations 2..8, for comparison */
    if (!fixed) {
        double mean = 0;

        for (int i = 0; i < TIMED; i++)
            mean += us[i] / TIMED;
        printf("[bench] iteration 1 paid %ld page faults and took %.1fx the median of the "
               "others\n",
               faults[0], us[0] / st.p50);
        printf("[bench] the mean of all %d, %.1f µs, is %+.0f%% off that median: the first "
               "touch of each page is measured, not the pipe\n",
               TIMED, mean, 100.0 * (mean / st.p50 - 1));
        return 0;
    }
    printf("[bench] timed iterations paid %ld page faults in all; iteration 1 took %.1fx the "
           "median of the others\n",
           timed_faults, us[0] / st.p50);
    return 0;
}
