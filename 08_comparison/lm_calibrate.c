/* lm_calibrate.c - lmbench's three measurements, its way and ours (lm_calibrate.h). */
#define _GNU_SOURCE
#include "lm_calibrate.h"
#include "cleanup.h"
#include "common.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define LM_SHORT_US 1000000.0  /* lmbench's SHORT: lat_pipe's interval */
#define LM_MEDIUM_US 2000000.0 /* MEDIUM: bw_pipe's */
#define LM_ENOUGH_US 5000.0    /* compute_enough()'s first choice: lat_unix's */
#define LM_XFER (64u << 10)    /* XFERSIZE: every bandwidth read and write */
#define LM_TOTAL (10u << 20)   /* bw_pipe's XFER: bytes per iteration */

typedef int (*lm_body)(uint64_t iterations, void *ctx);

/* benchmp()'s timing loop for one process: intervals of `iterations` runs of the body until
 * `tries` of them lasted over 0.95 x enough_us; the median of their means per iteration. */
static int lm_loop(lm_body body, void *ctx, double enough_us, int tries, double *per_iteration)
{
    double *means = calloc((size_t)tries, sizeof *means);
    uint64_t iterations = 1;
    int got = 0;
    struct stats st;

    if (means == NULL)
        return -1;
    for (int interval = 0; got < tries; interval++) {
        uint64_t t0 = now_ns();
        double us;

        if (interval > 1000 || body(iterations, ctx) == -1) {
            free(means);
            if (interval > 1000)
                errno = ETIMEDOUT;
            return -1;
        }
        us = (double)elapsed_ns(t0) / 1000.0;
        if (us > 0.95 * enough_us)
            means[got++] = us / (double)iterations;
        if (us < 0.99 * enough_us || us > 1.2 * enough_us) {
            if (us > 150.0)
                iterations = (uint64_t)((double)iterations / us * 1.1 * enough_us) + 1;
            else
                iterations <<= 3;
        }
    }
    stats_compute(means, (size_t)got, &st);
    *per_iteration = st.p50;
    free(means);
    return 0;
}

/* ---- the two latencies: one byte there and back ---- */

struct lm_echo {
    int to_peer, from_peer;
};

static int round_trips(uint64_t iterations, void *ctx)
{
    const struct lm_echo *e = ctx;
    char byte = 'x';

    for (uint64_t k = 0; k < iterations; k++)
        if (write(e->to_peer, &byte, 1) != 1 || read(e->from_peer, &byte, 1) != 1)
            return -1;
    return 0;
}

static noreturn void echo_peer(const int fds[2])
{
    char byte;

    while (read(fds[0], &byte, 1) == 1)
        if (write(fds[1], &byte, 1) != 1)
            break;
    close(fds[0]);
    if (fds[1] != fds[0])
        close(fds[1]);
    _exit(0);
}

/* Our measure of the same: round trips timed one by one, their p50 in microseconds. */
static int ours_p50(const struct lm_echo *e, long rounds, double *p50)
{
    double *samples = calloc((size_t)rounds, sizeof *samples);
    struct stats st;

    if (samples == NULL || round_trips((uint64_t)rounds / 10 + 10, (void *)e) == -1) {
        free(samples);
        return -1;
    }
    for (long k = 0; k < rounds; k++) {
        uint64_t t0 = now_ns();

        if (round_trips(1, (void *)e) == -1) {
            free(samples);
            return -1;
        }
        samples[k] = (double)elapsed_ns(t0) / 1000.0;
    }
    stats_compute(samples, (size_t)rounds, &st);
    *p50 = st.p50;
    free(samples);
    return 0;
}

/* Closes a side's two descriptors, which are one for a socket. */
static void close_side(const int fds[2])
{
    close(fds[0]);
    if (fds[1] != fds[0])
        close(fds[1]);
}

/* parent_fds: this side's {send, receive}; peer_fds: the peer's {receive, send}. */
static int latency(const struct lm_plan *plan, const int parent_fds[2], const int peer_fds[2],
                   double enough_us, struct lm_result *out)
{
    struct lm_echo e = {parent_fds[0], parent_fds[1]};
    int slot, failed;
    pid_t pid = fork_registered(&slot);

    if (pid == 0) {
        close_side(parent_fds);
        echo_peer(peer_fds);
    }
    close_side(peer_fds);
    *out = (struct lm_result){.interval_us = (uint64_t)enough_us, .tries = plan->tries};
    /* lmbench's initialize(): one time around, so that both processes are running. */
    failed = round_trips(1, &e) == -1 ||
             lm_loop(round_trips, &e, enough_us, plan->tries, &out->lmbench) == -1 ||
             ours_p50(&e, plan->ours, &out->ours) == -1;
    close_side(parent_fds); /* the peer sees end of file and leaves */
    reap_quietly(pid);
    cleanup_forget(slot);
    return failed ? -1 : 0;
}

