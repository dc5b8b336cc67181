/* advanced_ipc_bench.c - one method for ten IPC mechanisms: round-trip percentiles, stream rate,
 * CPU
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

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char usage[] = "[--sizes LIST] [--mechanisms LIST] [--rounds N] [--bytes T] "
                            "[--cpus A,B] [--csv FILE|-]";

#define MAX_SIZES 16
#define ROW_BYTES_CAP (16u << 20) /* a row's round trips move at most 16 MiB each way */
#define PAGE 4096

struct config {
    uint64_t sizes[MAX_SIZES];
    size_t nsizes;
    bool use[16]; /* by index in transport_names */
    long rounds;
    uint64_t stream_bytes;
    int cpu[2];     /* the two CPUs of the two-core placement; the first is the one-core one */
    int placements; /* 1 when only one CPU may be used */
    int usable;     /* CPUs this process may use (sched_getaffinity) */
    bool pinned;    /* false: pinning failed, the rows run where the scheduler puts them */
    const char *csv;
};

struct row {
    const char *mechanism;
    uint64_t size;
    struct stats rt;       /* round trip, microseconds */
    uint64_t stream_bytes; /* messages * size: what was streamed */
    double mb_per_s, msgs_per_s, cpu_parent_s, cpu_child_s;
};

static void *alloc_pages(uint64_t n)
{
    void *p = aligned_alloc(PAGE, (n + PAGE - 1) / PAGE * PAGE);

    if (p == NULL)
        die_errno("allocating %s", fmt_bytes(n).s);
    return p;
}

/* Every byte differs from its neighbours; the first 8 carry the message number, so a lost,
 * repeated or reordered message fails the check as surely as a corrupted one. */
static void fill_pattern(unsigned char *buf, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 2654435761u) >> 13);
}

static void stamp(unsigned char *buf, uint64_t n, uint64_t k)
{
    memcpy(buf, &k, n < sizeof k ? n : sizeof k);
}

/* The stream: T bytes, but at most 10 messages per timed round trip, so that 64-byte
 * messages across two virtual CPUs (a wake-up each, 50-100 us) do not take minutes. */
static uint64_t stream_messages(const struct config *cfg, uint64_t size)
{
    uint64_t messages = (cfg->stream_bytes + size - 1) / size;
    uint64_t cap = 10 * (uint64_t)cfg->rounds;

    return messages < cap ? messages : cap;
}

static long timed_rounds(const struct config *cfg, uint64_t size)
{
    uint64_t cap = ROW_BYTES_CAP / size;

    return cap < 20 ? 20 : (long)cap < cfg->rounds ? (long)cap : cfg->rounds;
}

/* Side 1: echoes the round trips, then checks the stream and acknowledges it.  Exit status
 * 0, or 1 after saying what went wrong. */
static noreturn void peer(const struct config *cfg, struct transport *t, uint64_t size, int cpu)
{
    unsigned char *buf = alloc_pages(size), *want = alloc_pages(size);
    long trips = cfg->rounds / 10 + 10 + timed_rounds(cfg, size);
    uint64_t messages = stream_messages(cfg, size);

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
static void drive(const struct config *cfg, struct transport *t, struct row *row, double *samples)
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

static void measure(const struct config *cfg, const char *name, uint64_t size, int placement,
                    struct row *row, double *samples)
{
    int cpu = cfg->cpu[placement];
    double self0 = cpu_seconds(RUSAGE_SELF), children0 = cpu_seconds(RUSAGE_CHILDREN);
    struct transport *t;
    pid_t pid;
    int slot, status;

    *row = (struct row){.mechanism = name, .size = size};
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

static char not_pinned_reason[160]; /* empty when pinning works */

static int cpu_arg(const char *s)
{
    return (int)cli_long(s, 0, CPU_SETSIZE - 1, "--cpus: each CPU", usage);
}

/* The two CPUs: --cpus A,B, or the first two this process may use.  Both are tried at once,
 * so a placement that cannot be had is said before any row, not hidden in one. */
static void choose_cpus(struct config *cfg, const char *arg)
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
            snprintf(not_pinned_reason, sizeof not_pinned_reason, "pinning to CPU %d failed: %s",
                     cfg->cpu[p], strerror(errno));
            cfg->pinned = false;
        }
    /* Each row pins again; until then (and for good when pinning failed) run anywhere. */
    if (sched_setaffinity(0, sizeof original, &original) == -1)
        die_errno("restoring this process's CPU affinity");
}

