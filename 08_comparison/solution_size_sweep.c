/* solution_size_sweep.c - pipe round trips across message sizes, with their percentiles
 *
 * Exercise 1 (performance): for each size S of --sizes, a parent and a forked child exchange
 * S-byte messages over two pipes, each message one write() of S bytes, the reply the request
 * echoed back with one write() of S bytes.  N/10 untimed warm-up round trips, then N timed
 * one by one on CLOCK_MONOTONIC; every reply is compared with its request.  Nearest-rank
 * p50, p90, p99 and the max, in nanoseconds.  --corrupt R makes the child spoil its R-th reply
 * to show the check works; --replay takes the samples from stdin, so the arithmetic is exact.
 * Guide part: exercise 1 (performance).
 * Run: ./solution_size_sweep [--sizes 64,4K,64K,1M] [--rounds N] [--corrupt R]
 *      printf '64 5 1 4 2 3\n' | ./solution_size_sweep --replay
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SIZES 16
#define MAX_SIZE (1024 * 1024)
#define MAX_SAMPLES 100000

static const char usage[] = "[--sizes LIST] [--rounds N] [--corrupt R] [--replay]\n"
                            "    (LIST: comma-separated sizes, 1 to 1M, default 64,4K,64K,1M; "
                            "N: 10 to 100000, default 100)";

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
static uint64_t nearest_rank(const uint64_t *sorted, size_t n, unsigned p)
{
    size_t rank = (n * p + 99) / 100; /* ceil(n * p / 100), at least 1 for n >= 1 */

    return sorted[(rank == 0 ? 1 : rank) - 1];
}

static void print_line(unsigned long size, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof *ns, compare_u64);
    printf("[sweep] %lu bytes: n=%zu p50=%llu p90=%llu p99=%llu max=%llu ns\n", size, n,
           (unsigned long long)nearest_rank(ns, n, 50), (unsigned long long)nearest_rank(ns, n, 90),
           (unsigned long long)nearest_rank(ns, n, 99), (unsigned long long)ns[n - 1]);
}

/* Digits only (no sign, no blank), as a 64-bit number: the end of the digits, or NULL when
 * there are none or they overflow.  strtoull() would skip blanks and take a sign. */
