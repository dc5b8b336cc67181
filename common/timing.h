/* timing.h - a monotonic clock and human-readable durations, sizes, rates. */
#ifndef IPC_TIMING_H
#define IPC_TIMING_H

#include "common.h"

#include <time.h>

/* ---- timing.c --------------------------------------------------------------
 * Formatters return a small struct so the text can be used inline:
 *     printf("%s\n", fmt_bytes(65536).s);        prints "64 KiB"
 * The text lives until the end of the full expression that contains it.
 * None of these can fail.
 */
uint64_t now_ns(void);                  /* CLOCK_MONOTONIC, nanoseconds */
uint64_t elapsed_ns(uint64_t since_ns); /* now_ns() - since_ns */
double ns_to_s(uint64_t ns);            /* nanoseconds as seconds */
void sleep_ms(unsigned ms);             /* sleeps the whole time despite signals */
void spin_ns(uint64_t ns);              /* busy-waits: a stand-in for work */
/* An absolute CLOCK_REALTIME time `ms` from now: mq_timedsend/receive,
 * sem_timedwait and pthread_cond_timedwait (by default) take that clock, not
 * the monotonic one, so a wall-clock jump shifts their deadline. */
struct timespec deadline_after_ms(long ms);
struct human fmt_duration(double ns);               /* "812 ns", "1.5 µs", "2.3 ms", "1.25 s" */
struct human fmt_bytes(uint64_t bytes);             /* "512 B", "64 KiB", "1.5 MiB" */
struct human fmt_rate(uint64_t bytes, uint64_t ns); /* "2.3 GiB/s"; "inf B/s" when ns is 0 */

#endif
