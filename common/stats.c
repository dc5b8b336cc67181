/* stats.c - summary statistics of a sample array, for the benchmarks. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Linear interpolation between closest ranks; see stats.h. */
double percentile_sorted(const double *sorted, size_t n, double p)
{
    double h, frac;
    size_t lo;

    if (n == 0)
        return NAN;
    if (p <= 0)
        return sorted[0];
    if (p >= 100)
        return sorted[n - 1];
    h = (double)(n - 1) * p / 100.0;
    lo = (size_t)h;
    frac = h - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

int stats_compute(double *samples, size_t n, struct stats *out)
{
    double sum = 0, squares = 0;

    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    qsort(samples, n, sizeof *samples, compare_doubles);
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    out->n = n;
    out->mean = sum / (double)n;
    /* Two passes: summing squared deviations avoids the cancellation that
     * sum(x^2) - n*mean^2 suffers from with large, close samples. */
    for (size_t i = 0; i < n; i++)
        squares += (samples[i] - out->mean) * (samples[i] - out->mean);
    out->stddev = n > 1 ? sqrt(squares / (double)(n - 1)) : 0.0;
    out->min = samples[0];
    out->max = samples[n - 1];
    out->p50 = percentile_sorted(samples, n, 50);
    out->p90 = percentile_sorted(samples, n, 90);
    out->p99 = percentile_sorted(samples, n, 99);
    out->p999 = percentile_sorted(samples, n, 99.9);
    return 0;
}
