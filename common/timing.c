/* timing.c - a monotonic clock and human-readable durations, sizes, rates. */
#define _GNU_SOURCE
#include "timing.h"

#include <errno.h>
#include <time.h>

uint64_t now_ns(void)
{
    struct timespec ts;

    /* MONOTONIC never jumps when the wall clock is set: right for intervals. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t elapsed_ns(uint64_t since_ns)
{
    return now_ns() - since_ns;
}

double ns_to_s(uint64_t ns)
{
    return (double)ns / 1e9;
}

void sleep_ms(unsigned ms)
{
    struct timespec left = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    /* A signal handler may interrupt the sleep; nanosleep then tells what is left. */
    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ;
}

void spin_ns(uint64_t ns)
{
    for (uint64_t t0 = now_ns(); elapsed_ns(t0) < ns;) /* finer than a sleep's slack */
        ;
}

struct timespec deadline_after_ms(long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    } else if (ts.tv_nsec < 0) { /* a negative ms: a deadline already past */
        ts.tv_sec--;
        ts.tv_nsec += 1000000000;
    }
    return ts;
}

/* At most three significant digits, without trailing zeros: "1.25", "1.5",
 * "64", "150".  Plenty for a reader, and honest about the precision. */
static struct human three_digits(double v, const char *unit)
{
    struct human h;
    int decimals = v < 10 ? 2 : v < 100 ? 1 : 0;
    int len = snprintf(h.s, sizeof h.s, "%.*f", decimals, v);

    if (decimals > 0) {
        while (h.s[len - 1] == '0')
            len--;
        if (h.s[len - 1] == '.')
            len--;
    }
    snprintf(h.s + len, sizeof h.s - (size_t)len, " %s", unit);
    return h;
}

struct human fmt_duration(double ns)
{
    struct human h;

    if (ns < 1e3) {
        snprintf(h.s, sizeof h.s, "%.0f ns", ns);
        return h;
    }
    if (ns < 1e6)
        return three_digits(ns / 1e3, "µs");
    if (ns < 1e9)
        return three_digits(ns / 1e6, "ms");
    return three_digits(ns / 1e9, "s");
}

static struct human binary_units(double v, const char *const units[])
{
    int i = 0;

    while (v >= 1024 && units[i + 1] != NULL) {
        v /= 1024;
        i++;
    }
    if (i == 0) {
        struct human h;

        snprintf(h.s, sizeof h.s, "%.0f %s", v, units[0]);
        return h;
    }
    return three_digits(v, units[i]);
}

struct human fmt_bytes(uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", NULL};

    return binary_units((double)bytes, units);
}

struct human fmt_rate(uint64_t bytes, uint64_t ns)
{
    static const char *const units[] = {"B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s", NULL};

    if (ns == 0) {
        struct human h = {"inf B/s"};

        return h;
    }
    return binary_units((double)bytes * 1e9 / (double)ns, units);
}
