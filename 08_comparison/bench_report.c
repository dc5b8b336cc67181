/* bench_report.c - the report of advanced_ipc_bench: machine, tables, CSV (bench_report.h). */
#define _GNU_SOURCE
#include "bench_report.h"
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

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
           "%ld timed (fewer for big messages: at most 16 MiB each way, at least 20); a stream "
           "of %s (at most %ld messages) per row, every byte checked; every transport blocks, "
           "none spins\n",
           cfg->rounds / 10 + 10, cfg->rounds, fmt_bytes(cfg->stream_bytes).s, 10 * cfg->rounds);
}

static int by_p50(const void *a, const void *b)
{
    double x = ((const struct bench_row *)a)->rt.p50, y = ((const struct bench_row *)b)->rt.p50;

    return (x > y) - (x < y);
}

static void print_cell(const struct bench_row *r)
{
    printf(" | %5zu %7.1f %7.1f %7.1f %7.1f %7.1f %8.1f %8.0f %6.3f", r->rt.n, r->rt.p50, r->rt.p90,
           r->rt.p99, r->rt.p999, r->rt.max, r->mb_per_s, r->msgs_per_s,
           r->cpu_parent_s + r->cpu_child_s);
}

/* rows[] holds pairs: [i] one core, [i + 1] two cores.  One table per size, sorted by the
 * one-core median. */
void print_tables(const struct bench_config *cfg, struct bench_row *rows, size_t nrows)
{
    static const char columns[] = " |     n     p50     p90     p99   p99.9     max     MB/s"
                                  "    msg/s  cpu_s";
    struct bench_row *pairs = calloc(nrows, sizeof *pairs);

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
               "cpu_parent_s,cpu_child_s\n");
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
