/* pitfall_pipe_deadlock.c - both sides write more than a pipe holds before reading
 *
 * Parent and child each send the other four pipe capacities of data over
 * two pipes, and each writes everything before reading anything.  A pipe
 * takes only its capacity until someone reads, so both block in write()
 * for ever.  A watcher thread sees both pipes full and both writers asleep,
 * then interrupts the parent.  --fixed: the parent alone switches to
 * non-blocking ends and poll(), reading whenever it cannot write.
 * Guide part: pitfall (two-way pipes: the write-write deadlock).
 * Run: ./pitfall_pipe_deadlock [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DEADLINE_MS 300

static const char usage[] = "[--fixed]";

static volatile sig_atomic_t interrupted; /* SIGALRM came: leave write() alone */
static atomic_bool write_returned;        /* the watcher may stop signalling */

/* One of the two writers, as the watcher sees it from the parent's side. */
struct writer_side {
    const char *name;
    pid_t pid;
    /* The parent's descriptor of the pipe this side writes into (FIONREAD works on either
     * end): the write end to_child[1] for the parent, the read end from_child[0] for the child. */
    int pipe_fd;
};

/* What the watcher thread looks at: side[0] the parent, side[1] the child. */
static struct {
    pthread_t writer_thread; /* the parent's main thread */
    struct writer_side side[2];
    int capacity;
    bool stuck; /* both pipes full, both writers asleep */
} watched;

static void on_alarm(int signo)
{
    (void)signo;
    interrupted = 1;
}

/* The naive peer, the same in both modes: write it all, then read it all. */
static noreturn void run_child(int in_fd, int out_fd, size_t size)
{
    char *buf = calloc(size, 1);
    ssize_t n;
    size_t got = 0;

    if (buf == NULL)
        die_errno("calloc");
    printf("[child] writing %s to the parent before reading anything\n", fmt_bytes(size).s);
    if (write_full(out_fd, buf, size) == -1)
        die_errno("child: write");
    close(out_fd); /* the parent's EOF */
    while ((n = read(in_fd, buf, size)) > 0)
        got += (size_t)n;
    if (n == -1)
        die_errno("child: read");
    printf("[child] wrote %zu bytes, then read %zu bytes until EOF\n", size, got);
    close(in_fd);
    free(buf);
    exit(0);
}

/* The parent's second thread, the only one awake: it checks from outside
 * that both pipes are full and both writers asleep, then interrupts the
 * parent's write() with SIGALRM (no SA_RESTART) so the demo can end. */
static void *watch(void *unused)
{
    uint64_t start = now_ns();
    char wchan[2][64];
    int queued[2], state[2];

    sleep_ms(DEADLINE_MS);
    for (;;) { /* stuck at once as a rule; a loaded machine may need a moment more */
        for (int i = 0; i < 2; i++) {
            const struct writer_side *w = &watched.side[i];

            if (ioctl(w->pipe_fd, FIONREAD, &queued[i]) == -1)
                die_errno("ioctl FIONREAD");
            /* For the parent, /proc/PID/ describes its main thread: the one in write(). */
            if ((state[i] = proc_state(w->pid)) == -1)
                state[i] = '?';
            if (proc_wchan(w->pid, wchan[i], sizeof wchan[i]) == -1)
                wchan[i][0] = '\0';
        }
        watched.stuck = queued[0] == watched.capacity && queued[1] == watched.capacity &&
                        state[0] == 'S' && state[1] == 'S';
        if (watched.stuck || atomic_load(&write_returned) || elapsed_ns(start) > 2000000000u)
            break;
        sleep_ms(10);
    }
    /* wchan: the kernel function it sleeps in ("" where the kernel shows none). */
    for (int i = 0; i < 2; i++)
        printf("[watcher] %s pid %d: state %c%s in wchan \"%s\"; the pipe it writes to holds "
               "%d bytes%s\n",
               watched.side[i].name, (int)watched.side[i].pid, state[i],
               state[i] == 'S' ? " (asleep)" : "", wchan[i], queued[i],
               queued[i] == watched.capacity ? ": full (FIONREAD == capacity)" : "");
    printf("[watcher] interrupting the parent's write() with SIGALRM\n");
    /* Repeated: a signal that lands just before write() blocks is not the last chance. */
    while (!atomic_load(&write_returned)) {
        pthread_kill(watched.writer_thread, SIGALRM);
        sleep_ms(50);
    }
    return unused;
}

