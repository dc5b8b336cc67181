/* solution_pipe_wc.c - wc through two pipes: text goes down one, the counts come back up
 *
 * The parent sends a file (or stdin, or a built-in sample) to a child through pipe 1; the
 * child counts lines, words and bytes like wc and answers through pipe 2 with one binary
 * struct of three uint64_t.  The child can only answer after EOF on pipe 1, so it must close
 * its copy of pipe 1's write end; and the parent must close its copy too before it waits
 * for the answer, or both sides wait for each other forever.
 * Guide part: exercise 1 (beginner: two pipes, one request, one reply).
 * Run: ./solution_pipe_wc [FILE|-]      (no operand: the built-in sample text)
 *      printf 'hello world\nsecond line\n' | ./solution_pipe_wc -
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "io.h"
#include "proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[FILE|-]    (- reads standard input; no operand: a built-in sample)";

static const char sample[] = "A pipe is a one-way byte stream.\n"
                             "Its reader sees EOF only when\n"
                             "every write end is closed.\n";

/* The reply on pipe 2, in host order. */
struct counts {
    uint64_t lines, words, bytes;
};

/* Word state carries over from one read() to the next: a word may span two chunks. */
static void count_chunk(struct counts *c, const char *buf, size_t n, bool *in_word)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\n')
            c->lines++;
        if (isspace(ch))
            *in_word = false;
        else if (!*in_word) {
            *in_word = true;
            c->words++;
        }
    }
    c->bytes += n;
}

static noreturn void run_child(int text_fd, int reply_fd)
{
    struct counts c = {0, 0, 0};
    bool in_word = false;
    char buf[4096];
    ssize_t n;

    while ((n = read(text_fd, buf, sizeof buf)) > 0)
        count_chunk(&c, buf, (size_t)n, &in_word);
    if (n == -1)
        die_errno("read from pipe 1");
    printf("[child] EOF on pipe 1 after %llu bytes; replying on pipe 2\n",
           (unsigned long long)c.bytes);
    if (write_full(reply_fd, &c, sizeof c) == -1)
        die_errno("write to pipe 2");
    close(text_fd);
    close(reply_fd); /* the parent's read_full() sees the whole reply, then EOF */
    exit(0);
}

/* Copy the input into pipe 1; returns the number of bytes sent, or -1 when the input
 * cannot be read (a directory, an I/O error): the caller still reaps the child then. */
static int64_t send_text(int in_fd, int text_fd)
{
    char buf[65536];
    int64_t sent = 0;
    ssize_t n;

    if (in_fd == -1) { /* the built-in sample */
        if (write_str(text_fd, sample) == -1)
            die_errno("write to pipe 1");
        return sizeof sample - 1;
    }
    while ((n = read(in_fd, buf, sizeof buf)) > 0) {
        if (write_full(text_fd, buf, (size_t)n) == -1)
            die_errno("write to pipe 1");
        sent += n;
    }
    return n == -1 ? -1 : sent;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *name = "the built-in sample";
    int in_fd = -1, down[2], up[2];
    struct counts c;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        ;
    if (argc - optind > 1)
        die_usage(usage, "at most one FILE, got %d operands", argc - optind);
    if (argc - optind == 1) {
        name = argv[optind];
        in_fd = strcmp(name, "-") == 0 ? STDIN_FILENO : open(name, O_RDONLY);
        if (in_fd == -1)
            die_errno("open %s", name);
        if (in_fd == STDIN_FILENO)
            name = "standard input";
    }

    if (pipe(down) == -1 || pipe(up) == -1)
        die_errno("pipe");
    child = fork_or_die();
    if (child == 0) {
        close(down[1]); /* else the child is a writer of pipe 1 and never sees EOF */
        close(up[0]);
        if (in_fd > STDIN_FILENO)
            close(in_fd);
        run_child(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);

    printf("[parent] sending %s to the child through pipe 1\n", name);
    int64_t sent = send_text(in_fd, down[1]);
    int read_errno = errno;
    close(down[1]); /* EOF for the child: now it can answer */
    if (in_fd > STDIN_FILENO)
        close(in_fd);
    if (sent == -1) { /* reap the child before dying: no orphan left behind */
        reap_child(child, "parent");
        close(up[0]);
        die_errnum(read_errno, "read %s", name);
    }
    printf("[parent] sent %lld bytes, closed pipe 1; waiting for the counts on pipe 2\n",
           (long long)sent);
    ssize_t got = read_full(up[0], &c, sizeof c);
    if (got == -1)
        die_errno("read from pipe 2");
    if (got != (ssize_t)sizeof c)
        die("pipe 2: the child sent no complete reply");
    close(up[0]);
    if (reap_child(child, "parent") != 0)
        die("the child failed");
    printf("lines=%llu words=%llu bytes=%llu\n", (unsigned long long)c.lines,
           (unsigned long long)c.words, (unsigned long long)c.bytes);
    return 0;
}
