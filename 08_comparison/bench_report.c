/* bench_report.c - the report of advanced_ipc_bench: machine, tables, CSV (bench_report.h). */
#define _GNU_SOURCE
#include "bench_report.h"
#include "common.h"
#include "proc.h"
#include "timing.h"
#include "transport.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

const char bench_usage[] = "[--sizes LIST] [--mechanisms LIST] [--rounds N] [--bytes T] "
                           "[--cpus A,B] [--full] [--repeat N] [--csv FILE|-]";

/* ---- the command line ---- */

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

void describe_cpu(int usable)
{
    char model[256];
    bool hypervisor;
    struct utsname un;

    read_cpuinfo(model, sizeof model, &hypervisor);
    if (uname(&un) == -1)
        die_errno("uname");
    printf("[machine] CPU: %s; %ld online, %d usable by this process\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), usable);
    printf("[machine] kernel: %s %s %s\n", un.sysname, un.release, un.machine);
    if (hypervisor)
        printf("[machine] WARNING: under a hypervisor (the hypervisor CPU flag): a wake-up across "
               "CPUs is an interrupt to a virtual CPU the host may not be running, so the "
               "two-core column is slower and noisier than on bare metal\n");
    else
        printf("[machine] no hypervisor flag in /proc/cpuinfo: bare metal, as far as it tells\n");
}

void describe_machine(const struct bench_config *cfg)
{
    describe_cpu(cfg->usable);
    if (!cfg->pinned)
        printf("[bench] NOT PINNED: %s; the rows run wherever the scheduler puts them\n",
               cfg->not_pinned);
    else if (cfg->placements == 2)
        printf("[bench] placement: one core = both processes pinned to CPU %d; two cores = "
               "pinned to CPUs %d and %d\n",
               cfg->cpu[0], cfg->cpu[0], cfg->cpu[1]);
    else
        printf("[bench] placement: both processes pinned to CPU %d; two cores: not available "
               "(this process may use one CPU)\n",
               cfg->cpu[0]);
    printf("[bench] method: a fresh pair of processes per row; %ld warm-up round trips, then "
           "%ld timed (fewer for big messages: at most 16 MiB each way, at least 20; never more "
           "warm-up than timed); a stream "
           "of %s (at most %ld messages) per row, every byte checked; every transport blocks "
           "but shm-spin-ring, which spins (yields on one core); eventfd+shm and sigqueue+shm "
           "are notify-only (the bytes go through shared memory)\n",
           cfg->rounds / 10 + 10, cfg->rounds, fmt_bytes(cfg->stream_bytes).s, 10 * cfg->rounds);
    if (cfg->repeat > 1)
        printf("[bench] %s: every row measured %ld times, a fresh pair of processes each; each "
               "statistic reported is the median of the %ld runs' (a median of medians)\n",
               cfg->full ? "--full" : "--repeat", cfg->repeat, cfg->repeat);
    if (cfg->hw.have_cacheline)
        printf("[bench] limits: cache-line round trip between CPUs %d and %d: p50 %.1f ns "
               "(advanced_hw_probe measures more)\n",
               cfg->cpu[0], cfg->cpu[1], cfg->hw.cacheline_ns.p50);
    else
        printf("[bench] limits: no cache-line round trip (%s): no multiples of it below\n",
               cfg->hw.no_cacheline);
    for (size_t s = 0; s < cfg->hw.nsizes; s++)
        printf("[bench] limits: memcpy of %s, page-aligned and warm: p50 %.0f MB/s\n",
               fmt_bytes(cfg->hw.sizes[s]).s, cfg->hw.memcpy_mbps[s].p50);
}

static double median_of(double *v, size_t n)
{
    struct stats st;

    stats_compute(v, n, &st);
    return st.p50;
}

void combine_runs(const struct bench_row *runs, size_t n, struct bench_row *row)
{
    double v[MAX_REPEAT];

    *row = runs[0];
    if (n < 2)
        return;
#define MEDIAN_OF(field)                                                                           \
    do {                                                                                           \
        for (size_t r = 0; r < n; r++)                                                             \
            v[r] = runs[r].field;                                                                  \
        row->field = median_of(v, n);                                                              \
    } while (0)
    MEDIAN_OF(rt.min);
    MEDIAN_OF(rt.max);
    MEDIAN_OF(rt.mean);
    MEDIAN_OF(rt.stddev);
    MEDIAN_OF(rt.p50);
    MEDIAN_OF(rt.p90);
    MEDIAN_OF(rt.p99);
    MEDIAN_OF(rt.p999);
    MEDIAN_OF(mb_per_s);
    MEDIAN_OF(msgs_per_s);
    MEDIAN_OF(cpu_parent_s);
    MEDIAN_OF(cpu_child_s);
#undef MEDIAN_OF
}

/* Splits a comma-separated list in place; an empty item ("64,,4K") is a usage error. */
static size_t split_list(char *list, char **items, size_t max, const char *what)
{
    size_t n = 0;
    char *item;

    while ((item = strsep(&list, ",")) != NULL) {
        if (*item == '\0')
            die_usage(bench_usage, "%s: an empty item in the list", what);
        if (n == max)
            die_usage(bench_usage, "%s: at most %zu items", what, max);
        items[n++] = item;
    }
    return n;
}

static int cpu_arg(const char *s)
{
    return (int)cli_long(s, 0, CPU_SETSIZE - 1, "--cpus: each CPU", bench_usage);
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
            die_usage(bench_usage, "--cpus takes two CPUs, A,B");
        cfg->cpu[0] = cpu_arg(items[0]);
        cfg->cpu[1] = cpu_arg(items[1]);
        if (cfg->cpu[0] == cfg->cpu[1])
            die_usage(bench_usage,
                      "--cpus: two different CPUs (the one-core placement uses the first)");
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

void parse_bench_args(int argc, char *argv[], struct bench_config *cfg)
{
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, 's'},  {"mechanisms", required_argument, NULL, 'm'},
        {"rounds", required_argument, NULL, 'r'}, {"bytes", required_argument, NULL, 'b'},
        {"cpus", required_argument, NULL, 'c'},   {"csv", required_argument, NULL, 'o'},
        {"full", no_argument, NULL, 'f'},         {"repeat", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    char *items[MAX_SIZES];
    const char *sizes = "64,64K", *mechanisms = NULL, *cpus = NULL;
    char copy[512];
    int opt;

    long rounds = 0, repeat = 0;
    uint64_t bytes = 0;

    *cfg = (struct bench_config){0};
    while ((opt = cli_getopt(argc, argv, "h", longopts, bench_usage)) != -1) {
        if (opt == 's')
            sizes = optarg;
        else if (opt == 'm')
            mechanisms = optarg;
        else if (opt == 'r')
            rounds = cli_long(optarg, 1, 1000000, "--rounds", bench_usage);
        else if (opt == 'b')
            bytes = cli_size(optarg, 1, 1u << 30, "--bytes", bench_usage);
        else if (opt == 'c')
            cpus = optarg;
        else if (opt == 'f')
            cfg->full = true;
        else if (opt == 'R')
            repeat = cli_long(optarg, 1, MAX_REPEAT, "--repeat", bench_usage);
        else if (*optarg == '\0')
            die_usage(bench_usage, "--csv: an empty file name (- is stdout)");
        else
            cfg->csv = optarg;
    }
    cli_no_operands(argc, argv, bench_usage);
    /* --full: 50 times the round trips, 64 times the stream, five runs of every row; anything
     * given explicitly wins. */
    cfg->rounds = rounds ? rounds : cfg->full ? 5000 : 100;
    cfg->stream_bytes = bytes ? bytes : cfg->full ? 64u << 20 : 1u << 20;
    cfg->repeat = repeat ? repeat : cfg->full ? 5 : 1;
    snprintf(copy, sizeof copy, "%s", sizes);
    cfg->nsizes = split_list(copy, items, MAX_SIZES, "--sizes");
    for (size_t i = 0; i < cfg->nsizes; i++)
        cfg->sizes[i] = cli_size(items[i], 1, 16u << 20, "--sizes: each size", bench_usage);
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
                die_usage(bench_usage, "--mechanisms: no mechanism named '%s'", names[i]);
            cfg->use[k] = true;
        }
    }
    choose_cpus(cfg, cpus);
}

