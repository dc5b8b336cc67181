/* advanced_container_stdio.c - a container's stdin, stdout and stderr as three named FIFOs
 *
 * Real-world pattern: containerd's container I/O (pkg/cio, containerd/fifo, and the runc
 * shim's process/io.go).  containerd makes a private directory with ID-stdin, ID-stdout and
 * ID-stderr FIFOs and opens its ends; the shim, a separate process that outlives containerd
 * restarts, opens the other ends and copies between them and the container's own pipes.  FIFOs,
 * not pipes, because unrelated processes must find them by name, again after a restart.  The
 * shim opens each output FIFO for writing *and* for reading, a reader it never reads: with it,
 * output written while nobody is attached waits in the FIFO instead of failing with EPIPE.
 * Left out: ttrpc, runc and namespaces, terminals, log drivers, the O_PATH handle reopen.
 * Guide part: real-world (containerd/Docker stdio FIFOs, the shim's keep-alive reader).
 * Run: ./advanced_container_stdio [--no-keepalive]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--no-keepalive]    (the shim without its never-read readers)";

/* The container's program: a greeting from stdin, a warning, then output on its own pace. */
static const char script[] = "read -r name; echo \"hello, $name\"; echo 'a warning' >&2; "
                             "for i in 1 2 3 4 5 6; do echo \"tick $i\"; sleep 0.05; done";

enum { IN, OUT, ERR };
static const char *const stream[] = {"stdin", "stdout", "stderr"};

static int open_checked(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);

    if (fd == -1)
        die_errno("open %s", path);
    if (must_be_fifo(fd, path) == -1) {
        close(fd);
        die("%s is not a FIFO", path);
    }
    return fd;
}

/* The shim: opens the other ends, starts the container on pipes, copies until it is done. */
static noreturn void run_shim(char fifo[3][PATH_MAX], bool keepalive)
{
    int ffd[3], keep[3] = {-1, -1, -1}, pfd[3][2];
    struct pollfd p[3];
    char buf[32 * 1024]; /* containerd's copy buffers are 32 KiB too */
    size_t lost = 0;

    signal(SIGPIPE, SIG_IGN); /* a detached client is EPIPE, not our death */
    ffd[IN] = open_checked(fifo[IN], O_RDONLY | O_NONBLOCK);
    for (int s = OUT; s <= ERR; s++) {
        ffd[s] = open_checked(fifo[s], O_WRONLY); /* containerd reads it already: no wait */
        if (keepalive)
            keep[s] = open_checked(fifo[s], O_RDONLY); /* never read: keeps a reader there */
    }
    printf("[shim] opened the FIFOs' other ends%s\n",
           keepalive ? ", and a reader of my own on stdout and stderr that I never read" : "");
    for (int s = IN; s <= ERR; s++)
        if (pipe2(pfd[s], O_CLOEXEC) == -1)
            die_errno("pipe2");
    pid_t box = fork_or_die();
    if (box == 0) {
        for (int s = IN; s <= ERR; s++)
            if (dup2(pfd[s][s == IN ? 0 : 1], s) == -1) /* clears O_CLOEXEC on 0, 1, 2 only */
                die_errno("dup2");
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        die_errno("exec /bin/sh");
    }
    printf("[shim] started the container's process, pid %d, on three pipes of mine\n", (int)box);
    close(pfd[IN][0]);
    close(pfd[OUT][1]);
    close(pfd[ERR][1]);
    p[IN] = (struct pollfd){.fd = ffd[IN], .events = POLLIN};
    p[OUT] = (struct pollfd){.fd = pfd[OUT][0], .events = POLLIN};
    p[ERR] = (struct pollfd){.fd = pfd[ERR][0], .events = POLLIN};
    while (p[OUT].fd != -1 || p[ERR].fd != -1) {
        if (poll(p, 3, -1) == -1 && errno != EINTR)
            die_errno("poll");
        for (int s = IN; s <= ERR; s++) {
            if (p[s].fd == -1 || p[s].revents == 0)
                continue;
            ssize_t n = read(p[s].fd, buf, sizeof buf);
            if (n == -1 && errno == EAGAIN)
                continue;
            if (n == -1)
                die_errno("read %s", s == IN ? "the stdin FIFO" : "the container's output");
            if (n == 0) { /* EOF: pass it on by closing the other side */
                close(p[s].fd);
                close(s == IN ? pfd[IN][1] : ffd[s]);
                p[s].fd = -1;
            } else if (s == IN) {
                if (write_full(pfd[IN][1], buf, (size_t)n) == -1)
                    die_errno("write to the container's stdin");
            } else if (write_full(ffd[s], buf, (size_t)n) == -1) {
                if (errno != EPIPE)
                    die_errno("write to the %s FIFO", stream[s]);
                lost += (size_t)n;
                printf("[shim] write to the %s FIFO failed with EPIPE: nobody reads it; %zd "
                       "bytes of the container's output lost\n",
                       stream[s], n);
            }
        }
    }
    if (p[IN].fd != -1) {
        close(p[IN].fd);
        close(pfd[IN][1]);
    }
    for (int s = OUT; s <= ERR; s++)
        if (keep[s] != -1)
            close(keep[s]);
    int status = reap_child(box, "shim");
    printf("[shim] the container is done, its output passed on with %zu bytes lost; exiting\n",
           lost);
    exit(status == 0 ? 0 : 1);
}

