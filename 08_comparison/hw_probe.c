/* hw_probe.c - the hardware's limits (hw_probe.h). */
#define _GNU_SOURCE
#include "hw_probe.h"
#include "cleanup.h"
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define SPIN_LIMIT_NS 2000000000ull /* a side that spins longer gives up: ETIMEDOUT */

static size_t warm_samples(size_t n)
{
    return n / 10 + 2;
}

/* ---- the forking probes: affinity saved and restored, the child registered ---- */

struct probe_child {
    cpu_set_t saved;
    pid_t pid;
    int slot;
};

/* Pins this process to parent_cpu and forks; the child is to pin itself to child_cpu, which is
 * tried here first, so that a CPU that cannot be had fails at once (EINVAL), not in the child. */
static int start_child(struct probe_child *c, int parent_cpu, int child_cpu)
{
    if (sched_getaffinity(0, sizeof c->saved, &c->saved) == -1)
        return -1;
    if (pin_to_cpu(child_cpu) == -1 || pin_to_cpu(parent_cpu) == -1) {
        int saved = errno;

        sched_setaffinity(0, sizeof c->saved, &c->saved);
        errno = saved;
        return -1;
    }
    c->pid = fork_registered(&c->slot);
    return 0;
}

/* Reaps the child (killing it first when `kill_it`) and restores the affinity; returns 0 when
 * the child exited 0, else -1 with errno = ECHILD. */
static int end_child(struct probe_child *c, bool kill_it)
{
    int status;

    if (kill_it)
        kill(c->pid, SIGKILL);
    status = reap_quietly(c->pid);
    cleanup_forget(c->slot);
    sched_setaffinity(0, sizeof c->saved, &c->saved);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        errno = ECHILD;
        return -1;
    }
    return 0;
}

/* ---- cache line ---- */

/* Spins until *ball holds `want`; false after SPIN_LIMIT_NS. */
static bool wait_for(_Atomic uint64_t *ball, uint64_t want)
{
    uint64_t deadline = now_ns() + SPIN_LIMIT_NS;

    for (unsigned spins = 1;; spins++) {
        if (atomic_load_explicit(ball, memory_order_acquire) == want)
            return true;
        if (spins % 4096 == 0 && now_ns() > deadline)
            return false;
    }
}

/* The ball is one 64-bit word at the start of a shared page: odd values are the measuring
 * side's throws, even ones the answers.  0 -> 1 is "ready" from the child. */
static noreturn void cacheline_child(_Atomic uint64_t *ball, int cpu, uint64_t trips)
{
    if (pin_to_cpu(cpu) == -1)
        _exit(1);
    atomic_store_explicit(ball, 1, memory_order_release);
    for (uint64_t k = 1; k <= trips; k++) {
        if (!wait_for(ball, 2 * k))
            _exit(1);
        atomic_store_explicit(ball, 2 * k + 1, memory_order_release);
    }
    _exit(0);
}

int hw_probe_cacheline(int cpu_a, int cpu_b, size_t n, double *samples)
{
    size_t warm = warm_samples(n);
    uint64_t trips = (uint64_t)(warm + n) * HW_CACHELINE_BATCH, k = 1;
    struct probe_child child;
    _Atomic uint64_t *ball;
    bool ok = true;

    if (cpu_a == cpu_b || n == 0) {
        errno = EINVAL;
        return -1;
    }
    ball = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ball == MAP_FAILED)
        return -1;
    atomic_init(ball, 0);
    if (start_child(&child, cpu_a, cpu_b) == -1) {
        munmap(ball, PAGE);
        return -1;
    }
    if (child.pid == 0)
        cacheline_child(ball, cpu_b, trips);
    ok = wait_for(ball, 1);
    for (size_t s = 0; ok && s < warm + n; s++) {
        uint64_t t0 = now_ns();

        for (int b = 0; ok && b < HW_CACHELINE_BATCH; b++, k++) {
            atomic_store_explicit(ball, 2 * k, memory_order_release);
            ok = wait_for(ball, 2 * k + 1);
        }
        if (s >= warm)
            samples[s - warm] = (double)elapsed_ns(t0) / HW_CACHELINE_BATCH;
    }
    if (end_child(&child, !ok) == -1 && ok)
        ok = false;
    munmap(ball, PAGE);
    if (!ok)
        errno = ETIMEDOUT;
    return ok ? 0 : -1;
}

/* ---- memcpy ---- */

/* Called through a volatile pointer, so the compiler cannot drop or merge the copies. */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

int hw_probe_memcpy(uint64_t size, size_t n, double *samples)
{
    uint64_t rounded = (size + PAGE - 1) / PAGE * PAGE, reps;
    unsigned char *src, *dst;
    size_t warm = warm_samples(n);

    if (size == 0 || size > (64u << 20) || n == 0) {
        errno = EINVAL;
        return -1;
    }
    reps = size >= (256u << 10) ? 1 : (256u << 10) / size;
    src = aligned_alloc(PAGE, rounded);
    dst = aligned_alloc(PAGE, rounded);
    if (src == NULL || dst == NULL) {
        free(src);
        free(dst);
        return -1;
    }
    memset(src, 0x5a, rounded); /* every page faulted in before the clock runs */
    memset(dst, 0, rounded);
    for (size_t s = 0; s < warm + n; s++) {
        uint64_t t0 = now_ns(), ns;

        for (uint64_t r = 0; r < reps; r++)
            copy_fn(dst, src, size);
        ns = elapsed_ns(t0);
        if (s >= warm)
            samples[s - warm] = (double)(reps * size) * 1000.0 / (double)(ns ? ns : 1);
    }
    free(src);
    free(dst);
    return 0;
}

