/* solution_splice_tee.c - tee(1) without copying through user space: tee(2) + splice(2)
 *
 * Exercise (advanced): copy all of a piped standard input to standard output
 * and to FILE, moving the data only with tee(2) and splice(2).  Each round
 * tee() duplicates what stdin holds into a private pipe (page references, no
 * copy), splice() moves that duplicate to stdout, and a second splice()
 * consumes exactly the bytes tee() saw from stdin into FILE.  No read() or
 * write() brings the data into user space.  The kernel still copies where a
 * file is written: splice() into a file goes through iter_file_splice_write()
 * (fs/splice.c), which hands the pipe's pages to the file's write_iter, a copy
 * into the page cache.  Only pipe-to-pipe steps move references alone.
 *
 * Guide part: exercise 4 (advanced).
 * Run: producer | ./solution_splice_tee FILE | consumer
 *      ./solution_splice_tee              (self-contained demo)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[FILE]    (stdin must be a pipe; no FILE: a self-contained demo)";
#define DEMO_LINES 4000

/* Move exactly `len` bytes that are already waiting in the pipe `from`. */
static void splice_all(int from, int to, size_t len, const char *what)
{
    while (len > 0) {
        ssize_t n = splice(from, NULL, to, NULL, len, 0);

        if (n == -1 && errno == EAGAIN) { /* stdout was left O_NONBLOCK, and is full */
            struct pollfd p = {.fd = to, .events = POLLOUT};

            if (poll(&p, 1, -1) == -1 && errno != EINTR)
                die_errno("poll %s", what);
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("splice to %s", what);
        if (n == 0)
            die("splice to %s: the data tee() saw has vanished", what);
        len -= (size_t)n;
    }
}

/* Copy the pipe `in` to `out` and `file` until EOF; returns the rounds taken. */
static long tee_stream(int in, int out, int file, uint64_t *bytes)
{
    int spare[2];
    long rounds = 0;
    ssize_t n;

    if (pipe(spare) == -1)
        die_errno("pipe");
    /* As big as stdin's ring, so one tee() can duplicate all that it holds. */
    fcntl(spare[1], F_SETPIPE_SZ, fcntl(in, F_GETPIPE_SZ));
    *bytes = 0;
    for (;;) {
        n = tee(in, spare[1], INT_MAX, 0);
        if (n == -1 && errno == EAGAIN) { /* stdin was left O_NONBLOCK */
            struct pollfd p = {.fd = in, .events = POLLIN};

            if (poll(&p, 1, -1) == -1 && errno != EINTR)
                die_errno("poll standard input");
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("tee");
        if (n == 0)
            break; /* EOF: no writer left, pipe empty */
        splice_all(spare[0], out, (size_t)n, "standard output");
        splice_all(in, file, (size_t)n, "the file"); /* consumes what tee() saw */
        *bytes += (uint64_t)n;
        rounds++;
    }
    close(spare[0]);
    close(spare[1]);
    return rounds;
}

/* FILE of the filter gets 0666 & ~umask, as tee(1) gives it; the demo's own
 * temporary file is private: 0600, and O_EXCL. */
static int open_output(const char *path, int extra_flags, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | extra_flags, mode);

    if (fd == -1)
        die_errno("open %s", path);
    return fd;
}

static void run_filter(const char *path)
{
    uint64_t bytes;
    int file, flags;

    if (must_be_fifo(STDIN_FILENO, "standard input") == -1 && errno != ENOTSUP)
        die_errno("fstat standard input");
    if (errno == ENOTSUP)
        die("standard input must be a pipe");
    flags = fcntl(STDOUT_FILENO, F_GETFL);
    if (flags != -1 && (flags & O_APPEND)) /* splice(2) refuses it with EINVAL */
        die("standard output is open for appending (>>), which splice(2) cannot write to");
    file = open_output(path, 0, 0666);
    tee_stream(STDIN_FILENO, STDOUT_FILENO, file, &bytes);
    if (close(file) == -1)
        die_errno("close %s", path);
}

/* The demo's data: known text, so both copies can be compared with it. */
static size_t demo_text(char **text)
{
    size_t cap = DEMO_LINES * 64, len = 0;

    *text = malloc(cap);
    if (*text == NULL)
        die_errno("malloc");
    for (int i = 1; i <= DEMO_LINES; i++)
        len += (size_t)snprintf(*text + len, cap - len, "line %04d of %d: pipes all the way down\n",
                                i, DEMO_LINES);
    return len;
}

static int demo_fds[5]; /* both pipes and the file: a child keeps one */

static pid_t spawn(int (*body)(int, const char *, size_t), int keep, const char *text, size_t len)
{
    pid_t pid = fork_or_die();

    if (pid == 0) {
        /* A stray write end kept open here would hold off someone's EOF forever. */
        for (int i = 0; i < 5; i++)
            if (demo_fds[i] != keep)
                close(demo_fds[i]);
        exit(body(keep, text, len));
    }
    return pid;
}

static int producer(int fd, const char *text, size_t len)
{
    if (write_full(fd, text, len) == -1)
        die_errno("write to pipe");
    printf("[producer] wrote %zu bytes (%d lines) into the pipe that is the tee's stdin\n", len,
           DEMO_LINES);
    close(fd);
    return 0;
}

static int consumer(int fd, const char *text, size_t len)
{
    char *got = malloc(len + 1);
    ssize_t n;
    bool same;

    if (got == NULL)
        die_errno("malloc");
    n = read_full(fd, got, len + 1); /* one byte more: catch any excess */
    if (n == -1)
        die_errno("read from pipe");
    same = (size_t)n == len && memcmp(got, text, len) == 0;
    printf("[consumer] stdout copy: %zd bytes, %s\n", n,
           same ? "identical to what the producer sent" : "DIFFERENT");
    free(got);
    close(fd);
    return same ? 0 : 1;
}

static bool file_matches(const char *path, const char *text, size_t len)
{
    char *got = malloc(len + 1);
    int fd = open(path, O_RDONLY);
    ssize_t n;
    bool same;

    if (got == NULL || fd == -1)
        die_errno("read back %s", path);
    n = read_full(fd, got, len + 1);
    same = n >= 0 && (size_t)n == len && memcmp(got, text, len) == 0;
    close(fd);
    free(got);
    return same;
}

static void run_demo(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], *text;
    size_t len = demo_text(&text);
    int in[2], out[2], file, failed, same;
    pid_t prod, cons;
    uint64_t bytes;
    sigset_t saved;
    long rounds;

    make_temp_dir(dir, sizeof dir, "solution_splice_tee");
    snprintf(path, sizeof path, "%s/copy.%d", dir, (int)getpid());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    file = open_output(path, O_EXCL, 0600);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    if (pipe(in) == -1 || pipe(out) == -1)
        die_errno("pipe");
    memcpy(demo_fds, (int[5]){in[0], in[1], out[0], out[1], file}, sizeof demo_fds);
    printf("[tee] producer | tee_stream(FILE=%s) | consumer\n", path);
    prod = spawn(producer, in[1], text, len);
    cons = spawn(consumer, out[0], text, len);
    close(in[1]); /* only the producer writes: its exit is our EOF */
    close(out[0]);
    rounds = tee_stream(in[0], out[1], file, &bytes);
    close(out[1]); /* the consumer's EOF */
    close(in[0]);
    close(file);
    printf("[tee] EOF after %" PRIu64
           " bytes in %ld rounds of tee() + 2 splice(): no read() or write()"
           " touched the data\n",
           bytes, rounds);
    failed = reap_child(prod, "tee") != 0;
    failed |= reap_child(cons, "tee") != 0;
    same = file_matches(path, text, len);
    printf("[tee] file copy: %zu bytes, %s\n", len,
           same ? "identical to what the producer sent" : "DIFFERENT");
    free(text);
    if (failed || !same)
        die("the demo failed: a copy differs or a child failed");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        ;
    if (argc - optind > 1)
        die_usage(usage, "too many arguments: one FILE at most");
    if (argc - optind == 1)
        run_filter(argv[optind]);
    else
        run_demo();
    return 0;
}