/* What containerd's reader prints of one FIFO: every line, with the stream's name. */
static size_t show(int fd, const char *name, bool *eof)
{
    char buf[4096];
    size_t total = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf - 1)) > 0) {
        buf[n] = '\0';
        for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
            printf("[containerd] %s: %s\n", name, line);
        total += (size_t)n;
    }
    if (n == -1 && errno != EAGAIN)
        die_errno("read %s", name);
    *eof = n == 0;
    return total;
}

/* Reads stdout and stderr for `ms` milliseconds, or (ms < 0) until both reach EOF or the
 * shim exits: a FIFO re-opened after its last writer left reports no POLLHUP, so the shim's
 * exit (containerd hears of it as a task-exit event) is what ends the reading for sure. */
static void attach(int fd[3], int ms, pid_t shim, int *shim_status)
{
    uint64_t start = now_ns();
    bool eof[3] = {false, false, false};

    while (!(eof[OUT] && eof[ERR]) && (ms < 0 || elapsed_ns(start) < (uint64_t)ms * 1000000)) {
        struct pollfd p[2] = {{.fd = eof[OUT] ? -1 : fd[OUT], .events = POLLIN},
                              {.fd = eof[ERR] ? -1 : fd[ERR], .events = POLLIN}};
        if (poll(p, 2, 10) == -1 && errno != EINTR)
            die_errno("poll");
        bool exited = ms < 0 && waitpid(shim, shim_status, WNOHANG) == shim;
        for (int s = OUT; s <= ERR; s++)
            if (p[s - OUT].revents != 0 || (exited && !eof[s]))
                show(fd[s], stream[s], &eof[s]);
        if (exited)
            return;
    }
    if (ms < 0 && waitpid(shim, shim_status, 0) == -1)
        die_errno("waitpid");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"no-keepalive", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char dir[PATH_MAX - 32], fifo[3][PATH_MAX];
    bool keepalive = true;
    int c, fd[3], waiting = 0, status;
    pid_t shim;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'k')
            keepalive = false;
    cli_no_operands(argc, argv, usage);

    /* As containerd's NewFIFOSetInDir(): a fresh private directory, one FIFO per stream. */
    make_temp_dir(dir, sizeof dir, "advanced_container_stdio");
    for (int s = IN; s <= ERR; s++) {
        snprintf(fifo[s], sizeof fifo[s], "%s/ctr-%s", dir, stream[s]);
        mkfifo_registered(fifo[s]);
    }
    printf("[containerd] FIFOs for container ctr: %s/ctr-{stdin,stdout,stderr}\n", dir);
    fd[OUT] = open_checked(fifo[OUT], O_RDONLY | O_NONBLOCK);
    fd[ERR] = open_checked(fifo[ERR], O_RDONLY | O_NONBLOCK);
    printf("[containerd] opened stdout and stderr to read, without waiting for a writer: until "
           "one comes, poll() reports nothing (no POLLHUP on a FIFO that never had a writer)\n");

    if ((shim = fork_or_die()) == 0) {
        close(fd[OUT]); /* ours: a shim holding them would keep a reader there by accident */
        close(fd[ERR]);
        run_shim(fifo, keepalive);
    }
    fd[IN] = open_checked(fifo[IN], O_WRONLY); /* waits for the shim's reader */
    printf("[containerd] writing \"world\" to the container's stdin, then closing it\n");
    if (write_str(fd[IN], "world\n") == -1)
        die_errno("write to the stdin FIFO");
    close(fd[IN]);
    attach(fd, 120, shim, NULL);

    printf("[containerd] detaching: both read ends closed, as when the client goes away or "
           "containerd restarts\n");
    close(fd[OUT]);
    close(fd[ERR]);
    sleep_ms(150); /* the container writes on meanwhile */
    fd[OUT] = open_checked(fifo[OUT], O_RDONLY | O_NONBLOCK);
    fd[ERR] = open_checked(fifo[ERR], O_RDONLY | O_NONBLOCK);
    if (ioctl(fd[OUT], FIONREAD, &waiting) == -1)
        die_errno("ioctl FIONREAD");
    printf("[containerd] re-attached by path: %d bytes had waited in the stdout FIFO\n", waiting);
    attach(fd, -1, shim, &status); /* until the shim has closed its ends and exited */
    close(fd[OUT]);
    close(fd[ERR]);
    printf("[containerd] the shim has closed its ends and exited (%s)\n",
           fmt_wait_status(status).s);
    return status == 0 ? 0 : 1;
}
