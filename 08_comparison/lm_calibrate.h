/* lm_calibrate.h - lmbench's lat_pipe, lat_unix and bw_pipe, measured the way lmbench does.
 *
 * lmbench 3.0-a9 (src/lat_pipe.c, lat_unix.c, bw_pipe.c over benchmp() in src/lib_timing.c):
 * the timing process forks the peer and pins nothing (lib_sched.c's handle_scheduler() does
 * nothing without LMBENCH_SCHED, so placement is the scheduler's, or what the caller inherited,
 * e.g. from taskset); it runs the loop body `iterations` times between two clock readings,
 * growing `iterations` (x8 while an interval is under 150 us, then scaled to 1.1 x the target)
 * until an interval lasts the target time: 1 s for lat_pipe (SHORT), the clock's accuracy
 * interval for lat_unix (5 ms, compute_enough()'s first choice, or $ENOUGH), 2 s for bw_pipe
 * (MEDIUM).  Each interval longer than 0.95 x the target is a result; after 11 (TRIES) it
 * reports the median interval's mean time per iteration.  The bodies:
 *   lat_pipe  write 1 byte, read 1 byte back, over two pipes
 *   lat_unix  the same over a socketpair(AF_UNIX, SOCK_STREAM)
 *   bw_pipe   read 10 MiB in read()s of 64 KiB from a writer that writes 64 KiB at a time,
 *             forever, from a page-aligned buffer; the reader's buffer is 128 bytes past a page
 *             boundary (lmbench's comment: "destroy page alignment"); MB/s is 10^6 B/s
 * Left out: lmbench subtracts the measured cost of gettimeofday() and of the loop (under 0.1%
 * of these times); it times with gettimeofday(), this with CLOCK_MONOTONIC.
 *
 * Beside lmbench's number each call measures ours, in the same processes: the p50 of round
 * trips timed one by one (the latencies), or the median of 10 MiB passes each timed alone with
 * the reader's buffer page-aligned (the bandwidth).
 */
#ifndef LM_CALIBRATE_H
#define LM_CALIBRATE_H

#include <stdint.h>

struct lm_plan {
    int tries;    /* results to take the median of: lmbench's TRIES is 11 */
    double scale; /* the target interval times this: 1 is lmbench's own */
    long ours;    /* round trips (latency) or passes (bandwidth) of our own measure */
};

struct lm_result {
    double lmbench;       /* what lmbench would print: microseconds, or MB/s */
    double ours;          /* ours, in the same unit */
    uint64_t interval_us; /* the target interval used */
    int tries;
};

/* Each returns 0, or -1 with errno (a failed pipe, socketpair or transfer). */
int lm_lat_pipe(const struct lm_plan *plan, struct lm_result *out);
int lm_lat_unix(const struct lm_plan *plan, struct lm_result *out);
int lm_bw_pipe(const struct lm_plan *plan, struct lm_result *out);

#endif
