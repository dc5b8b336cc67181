/* pitfall_pipe_deadlock.c - both sides write more than a pipe holds before reading
 *
 * Parent and child each send the other four pipe capacities of data over
 * two pipes, and each writes everything before reading anything.  A pipe
 * takes only its capacity until someone reads, so both block in write()
 * for ever, each waiting for the other to read.  --fixed: the parent alone
 * switches to non-blocking ends and poll(), reading whenever it cannot write.
 * Guide part: pitfall (two-way pipes: the write-write deadlock).
 * Run: ./pitfall_pipe_deadlock [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#define DEADLINE_MS 300

static const char usage[] = "[--fixed]";

static volatile sig_atomic_t deadline_passed;

static void on_alarm(int signo)
{
    (void)signo;
    deadline_passed = 1;
}

static char *filled(size_t size, char c)
{
    char *buf = malloc(size);

    if (buf == NULL)
        die_errno("malloc %zu bytes", size);
    memset(buf, c, size);
    return buf;
}

/* The naive peer, the same in both modes: write it all, then read it all. */
static noreturn void run_child(int in_fd, int out_fd, size_t size)
{
    char *buf = filled(size, 'c');
    ssize_t n;
    size_t got = 0;

    printf("[child] writing %s to the parent before reading anything\n", fmt_bytes(size).s);
    if (write_full(out_fd, buf, size) == -1)
        die_errno("child: write");
    close(out_fd);              /* the parent's EOF */
    while ((n = read(in_fd, buf, size)) > 0)
        got += (size_t)n;
    if (n == -1)
        die_errno("child: read");
    printf("[child] wrote %zu bytes, then read %zu bytes until EOF\n", size, got);
    close(in_fd);
    free(buf);
    exit(0);
}

/* The broken parent: a plain blocking write of everything, bounded by a
 * timer whose signal (no SA_RESTART) makes the stuck write() return. */
static size_t write_until_deadline(int fd, const char *buf, size_t size)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    /* After the first 300 ms it repeats every 50 ms: a signal that lands
     * just before write() blocks is then not the last chance. */
    struct itimerval timer = {.it_value = {0, DEADLINE_MS * 1000}, .it_interval = {0, 50 * 1000}};
    struct itimerval off = {{0, 0}, {0, 0}};
    size_t sent = 0;

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) == -1 || setitimer(ITIMER_REAL, &timer, NULL) == -1)
        die_errno("arming the deadline");
    while (sent < size && !deadline_passed) {
        ssize_t w = write(fd, buf + sent, size - sent);

        if (w == -1 && errno != EINTR)
            die_errno("parent: write");
        if (w > 0)
            sent += (size_t)w;
    }
    if (setitimer(ITIMER_REAL, &off, NULL) == -1)
        die_errno("setitimer");
    return sent;
}

/* What the kernel says about the child: the bytes it could not hand over, and where it sleeps. */
static void show_stuck_child(pid_t child, int from_child)
{
    char path[64], wchan[64] = "";
    int queued = 0;
    FILE *f;

    if (ioctl(from_child, FIONREAD, &queued) == -1)
        die_errno("ioctl FIONREAD");
    printf("[parent] FIONREAD: %d bytes wait unread in the child's pipe: it is stuck in write() too\n", queued);
    snprintf(path, sizeof path, "/proc/%d/wchan", (int)child);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(wchan, sizeof wchan, f) == NULL)
            wchan[0] = '\0';
        fclose(f);
    }
    printf("[parent] %s: \"%s\" (the kernel function the child sleeps in)\n", path,
           wchan[0] != '\0' ? wchan : "not readable here");
}

static void set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
        die_errno("fcntl O_NONBLOCK");
}

/* THE FIX: never wait on one direction while the other could move. */
static void exchange(int to_child, int from_child, const char *out, size_t size)
{
    struct pollfd pfd[2] = {{to_child, POLLOUT, 0}, {from_child, POLLIN, 0}};
    char in[16384];
    size_t sent = 0, got = 0;
    unsigned rounds = 0;

    set_nonblocking(to_child);
    set_nonblocking(from_child);
    while (pfd[0].fd != -1 || pfd[1].fd != -1) {
        if (poll(pfd, 2, 2000) <= 0)
            die("poll failed or nothing moved for 2 s");
        rounds++;
        if (pfd[0].revents & (POLLOUT | POLLERR)) {
            ssize_t w = write(to_child, out + sent, size - sent);

            if (w == -1 && errno != EAGAIN)
                die_errno("parent: write");
            sent += w > 0 ? (size_t)w : 0;
            if (sent == size) {
                close(to_child);        /* the child's EOF */
                pfd[0].fd = -1;
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(from_child, in, sizeof in);

            if (n == -1 && errno != EAGAIN)
                die_errno("parent: read");
            got += n > 0 ? (size_t)n : 0;
            if (n == 0) {
                close(from_child);
                pfd[1].fd = -1;
            }
        }
    }
    if (got != size)
        die("received %zu bytes from the child, expected %zu", got, size);
    printf("[parent] both transfers complete in %u poll() rounds: sent %zu bytes, received %zu bytes\n",
           rounds, sent, got);
}

int main(int argc, char *argv[])
{
    int to_child[2], from_child[2], capacity;
    size_t size, sent;
    bool fixed;
    pid_t child;
    char *out;

    setvbuf(stdout, NULL, _IOLBF, 0);   /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(to_child) == -1 || pipe(from_child) == -1)
        die_errno("pipe");
    capacity = fcntl(to_child[1], F_GETPIPE_SZ);
    if (capacity == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    size = 4 * (size_t)capacity;
    printf("[parent] pipe capacity %s (F_GETPIPE_SZ); each side sends %s\n",
           fmt_bytes((uint64_t)capacity).s, fmt_bytes(size).s);
    child = fork_or_die();
    if (child == 0) {
        close(to_child[1]);
        close(from_child[0]);
        run_child(to_child[0], from_child[1], size);
    }
    close(to_child[0]);
    close(from_child[1]);
    out = filled(size, 'p');

    if (fixed) {
        printf("[parent] writing and reading at once: non-blocking ends and poll()\n");
        exchange(to_child[1], from_child[0], out, size);
        free(out);
        return reap_child(child, "parent") == 0 ? 0 : 1;
    }
    printf("[parent] writing %s to the child before reading anything\n", fmt_bytes(size).s);
    sent = write_until_deadline(to_child[1], out, size);
    free(out);
    if (sent == size) {
        printf("[parent] unexpected: all %zu bytes went through without a reader\n", size);
        kill(child, SIGKILL);
        reap_child(child, "parent");
        return 1;
    }
    printf("[parent] deadlock: both sides blocked in write(); after %d ms the parent has sent "
           "%zu of %zu bytes\n", DEADLINE_MS, sent, size);
    show_stuck_child(child, from_child[0]);
    printf("[parent] killing the child to end the demo\n");
    if (kill(child, SIGKILL) == -1)
        die_errno("kill");
    close(to_child[1]);
    close(from_child[0]);
    reap_child(child, "parent");
    return 0;
}