/* The broken parent: a plain blocking write of everything. */
static size_t write_while_watched(const char *buf, size_t size)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    pthread_t watcher;
    size_t sent = 0;
    int err;

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) == -1)
        die_errno("sigaction");
    watched.writer_thread = pthread_self();
    if ((err = pthread_create(&watcher, NULL, watch, NULL)) != 0)
        die_errnum(err, "pthread_create");
    while (sent < size && !interrupted) {
        ssize_t n = write(watched.side[0].pipe_fd, buf + sent, size - sent);

        if (n == -1 && errno != EINTR)
            die_errno("parent: write");
        sent += n > 0 ? (size_t)n : 0;
    }
    atomic_store(&write_returned, true);
    if ((err = pthread_join(watcher, NULL)) != 0)
        die_errnum(err, "pthread_join");
    return sent;
}

/* THE FIX: never wait on one direction while the other could move. */
static void exchange(int to_child, int from_child, const char *out, size_t size)
{
    struct pollfd pfd[2] = {{to_child, POLLOUT, 0}, {from_child, POLLIN, 0}};
    char in[16384];
    size_t sent = 0, got = 0;
    unsigned rounds = 0;

    for (int i = 0; i < 2; i++)
        if (set_nonblocking(pfd[i].fd, true) == -1)
            die_errno("fcntl O_NONBLOCK");
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
                close(to_child); /* the child's EOF */
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
    printf(
        "[parent] both transfers complete in %u poll() rounds: sent %zu bytes, received %zu bytes\n",
        rounds, sent, got);
}

int main(int argc, char *argv[])
{
    int to_child[2], from_child[2];
    size_t size, sent;
    bool fixed;
    pid_t child;
    char *out;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(to_child) == -1 || pipe(from_child) == -1)
        die_errno("pipe");
    if ((watched.capacity = fcntl(to_child[1], F_GETPIPE_SZ)) == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    size = 4 * (size_t)watched.capacity;
    printf("[parent] pipe capacity %s (F_GETPIPE_SZ); each side sends %s\n",
           fmt_bytes((uint64_t)watched.capacity).s, fmt_bytes(size).s);
    child = fork_or_die();
    if (child == 0) {
        close(to_child[1]);
        close(from_child[0]);
        run_child(to_child[0], from_child[1], size);
    }
    close(to_child[0]);
    close(from_child[1]);
    if ((out = calloc(size, 1)) == NULL)
        die_errno("calloc");
    watched.side[0] = (struct writer_side){"parent", getpid(), to_child[1]};
    watched.side[1] = (struct writer_side){"child", child, from_child[0]};

    if (fixed) {
        printf("[parent] writing and reading at once: non-blocking ends and poll()\n");
        exchange(to_child[1], from_child[0], out, size);
        free(out);
        return reap_child(child, "parent") == 0 ? 0 : 1;
    }
    printf("[parent] writing %s to the child before reading anything\n", fmt_bytes(size).s);
    sent = write_while_watched(out, size);
    free(out);
    if (watched.stuck && sent < size)
        printf("[parent] deadlock: both sides blocked in write(); the parent had sent %zu of %zu "
               "bytes when SIGALRM interrupted it\n",
               sent, size);
    printf("[parent] killing the child to end the demo\n");
    if (kill(child, SIGKILL) == -1)
        die_errno("kill");
    close(to_child[1]);
    close(from_child[0]);
    reap_child(child, "parent");
    if (!watched.stuck || sent == size)
        die("the watcher did not see both sides stuck in write(): no symptom");
    return 0;
}
