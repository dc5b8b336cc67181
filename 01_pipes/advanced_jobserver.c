/* advanced_jobserver.c - GNU make's jobserver: job slots as bytes in a FIFO or a pipe
 *
 * Real-world pattern: the make side of GNU make's jobserver, as its manual describes it ("Job
 * Slots", "POSIX Jobserver Interaction").  `make -jJ` loads J-1 one-byte tokens into the
 * jobserver and owns one implicit slot.  To start one more job it reads a byte (a blocking
 * read), and once it has reaped that job it writes the *same* byte back.  Sub-makes and tools
 * find the jobserver in MAKEFLAGS: `--jobserver-auth=fifo:PATH` (the default since make 4.4: a
 * FIFO each process opens itself) or `--jobserver-auth=R,W` (descriptors, which make lets only
 * recursive commands inherit).  Job 4 is recursive: advanced_jobserver_client joins as a tool.
 * On Ctrl-C make waits for its jobs and takes their tokens back.  Left out: -l load limits.
 * Guide part: real-world (GNU make jobserver: tokens, the implicit slot, MAKEFLAGS).
 * Run: ./advanced_jobserver [--jobs J] [--tasks N] [--style fifo|pipe]
 *      (the jobs: advanced_jobserver_client and advanced_jobserver_gnu_make --job, beside it)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"
#include "meter.h"
#include "sibling.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TASKS 32
#define MAX_SLOTS 16 /* the largest -j, so the most children one make has at once */
#define SUB_TASK 4   /* which job is recursive: the client, which does 3 work items */

static const char usage[] = "[--jobs J] [--tasks N] [--style fifo|pipe]    "
                            "(J 1-16, default 3; N 1-32, default 8; style default fifo)";

/* A job slot: the implicit one, or a token read from the jobserver (kept to write back). */
struct slot {
    bool from_jobserver;
    char token;
};

struct make {
    int rfd, wfd;                /* the jobserver, blocking on the read side */
    pid_t pid[MAX_SLOTS];        /* running children, 0 = free entry */
    char name[MAX_SLOTS][16];    /* their job names */
    struct slot slot[MAX_SLOTS]; /* the slot each of them runs on */
    bool implicit_busy;          /* our own free slot is in use */
    sigset_t wait_mask;          /* our mask with SIGCHLD let through */
    char *client, *plain;        /* what the jobs are exec'd: the recursive one, the others */
    const char *meter_fd;        /* and the meter they count in */
};

/* A duplicate of the read end, closed by the SIGCHLD handler: see acquire_slot(). */
static volatile sig_atomic_t read_dup = -1;

/* SIGINT, SIGTERM: stop_signal (cleanup.h) says which came. */
static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_sigchld(int sig)
{
    int saved = errno, fd = read_dup;

    (void)sig;
    read_dup = -1;
    if (fd >= 0)
        close(fd);
    errno = saved;
}

/* After SIGINT or SIGTERM (the interrupted call returned EINTR): no new jobs; as GNU make
 * does, SIGTERM is passed on to the running jobs, while a terminal's Ctrl-C reaches them
 * without us (same process group).  Each job is waited for, its token written back, our
 * objects removed; then we die of the signal. */
static void stop_if_asked(struct make *m)
{
    int sig = stop_signal, status;

    if (sig == 0)
        return;
    printf("[make] %s: no new jobs; waiting for the running ones, then their tokens go back\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM, passed on to my jobs");
    for (int i = 0; i < MAX_SLOTS; i++) {
        if (m->pid[i] == 0)
            continue;
        if (sig == SIGTERM)
            kill(m->pid[i], SIGTERM);
        while (waitpid(m->pid[i], &status, 0) == -1 && errno == EINTR)
            ;
        if (m->slot[i].from_jobserver && write_full(m->wfd, &m->slot[i].token, 1) == -1)
            warn_errno("write a token back");
    }
    cleanup_run(); /* what exit() would have removed: the jobserver FIFO */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reap finished children and give their slots back: a token to the jobserver, the same
 * byte that was read for it, or the implicit slot to ourselves.  As in GNU make, only after
 * waitpid(): a job that crashed still gives its slot back. */
static int reap_finished(struct make *m, int options)
{
    int status, reaped = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, options)) > 0) {
        for (int i = 0; i < MAX_SLOTS; i++) {
            if (m->pid[i] != pid)
                continue;
            if (!m->slot[i].from_jobserver) {
                m->implicit_busy = false;
            } else {
                printf("[make] job %s done: writing its token '%c' back to the jobserver\n",
                       m->name[i], m->slot[i].token);
                if (write_full(m->wfd, &m->slot[i].token, 1) == -1)
                    die_errno("write the token back");
            }
            m->pid[i] = 0;
        }
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE)
            raise(SIGPIPE);   /* its stdout is ours: the reader is gone (`| head`), go as it did */
        if (status != 0) {    /* anything but "exit status 0" */
            stop_if_asked(m); /* a job killed by our own Ctrl-C is no failure of its own */
            die("a job failed (%s)", fmt_wait_status(status).s);
        }
        reaped++;
        options = WNOHANG;
    }
    if (pid == -1 && errno == EINTR) { /* only a stop signal: SIGCHLD is blocked here */
        stop_if_asked(m);
        return reaped + reap_finished(m, options);
    }
    if (pid == -1 && errno != ECHILD)
        die_errno("waitpid");
    return reaped;
}

