/* pitfall_no_eof.c - the reader never sees EOF because a write end is still open
 *
 * read() on a pipe returns 0 only when no write end is open anywhere.  After fork() the
 * child holds copies of both ends; if it forgets to close its own write end, it is a writer
 * itself, so its read() blocks forever after the parent is done (the same happens when the
 * parent keeps a stray copy).  The broken mode bounds that wait with poll() (300 ms), finds
 * the culprit descriptor through /proc/self/fd, and gives up; --fixed closes every unused end.
 * Guide part: pitfall (EOF rule: close the ends you do not use).
 * Run: ./pitfall_no_eof [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EOF_WAIT_MS 300
#define GAVE_UP 3 /* the child's exit status when EOF never came */

static const char usage[] = "[--fixed]";

/* Which of my descriptors are write ends of the same pipe as `read_fd`?  The same check
 * `ls -l /proc/PID/fd` lets you do by eye: "pipe:[inode]" twice, one of them open O_WRONLY. */
static void name_open_write_ends(int read_fd)
{
    struct stat pipe_st, st;
    char link[64], target[64];

    if (fstat(read_fd, &pipe_st) == -1)
        die_errno("fstat");
    for (int fd = 0; fd < 64; fd++) {
        if (fd == read_fd || fstat(fd, &st) == -1 || st.st_ino != pipe_st.st_ino ||
            (fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY)
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("[child] culprit: my own fd %d -> %s is a write end of this pipe\n", fd, target);
    }
}

/* Read until EOF, but never wait more than EOF_WAIT_MS for the next byte.
 * Returns the child's exit status: 0 after EOF, GAVE_UP after the wait. */
static int run_child(int read_fd)
{
    char buf[256];
    size_t total = 0;

    for (;;) {
        struct pollfd p = {.fd = read_fd, .events = POLLIN};
        int ready = poll(&p, 1, EOF_WAIT_MS);

        if (ready == -1 && errno == EINTR)
            continue;
        if (ready == -1)
            die_errno("poll");
        if (ready == 0) {
            printf("[child] no EOF after %d ms: a write end is still open\n", EOF_WAIT_MS);
            name_open_write_ends(read_fd);
            printf("[child] without the timeout this read() would block forever; giving up\n");
            return GAVE_UP;
        }
        ssize_t n = read(read_fd, buf, sizeof buf);
        if (n == -1)
            die_errno("read from pipe");
        if (n == 0)
            break;
        total += (size_t)n;
        printf("[child] read %zd bytes\n", n);
    }
    printf("[child] read() returned 0: EOF after %zu bytes, every write end is closed\n", total);
    return 0;
}

static void run_parent(int write_fd)
{
    static const char *const lines[] = {"alpha\n", "beta\n", "gamma\n"};

    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (write_str(write_fd, lines[i]) == -1)
            die_errno("write to pipe");
        sleep_ms(10);
    }
    printf("[parent] wrote 3 lines and closed my write end: the child should see EOF now\n");
    close(write_fd);
}

int main(int argc, char *argv[])
{
    bool fixed, gave_up;
    int fds[2], status;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(fds) == -1)
        die_errno("pipe");
    printf("[parent] pipe: read end fd %d, write end fd %d (%s)\n", fds[0], fds[1],
           fixed ? "fixed: the child closes its copy of the write end"
                 : "broken: the child keeps its copy of the write end");
    child = fork_or_die();
    if (child == 0) {
        /* THE FIX: the child only reads, so its write end must go.  Forgetting this line
         * (or the parent keeping a dup()) is the whole bug. */
        if (fixed)
            close(fds[1]);
        int result = run_child(fds[0]);

        close(fds[0]);
        if (!fixed)
            close(fds[1]); /* the forgotten copy, closed only now that it has done harm */
        exit(result);
    }
    close(fds[0]);
    run_parent(fds[1]);

    status = reap_child(child, "parent");
    gave_up = WIFEXITED(status) && WEXITSTATUS(status) == GAVE_UP;
    if (gave_up)
        printf("[parent] the child gave up waiting for EOF\n");
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        printf("[parent] the child saw EOF and exited normally\n");
    else
        die("the child failed");
    if (gave_up == fixed)
        die(fixed ? "the fixed mode still saw no EOF" : "the broken mode unexpectedly saw EOF");
    return 0;
}
