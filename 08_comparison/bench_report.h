/* bench_report.h - what advanced_ipc_bench measures with, and how it reports it.
 *
 * The report is not the lesson of the benchmark but its contract with the reader: the machine
 * first (CPU model, CPUs, kernel, hypervisor), the placement and the method in words, then one
 * table per message size sorted by the one-core median, and a CSV whose header names every
 * column with its unit.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hw_probe.h"
#include "stats.h"

#define MAX_SIZES 16
#define MAX_REPEAT 25

struct bench_config {
    uint64_t sizes[MAX_SIZES];
    size_t nsizes;
    bool use[32]; /* by index in transport_names */
    long rounds;
    uint64_t stream_bytes;
    bool full;      /* --full: longer runs, repeated (the defaults of rounds, bytes and repeat) */
    long repeat;    /* runs of every row; each statistic reported is the median over them */
    int cpu[2];     /* the two CPUs of the two-core placement; the first is the one-core one */
    int placements; /* 1 when only one CPU may be used */
    int usable;     /* CPUs this process may use (sched_getaffinity) */
    bool pinned;    /* false: pinning failed, the rows run where the scheduler puts them */
    char not_pinned[160]; /* why, when pinned is false */
    const char *csv;
    FILE *csv_out;       /* opened before the first row; NULL without --csv */
    struct hw_limits hw; /* the cache line and memcpy, measured once before the rows */
};

struct bench_row {
    const char *mechanism;
    uint64_t size;
    struct stats rt;       /* round trip, microseconds */
    uint64_t stream_bytes; /* messages * size: what was streamed */
    double mb_per_s, msgs_per_s, cpu_parent_s, cpu_child_s;
};

/* The usage line, and the whole command line into *cfg (dies with status 2 on a usage error;
 * with 1 when the CPU affinity cannot be read). */
extern const char bench_usage[];
void parse_bench_args(int argc, char *argv[], struct bench_config *cfg);
/* The median of each statistic over n runs of one row, into *row. */
void combine_runs(const struct bench_row *runs, size_t n, struct bench_row *row);
/* The machine: CPU model, CPUs (`usable`: how many this process may use), kernel, hypervisor
 * flag, as [machine] lines. */
void describe_cpu(int usable);
/* The machine, the placement and the method, as [machine] and [bench] lines. */
void describe_machine(const struct bench_config *cfg);
/* rows[] holds pairs, [i] one core and [i + 1] two cores, of nrows rows in all. */
void print_tables(const struct bench_config *cfg, struct bench_row *rows, size_t nrows);
/* The same rows against the hardware: per size, each mechanism's round-trip p50 as a multiple of
 * the cache-line round trip and its stream as a fraction of memcpy's MB/s at that size. */
void print_limit_tables(const struct bench_config *cfg, struct bench_row *rows, size_t nrows);
/* "-" is stdout; dies (exit 1) when the file cannot be created. */
FILE *open_csv(const char *path);
/* One line per measured row; closes f unless it is stdout. */
void write_csv(const struct bench_config *cfg, FILE *f, const struct bench_row *rows, size_t nrows);

#endif