static void read_cpuinfo(char *model, size_t size, bool *hypervisor)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[4096];

    snprintf(model, size, "unknown (no model name in /proc/cpuinfo)");
    *hypervisor = false;
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *value = strchr(line, ':');

        if (value == NULL)
            continue;
        value += strspn(value + 1, " ") + 1;
        value[strcspn(value, "\n")] = '\0';
        if (strncmp(line, "model name", 10) == 0)
            snprintf(model, size, "%s", value);
        if (strncmp(line, "flags", 5) == 0 && strstr(value, " hypervisor") != NULL)
            *hypervisor = true;
    }
    fclose(f);
}

static void describe_machine(const struct config *cfg)
{
    char model[256];
    bool hypervisor;
    struct utsname un;
    read_cpuinfo(model, sizeof model, &hypervisor);
    if (uname(&un) == -1)
        die_errno("uname");
    printf("[machine] CPU: %s; %ld online, %d usable by this process\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), cfg->usable);
    printf("[machine] kernel: %s %s %s\n", un.sysname, un.release, un.machine);
    if (hypervisor)
        printf("[machine] WARNING: under a hypervisor (the hypervisor CPU flag): a wake-up across "
               "CPUs is an interrupt to a virtual CPU the host may not be running, so the "
               "two-core column is slower and noisier than on bare metal\n");
    else
        printf("[machine] no hypervisor flag in /proc/cpuinfo: bare metal, as far as it tells\n");
    if (!cfg->pinned)
        printf("[bench] NOT PINNED: %s; the rows run wherever the scheduler puts them\n",
               not_pinned_reason);
    else if (cfg->placements == 2)
        printf("[bench] placement: one core = both processes pinned to CPU %d; two cores = "
               "pinned to CPUs %d and %d\n",
               cfg->cpu[0], cfg->cpu[0], cfg->cpu[1]);
    else
        printf("[bench] placement: both processes pinned to CPU %d; two cores: not available "
               "(this process may use one CPU)\n",
               cfg->cpu[0]);
    printf("[bench] method: a fresh pair of processes per row; %ld warm-up round trips, then "
           "%ld timed (fewer for big messages: at most 16 MiB each way, at least 20); a stream "
           "of %s (at most %ld messages) per row, every byte checked; every transport blocks, "
           "none spins\n",
           cfg->rounds / 10 + 10, cfg->rounds, fmt_bytes(cfg->stream_bytes).s, 10 * cfg->rounds);
}

static int by_p50(const void *a, const void *b)
{
    double x = ((const struct row *)a)->rt.p50, y = ((const struct row *)b)->rt.p50;

    return (x > y) - (x < y);
}

static void print_cell(const struct row *r)
{
    printf(" | %5zu %7.1f %7.1f %7.1f %7.1f %7.1f %8.1f %8.0f %6.3f", r->rt.n, r->rt.p50, r->rt.p90,
           r->rt.p99, r->rt.p999, r->rt.max, r->mb_per_s, r->msgs_per_s,
           r->cpu_parent_s + r->cpu_child_s);
}

/* rows[] holds pairs: [i] one core, [i + 1] two cores.  One table per size, sorted by the
 * one-core median. */
static void print_tables(const struct config *cfg, struct row *rows, size_t nrows)
{
    static const char columns[] = " |     n     p50     p90     p99   p99.9     max     MB/s"
                                  "    msg/s  cpu_s";
    struct row *pairs = calloc(nrows, sizeof *pairs);

    if (pairs == NULL)
        die_errno("allocating the tables");
    for (size_t s = 0; s < cfg->nsizes; s++) {
        size_t n = 0;

        for (size_t i = 0; i < nrows; i += 2)
            if (rows[i].size == cfg->sizes[s]) {
                pairs[n] = rows[i];
                pairs[n + 1] = rows[i + 1];
                n += 2;
            }
        /* Sort the pairs by their first element: qsort on pairs of rows. */
        qsort(pairs, n / 2, 2 * sizeof *pairs, by_p50);
        printf("\n%s messages: round trip in us, stream in MB/s (10^6 B/s) and messages/s, "
               "cpu_s = CPU seconds of both sides for the row\n",
               fmt_bytes(cfg->sizes[s]).s);
        printf("%-15s | %-69s | %s\n", "", cfg->pinned ? "one core" : "not pinned",
               cfg->placements == 2 ? (cfg->pinned ? "two cores" : "not pinned") : "");
        printf("%-15s%s%s\n", "mechanism", columns, cfg->placements == 2 ? columns : "");
        for (size_t i = 0; i < n; i += 2) {
            printf("%-15s", pairs[i].mechanism);
            print_cell(&pairs[i]);
            if (cfg->placements == 2)
                print_cell(&pairs[i + 1]);
            printf("\n");
        }
    }
    free(pairs);
}

/* Opened before the first row, so a path that cannot be written fails at once; "-" is stdout. */
static FILE *open_csv(const char *path)
{
    FILE *f;

    if (strcmp(path, "-") == 0)
        return stdout;
    f = fopen(path, "we");
    if (f == NULL)
        die_errno("creating %s", path);
    return f;
}

static void write_csv(const struct config *cfg, FILE *f, const struct row *rows, size_t nrows)
{
    printf("\n");
    fprintf(f, "mechanism,message_bytes,placement,cpus,pinned,round_trips,rt_p50_us,rt_p90_us,"
               "rt_p99_us,rt_p999_us,rt_max_us,stream_bytes,stream_MB_per_s,stream_msgs_per_s,"
               "cpu_parent_s,cpu_child_s\n");
    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        int p = (int)(i % 2);
        char cpus[32];

        if (p >= cfg->placements)
            continue;
        if (p == 0)
            snprintf(cpus, sizeof cpus, "%d", cfg->cpu[0]);
        else
            snprintf(cpus, sizeof cpus, "%d+%d", cfg->cpu[0], cfg->cpu[1]);
        fprintf(f, "%s,%llu,%s,%s,%s,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%llu,%.1f,%.0f,%.4f,%.4f\n",
                r->mechanism, (unsigned long long)r->size, p == 0 ? "one-core" : "two-cores", cpus,
                cfg->pinned ? "yes" : "no", r->rt.n, r->rt.p50, r->rt.p90, r->rt.p99, r->rt.p999,
                r->rt.max, (unsigned long long)r->stream_bytes, r->mb_per_s, r->msgs_per_s,
                r->cpu_parent_s, r->cpu_child_s);
    }
    if (f != stdout && fclose(f) == EOF)
        die_errno("writing %s", cfg->csv);
    printf("[bench] wrote %zu rows to %s\n", nrows / 2 * (size_t)cfg->placements,
           f == stdout ? "stdout" : cfg->csv);
}

static void parse_args(int argc, char *argv[], struct config *cfg)
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

    *cfg = (struct config){.rounds = 100, .stream_bytes = 1u << 20};
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
        char *names[16];
        size_t n;

        snprintf(copy, sizeof copy, "%s", mechanisms);
        n = split_list(copy, names, 16, "--mechanisms");
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
    struct config cfg;
    struct row *rows;
    double *samples;
    FILE *csv = NULL;
    size_t nrows = 0, used = 0;

    parse_args(argc, argv, &cfg);
    for (size_t k = 0; k < transport_count; k++)
        used += cfg.use[k];
    rows = calloc(used * cfg.nsizes * 2, sizeof *rows);
    samples = calloc((size_t)cfg.rounds + 20, sizeof *samples);
    if (rows == NULL || samples == NULL)
        die_errno("allocating the results");
    if (cfg.csv != NULL)
        csv = open_csv(cfg.csv);
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
        write_csv(&cfg, csv, rows, nrows);
    free(rows);
    free(samples);
    return 0;
}
