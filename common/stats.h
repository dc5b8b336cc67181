/* stats.h - summary statistics of a sample array, for the benchmarks. */
#ifndef IPC_STATS_H
#define IPC_STATS_H

#include <stddef.h>

/* ---- stats.c ---------------------------------------------------------------
 * stats_compute() sorts `samples` in place.  stddev is the sample standard
 * deviation (divides by n - 1; 0 when n == 1).  Percentiles interpolate
 * linearly between the two nearest ranks: for p in [0, 100] the rank is
 * h = (n - 1) * p / 100 and the value sorted[floor h] + (h - floor h) *
 * (sorted[floor h + 1] - sorted[floor h])  (Hyndman & Fan type 7, the
 * default of NumPy and spreadsheets). */
struct stats {
    size_t n;
    double min, max, mean, stddev;
    double p50, p90, p99, p999;
};
/* Fills *out and returns 0, or returns -1 with errno = EINVAL when n == 0. */
int stats_compute(double *samples, size_t n, struct stats *out);
/* The p-th percentile of n sorted samples (p outside [0, 100] clamps); NaN when n == 0. */
double percentile_sorted(const double *sorted, size_t n, double p);

#endif
