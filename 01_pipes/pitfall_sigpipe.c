/* pitfall_sigpipe.c - a writer killed by SIGPIPE because the reader went away
 *
 * Writing to a pipe whose read ends are all closed does not just fail: the kernel first
 * sends the writer SIGPIPE, whose default action kills it silently, with no error message,
 * no flushed buffers and no cleanup.  Here the reader takes the first line ("head -1") and
 * closes its end.  --fixed: the writer ignores SIGPIPE, so write() fails with EPIPE instead
 * and it stops cleanly (sockets can use send(..., MSG_NOSIGNAL) for the same per call).
 * Guide part: pitfall (SIGPIPE and EPIPE when the reader is gone).
 * Run: ./pitfall_sigpipe [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LINES 200 /* a bound: the reader is gone long before this */

static const char usage[] = "[--fixed]";

static noreturn void run_writer(int write_fd, bool fixed)
{
    char line[64];

    if (fixed) {
        /* THE FIX: turn the signal into an error code we can handle.  SIG_IGN survives
         * exec(), so restore SIG_DFL before running another program from here. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
            die_errno("signal");
        printf("[writer] SIGPIPE ignored: a write to a closed pipe returns EPIPE instead\n");
    } else if (signal(SIGPIPE, SIG_DFL) == SIG_ERR) {
        /* The broken writer trusts the default, but SIG_IGN is inherited: started
         * from `trap '' PIPE` it would get EPIPE and show no symptom.  Reset it. */
        die_errno("signal");
    }
    for (int i = 1; i <= MAX_LINES; i++) {
        int len = snprintf(line, sizeof line, "line %d\n", i);

        if (write_full(write_fd, line, (size_t)len) == -1) {
            if (errno != EPIPE)
                die_errno("write to pipe");
            printf("[writer] write() failed with EPIPE: reader is gone, stopping cleanly\n");
            close(write_fd);
            exit(0);
        }
        printf("[writer] wrote line %d\n", i);
        sleep_ms(10);
    }
    printf("[writer] wrote %d lines and never lost the reader\n", MAX_LINES);
    exit(0);
}

/* Like `head -1`: take one line, then close the read end and stop listening. */
static void run_reader(int read_fd)
{
    char buf[64], *nl;
    ssize_t n = read(read_fd, buf, sizeof buf);

    if (n == -1)
        die_errno("read from pipe");
    nl = memchr(buf, '\n', (size_t)n); /* read() does not NUL-terminate */
    printf("[parent] read %zd bytes: \"%.*s\"\n", n, (int)(nl != NULL ? nl - buf : n), buf);
    close(read_fd);
    printf("[parent] closed the read end: no reader is left\n");
}

int main(int argc, char *argv[])
{
    bool fixed;
    int fds[2], status;
    pid_t writer;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(fds) == -1)
        die_errno("pipe");
    writer = fork_or_die();
    if (writer == 0) {
        close(fds[0]); /* a reader copy here would keep the pipe "alive": no SIGPIPE */
        run_writer(fds[1], fixed);
    }
    close(fds[1]);
    run_reader(fds[0]);

    /* SIGPIPE leaves no message behind: the wait status is the only trace of it. */
    if (waitpid(writer, &status, 0) == -1)
        die_errno("waitpid");
    if (WIFSIGNALED(status)) {
        printf("[parent] writer %s, before it could report anything\n", fmt_wait_status(status).s);
        if (fixed || WTERMSIG(status) != SIGPIPE)
            die("the writer should not have been killed");
        return 0;
    }
    printf("[parent] writer ended with %s\n", fmt_wait_status(status).s);
    if (!fixed)
        die("the writer was expected to die of SIGPIPE");
    return WEXITSTATUS(status) == 0 ? 0 : 1;
}