/* ---- the report ---- */

static int by_p50(const void *a, const void *b)
{
    double x = ((const struct bench_row *)a)->rt.p50, y = ((const struct bench_row *)b)->rt.p50;

    return (x > y) - (x < y);
}

static void print_cell(const struct bench_row *r)
{
    printf(" | %5zu %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f %8.0f %6.3f", r->rt.n, r->rt.p50, r->rt.p90,
           r->rt.p99, r->rt.p999, r->rt.max, r->mb_per_s, r->msgs_per_s,
           r->cpu_parent_s + r->cpu_child_s);
}

/* The pairs of rows (one core, two cores) of one message size into pairs[], sorted by the
 * one-core median (qsort on pairs of rows, by their first element); returns how many rows. */
static size_t pairs_of_size(const struct bench_row *rows, size_t nrows, uint64_t size,
                            struct bench_row *pairs)
{
    size_t n = 0;

    for (size_t i = 0; i < nrows; i += 2)
        if (rows[i].size == size) {
            pairs[n] = rows[i];
            pairs[n + 1] = rows[i + 1];
            n += 2;
        }
    qsort(pairs, n / 2, 2 * sizeof *pairs, by_p50);
    return n;
}

/* rows[] holds pairs: [i] one core, [i + 1] two cores.  One table per size, sorted by the
 * one-core median. */
