/* advanced_ipc_bench.c - every mechanism, one method: round-trip percentiles, stream, CPU time
 *
 * Each row is a fresh pair of processes (fork) joined by one transport of transport.h.
 * Latency: W warm-up round trips of S bytes answered with S bytes, then N timed ones, each
 * timed alone with the monotonic clock: p50, p90, p99, p99.9, max.  Throughput: T bytes one
 * way in S-byte messages, every byte checked by the receiver, which acknowledges the end.
 * CPU seconds of both sides (getrusage) sit beside, and every row runs twice: both processes
 * pinned to one CPU (each message is a context switch) and to two (each is a wake-up).  A second
 * table per size sets each row against the hardware (hw_probe.h, measured first): the round
 * trip as a multiple of a cache line's, the stream as a fraction of memcpy's bandwidth.
 * Guide part: comparison (methodology: why percentiles, placement, CPU time).
 * Run: ./advanced_ipc_bench [--sizes 64,4K,64K,1M] [--mechanisms pipe,tcp] [--csv out.csv]
 *      ./advanced_ipc_bench --full     (every row five times, longer: stable numbers)
 */
#define _GNU_SOURCE
#include "cleanup.h"
#include "common.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"
#include "transport.h"
#include "bench_report.h"
#include "hw_probe.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROW_BYTES_CAP (16u << 20) /* a row's round trips move at most 16 MiB each way */
#define PAGE 4096

static void *alloc_pages(uint64_t n)
{
    void *p = aligned_alloc(PAGE, (n + PAGE - 1) / PAGE * PAGE);

    if (p == NULL)
        die_errno("allocating %s", fmt_bytes(n).s);
    return p;
}

/* A pattern with no short period, so a chunk delivered at the wrong offset differs. */
static void fill_pattern(unsigned char *buf, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 2654435761u) >> 13);
}

/* The first 8 bytes carry the message number, so a lost, repeated or reordered message fails
 * the check as surely as a corrupted one. */
static void stamp(unsigned char *buf, uint64_t n, uint64_t k)
{
    memcpy(buf, &k, n < sizeof k ? n : sizeof k);
}

/* The stream: T bytes, but at most 10 messages per timed round trip, so that 64-byte
 * messages across two virtual CPUs (a wake-up each, 50-100 us) do not take minutes. */
static uint64_t stream_messages(const struct bench_config *cfg, uint64_t size)
{
    uint64_t messages = (cfg->stream_bytes + size - 1) / size;
    uint64_t cap = 10 * (uint64_t)cfg->rounds;

    return messages < cap ? messages : cap;
}

/* --rounds, but no more than ROW_BYTES_CAP each way (and never fewer than 20 for that). */
static long timed_rounds(const struct bench_config *cfg, uint64_t size)
{
    uint64_t cap = ROW_BYTES_CAP / size;
    long limit = cap < 20 ? 20 : (long)cap;

    return cfg->rounds < limit ? cfg->rounds : limit;
}

/* Warm-up round trips: rounds/10 + 10, but never more than the timed ones, so that 1 MiB
 * messages (16 timed) do not spend most of their row warming up. */
static long warmup_rounds(const struct bench_config *cfg, uint64_t size)
{
    long warm = cfg->rounds / 10 + 10, timed = timed_rounds(cfg, size);

    return warm < timed ? warm : timed;
}

/* Side 1: echoes the round trips, then checks the stream and acknowledges it.  Exit status
 * 0, or 1 after saying what went wrong. */
static noreturn void peer(const struct bench_config *cfg, struct transport *t, uint64_t size,
                          int cpu)
{
    unsigned char *buf = alloc_pages(size), *want = alloc_pages(size);
    long trips = warmup_rounds(cfg, size) + timed_rounds(cfg, size);
    uint64_t messages = stream_messages(cfg, size);

    if (cfg->csv_out != NULL && cfg->csv_out != stdout)
        fclose(cfg->csv_out); /* the parent's, still empty: nothing to flush */
    if (cfg->pinned)
        pin_to_cpu(cpu);
    transport_take_side(t, 1, getppid());
    for (long k = 0; k < trips; k++)
        if (transport_recv(t, buf, size) == -1 || transport_send(t, buf, size) == -1)
            die_errno("[peer] %s round trip %ld", transport_name(t), k);
    fill_pattern(want, size);
    for (uint64_t k = 0; k < messages; k++) {
        if (transport_recv(t, buf, size) == -1)
            die_errno("[peer] %s stream message %llu", transport_name(t), (unsigned long long)k);
        stamp(want, size, k);
        if (memcmp(buf, want, size) != 0)
            die("[peer] %s: stream message %llu arrived wrong (lost, reordered or corrupted)",
                transport_name(t), (unsigned long long)k);
    }
    if (transport_send(t, &messages, sizeof messages) == -1)
        die_errno("[peer] %s acknowledging the stream", transport_name(t));
    transport_close(t);
    free(buf);
    free(want);
    exit(0);
}