int lm_lat_pipe(const struct lm_plan *plan, struct lm_result *out)
{
    int there[2], back[2]; /* [0] read end, [1] write end */

    if (pipe2(there, O_CLOEXEC) == -1)
        return -1;
    if (pipe2(back, O_CLOEXEC) == -1) {
        close(there[0]);
        close(there[1]);
        return -1;
    }
    return latency(plan, (int[2]){there[1], back[0]}, (int[2]){there[0], back[1]},
                   LM_SHORT_US * plan->scale, out);
}

/* lmbench's scripts measure the clock's accuracy interval once and export it as $ENOUGH. */
static double accuracy_interval_us(void)
{
    const char *env = getenv("ENOUGH");
    long us;

    if (env != NULL && parse_long(env, 1, 100000000, &us) == 0)
        return (double)us;
    return LM_ENOUGH_US;
}

int lm_lat_unix(const struct lm_plan *plan, struct lm_result *out)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    return latency(plan, (int[2]){sv[1], sv[1]}, (int[2]){sv[0], sv[0]},
                   accuracy_interval_us() * plan->scale, out);
}

/* ---- the bandwidth: 10 MiB read per iteration from a writer that never stops ---- */

struct lm_stream {
    int data;
    unsigned char *buf;
};

static int read_passes(uint64_t iterations, void *ctx)
{
    const struct lm_stream *s = ctx;

    for (uint64_t k = 0; k < iterations; k++)
        for (uint64_t done = 0; done < LM_TOTAL;) {
            ssize_t n = read(s->data, s->buf, LM_XFER);

            if (n <= 0)
                return -1;
            done += (uint64_t)n;
        }
    return 0;
}

/* Writes 64 KiB at a time until the reader closes its end (EPIPE: SIGPIPE is ignored here). */
static noreturn void bw_writer(int data)
{
    unsigned char *buf = aligned_alloc(PAGE, LM_XFER);

    if (buf == NULL)
        _exit(1);
    signal(SIGPIPE, SIG_IGN);
    memset(buf, 1, LM_XFER); /* lmbench's touch() writes one byte a page: the same faults */
    while (write_full(data, buf, LM_XFER) != -1)
        continue;
    close(data);
    free(buf);
    _exit(0);
}

static int bandwidth(const struct lm_plan *plan, struct lm_stream *s, unsigned char *misaligned,
                     unsigned char *aligned, struct lm_result *out)
{
    double us_per_pass, *mbps = calloc((size_t)plan->ours, sizeof *mbps);
    struct stats st;

    if (mbps == NULL)
        return -1;
    s->buf = misaligned;
    if (read_passes(1, s) == -1 ||
        lm_loop(read_passes, s, LM_MEDIUM_US * plan->scale, plan->tries, &us_per_pass) == -1) {
        free(mbps);
        return -1;
    }
    out->lmbench = (double)LM_TOTAL / us_per_pass;
    s->buf = aligned;
    for (long p = 0; p < plan->ours; p++) {
        uint64_t t0 = now_ns();

        if (read_passes(1, s) == -1) {
            free(mbps);
            return -1;
        }
        mbps[p] = (double)LM_TOTAL * 1000.0 / (double)elapsed_ns(t0);
    }
    stats_compute(mbps, (size_t)plan->ours, &st);
    out->ours = st.p50;
    free(mbps);
    return 0;
}

int lm_bw_pipe(const struct lm_plan *plan, struct lm_result *out)
{
    int data[2]; /* [0] read end, [1] write end */
    unsigned char *bufs = aligned_alloc(PAGE, 2 * LM_XFER + PAGE);
    struct lm_stream s;
    pid_t pid;
    int slot, failed;

    if (bufs == NULL)
        return -1;
    if (pipe2(data, O_CLOEXEC) == -1) {
        free(bufs);
        return -1;
    }
    pid = fork_registered(&slot);
    if (pid == 0) {
        close(data[0]);
        free(bufs);
        bw_writer(data[1]);
    }
    close(data[1]);
    memset(bufs, 1, 2 * LM_XFER + PAGE);
    *out = (struct lm_result){.interval_us = (uint64_t)(LM_MEDIUM_US * plan->scale),
                              .tries = plan->tries};
    s = (struct lm_stream){.data = data[0]};
    failed = bandwidth(plan, &s, bufs + 128, bufs + LM_XFER + PAGE, out) == -1;
    close(data[0]); /* the writer's next write fails with EPIPE and it leaves */
    reap_quietly(pid);
    cleanup_forget(slot);
    free(bufs);
    return failed ? -1 : 0;
}
