/* test_hw_probe.c - Check unit tests of hw_probe.h and lm_calibrate.h, without judging any
 * timing: every probe fills all its samples with finite positive values and leaves the
 * caller's CPU affinity as it was; wrong arguments (a CPU that cannot be had among them) are
 * refused with EINVAL, at once and with the affinity restored; the page-fault probe
 * sees at least one minor fault per page it wrote (getrusage), so it did measure faults; the
 * limits the benchmark divides by are filled for each size asked, and looked up by size; the
 * three lmbench-style measurements return positive numbers from a tiny plan.
 */
#define _GNU_SOURCE
#include "hw_probe.h"
#include "lm_calibrate.h"
#include "proc.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdlib.h>

#define N 16

static void assert_positive(const double *samples, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(isfinite(samples[i]) && samples[i] > 0, "%s: sample %zu is %g", what, i,
                      samples[i]);
}

/* NaN everywhere first, so a sample the probe forgot to fill fails assert_positive. */
static void poison(double *samples, size_t n)
{
    for (size_t i = 0; i < n; i++)
        samples[i] = NAN;
}

static bool same_affinity(const cpu_set_t *before)
{
    cpu_set_t now;

    ck_assert_int_eq(sched_getaffinity(0, sizeof now, &now), 0);
    return CPU_EQUAL(&now, before);
}

START_TEST(memcpy_every_size)
{
    static const uint64_t sizes[] = {1, 64, 4096, 65536, 1048576, 3000};
    double samples[N];

    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        poison(samples, N);
        ck_assert_int_eq(hw_probe_memcpy(sizes[s], N, samples), 0);
        assert_positive(samples, N, "memcpy");
    }
    errno = 0;
    ck_assert_int_eq(hw_probe_memcpy(0, N, samples), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(hw_probe_memcpy((64u << 20) + 1, N, samples), -1);
}
END_TEST

START_TEST(syscall_and_pagefault)
{
    double samples[N];
    long minflt = -1;

    poison(samples, N);
    ck_assert_int_eq(hw_probe_syscall(N, samples), 0);
    assert_positive(samples, N, "syscall");
    poison(samples, N);
    ck_assert_int_eq(hw_probe_pagefault(N, samples, &minflt), 0);
    assert_positive(samples, N, "page fault");
    ck_assert_msg(minflt >= (long)N * HW_FAULT_PAGES, "%ld minor faults for %d pages", minflt,
                  N * HW_FAULT_PAGES);
    errno = 0;
    ck_assert_int_eq(hw_probe_syscall(0, samples), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(ctxsw_restores_affinity)
{
    int cpus[2];
    cpu_set_t before;
    double samples[N];

    ck_assert_int_ge(allowed_cpus(cpus, 2), 1);
    ck_assert_int_eq(sched_getaffinity(0, sizeof before, &before), 0);
    poison(samples, N);
    ck_assert_int_eq(hw_probe_ctxsw(cpus[0], N, samples), 0);
    assert_positive(samples, N, "context switch");
    ck_assert_msg(same_affinity(&before), "the context-switch probe left this process pinned");
    errno = 0;
    ck_assert_int_eq(hw_probe_ctxsw(CPU_SETSIZE, N, samples), -1);
    ck_assert_msg(same_affinity(&before), "a refused probe changed the affinity");
}
END_TEST

START_TEST(cacheline_two_cpus)
{
    int cpus[2];
    cpu_set_t before;
    double samples[N];

    ck_assert_int_eq(sched_getaffinity(0, sizeof before, &before), 0);
    errno = 0;
    ck_assert_int_eq(hw_probe_cacheline(0, 0, N, samples), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(hw_probe_cacheline(0, CPU_SETSIZE - 1, N, samples), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_msg(same_affinity(&before), "a refused cache-line probe changed the affinity");
    if (allowed_cpus(cpus, 2) < 2)
        return; /* one CPU: nothing to bounce between */
    poison(samples, N);
    ck_assert_int_eq(hw_probe_cacheline(cpus[0], cpus[1], N, samples), 0);
    assert_positive(samples, N, "cache line");
    ck_assert_msg(same_affinity(&before), "the cache-line probe left this process pinned");
}
END_TEST

START_TEST(limits_by_size)
{
    static const uint64_t sizes[] = {64, 65536};
    int cpus[2], n = allowed_cpus(cpus, 2);
    struct hw_limits hw;

    hw_limits_measure(cpus[0], n >= 2 ? cpus[1] : -1, sizes, 2, N, &hw);
    ck_assert_uint_eq(hw.nsizes, 2);
    ck_assert_int_eq(hw.have_cacheline, n >= 2);
    if (hw.have_cacheline)
        ck_assert(hw.cacheline_ns.p50 > 0 && hw.cacheline_ns.n == N);
    else
        ck_assert_str_eq(hw.no_cacheline, "one usable CPU");
    ck_assert(hw_limits_memcpy(&hw, 64) > 0);
    ck_assert(hw_limits_memcpy(&hw, 65536) == hw.memcpy_mbps[1].p50);
    ck_assert(hw_limits_memcpy(&hw, 4096) == 0);
    hw_limits_measure(cpus[0], -1, sizes, 1, N, &hw);
    ck_assert(!hw.have_cacheline);
}
END_TEST

START_TEST(lmbench_ways_return_numbers)
{
    struct lm_plan plan = {.tries = 3, .scale = 0.002, .ours = 20};
    struct lm_result r;

    ck_assert_int_eq(lm_lat_pipe(&plan, &r), 0);
    ck_assert(r.lmbench > 0 && r.ours > 0 && r.tries == 3 && r.interval_us == 2000);
    ck_assert_int_eq(lm_lat_unix(&plan, &r), 0);
    ck_assert(r.lmbench > 0 && r.ours > 0 && r.interval_us == 10);
    plan.ours = 2;
    ck_assert_int_eq(lm_bw_pipe(&plan, &r), 0);
    ck_assert(r.lmbench > 0 && r.ours > 0 && r.interval_us == 4000);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("hw_probe");
    TCase *tc = tcase_create("hw_probe");
    SRunner *runner;
    int failed;

    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, memcpy_every_size);
    tcase_add_test(tc, syscall_and_pagefault);
    tcase_add_test(tc, ctxsw_restores_affinity);
    tcase_add_test(tc, cacheline_two_cpus);
    tcase_add_test(tc, limits_by_size);
    tcase_add_test(tc, lmbench_ways_return_numbers);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
