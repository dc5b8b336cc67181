/* pitfall_mean_hides_tail.c - a mean round trip that looks fine while 1 in 50 trips stalls
 *
 * lmbench and UNP vol. 2 report the mean of a timed loop.  A mean folds rare long stalls (a
 * preemption, a page-fault storm, a garbage-collection pause in the peer) into a small rise
 * that nobody notices, yet those stalls are what a user waits for.  Here the peer stalls 2 ms
 * on every 50th reply, on purpose.  Broken: the report is the mean, then the truth that it
 * hid.  --fixed: every trip is timed on its own and the report is p50, p90, p99, p99.9, max.
 * Guide part: pitfall (benchmarking: the mean hides the tail).
 * Run: ./pitfall_mean_hides_tail [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <unistd.h>

#define ROUNDS 1000    /* timed round trips */
#define STALL_EVERY 50 /* the peer stalls on every 50th reply: 2% of the trips */
#define STALL_MS 2
#define MSG 64

static const char usage[] = "[--fixed]";

/* The peer: echo every message, and sleep before every STALL_EVERY-th reply. */
static noreturn void run_peer(int from_parent, int to_parent)
{
    char msg[MSG];

    for (long i = 1;; i++) {
        ssize_t n = read_full(from_parent, msg, sizeof msg);

        if (n == 0)
            break; /* the parent closed its end: done */
        if (n != (ssize_t)sizeof msg)
            die_errno("peer: read a message");
        if (i % STALL_EVERY == 0)
            sleep_ms(STALL_MS); /* the injected stall */
        if (write_full(to_parent, msg, sizeof msg) == -1)
            die_errno("peer: write the reply");
    }
    close(from_parent);
    close(to_parent);
    exit(0);
}

int main(int argc, char *argv[])
{
    bool fixed = cli_pitfall_fixed(argc, argv, usage);
    int request[2], reply[2], slow = 0;
    static double trip_us[ROUNDS];
    char msg[MSG] = "ping";
    struct stats st;
    pid_t peer;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pipe(request) == -1 || pipe(reply) == -1)
        die_errno("pipe");
    peer = fork_or_die();
    if (peer == 0) {
        close(request[1]);
        close(reply[0]);
        run_peer(request[0], reply[1]);
    }
    close(request[0]);
    close(reply[1]);
    printf("[bench] %d round trips of %d bytes over two pipes; the peer stalls %d ms on every "
           "%dth reply\n",
           ROUNDS, MSG, STALL_MS, STALL_EVERY);
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t start = now_ns();
        ssize_t got;

        if (write_full(request[1], msg, sizeof msg) == -1)
            die_errno("write a message");
        if ((got = read_full(reply[0], msg, sizeof msg)) == -1)
            die_errno("read the reply");
        if (got != (ssize_t)sizeof msg)
            die("the peer ended before its reply %d", i + 1);
        trip_us[i] = (double)elapsed_ns(start) / 1000.0;
        if (trip_us[i] >= 1000.0)
            slow++;
    }
    close(request[1]); /* EOF for the peer */
    close(reply[0]);
    reap_quietly(peer);
    stats_compute(trip_us, ROUNDS, &st);

    if (!fixed) {
        /* THE MISTAKE: one number for a distribution, the way a timed loop reports it. */
        printf("[bench] reported: mean round trip %.1f µs\n", st.mean);
        printf("[bench] hidden by the mean: %d trips (%.1f%%) took over 1 ms; p99 is %.1fx the "
               "mean, max %.1fx\n",
               slow, 100.0 * slow / ROUNDS, st.p99 / st.mean, st.max / st.mean);
        printf("[bench] any 100 calls in a row include %.0f of them: what a user waits for\n",
               100.0 * slow / ROUNDS);
        return 0;
    }
    /* THE FIX: keep every sample and report the distribution, the tail included. */
    printf("[bench] reported: p50 %.1f µs, p90 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs "
           "(mean %.1f µs)\n",
           st.p50, st.p90, st.p99, st.p999, st.max, st.mean);
    printf("[bench] the tail is in the report: p99 is %.1fx p50; %d trips took over 1 ms\n",
           st.p99 / st.p50, slow);
    return 0;
}
