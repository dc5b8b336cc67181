/* advanced_latch.c - PostgreSQL's latch: sleep in poll() until another process sets a flag
 *
 * Real-world pattern: PostgreSQL's latch (src/backend/storage/ipc/latch.c; the waiting part
 * moved to waiteventset.c in release 18).  A latch is a flag in shared memory; its owner sleeps
 * in poll() on a private "self-pipe".  A setter raises the flag and, if the owner may be asleep,
 * signals it; the handler writes a byte to the self-pipe, which wakes poll() even if the signal
 * came just before poll() started.  Linux PostgreSQL now waits in epoll on a signalfd (SIGURG,
 * not SIGUSR1); the self-pipe is its portable fallback.  The owner also watches for parent death.
 * Guide part: real-world (PostgreSQL latch: self-pipe trick, lost-wakeup-free waiting).
 * Run: ./advanced_latch
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[-h]    (no options: the demo runs both processes itself)";

enum set_result { SET_ALREADY, SET_FLAG_ONLY, SET_SELF_PIPE, SET_SIGNALLED };
static const char *const set_said[] = {
    [SET_ALREADY] = "already set: returned at once, no signal",
    [SET_FLAG_ONLY] = "owner is awake: flag raised, no signal needed",
    [SET_SELF_PIPE] = "own latch: one byte written to the self-pipe, no signal",
    [SET_SIGNALLED] = "owner may be asleep: SIGUSR1 sent",
};

struct latch { /* lives in a MAP_SHARED page */
    atomic_int is_set;
    atomic_int maybe_sleeping;     /* the owner is in (or about to enter) latch_wait() */
    atomic_int owner_pid;          /* 0 until the owner has its self-pipe and handler */
    atomic_int requests, shutdown; /* the "condition" the owner works on */
    atomic_int busy, reloaded;     /* only so the demo can pace itself */
};

static struct latch *latch;
static int selfpipe[2] = {-1, -1};
static int parent_alive_fd = -1; /* read end of a pipe whose write end only the client holds */
static volatile sig_atomic_t usr1_count, reload_pending, reload_set_result;

/* Async-signal-safe: atomics on a lock-free int, getpid(), write() and kill() only. */
static enum set_result latch_set(struct latch *l)
{
    if (atomic_load(&l->is_set))
        return SET_ALREADY; /* the owner will see it anyway: no syscall at all */
    atomic_store(&l->is_set, 1);
    if (!atomic_load(&l->maybe_sleeping))
        return SET_FLAG_ONLY; /* it checks is_set before it sleeps */
    pid_t owner = atomic_load(&l->owner_pid);
    if (owner == 0)
        return SET_FLAG_ONLY;
    if (owner == getpid()) { /* from our own signal handler: poke the pipe directly */
        int saved = errno;
        (void)!write(selfpipe[1], "", 1); /* EAGAIN: the pipe is full, a wakeup is pending */
        errno = saved;
        return SET_SELF_PIPE;
    }
    kill(owner, SIGUSR1);
    return SET_SIGNALLED;
}

static void latch_reset(struct latch *l)
{
    atomic_store(&l->is_set, 0); /* seq_cst: ordered before the caller's next check */
}

static void on_sigusr1(int sig)
{
    int saved = errno;

    (void)sig;
    usr1_count++;
    (void)!write(selfpipe[1], "", 1);
    errno = saved;
}

static void on_sigusr2(int sig) /* plays PostgreSQL's SIGHUP "reload the config" handler */
{
    (void)sig;
    reload_pending = 1;
    reload_set_result = latch_set(latch);
}

static void drain_self_pipe(void)
{
    char buf[64];

    while (read(selfpipe[0], buf, sizeof buf) > 0)
        ;
}

/* Returns true when the latch is set, false on timeout.  maybe_sleeping is raised before
 * is_set is checked, and a setter does the reverse, so at least one of the two sees the
 * other: either we do not sleep, or a byte is on its way to the self-pipe. */
static bool latch_wait(struct latch *l, int timeout_ms)
{
    uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
    bool set = false;

    atomic_store(&l->maybe_sleeping, 1);
    for (;;) {
        if (atomic_load(&l->is_set)) {
            set = true;
            break;
        }
        uint64_t now = now_ns();
        if (now >= deadline)
            break;
        struct pollfd p[2] = {{.fd = selfpipe[0], .events = POLLIN},
                              {.fd = parent_alive_fd, .events = POLLIN}};
        if (poll(p, 2, (int)((deadline - now + 999999) / 1000000)) == -1 && errno != EINTR)
            die_errno("poll");
        /* EOF on the watch pipe: the client is gone, however it ended, and nobody will ever
         * set the latch again.  PostgreSQL's WL_EXIT_ON_PM_DEATH does the same on the
         * postmaster's death: else an orphaned backend would go on waking up forever. */
        if (p[1].revents != 0) { /* narrated, not an error: nobody is left to tell */
            printf("[backend] the client is gone (EOF on the watch pipe): exiting, as backends "
                   "do on postmaster death\n");
            exit(1);
        }
        drain_self_pipe(); /* bytes only mean "look again"; is_set is the truth */
    }
    atomic_store(&l->maybe_sleeping, 0);
    return set;
}