/* ---- system call ---- */

int hw_probe_syscall(size_t n, double *samples)
{
    size_t warm = warm_samples(n);

    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    for (size_t s = 0; s < warm + n; s++) {
        uint64_t t0 = now_ns();

        for (int c = 0; c < HW_SYSCALL_BATCH; c++)
            syscall(SYS_getppid);
        if (s >= warm)
            samples[s - warm] = (double)elapsed_ns(t0) / HW_SYSCALL_BATCH;
    }
    return 0;
}

/* ---- context switch ---- */

static void close_pair(const int fds[2])
{
    close(fds[0]);
    close(fds[1]);
}

/* Echoes each byte until end of file. */
static noreturn void echo_child(int from_parent, int to_parent)
{
    char byte;

    while (read(from_parent, &byte, 1) == 1)
        if (write(to_parent, &byte, 1) != 1)
            _exit(1);
    close(from_parent);
    close(to_parent);
    _exit(0);
}

int hw_probe_ctxsw(int cpu, size_t n, double *samples)
{
    int down[2], up[2]; /* [0] read end, [1] write end; down: parent to child */
    size_t warm = warm_samples(n);
    struct probe_child child;
    bool ok = true;
    char byte = 'x';

    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    if (pipe2(down, O_CLOEXEC) == -1)
        return -1;
    if (pipe2(up, O_CLOEXEC) == -1) {
        close_pair(down);
        return -1;
    }
    if (start_child(&child, cpu, cpu) == -1) {
        int saved = errno;

        close_pair(down);
        close_pair(up);
        errno = saved;
        return -1;
    }
    if (child.pid == 0) {
        close(down[1]);
        close(up[0]);
        echo_child(down[0], up[1]); /* the child inherited the pin to `cpu` */
    }
    close(down[0]);
    close(up[1]);
    for (size_t s = 0; ok && s < warm + n; s++) {
        uint64_t t0 = now_ns();

        ok = write(down[1], &byte, 1) == 1 && read(up[0], &byte, 1) == 1;
        if (s >= warm)
            samples[s - warm] = (double)elapsed_ns(t0) / 2.0;
    }
    close(down[1]); /* end of file: the child leaves its loop */
    close(up[0]);
    if (end_child(&child, false) == -1 || !ok)
        return -1;
    return 0;
}

/* ---- page fault ---- */

static long minor_faults(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

int hw_probe_pagefault(size_t n, double *samples, long *minflt)
{
    size_t warm = warm_samples(n), len = (size_t)HW_FAULT_PAGES * PAGE;

    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    *minflt = 0;
    for (size_t s = 0; s < warm + n; s++) {
        volatile unsigned char *pages =
            mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uint64_t t0;
        long faults0;

        if (pages == MAP_FAILED)
            return -1;
        /* A transparent huge page would serve 512 pages with one fault. */
        madvise((void *)pages, len, MADV_NOHUGEPAGE);
        faults0 = minor_faults();
        t0 = now_ns();
        for (size_t p = 0; p < HW_FAULT_PAGES; p++)
            pages[p * PAGE] = 1;
        if (s >= warm) {
            samples[s - warm] = (double)elapsed_ns(t0) / HW_FAULT_PAGES;
            *minflt += minor_faults() - faults0;
        }
        munmap((void *)pages, len);
    }
    return 0;
}

/* ---- what the benchmark divides by ---- */

void hw_limits_measure(int cpu_a, int cpu_b, const uint64_t *sizes, size_t nsizes, size_t n,
                       struct hw_limits *out)
{
    double *samples = calloc(n, sizeof *samples);

    if (samples == NULL)
        die_errno("allocating the probe's samples");
    *out = (struct hw_limits){.nsizes = nsizes < HW_MAX_SIZES ? nsizes : HW_MAX_SIZES};
    if (cpu_b < 0)
        snprintf(out->no_cacheline, sizeof out->no_cacheline, "one usable CPU");
    else if (hw_probe_cacheline(cpu_a, cpu_b, n, samples) == -1)
        snprintf(out->no_cacheline, sizeof out->no_cacheline, "the probe failed: %s",
                 strerror(errno));
    else
        out->have_cacheline = stats_compute(samples, n, &out->cacheline_ns) == 0;
    for (size_t s = 0; s < out->nsizes; s++) {
        out->sizes[s] = sizes[s];
        if (hw_probe_memcpy(sizes[s], n, samples) == -1)
            die_errno("measuring memcpy of %s", fmt_bytes(sizes[s]).s);
        stats_compute(samples, n, &out->memcpy_mbps[s]);
    }
    free(samples);
}

double hw_limits_memcpy(const struct hw_limits *hw, uint64_t size)
{
    for (size_t s = 0; s < hw->nsizes; s++)
        if (hw->sizes[s] == size)
            return hw->memcpy_mbps[s].p50;
    return 0;
}
