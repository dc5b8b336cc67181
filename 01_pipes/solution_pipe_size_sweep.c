/* solution_pipe_size_sweep.c - pipe throughput at each F_SETPIPE_SZ size, and the best one
 *
 * Exercise (performance): for pipe sizes doubling from --min to --max, a child writes --total
 * bytes in chunks of the size granted and the parent reads them; after one untimed warm-up,
 * the median of --runs transfers is printed for each size, then the best size.  Buffers are
 * page-aligned (a buffer 16 bytes past a page, where malloc() puts large blocks, slows the
 * kernel's copy: the sweep measures by how much), reader and writer are pinned to one CPU,
 * and the limit they approach, two memcpy() calls per chunk, is measured in the same run.
 * --replay takes the run times from stdin instead, so the arithmetic can be checked exactly.
 *
 * Guide part: exercise 5 (performance).
 * Run: ./solution_pipe_size_sweep [--total SIZE] [--min SIZE] [--max SIZE] [--runs N]
 *      printf '4096 1000000000\n65536 62500000\n' | ./solution_pipe_size_sweep --replay
 */
#define _GNU_SOURCE /* sched_setaffinity() */
#include "common.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--total SIZE] [--min SIZE] [--max SIZE] [--runs N] [--replay]\n"
                            "    (defaults 16M, 4K, 1M, 5 runs; SIZE takes K, M, G)";

#define MAX_RUNS 15
#define MISALIGN 16 /* what glibc's malloc() gives a large block: 16 bytes past a page */

/* Reader and writer on one CPU: the timing is the two copies per byte and the
 * switches between the two processes.  Across two CPUs every wake-up is an
 * interrupt to the other CPU, which on a virtual machine can cost more than
 * the copies and hide what the pipe size changes.  The child inherits it. */
static void pin_to_this_cpu(void)
{
    int cpu = sched_getcpu();

    if (pin_to_cpu(cpu) == -1) { /* EINVAL for cpu -1 */
        printf("[sweep] not pinned (%s): the scheduler places reader and writer\n",
               strerror(errno));
        return;
    }
    printf("[sweep] reader and writer pinned to CPU %d\n", cpu);
}

static char *page_aligned(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* A whole number of pages, as aligned_alloc() asks, with room for the offset. */
    char *buf = aligned_alloc(page, (size + MISALIGN + page - 1) / page * page);

    if (buf == NULL)
        die_errno("aligned_alloc");
    memset(buf, 's', size + MISALIGN); /* fault the pages in before any clock starts */
    return buf;
}

/* One transfer of `total` bytes through `fds`, closed here; returns its nanoseconds. */
static double transfer(char *rbuf, const char *wbuf, size_t chunk, int fds[2], uint64_t total)
{
    uint64_t start = now_ns(), got = 0;
    int status;
    ssize_t n;
    pid_t child = fork_or_die();

    if (child == 0) {
        close(fds[0]);
        for (uint64_t left = total; left > 0;) {
            size_t len = left < chunk ? (size_t)left : chunk;

            if (write_full(fds[1], wbuf, len) == -1) /* one write(): the pipe blocks, whole */
                die_errno("write to pipe");
            left -= len;
        }
        close(fds[1]);
        exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], rbuf, chunk)) != 0) {
        if (n == -1 && errno != EINTR)
            die_errno("read from pipe");
        got += n > 0 ? (uint64_t)n : 0;
    }
    close(fds[0]);
    if (waitpid(child, &status, 0) == -1)
        die_errno("waitpid");
    if (status != 0 || got != total)
        die("the writer failed (%s): %ju of %ju bytes arrived", fmt_wait_status(status).s,
            (uintmax_t)got, (uintmax_t)total);
    return (double)elapsed_ns(start);
}

/* A warm-up, then the median of `runs` transfers through fresh pipes of `size`, the
 * reader's buffer `offset` bytes past a page.  Stores the size granted. */
static double median_at(uint64_t size, uint64_t total, int runs, size_t offset, size_t *granted)
{
    double samples[MAX_RUNS];
    char *rbuf = NULL, *wbuf = NULL;
    struct stats st;

    for (int i = -1; i < runs; i++) { /* run -1 is the warm-up */
        int fds[2], got;

        if (pipe(fds) == -1)
            die_errno("pipe");
        /* The kernel rounds up to a power-of-two number of pages. */
        if ((got = fcntl(fds[1], F_SETPIPE_SZ, (int)size)) == -1)
            die_errno("fcntl F_SETPIPE_SZ(%ju)%s", (uintmax_t)size,
                      errno == EPERM ? " (over pipe-user-pages-soft?)" : "");
        *granted = (size_t)got;
        if (rbuf == NULL) {
            rbuf = page_aligned(*granted);
            wbuf = page_aligned(*granted);
        }
        double ns = transfer(rbuf + offset, wbuf, *granted, fds, total);
        if (i >= 0)
            samples[i] = ns;
    }
    free(rbuf);
    free(wbuf);
    stats_compute(samples, (size_t)runs, &st);
    return st.p50;
}

/* The ceiling: on one CPU a pipe costs each chunk two copies, in (writer) and
 * out (reader), so it approaches two memcpy() calls of the same chunk. */