/* A slot for the next job: the implicit one if free, else a token from the jobserver.  The
 * read blocks, as the manual requires, yet a child that exits meanwhile must be reaped (its
 * slot may be the one we wait for).  GNU make's classic answer: SIGCHLD is blocked except
 * around the read(), which uses a duplicate of the read end that the handler closes.  A
 * SIGCHLD during read() interrupts it (EINTR); one just before it leaves a closed descriptor
 * (EBADF): either way we come back here to reap, and never sleep past a child's exit.
 * (GNU make itself now waits in pselect() and reads with O_NONBLOCK set instead.) */
static struct slot acquire_slot(struct make *m, const char *job)
{
    sigset_t blocked;
    int waits = 0;
    char token;

    for (;;) {
        stop_if_asked(m);
        reap_finished(m, WNOHANG);
        if (!m->implicit_busy) {
            m->implicit_busy = true;
            return (struct slot){.from_jobserver = false};
        }
        if (read_dup == -1 && (read_dup = fcntl(m->rfd, F_DUPFD_CLOEXEC, 0)) == -1)
            die_errno("dup the jobserver's read end");
        struct pollfd now = {.fd = m->rfd, .events = POLLIN};
        if (waits++ == 0 && poll(&now, 1, 0) == 0) /* only narration: no token there yet */
            printf("[make] job %s waits for a token\n", job);
        sigprocmask(SIG_SETMASK, &m->wait_mask, &blocked);
        ssize_t n = read(read_dup, &token, 1);
        int err = errno;
        sigprocmask(SIG_SETMASK, &blocked, NULL);
        if (n == 1)
            return (struct slot){.from_jobserver = true, .token = token};
        if (n == 0)
            die("the jobserver has no writer left");
        if (err == EAGAIN) { /* someone made the read side non-blocking: wait for a byte */
            struct pollfd p = {.fd = m->rfd, .events = POLLIN};
            if (ppoll(&p, 1, NULL, &m->wait_mask) == -1 && errno != EINTR)
                die_errno("ppoll");
        } else if (err != EINTR && err != EBADF) {
            errno = err;
            die_errno("read a token");
        }
    }
}

/* fork() and exec job `job`: advanced_jobserver_client as a recursive tool, or a plain command. */
static void start(struct make *m, const char *job, bool recursive)
{
    struct slot slot = acquire_slot(m, job);
    int i = 0;

    while (m->pid[i] != 0)
        i++;
    if (slot.from_jobserver)
        printf("[make] job %s starts on token '%c' from the jobserver\n", job, slot.token);
    else
        printf("[make] job %s starts on the implicit slot\n", job);
    pid_t parent = getpid();
    m->pid[i] = fork_or_die();
    if (m->pid[i] == 0) {
        /* Not make's, but the demo's: a job whose make died (`| head -1`) gets SIGTERM
         * instead of waiting for tokens that nobody will ever write back. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
            _exit(1);
        /* Only a recursive command inherits the jobserver's descriptors (pipe style); a
         * plain one loses them at exec (FD_CLOEXEC).  A FIFO is reached by its path. */
        if (recursive && (fcntl(m->rfd, F_SETFD, 0) == -1 || fcntl(m->wfd, F_SETFD, 0) == -1))
            die_errno("let the recursive job inherit the jobserver");
        if (recursive)
            execl(m->client, m->client, "--client", job, "--work", "3", "--meter-fd", m->meter_fd,
                  (char *)NULL);
        else
            execl(m->plain, m->plain, "--job", job, "--meter-fd", m->meter_fd, (char *)NULL);
        die_errno("exec job %s", job);
    }
    snprintf(m->name[i], sizeof m->name[i], "%s", job);
    m->slot[i] = slot;
}

static void run_jobs(struct make *m, int tasks)
{
    char job[16];

    for (int t = 1; t <= tasks; t++) {
        snprintf(job, sizeof job, "%d", t);
        start(m, job, t == SUB_TASK);
    }
    while (reap_finished(m, 0) > 0)
        ;
    if (read_dup >= 0)
        close(read_dup);
    read_dup = -1;
}

/* SIGCHLD blocked from now on, let through only inside acquire_slot().  No SA_RESTART, for
 * SIGCHLD nor for the stop signals: each must interrupt a read() or waitpid() that waits. */
