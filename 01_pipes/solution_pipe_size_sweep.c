/* solution_pipe_size_sweep.c - pipe throughput at each F_SETPIPE_SZ size, and the best one
 *
 * Exercise (performance): for pipe sizes doubling from --min to --max, a
 * child writes --total bytes in chunks of the pipe's size and the parent
 * reads them; the throughput at each size (the median of --runs runs) is
 * printed, then the best size is named.  A bigger ring means fewer wake-ups
 * and context switches per byte, until the buffers stop fitting in the cache.
 *
 * Guide part: exercise 5 (performance).
 * Run: ./solution_pipe_size_sweep [--total SIZE] [--min SIZE] [--max SIZE] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--total SIZE] [--min SIZE] [--max SIZE] [--runs N]\n"
                            "    (defaults 64M, 4K, 1M, 1 run; sizes double from min to max)";

#define MAX_RUNS 15

static uint64_t pipe_max_size(void)
{
    long v;

    if (sysctl_long("fs/pipe-max-size", &v) == -1 || v <= 0)
        return UINT64_MAX; /* no /proc: let F_SETPIPE_SZ be the judge */
    return (uint64_t)v;
}

static void run_writer(int fd, const char *buf, size_t chunk, uint64_t total)
{
    while (total > 0) {
        size_t len = total < chunk ? (size_t)total : chunk;

        if (write_full(fd, buf, len) == -1)
            die_errno("write to pipe");
        total -= len;
    }
}

/* One transfer of `total` bytes; returns the nanoseconds it took. */
static double transfer(char *buf, size_t chunk, int fds[2], uint64_t total)
{
    uint64_t start = now_ns(), got = 0;
    ssize_t n;
    pid_t child;
    int status;

    child = fork_or_die();
    if (child == 0) {
        close(fds[0]);
        run_writer(fds[1], buf, chunk, total);
        close(fds[1]);
        exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], buf, chunk)) != 0) {
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

/* Median of `runs` transfers through pipes of `size`; stores the size granted. */
static double median_at(uint64_t size, uint64_t total, int runs, size_t *granted)
{
    double samples[MAX_RUNS];
    struct stats st;
    char *buf = NULL;

    for (int i = 0; i < runs; i++) {
        int fds[2], got;

        if (pipe(fds) == -1)
            die_errno("pipe");
        /* The kernel rounds up to a power-of-two number of pages. */
        got = fcntl(fds[1], F_SETPIPE_SZ, (int)size);
        if (got == -1)
            die_errno("fcntl F_SETPIPE_SZ(%ju)%s", (uintmax_t)size,
                      errno == EPERM ? " (over pipe-max-size or pipe-user-pages-soft?)" : "");
        *granted = (size_t)got;
        if (buf == NULL && (buf = malloc(*granted)) == NULL)
            die_errno("malloc");
        memset(buf, 's', *granted); /* touch the pages before the clock starts */
        samples[i] = transfer(buf, *granted, fds, total);
    }
    free(buf);
    stats_compute(samples, (size_t)runs, &st);
    return st.p50;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"total", required_argument, NULL, 't'}, {"min", required_argument, NULL, 'm'},
        {"max", required_argument, NULL, 'M'},   {"runs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    uint64_t total = 64u << 20, min = 4096, max = 1u << 20, limit;
    uint64_t best_size = 0, best_ns = 0;
    int c, runs = 1;

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
    }
    cli_no_operands(argc, argv, usage);
    limit = pipe_max_size(); /* opens a file: only once the command line is parsed */
    if (min > max)
        die_usage(usage, "--min (%s) is larger than --max (%s)", fmt_bytes(min).s,
                  fmt_bytes(max).s);
    if (max > limit) {
        printf("[sweep] --max %s is above /proc/sys/fs/pipe-max-size (%s): stopping there\n",
               fmt_bytes(max).s, fmt_bytes(limit).s);
        max = limit;
        if (min > max)
            die_usage(usage, "--min (%s) is above /proc/sys/fs/pipe-max-size", fmt_bytes(min).s);
    }
    printf("[sweep] %s through a pipe at each size from %s to %s, in chunks of the pipe size,"
           " median of %d run(s)\n",
           fmt_bytes(total).s, fmt_bytes(min).s, fmt_bytes(max).s, runs);

    for (uint64_t size = min; size <= max; size *= 2) {
        size_t granted = 0;
        double ns = median_at(size, total, runs, &granted);

        printf("[sweep] pipe %s: %s\n", fmt_bytes(granted).s, fmt_rate(total, (uint64_t)ns).s);
        if (best_size == 0 || ns < (double)best_ns) {
            best_size = granted;
            best_ns = (uint64_t)ns;
        }
    }
    printf("[sweep] best: pipe %s at %s\n", fmt_bytes(best_size).s, fmt_rate(total, best_ns).s);
    return 0;
}
