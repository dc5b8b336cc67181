/* basic_pipe_fork.c - a pipe from parent to child, and when the child sees EOF
 *
 * pipe() returns two descriptors: fds[0] to read, fds[1] to write.  After
 * fork() both processes hold both ends.  The parent writes a few lines and
 * the child reads until read() returns 0 (EOF), which happens only once
 * *every* write end is closed: the parent's after it finishes, and the
 * child's own copy, which it closes first thing.  The parent then reaps the
 * child with waitpid() so no zombie is left.  Each parent line is printed
 * before its write(): the child may print what it read before write() has
 * even returned in the parent.
 *
 * Guide part: theory (pipes: creation, inheritance, EOF rule).
 * Trace: pipe* clone close write read wait4
 * Run: ./basic_pipe_fork [--lines N]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[--lines N]    (N from 1 to 1000, default 3)";

/* A read() returns whatever the pipe holds: usually one line here, but two
 * writes that arrive before the child runs come back as one read. */
static void print_chunk(const char *buf, ssize_t n)
{
    printf("[child] read %zd bytes:", n);
    for (ssize_t i = 0; i < n;) {
        const char *newline = memchr(buf + i, '\n', (size_t)(n - i));
        int len = newline != NULL ? (int)(newline - (buf + i)) : (int)(n - i);

        printf(" \"%.*s\"", len, buf + i);
        i += len + 1;
    }
    putchar('\n');
}

static void run_child(int read_fd)
{
    char buf[256];
    size_t total = 0;
    ssize_t n;

    while ((n = read(read_fd, buf, sizeof buf)) > 0) {
        print_chunk(buf, n);
        total += (size_t)n;
    }
    if (n == -1)
        die_errno("read from pipe");
    printf("[child] read() returned 0: EOF after %zu bytes, every write end is closed\n", total);
    close(read_fd);
}

static void run_parent(int write_fd, long lines)
{
    char line[64];

    for (long i = 1; i <= lines; i++) {
        int len = snprintf(line, sizeof line, "line %ld of %ld\n", i, lines);

        /* Announced first: once the bytes are in the pipe, the child may
         * read and report them before write() returns here. */
        printf("[parent] writing %d bytes: line %ld\n", len, i);
        if (write_full(write_fd, line, (size_t)len) == -1)
            die_errno("write to pipe");
        /* Pausing lets the child print each line as it arrives, so the
         * narration shows one read per write instead of one merged read. */
        sleep_ms(20);
    }
    printf("[parent] closing the write end: the child's next read() returns EOF\n");
    close(write_fd);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"lines", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long lines = 3;
    int fds[2], c;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        if (c == 'n')
            lines = cli_long(optarg, 1, 1000, "--lines", usage);
    cli_no_operands(argc, argv, usage);

    if (pipe(fds) == -1)
        die_errno("pipe");
    printf("[parent] pipe created: read end fd %d, write end fd %d\n", fds[0], fds[1]);
    child = fork_or_die(); /* flushes stdout first: no line is printed twice */
    if (child == 0) {
        /* The child never writes; with its write end open it would wait
         * for EOF forever, since it would be a writer itself. */
        close(fds[1]);
        run_child(fds[0]);
        exit(0);
    }
    close(fds[0]);
    run_parent(fds[1], lines);
    reap_child(child, "parent");
    return 0;
}