static void latch_own(struct latch *l)
{
    /* SA_RESTART keeps stdio's writes going; poll() returns EINTR regardless. */
    struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = SA_RESTART};

    if (pipe2(selfpipe, O_NONBLOCK | O_CLOEXEC) == -1)
        die_errno("pipe2 (self-pipe)");
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die_errno("sigaction SIGUSR1");
    sa.sa_handler = on_sigusr2;
    if (sigaction(SIGUSR2, &sa, NULL) == -1)
        die_errno("sigaction SIGUSR2");
    atomic_store(&l->owner_pid, getpid());
}

/* The owner: a background worker's main loop, in PostgreSQL's order: reset, check, wait. */
static noreturn void run_backend(void)
{
    latch_own(latch);
    printf("[backend] pid %d owns the latch: self-pipe fds %d/%d, SIGUSR1 handler writes to it; "
           "EOF on fd %d means the client died\n",
           (int)getpid(), selfpipe[0], selfpipe[1], parent_alive_fd);
    printf("[backend] loop: latch_reset, check for work, latch_wait (in that order)\n");
    for (;;) {
        /* Reset BEFORE looking at the work: a set that lands after the check then stays
         * visible to latch_wait().  Reset after the check, and it could erase that set. */
        latch_reset(latch);
        int n = atomic_exchange(&latch->requests, 0);
        if (n > 0) {
            atomic_store(&latch->busy, 1);
            printf("[backend] handling %d request%s\n", n, n > 1 ? "s: two sets, one wakeup" : "");
            sleep_ms(60); /* the work; sets that arrive now only raise the flag */
            atomic_store(&latch->busy, 0);
        }
        if (reload_pending) {
            reload_pending = 0;
            printf("[backend] reloading config; latch_set in my SIGUSR2 handler: %s\n",
                   set_said[reload_set_result]);
            atomic_store(&latch->reloaded, 1);
        }
        if (atomic_load(&latch->shutdown))
            break;
        uint64_t t0 = now_ns();
        const char *why = latch_wait(latch, 150) ? "latch set" : "timeout, nothing to do";
        printf("[backend] latch_wait returned after %s: %s\n",
               fmt_duration((double)elapsed_ns(t0)).s, why);
    }
    printf("[backend] shutting down; SIGUSR1 received %d times\n", (int)usr1_count);
    close(selfpipe[0]);
    close(selfpipe[1]);
    close(parent_alive_fd);
    exit(0);
}

static pid_t backend;

/* The demo waits on the backend's state; bounded so a bug cannot hang it, and no longer
 * than the backend lives. */
static void wait_for(atomic_int *flag, int value)
{
    int status;

    for (int i = 0; atomic_load(flag) != value; i++) {
        if (waitpid(backend, &status, WNOHANG) == backend) {
            if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
                raise(SIGPIPE); /* our shared stdout's reader is gone (`| head`): go as it did */
            die("the backend ended early (%s)", fmt_wait_status(status).s);
        }
        if (i == 2000)
            die("the backend did not reach the expected state");
        sleep_ms(1);
    }
}

static void client_set(const char *what, int *signals)
{
    enum set_result r = latch_set(latch);

    *signals += r == SET_SIGNALLED;
    printf("[client] %s, latch_set: %s\n", what, set_said[r]);
}

int main(int argc, char *argv[])
{
    int status, signals = 0, alive[2];

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    latch = mmap(NULL, sizeof *latch, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (latch == MAP_FAILED)
        die_errno("mmap");
    if (pipe(alive) == -1)
        die_errno("pipe");
    backend = fork_or_die();
    if (backend == 0) {
        close(alive[1]); /* else its own copy would keep the pipe open */
        parent_alive_fd = alive[0];
        run_backend();
    }
    close(alive[0]);

    wait_for(&latch->maybe_sleeping, 1);
    atomic_fetch_add(&latch->requests, 1);
    client_set("request 1 queued", &signals);
    wait_for(&latch->busy, 1);
    atomic_fetch_add(&latch->requests, 1);
    client_set("request 2 queued while the backend works", &signals);
    atomic_fetch_add(&latch->requests, 1);
    client_set("request 3 queued", &signals);
    wait_for(&latch->maybe_sleeping, 1);
    sleep_ms(200); /* long enough for one 150 ms timeout */
    printf("[client] kill(backend, SIGUSR2): its handler sets its own latch\n");
    if (kill(backend, SIGUSR2) == -1)
        die_errno("kill");
    wait_for(&latch->reloaded, 1);
    wait_for(&latch->maybe_sleeping, 1);
    atomic_store(&latch->shutdown, 1);
    client_set("shutdown requested", &signals);
    status = reap_child(backend, "client");
    close(alive[1]);
    printf("[client] I sent %d signals for 4 latch_set calls\n", signals);
    munmap(latch, sizeof *latch);
    return status == 0 ? 0 : 1;
}
