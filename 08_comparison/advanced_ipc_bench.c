/* advanced_ipc_bench.c - ten mechanisms, one method: round-trip percentiles, stream, CPU time
 *
 * Each row is a fresh pair of processes (fork) joined by one transport of transport.h.
 * Latency: W warm-up round trips of S bytes answered with S bytes, then N timed ones, each
 * timed alone with the monotonic clock: p50, p90, p99, p99.9, max.  Throughput: T bytes one
 * way in S-byte messages, every byte checked by the receiver, which acknowledges the end.
 * CPU seconds of both sides (getrusage) sit beside, and every row runs twice: both processes
 * pinned to one CPU (each message is a context switch) and to two (each is a wake-up).
 * Guide part: comparison (methodology: why percentiles, placement, CPU time).
 * Run: ./advanced_ipc_bench [--sizes 64,4K,64K,1M] [--mechanisms pipe,tcp] [--csv out.csv]
 */
#define _GNU_SOURCE
#include "cleanup.h"
#include "common.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"
#include "transport.h"
#include "bench_report.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--sizes LIST] [--mechanisms LIST] [--rounds N] [--bytes T] "
                            "[--cpus A,B] [--csv FILE|-]";

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

/* Side 1: echoes the round trips, then checks the stream and acknowledges it.  Exit status
 * 0, or 1 after saying what went wrong. */
static noreturn void peer(const struct bench_config *cfg, struct transport *t, uint64_t size,
                          int cpu)
{
    unsigned char *buf = alloc_pages(size), *want = alloc_pages(size);
    long trips = cfg->rounds / 10 + 10 + timed_rounds(cfg, size);
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
    long warm = cfg->rounds / 10 + 10, timed = timed_rounds(cfg, row->size);
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

static void measure(const struct bench_config *cfg, const char *name, uint64_t size, int placement,
                    struct bench_row *row, double *samples)
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
    pid = fork_or_die();
    if (pid == 0)
        peer(cfg, t, size, cpu);
    slot = cleanup_add_child(pid);
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

/* Splits a comma-separated list in place; an empty item ("64,,4K") is a usage error. */
static size_t split_list(char *list, char **items, size_t max, const char *what)
{
    size_t n = 0;
    char *item;

    while ((item = strsep(&list, ",")) != NULL) {
        if (*item == '\0')
            die_usage(usage, "%s: an empty item in the list", what);
        if (n == max)
            die_usage(usage, "%s: at most %zu items", what, max);
        items[n++] = item;
    }
    return n;
}

static int cpu_arg(const char *s)
{
    return (int)cli_long(s, 0, CPU_SETSIZE - 1, "--cpus: each CPU", usage);
}

/* The two CPUs: --cpus A,B, or the first two this process may use.  Both are tried at once,
 * so a placement that cannot be had is said before any row, not hidden in one. */
static void choose_cpus(struct bench_config *cfg, const char *arg)
{
    int allowed[CPU_SETSIZE];
    int n = allowed_cpus(allowed, CPU_SETSIZE);
    cpu_set_t original;

    if (n < 1 || sched_getaffinity(0, sizeof original, &original) == -1)
        die_errno("reading this process's CPU affinity");
    cfg->placements = n >= 2 ? 2 : 1;
    cfg->usable = n;
    cfg->cpu[0] = allowed[0];
    cfg->cpu[1] = n >= 2 ? allowed[1] : allowed[0];
    if (arg != NULL) {
        char copy[64], *items[2];

        snprintf(copy, sizeof copy, "%s", arg);
        if (split_list(copy, items, 2, "--cpus") != 2)
            die_usage(usage, "--cpus takes two CPUs, A,B");
        cfg->cpu[0] = cpu_arg(items[0]);
        cfg->cpu[1] = cpu_arg(items[1]);
        if (cfg->cpu[0] == cfg->cpu[1])
            die_usage(usage, "--cpus: two different CPUs (the one-core placement uses the first)");
        cfg->placements = 2;
    }
    cfg->pinned = true;
    for (int p = 0; p < cfg->placements; p++)
        if (pin_to_cpu(cfg->cpu[p]) == -1 && cfg->pinned) {
            snprintf(cfg->not_pinned, sizeof cfg->not_pinned, "pinning to CPU %d failed: %s",
                     cfg->cpu[p], strerror(errno));
            cfg->pinned = false;
        }
    /* Each row pins again; until then (and for good when pinning failed) run anywhere. */
    if (sched_setaffinity(0, sizeof original, &original) == -1)
        die_errno("restoring this process's CPU affinity");
}

static void parse_args(int argc, char *argv[], struct bench_config *cfg)
{
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, 's'},  {"mechanisms", required_argument, NULL, 'm'},
        {"rounds", required_argument, NULL, 'r'}, {"bytes", required_argument, NULL, 'b'},
        {"cpus", required_argument, NULL, 'c'},   {"csv", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    char *items[MAX_SIZES];
    const char *sizes = "64,64K", *mechanisms = NULL, *cpus = NULL;
    char copy[512];
    int opt;

    *cfg = (struct bench_config){.rounds = 100, .stream_bytes = 1u << 20};
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 's')
            sizes = optarg;
        else if (opt == 'm')
            mechanisms = optarg;
        else if (opt == 'r')
            cfg->rounds = cli_long(optarg, 1, 1000000, "--rounds", usage);
        else if (opt == 'b')
            cfg->stream_bytes = cli_size(optarg, 1, 1u << 30, "--bytes", usage);
        else if (opt == 'c')
            cpus = optarg;
        else
            cfg->csv = optarg;
    }
    cli_no_operands(argc, argv, usage);
    snprintf(copy, sizeof copy, "%s", sizes);
    cfg->nsizes = split_list(copy, items, MAX_SIZES, "--sizes");
    for (size_t i = 0; i < cfg->nsizes; i++)
        cfg->sizes[i] = cli_size(items[i], 1, 16u << 20, "--sizes: each size", usage);
    for (size_t k = 0; k < transport_count; k++)
        cfg->use[k] = mechanisms == NULL;
    if (mechanisms != NULL) {
        char *names[32];
        size_t n;

        snprintf(copy, sizeof copy, "%s", mechanisms);
        n = split_list(copy, names, 32, "--mechanisms");
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;

            while (k < transport_count && strcmp(names[i], transport_names[k]) != 0)
                k++;
            if (k == transport_count)
                die_usage(usage, "--mechanisms: no mechanism named '%s'", names[i]);
            cfg->use[k] = true;
        }
    }
    choose_cpus(cfg, cpus);
}

int main(int argc, char *argv[])
{
    struct bench_config cfg;
    struct bench_row *rows;
    double *samples;
    size_t nrows = 0, used = 0;

    parse_args(argc, argv, &cfg);
    for (size_t k = 0; k < transport_count; k++)
        used += cfg.use[k];
    rows = calloc(used * cfg.nsizes * 2, sizeof *rows);
    samples = calloc((size_t)cfg.rounds + 20, sizeof *samples);
    if (rows == NULL || samples == NULL)
        die_errno("allocating the results");
    if (cfg.csv != NULL)
        cfg.csv_out = open_csv(cfg.csv);
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
    if (cfg.csv != NULL)
        write_csv(&cfg, cfg.csv_out, rows, nrows);
    free(rows);
    free(samples);
    return 0;
}