static void catch_signals(struct make *m)
{
    struct sigaction chld_sa = {.sa_handler = on_sigchld}, stop_sa = {.sa_handler = on_stop};
    sigset_t chld;

    sigemptyset(&chld_sa.sa_mask);
    sigemptyset(&stop_sa.sa_mask);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &m->wait_mask) == -1 ||
        sigaction(SIGCHLD, &chld_sa, NULL) == -1 || sigaction(SIGINT, &stop_sa, NULL) == -1 ||
        sigaction(SIGTERM, &stop_sa, NULL) == -1)
        die_errno("signal setup");
    sigdelset(&m->wait_mask, SIGCHLD);
}

/* The jobserver of the top make: a FIFO in a private directory, or an anonymous pipe. */
static const char *create_jobserver(struct make *m, bool fifo, char *auth, size_t size)
{
    static char dir[PATH_MAX], path[PATH_MAX + 32];
    int fds[2];

    if (!fifo) {
        if (pipe2(fds, O_CLOEXEC) == -1)
            die_errno("pipe2");
        m->rfd = fds[0];
        m->wfd = fds[1];
        snprintf(auth, size, "%d,%d", m->rfd, m->wfd);
        return "pipe";
    }
    make_temp_dir(dir, sizeof dir, "advanced_jobserver");
    snprintf(path, sizeof path, "%s/jobserver.fifo", dir);
    mkfifo_registered(path);
    /* The read side first, non-blocking (no writer yet), then made blocking for good. */
    if ((m->rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1 ||
        (m->wfd = open(path, O_WRONLY | O_CLOEXEC)) == -1 || set_nonblocking(m->rfd, false) == -1)
        die_errno("open %s", path);
    snprintf(auth, size, "fifo:%s", path);
    return "FIFO";
}

static int top_make(struct make *m, long jobs, long tasks, bool fifo)
{
    char auth[PATH_MAX + 40], flags[PATH_MAX + 64], back[MAX_SLOTS], want[MAX_SLOTS];
    const char *kind = create_jobserver(m, fifo, auth, sizeof auth);
    int nback = 0;

    for (int i = 0; i < jobs - 1; i++) /* distinct tokens, to see each come back */
        want[i] = (char)('a' + i);
    if (jobs > 1 && write_full(m->wfd, want, (size_t)jobs - 1) == -1)
        die_errno("load the tokens");
    snprintf(flags, sizeof flags, " -j%ld --jobserver-auth=%s", jobs, auth);
    if (setenv("MAKEFLAGS", flags, 1) == -1)
        die_errno("setenv MAKEFLAGS");
    printf("[make] -j%ld: a %s jobserver with %ld tokens ('%.*s'), plus my implicit slot\n", jobs,
           kind, jobs - 1, (int)jobs - 1, want);
    printf("[make] every job gets MAKEFLAGS='%s'\n", flags);
    run_jobs(m, (int)tasks);

    /* As make does at the end: close the write side, then every token must come back. */
    close(m->wfd);
    while (nback < MAX_SLOTS && read(m->rfd, &back[nback], 1) == 1)
        nback++;
    close(m->rfd);
    bool whole = nback == jobs - 1;
    for (int i = 0; i < nback; i++) /* each loaded token back exactly once, in any order */
        whole = whole && memchr(want, back[i], (size_t)nback) != NULL &&
                memchr(back + i + 1, back[i], (size_t)(nback - i - 1)) == NULL;
    printf("[make] tokens back in the jobserver: %d of %ld ('%.*s')%s\n", nback, jobs - 1, nback,
           back, whole ? ": each one written back as it was read" : ": TOKENS LOST");
    return whole ? 0 : -1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"tasks", required_argument, NULL, 'n'},
        {"style", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long jobs = 3, tasks = 8;
    bool fifo = true;
    char meter_arg[16];
    struct make m = {0};
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'j')
            jobs = cli_long(optarg, 1, MAX_SLOTS, "--jobs", usage);
        else if (c == 'n')
            tasks = cli_long(optarg, 1, MAX_TASKS, "--tasks", usage);
        else if (c == 's' && (strcmp(optarg, "fifo") == 0 || strcmp(optarg, "pipe") == 0))
            fifo = strcmp(optarg, "fifo") == 0;
        else if (c == 's')
            die_usage(usage, "--style must be fifo or pipe, not '%s'", optarg);
    }
    cli_no_operands(argc, argv, usage);

    /* The jobs count themselves in the meter (meter.h), whose descriptor they inherit. */
    int meter_fd = meter_create();
    snprintf(meter_arg, sizeof meter_arg, "%d", meter_fd);
    m.client = sibling_path("advanced_jobserver_client");
    m.plain = sibling_path("advanced_jobserver_gnu_make");
    m.meter_fd = meter_arg;
    catch_signals(&m);
    int failed = top_make(&m, jobs, tasks, fifo);
    close(meter_fd);
    free(m.client);
    free(m.plain);

    int max = meter_max();
    meter_unmap();
    printf("[make] at most %d jobs ran at once (limit -j%ld)\n", max, jobs);
    if (failed || max > jobs)
        die("the jobserver did not keep its limit");
    return 0;
}