static const char *digits(const char *p, uint64_t *value)
{
    const char *start = p;

    for (*value = 0; *p >= '0' && *p <= '9'; p++) {
        if (*value > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return NULL;
        *value = *value * 10 + (uint64_t)(*p - '0');
    }
    return p == start ? NULL : p;
}

/* --replay: lines "S T1 T2 ...", each a size and its round-trip times in nanoseconds, one
 * space or tab between two numbers. */
static int replay(void)
{
    static uint64_t ns[MAX_SAMPLES];
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;

    while ((len = getline(&line, &cap, stdin)) != -1) {
        const char *p, *end = line + len;
        uint64_t size;
        size_t n = 0;

        lineno++;
        if (end > line && end[-1] == '\n')
            end--;
        p = digits(line, &size);
        if (p == NULL || size < 1 || size > MAX_SIZE)
            die("replay line %ld: a size from 1 to %d comes first", lineno, MAX_SIZE);
        while (p != NULL && p < end && (*p == ' ' || *p == '\t') && n < MAX_SAMPLES)
            p = digits(p + 1, &ns[n++]);
        if (n == 0 || p != end) /* no time, a bad one, more than the most, or a NUL byte */
            die("replay line %ld: expected a size and 1 to %d times in ns (digits)", lineno,
                MAX_SAMPLES);
        print_line((unsigned long)size, ns, n);
    }
    free(line);
    if (ferror(stdin))
        die_errno("read stdin");
    return 0;
}

/* The child: for each size, echo every request back, spoiling round trip `corrupt`. */
static noreturn void run_echo(int in, int out, const unsigned long *sizes, int nsizes, long total,
                              long corrupt, unsigned char *buf)
{
    for (int s = 0; s < nsizes; s++)
        for (long r = 1; r <= total; r++) {
            ssize_t got = read_full(in, buf, sizes[s]);

            if (got == 0) { /* the parent stopped early (a reply it refused): quietly */
                close(in);
                close(out);
                free(buf);
                exit(0);
            }
            if (got != (ssize_t)sizes[s])
                die_errno("child: read a request");
            if (r == corrupt)
                buf[sizes[s] - 1] ^= 0xff;
            if (write(out, buf, sizes[s]) != (ssize_t)sizes[s]) /* one write() per message */
                die_errno("child: write the reply");
        }
    close(in);
    close(out);
    free(buf);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"sizes", required_argument, NULL, 's'},   {"rounds", required_argument, NULL, 'n'},
        {"corrupt", required_argument, NULL, 'c'}, {"replay", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    unsigned long sizes[MAX_SIZES] = {64, 4096, 65536, MAX_SIZE};
    int nsizes = 4, opt, request[2], reply[2];
    long rounds = 100, corrupt = 0, warmup;
    bool from_stdin = false;
    unsigned char *out, *in;
    uint64_t *ns;
    pid_t child;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'n')
            rounds = cli_long(optarg, 10, MAX_SAMPLES, "--rounds", usage);
        else if (opt == 'c')
            corrupt = cli_long(optarg, 1, MAX_SAMPLES + MAX_SAMPLES / 10, "--corrupt", usage);
        else if (opt == 'r')
            from_stdin = true;
        else {
            char *list = optarg, *item;

            for (nsizes = 0; (item = strsep(&list, ",")) != NULL; nsizes++) {
                const char *suffix = item + strspn(item, "0123456789");

                if (nsizes == MAX_SIZES)
                    die_usage(usage, "--sizes: at most %d sizes", MAX_SIZES);
                /* digits and an optional K or M, as the exercise says: cli_size() alone
                 * would also take "4k", "4KB" and "4KiB" */
                if (*suffix != '\0' && strcmp(suffix, "K") != 0 && strcmp(suffix, "M") != 0)
                    die_usage(usage, "--sizes: '%s' is not digits with an optional K or M", item);
                sizes[nsizes] = (unsigned long)cli_size(item, 1, MAX_SIZE, "--sizes", usage);
            }
        }
    }
    cli_no_operands(argc, argv, usage);
    if (from_stdin)
        return replay();

    warmup = rounds / 10;
    out = aligned_alloc(4096, MAX_SIZE); /* page-aligned: see 01_pipes/pitfall_unaligned_buffer */
    in = aligned_alloc(4096, MAX_SIZE);
    ns = malloc((size_t)rounds * sizeof *ns);
    if (out == NULL || in == NULL || ns == NULL)
        die_errno("malloc");
    if (pipe(request) == -1 || pipe(reply) == -1)
        die_errno("pipe");
    child = fork_or_die();
    if (child == 0) {
        close(request[1]);
        close(reply[0]);
        free(out);
        free(ns);
        run_echo(request[0], reply[1], sizes, nsizes, warmup + rounds, corrupt, in);
    }
    close(request[0]);
    close(reply[1]);
    for (int s = 0; s < nsizes; s++) {
        size_t size = sizes[s];

        for (long r = 1; r <= warmup + rounds; r++) {
            uint64_t start;
            ssize_t got;

            for (size_t i = 0; i < size; i++)
                out[i] = (unsigned char)(i * 7 + (size_t)r); /* differs every round trip */
            start = now_ns();
            if (write(request[1], out, size) != (ssize_t)size)
                die_errno("write a request");
            if ((got = read_full(reply[0], in, size)) == -1)
                die_errno("read a reply");
            if (got != (ssize_t)size)
                die("%zu bytes: round trip %ld: the child ended before its reply", size, r);
            if (r > warmup)
                ns[r - warmup - 1] = elapsed_ns(start);
            for (size_t i = 0; i < size; i++)
                if (in[i] != out[i]) {
                    close(request[1]); /* the child's EOF: it ends before we report */
                    close(reply[0]);
                    reap_quietly(child);
                    die("%zu bytes: round trip %ld: reply differs at byte %zu", size, r, i);
                }
        }
        print_line(size, ns, (size_t)rounds);
    }
    close(request[1]);
    close(reply[0]);
    if (reap_quietly(child) != 0)
        die("the child failed");
    printf("[sweep] all replies verified\n");
    free(out);
    free(in);
    free(ns);
    return 0;
}
