/* hw_probe.h - the hardware's limits, measured with the benchmark's statistics.
 *
 * Five probes, each filling samples[] with n values after its own untimed warm-up (n / 10 + 2
 * samples of the same work, so page faults and cold caches are paid before the clock runs):
 *   cache line     two processes pinned to two CPUs bounce one 64-byte line through a shared
 *                  mapping (each spins on the other's store): ns per round trip, each sample
 *                  the mean of HW_CACHELINE_BATCH trips (one trip is too short to time alone)
 *   memcpy         page-aligned, warm buffers: MB/s (10^6 B/s), each sample a batch of copies
 *                  of at least 256 KiB in all
 *   system call    syscall(SYS_getppid), the raw call, so no C library wrapper can skip it:
 *                  ns per call, each sample the mean of HW_SYSCALL_BATCH calls
 *   context switch two processes pinned to ONE CPU play 1-byte ping-pong on two pipes; a round
 *                  trip is two switches (and two writes and two reads), so each sample is
 *                  HALF a round trip, in ns
 *   page fault     fresh anonymous pages (MADV_NOHUGEPAGE, so each is one 4 KiB fault) written
 *                  once each: ns per page, each sample HW_FAULT_PAGES pages; the minor faults
 *                  that getrusage() counted over the timed touches are returned for a check
 * Every function returns 0, or -1 with errno.  The two forking probes restore the caller's CPU
 * affinity and register their child with the cleanup registry while it runs; their child
 * inherits the caller's descriptors, so call them while only 0, 1 and 2 are open.
 */
#ifndef HW_PROBE_H
#define HW_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define HW_CACHELINE_BATCH 100
#define HW_SYSCALL_BATCH 1000
#define HW_FAULT_PAGES 64
#define HW_MAX_SIZES 16

/* cpu_a != cpu_b, both usable (EINVAL otherwise); ETIMEDOUT when the other side did not answer
 * within two seconds (a CPU taken away for that long). */
int hw_probe_cacheline(int cpu_a, int cpu_b, size_t n, double *samples);
/* 1 <= size <= 64 MiB. */
int hw_probe_memcpy(uint64_t size, size_t n, double *samples);
int hw_probe_syscall(size_t n, double *samples);
int hw_probe_ctxsw(int cpu, size_t n, double *samples);
/* *minflt: minor faults counted by getrusage(RUSAGE_SELF) over the timed touches. */
int hw_probe_pagefault(size_t n, double *samples, long *minflt);

/* What the benchmark divides by: the cache-line round trip and memcpy at each size, from one
 * quick run (n samples each). */
struct hw_limits {
    bool have_cacheline;    /* false with one usable CPU, or when the probe failed */
    char no_cacheline[120]; /* why, when have_cacheline is false */
    struct stats cacheline_ns;
    size_t nsizes;
    uint64_t sizes[HW_MAX_SIZES];
    struct stats memcpy_mbps[HW_MAX_SIZES];
};
/* cpu_b < 0: only one CPU.  Dies (exit 1) when memcpy cannot be measured (no memory). */
void hw_limits_measure(int cpu_a, int cpu_b, const uint64_t *sizes, size_t nsizes, size_t n,
                       struct hw_limits *out);
/* memcpy's median MB/s at `size`, 0 when it was not measured. */
double hw_limits_memcpy(const struct hw_limits *hw, uint64_t size);

#endif