void print_tables(const struct bench_config *cfg, struct bench_row *rows, size_t nrows)
{
    static const char columns[] = " |     n      p50      p90      p99    p99.9      max     MB/s"
                                  "    msg/s  cpu_s";
    struct bench_row *pairs = calloc(nrows, sizeof *pairs);

    if (pairs == NULL)
        die_errno("allocating the tables");
    for (size_t s = 0; s < cfg->nsizes; s++) {
        size_t n = pairs_of_size(rows, nrows, cfg->sizes[s], pairs);

        printf("\n%s messages: round trip in us, stream in MB/s (10^6 B/s) and messages/s, "
               "cpu_s = CPU seconds of both sides for the row\n",
               fmt_bytes(cfg->sizes[s]).s);
        printf("%-15s | %-74s | %s\n", "", cfg->pinned ? "one core" : "not pinned",
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

/* The two ratios of one row; negative when there is nothing to divide by. */
static double over_cacheline(const struct bench_config *cfg, const struct bench_row *r)
{
    return cfg->hw.have_cacheline ? r->rt.p50 * 1000.0 / cfg->hw.cacheline_ns.p50 : -1;
}

static double over_memcpy(const struct bench_config *cfg, const struct bench_row *r)
{
    double memcpy_mbps = hw_limits_memcpy(&cfg->hw, r->size);

    return memcpy_mbps > 0 ? r->mb_per_s / memcpy_mbps : -1;
}

static void print_ratio_cell(const struct bench_config *cfg, const struct bench_row *r)
{
    double x = over_cacheline(cfg, r);

    if (x < 0)
        printf(" | %12s", "-");
    else
        printf(" | %11.0fx", x);
    printf(" %10.4f", over_memcpy(cfg, r));
}

void print_limit_tables(const struct bench_config *cfg, struct bench_row *rows, size_t nrows)
{
    struct bench_row *pairs = calloc(nrows, sizeof *pairs);

    if (pairs == NULL)
        die_errno("allocating the tables");
    for (size_t s = 0; s < cfg->nsizes; s++) {
        size_t n = pairs_of_size(rows, nrows, cfg->sizes[s], pairs);

        printf("\n%s messages against the hardware: x cache line = round-trip p50 / the "
               "cache-line round trip; of memcpy = stream MB/s / memcpy MB/s at %s\n",
               fmt_bytes(cfg->sizes[s]).s, fmt_bytes(cfg->sizes[s]).s);
        printf("%-15s | %-23s | %s\n", "", cfg->pinned ? "one core" : "not pinned",
               cfg->placements == 2 ? (cfg->pinned ? "two cores" : "not pinned") : "");
        printf("%-15s | %12s %10s", "mechanism", "x cache line", "of memcpy");
        if (cfg->placements == 2)
            printf(" | %12s %10s", "x cache line", "of memcpy");
        printf("\n");
        for (size_t i = 0; i < n; i += 2) {
            printf("%-15s", pairs[i].mechanism);
            print_ratio_cell(cfg, &pairs[i]);
            if (cfg->placements == 2)
                print_ratio_cell(cfg, &pairs[i + 1]);
            printf("\n");
        }
    }
    free(pairs);
}

/* Opened before the first row, so a path that cannot be written fails at once; "-" is stdout. */
FILE *open_csv(const char *path)
{
    FILE *f;

    if (strcmp(path, "-") == 0)
        return stdout;
    f = fopen(path, "we");
    if (f == NULL)
        die_errno("creating %s", path);
    return f;
}

void write_csv(const struct bench_config *cfg, FILE *f, const struct bench_row *rows, size_t nrows)
{
    printf("\n");
    fprintf(f, "mechanism,message_bytes,placement,cpus,pinned,round_trips,rt_p50_us,rt_p90_us,"
               "rt_p99_us,rt_p999_us,rt_max_us,stream_bytes,stream_MB_per_s,stream_msgs_per_s,"
               "cpu_parent_s,cpu_child_s,rt_p50_over_cacheline,mbps_over_memcpy\n");
    for (size_t i = 0; i < nrows; i++) {
        const struct bench_row *r = &rows[i];
        int p = (int)(i % 2);
        char cpus[32];

        if (p >= cfg->placements)
            continue;
        if (p == 0)
            snprintf(cpus, sizeof cpus, "%d", cfg->cpu[0]);
        else
            snprintf(cpus, sizeof cpus, "%d+%d", cfg->cpu[0], cfg->cpu[1]);
        fprintf(f, "%s,%llu,%s,%s,%s,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%llu,%.1f,%.0f,%.4f,%.4f,",
                r->mechanism, (unsigned long long)r->size, p == 0 ? "one-core" : "two-cores", cpus,
                cfg->pinned ? "yes" : "no", r->rt.n, r->rt.p50, r->rt.p90, r->rt.p99, r->rt.p999,
                r->rt.max, (unsigned long long)r->stream_bytes, r->mb_per_s, r->msgs_per_s,
                r->cpu_parent_s, r->cpu_child_s);
        /* The ratios last, so the columns before them keep their places; empty when there
         * is nothing to divide by. */
        if (over_cacheline(cfg, r) >= 0)
            fprintf(f, "%.1f", over_cacheline(cfg, r));
        fprintf(f, ",");
        if (over_memcpy(cfg, r) >= 0)
            fprintf(f, "%.4f", over_memcpy(cfg, r));
        fprintf(f, "\n");
    }
    if (f != stdout && fclose(f) == EOF)
        die_errno("writing %s", cfg->csv);
    printf("[bench] wrote %zu rows to %s\n", nrows / 2 * (size_t)cfg->placements,
           f == stdout ? "stdout" : cfg->csv);
}
