/* advanced_hw_probe.c - the hardware's limits that every IPC number sits on
 *
 * No mechanism can beat the hardware under it: a message between two CPUs costs at least a
 * cache line going there and back, a copy at least memcpy, a blocking wait at least a system
 * call and a context switch, fresh memory a page fault each page.  This measures those five
 * with the benchmark's statistics (warm-up, p50/p90/p99/max, medians of repetitions), so that
 * advanced_ipc_bench can state each mechanism as a multiple of them.  --lmbench instead
 * measures lmbench's lat_pipe, lat_unix and bw_pipe the way lmbench does (lm_calibrate.h).
 * Guide part: comparison (the limits; calibrating against lmbench).
 * Run: ./advanced_hw_probe [--samples N] [--cpus A,B] [--full]
 *      taskset -c 0 ./advanced_hw_probe --lmbench     (lmbench's own intervals: about 40 s)
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"
#include "bench_report.h"
#include "hw_probe.h"
#include "lm_calibrate.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[--samples N] [--repeat N] [--full] [--cpus A,B] "
                            "[--lmbench [--lm-permille N] [--lm-tries N]]";

enum probe { CACHELINE, MEMCPY, SYSCALL, CTXSW, PAGEFAULT };
static const char *const probe_names[] = {"cache-line round trip", "memcpy", "system call",
                                          "context switch", "page fault"};

struct options {
    long samples, repeat;
    int cpu[2], usable;
    bool two_cpus, lmbench;
    double lm_scale;
    long lm_tries;
};

static const uint64_t memcpy_sizes[] = {64, 4096, 65536, 1048576};

/* One repetition of one probe: its statistics, or false after a warning. */
static bool probe_once(const struct options *o, enum probe p, uint64_t size, double *samples,
                       struct stats *st, long *minflt)
{
    size_t n = (size_t)o->samples;
    int rc = -1;

    switch (p) {
    case CACHELINE: rc = hw_probe_cacheline(o->cpu[0], o->cpu[1], n, samples); break;
    case MEMCPY: rc = hw_probe_memcpy(size, n, samples); break;
    case SYSCALL: rc = hw_probe_syscall(n, samples); break;
    case CTXSW: rc = hw_probe_ctxsw(o->cpu[0], n, samples); break;
    case PAGEFAULT: rc = hw_probe_pagefault(n, samples, minflt); break;
    }
    if (rc == -1) {
        warn_errno("[probe] the %s", probe_names[p]);
        return false;
    }
    return stats_compute(samples, n, st) == 0;
}

static double median(double *v, size_t n)
{
    struct stats st;

    stats_compute(v, n, &st);
    return st.p50;
}

/* Runs a probe --repeat times and prints one row: each statistic the median over the runs. */
static void probe_row(const struct options *o, enum probe p, uint64_t size, const char *name,
                      const char *unit, double *samples)
{
    size_t reps = (size_t)o->repeat;
    double p50[reps], p90[reps], p99[reps], max[reps];
    long minflt = 0, faults = 0;

    for (size_t r = 0; r < reps; r++) {
        struct stats st;

        if (!probe_once(o, p, size, samples, &st, &minflt)) {
            printf("%-34s %-10s  failed (see the message above)\n", name, unit);
            return;
        }
        p50[r] = st.p50;
        p90[r] = st.p90;
        p99[r] = st.p99;
        max[r] = st.max;
        faults += minflt;
    }
    printf("%-34s %-10s %6ld %10.1f %10.1f %10.1f %10.1f\n", name, unit, o->samples,
           median(p50, reps), median(p90, reps), median(p99, reps), median(max, reps));
    if (p == PAGEFAULT)
        printf("[probe] page faults: getrusage counted %ld minor faults for %ld pages written "
               "(%s)\n",
               faults, o->samples * (long)reps * HW_FAULT_PAGES,
               faults >= o->samples * (long)reps * HW_FAULT_PAGES ? "one or more per page: each "
                                                                    "sample paid its faults"
                                                                  : "FEWER than pages: some "
                                                                    "were not faulted");
}

static void run_probes(const struct options *o)
{
    double *samples = calloc((size_t)o->samples, sizeof *samples);
    char name[96];

    if (samples == NULL)
        die_errno("allocating the samples");
    printf("[probe] method: every probe takes %ld warm-up samples, then %ld timed; %ld "
           "repetition(s), each statistic the median over them\n",
           o->samples / 10 + 2, o->samples, o->repeat);
    printf("\n%-34s %-10s %6s %10s %10s %10s %10s\n", "probe", "unit", "n", "p50", "p90", "p99",
           "max");
    if (o->two_cpus) {
        snprintf(name, sizeof name, "cache-line round trip, CPUs %d+%d", o->cpu[0], o->cpu[1]);
        probe_row(o, CACHELINE, 0, name, "ns/trip", samples);
    } else {
        printf("%-34s %-10s  not measured: this process may use one CPU\n", "cache-line round trip",
               "ns/trip");
    }
    for (size_t s = 0; s < sizeof memcpy_sizes / sizeof memcpy_sizes[0]; s++) {
        snprintf(name, sizeof name, "memcpy %s, page-aligned, warm", fmt_bytes(memcpy_sizes[s]).s);
        probe_row(o, MEMCPY, memcpy_sizes[s], name, "MB/s", samples);
    }
    probe_row(o, SYSCALL, 0, "system call, syscall(SYS_getppid)", "ns/call", samples);
    snprintf(name, sizeof name, "context switch, both on CPU %d", o->cpu[0]);
    probe_row(o, CTXSW, 0, name, "ns/switch", samples);
    probe_row(o, PAGEFAULT, 0, "minor page fault, anonymous write", "ns/page", samples);
    printf("\n[probe] cache line: %d round trips per sample, both sides spinning; memcpy: MB/s = "
           "10^6 B/s of at least 256 KiB copied per sample; context switch: HALF a 1-byte pipe "
           "round trip (two switches, two writes, two reads); page fault: %d fresh pages per "
           "sample, MADV_NOHUGEPAGE\n",
           HW_CACHELINE_BATCH, HW_FAULT_PAGES);
    free(samples);
}