static void print_limit(uint64_t total, size_t chunk)
{
    char *src = page_aligned(chunk), *mid = page_aligned(chunk), *dst = page_aligned(chunk);
    double samples[5];
    struct stats st;

    for (int i = -1; i < 5; i++) { /* run -1 is the warm-up */
        uint64_t start = now_ns();

        for (uint64_t done = 0; done < total; done += chunk) {
            memcpy(mid, src, chunk);
            memcpy(dst, mid, chunk);
        }
        __asm__ volatile("" : : "r"(dst) : "memory"); /* the copies must happen */
        if (i >= 0)
            samples[i] = (double)elapsed_ns(start);
    }
    stats_compute(samples, 5, &st);
    printf("[sweep] limit: two memcpy() of each %s chunk, as a pipe does on one CPU: %s (median"
           " of 5)\n",
           fmt_bytes(chunk).s, fmt_rate(total, (uint64_t)st.p50).s);
    free(src);
    free(mid);
    free(dst);
}

struct result {
    size_t size;
    double ns;
};

static void print_size(const struct result *r, uint64_t total)
{
    printf("[sweep] pipe %s: %s\n", fmt_bytes(r->size).s, fmt_rate(total, (uint64_t)r->ns).s);
}

/* The fastest: the lowest median time; the first of equal ones. */
static const struct result *print_best(const struct result *r, size_t n, uint64_t total)
{
    const struct result *best = &r[0];

    for (size_t i = 1; i < n; i++)
        if (r[i].ns < best->ns)
            best = &r[i];
    printf("[sweep] best: pipe %s at %s\n", fmt_bytes(best->size).s,
           fmt_rate(total, (uint64_t)best->ns).s);
    return best;
}

/* --replay: each line "SIZE T1 [T2...]", a granted size and 1 to 15 run times in ns. */
static int replay(uint64_t total)
{
    struct result r[64];
    size_t n = 0, cap = 0;
    char *line = NULL;

    for (long lineno = 1; getline(&line, &cap, stdin) > 0; lineno++) {
        double samples[MAX_RUNS + 1];
        char *p = line, *end;
        size_t k = 0;
        struct stats st;
        uint64_t size = strtoull(p, &end, 10);

        while (end != p && *end == ' ' && isdigit((unsigned char)end[1]) && k <= MAX_RUNS) {
            samples[k] = (double)strtoull(p = end + 1, &end, 10);
            k += end != p && samples[k] > 0;
        }
        if (n == 64 || !isdigit((unsigned char)line[0]) || size < 4096 || size > (1u << 30) ||
            (size & (size - 1)) != 0 || k == 0 || k > MAX_RUNS || (*end != '\n' && *end != '\0'))
            die("replay line %ld: expected SIZE (a power of two from 4096 to 1073741824) and 1"
                " to %d times in ns, each a positive integer",
                lineno, MAX_RUNS);
        stats_compute(samples, k, &st);
        r[n] = (struct result){(size_t)size, st.p50};
        print_size(&r[n++], total);
    }
    free(line);
    if (n == 0)
        die("replay: no measurements on standard input");
    print_best(r, n, total);
    return 0;
}
int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"total", required_argument, NULL, 't'},
        {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},
        {"runs", required_argument, NULL, 'r'},
        {"replay", no_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t total = 16u << 20, min = 4096, max = 1u << 20, limit;
    const struct result *best;
    struct result r[20];
    bool from_stdin = false;
    size_t granted;
    double skewed;
    int c, runs = 5;
    size_t n = 0;
    long v;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:m:M:r:h", longopts, usage)) != -1) {
        if (c == 't')
            total = cli_size(optarg, 4096, 16ull << 30, "--total", usage);
        else if (c == 'm')
            min = cli_size(optarg, 4096, 1u << 30, "--min", usage);
        else if (c == 'M')
            max = cli_size(optarg, 4096, 1u << 30, "--max", usage);
        else if (c == 'r')
            runs = (int)cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
        else if (c == 'R')
            from_stdin = true;
    }
    cli_no_operands(argc, argv, usage);
    if (from_stdin)
        return replay(total);
    if (min > max)
        die_usage(usage, "--min (%s) is larger than --max (%s)", fmt_bytes(min).s,
                  fmt_bytes(max).s);
    /* Root may go past pipe-max-size (CAP_SYS_RESOURCE); the sweep never does. */
    limit = sysctl_long("fs/pipe-max-size", &v) == 0 && v > 0 ? (uint64_t)v : UINT64_MAX;
    if (min > limit)
        die_usage(usage, "--min (%s) is above /proc/sys/fs/pipe-max-size (%s)", fmt_bytes(min).s,
                  fmt_bytes(limit).s);
    if (max > limit) {
        printf("[sweep] --max %s is above /proc/sys/fs/pipe-max-size (%s): stopping there\n",
               fmt_bytes(max).s, fmt_bytes(limit).s);
        max = limit;
    }
    pin_to_this_cpu();
    printf("[sweep] %s through a pipe at each size from %s to %s, in chunks of the size granted,"
           " page-aligned buffers, one warm-up then the median of %d run(s)\n",
           fmt_bytes(total).s, fmt_bytes(min).s, fmt_bytes(max).s, runs);
    for (uint64_t size = min; size <= max; size *= 2, n++) {
        r[n].ns = median_at(size, total, runs, 0, &r[n].size);
        print_size(&r[n], total);
    }
    best = print_best(r, n, total);
    print_limit(total, best->size);
    skewed = median_at(best->size, total, runs, MISALIGN, &granted);
    printf("[sweep] alignment: the %s pipe again, the reader's buffer %d bytes past a page (where"
           " malloc() puts large blocks): %s\n",
           fmt_bytes(granted).s, MISALIGN, fmt_rate(total, (uint64_t)skewed).s);
    return 0;
}