/* Side 0: times the round trips and the stream. */
static void drive(const struct bench_config *cfg, struct transport *t, struct bench_row *row,
                  double *samples)
{
    unsigned char *buf = alloc_pages(row->size), *back = alloc_pages(row->size);
    long warm = warmup_rounds(cfg, row->size), timed = timed_rounds(cfg, row->size);
    uint64_t messages = stream_messages(cfg, row->size), ack = 0, start;
    size_t stamped = row->size < 8 ? (size_t)row->size : 8;

    fill_pattern(buf, row->size);
    for (long k = 0; k < warm + timed; k++) {
        uint64_t got = 0, want = 0, t0 = now_ns();

        stamp(buf, row->size, (uint64_t)k);
        if (transport_send(t, buf, row->size) == -1 || transport_recv(t, back, row->size) == -1)
            die_errno("[bench] %s round trip %ld", row->mechanism, k);
        if (k >= warm)
            samples[k - warm] = (double)elapsed_ns(t0) / 1000.0;
        memcpy(&got, back, stamped);
        memcpy(&want, &(uint64_t){(uint64_t)k}, stamped);
        if (got != want)
            die("[bench] %s: reply %ld carried message number %llu", row->mechanism, k,
                (unsigned long long)got);
    }
    stats_compute(samples, (size_t)timed, &row->rt);
    start = now_ns();
    for (uint64_t k = 0; k < messages; k++) {
        stamp(buf, row->size, k);
        if (transport_send(t, buf, row->size) == -1)
            die_errno("[bench] %s stream message %llu", row->mechanism, (unsigned long long)k);
    }
    if (transport_recv(t, &ack, sizeof ack) == -1 || ack != messages)
        die_errno("[bench] %s: the stream's acknowledgement", row->mechanism);
    row->stream_bytes = messages * row->size;
    row->mb_per_s = (double)(messages * row->size) / (double)elapsed_ns(start) * 1000.0;
    row->msgs_per_s = (double)messages / ns_to_s(elapsed_ns(start));
    free(buf);
    free(back);
}

static double cpu_seconds(int who)
{
    struct rusage ru;

    getrusage(who, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void measure_once(const struct bench_config *cfg, const char *name, uint64_t size,
                         int placement, struct bench_row *row, double *samples)
{
    int cpu = cfg->cpu[placement];
    double self0 = cpu_seconds(RUSAGE_SELF), children0 = cpu_seconds(RUSAGE_CHILDREN);
    struct transport *t;
    pid_t pid;
    int slot, status;

    *row = (struct bench_row){.mechanism = name, .size = size};
    if (cfg->pinned)
        pin_to_cpu(cfg->cpu[0]);
    t = transport_open(name);
    if (t == NULL)
        die_errno("[bench] opening %s", name);
    pid = fork_registered(&slot); /* a stopped parent stops the peer first */
    if (pid == 0)
        peer(cfg, t, size, cpu);
    transport_take_side(t, 0, pid);
    drive(cfg, t, row, samples);
    transport_close(t);
    status = reap_quietly(pid);
    cleanup_forget(slot);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("[bench] %s %s: the peer ended with %s", name, fmt_bytes(size).s,
            fmt_wait_status(status).s);
    row->cpu_parent_s = cpu_seconds(RUSAGE_SELF) - self0;
    row->cpu_child_s = cpu_seconds(RUSAGE_CHILDREN) - children0;
}

/* --repeat (and --full) measure a row several times, each with a fresh pair of processes; the
 * row reported holds the median of each statistic over them (a median of medians). */
static void measure(const struct bench_config *cfg, const char *name, uint64_t size, int placement,
                    struct bench_row *row, double *samples)
{
    struct bench_row runs[MAX_REPEAT];

    for (long r = 0; r < cfg->repeat; r++)
        measure_once(cfg, name, size, placement, &runs[r], samples);
    combine_runs(runs, (size_t)cfg->repeat, row);
}

int main(int argc, char *argv[])
{
    struct bench_config cfg;
    struct bench_row *rows;
    double *samples;
    size_t nrows = 0, used = 0, probe_samples;
    int csv_slot = -1;

    parse_bench_args(argc, argv, &cfg);
    for (size_t k = 0; k < transport_count; k++)
        used += cfg.use[k];
    rows = calloc(used * cfg.nsizes * 2, sizeof *rows);
    samples = calloc((size_t)cfg.rounds + 20, sizeof *samples);
    if (rows == NULL || samples == NULL)
        die_errno("allocating the results");
    /* The hardware's limits first, while no descriptor but 0, 1 and 2 is open for the probe's
     * children to inherit: as many samples as round trips, 20 to 200 (2000 with --full). */
    probe_samples = cfg.rounds < 20 ? 20 : cfg.rounds > 200 ? 200 : (size_t)cfg.rounds;
    hw_limits_measure(cfg.cpu[0], cfg.placements == 2 && cfg.pinned ? cfg.cpu[1] : -1, cfg.sizes,
                      cfg.nsizes, cfg.full ? 2000 : probe_samples, &cfg.hw);
    if (!cfg.pinned)
        snprintf(cfg.hw.no_cacheline, sizeof cfg.hw.no_cacheline, "the CPUs could not be pinned");
    /* The CSV is created before the first row, so a bad path fails at once, and it stays
     * registered for removal until it is written: a run stopped early leaves no empty file. */
    if (cfg.csv != NULL) {
        cfg.csv_out = open_csv(cfg.csv);
        if (cfg.csv_out != stdout && (csv_slot = cleanup_add_path(cfg.csv)) == -1)
            die_errno("registering %s", cfg.csv);
    }
    describe_machine(&cfg);
    for (size_t k = 0; k < transport_count; k++) {
        if (!cfg.use[k])
            continue;
        printf("[bench] measuring %s (sizes: %zu, placements: %d)\n", transport_names[k],
               cfg.nsizes, cfg.placements);
        fflush(stdout);
        for (size_t s = 0; s < cfg.nsizes; s++, nrows += 2)
            for (int p = 0; p < cfg.placements; p++)
                measure(&cfg, transport_names[k], cfg.sizes[s], p, &rows[nrows + p], samples);
    }
    print_tables(&cfg, rows, nrows);
    print_limit_tables(&cfg, rows, nrows);
    if (cfg.csv != NULL)
        write_csv(&cfg, cfg.csv_out, rows, nrows);
    if (csv_slot != -1)
        cleanup_forget(csv_slot);
    free(rows);
    free(samples);
    return 0;
}