static void lmbench_line(const char *tool, int rc, const struct lm_result *r, const char *says,
                         const char *ours, const char *unit)
{
    fflush(stdout);
    if (rc == -1) {
        warn_errno("[lmbench] %s", tool);
        return;
    }
    printf("[lmbench] %-8s lmbench's way: %s %.4f %s (median of %d intervals of %.1f ms); "
           "ours: %.4f %s (%s)\n",
           tool, says, r->lmbench, unit, r->tries, (double)r->interval_us / 1e3, r->ours, unit,
           ours);
}

static void run_lmbench(const struct options *o)
{
    struct lm_plan plan = {
        .tries = (int)o->lm_tries, .scale = o->lm_scale, .ours = 50 * o->samples};
    struct lm_plan bw_plan = plan;
    struct lm_result r;
    char ours[96];
    int rc;

    bw_plan.ours = plan.tries;
    printf("[lmbench] measured as lmbench 3 does: nothing pinned here (this process may use %d "
           "CPU(s); run under taskset for one placement), the mean of a loop over a fixed "
           "interval, the median of %d intervals\n",
           o->usable, plan.tries);
    snprintf(ours, sizeof ours, "p50 of %ld round trips timed one by one", plan.ours);
    rc = lm_lat_pipe(&plan, &r);
    lmbench_line("lat_pipe", rc, &r, "Pipe latency:", ours, "us");
    rc = lm_lat_unix(&plan, &r);
    lmbench_line("lat_unix", rc, &r, "AF_UNIX sock stream latency:", ours, "us");
    snprintf(ours, sizeof ours, "median of %ld 10 MiB passes timed alone, reader page-aligned",
             bw_plan.ours);
    rc = lm_bw_pipe(&bw_plan, &r);
    lmbench_line("bw_pipe", rc, &r, "Pipe bandwidth:", ours, "MB/s");
}

static void parse_cpus(struct options *o, const char *arg)
{
    int allowed[CPU_SETSIZE], n = allowed_cpus(allowed, CPU_SETSIZE);

    if (n < 1)
        die_errno("reading this process's CPU affinity");
    o->usable = n;
    o->cpu[0] = allowed[0];
    o->cpu[1] = n >= 2 ? allowed[1] : -1;
    o->two_cpus = n >= 2;
    if (arg != NULL) {
        char copy[64], *second;

        snprintf(copy, sizeof copy, "%s", arg);
        second = strchr(copy, ',');
        if (second == NULL)
            die_usage(usage, "--cpus takes two CPUs, A,B");
        *second++ = '\0';
        o->cpu[0] = (int)cli_long(copy, 0, CPU_SETSIZE - 1, "--cpus: each CPU", usage);
        o->cpu[1] = (int)cli_long(second, 0, CPU_SETSIZE - 1, "--cpus: each CPU", usage);
        if (o->cpu[0] == o->cpu[1])
            die_usage(usage, "--cpus: two different CPUs");
        o->two_cpus = true;
    }
}

static void parse_args(int argc, char *argv[], struct options *o)
{
    static const struct option longopts[] = {{"samples", required_argument, NULL, 'n'},
                                             {"repeat", required_argument, NULL, 'r'},
                                             {"full", no_argument, NULL, 'f'},
                                             {"cpus", required_argument, NULL, 'c'},
                                             {"lmbench", no_argument, NULL, 'l'},
                                             {"lm-permille", required_argument, NULL, 's'},
                                             {"lm-tries", required_argument, NULL, 't'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *cpus = NULL;
    long samples = 0, repeat = 0, scale_per_mille = 1000;
    bool full = false;
    int opt;

    *o = (struct options){.lm_tries = 11};
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'n')
            samples = cli_long(optarg, 1, 1000000, "--samples", usage);
        else if (opt == 'r')
            repeat = cli_long(optarg, 1, 101, "--repeat", usage);
        else if (opt == 'f')
            full = true;
        else if (opt == 'c')
            cpus = optarg;
        else if (opt == 'l')
            o->lmbench = true;
        else if (opt == 's')
            scale_per_mille = cli_long(optarg, 1, 10000, "--lm-permille", usage);
        else
            o->lm_tries = cli_long(optarg, 1, 101, "--lm-tries", usage);
    }
    cli_no_operands(argc, argv, usage);
    /* --full: ten times the samples and five repetitions, for numbers that hold still. */
    o->samples = samples ? samples : full ? 2000 : 200;
    o->repeat = repeat ? repeat : full ? 5 : 1;
    o->lm_scale = (double)scale_per_mille / 1000.0;
    parse_cpus(o, cpus);
}

int main(int argc, char *argv[])
{
    struct options o;

    parse_args(argc, argv, &o);
    describe_cpu(o.usable);
    if (o.lmbench)
        run_lmbench(&o);
    else
        run_probes(&o);
    return 0;
}
