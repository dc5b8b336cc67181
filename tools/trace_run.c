/* trace_run.c - running strace or perf on the program, bounded in time
 *
 * The program runs in a process group of its own, given the terminal when
 * the tool has it.  At the time limit, or on SIGINT, SIGTERM or SIGHUP to
 * the tool, its processes get SIGTERM and, GRACE_S seconds later, whatever
 * is left gets SIGKILL.  The tool is a child subreaper (main() makes it
 * one), so a process the program orphaned comes back to it and is found by
 * the walk of /proc below.
 */
#define _GNU_SOURCE
#include "trace.h"

#include "common.h"
#include "proc.h"
#include "under_strace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 32768 /* processes on the machine the walk looks at */

/* ---- every process below this one ---------------------------------------------- */

struct proc_table {
    pid_t pid[MAX_PROCS], ppid[MAX_PROCS];
    size_t n;
};

/* /proc/PID/stat's "PID (name) S PPID ...": false for a process that has
 * gone, or a line it cannot read. */
static bool read_parent(const char *pid_dir, pid_t *pid, pid_t *ppid)
{
    char path[300], buf[512], *paren;
    int fd, len;

    snprintf(path, sizeof path, "/proc/%s/stat", pid_dir);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
        return false;
    len = (int)read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return false;
    buf[len] = '\0';
    if ((paren = strrchr(buf, ')')) == NULL) /* the name may hold a ")" */
        return false;
    *pid = atoi(buf);
    *ppid = atoi(paren + 4); /* ") S PPID" */
    return true;
}

static void read_proc_table(struct proc_table *t)
{
    DIR *d = opendir("/proc");
    struct dirent *de;

    t->n = 0;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL && t->n < MAX_PROCS) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        if (read_parent(de->d_name, &t->pid[t->n], &t->ppid[t->n]))
            t->n++;
    }
    closedir(d);
}

/* Every process below this one (the tool is a child subreaper, so orphans
 * of the program come back to it and are still found here), breadth first. */
static size_t descendants(pid_t *out, size_t max)
{
    static struct proc_table t; /* too large for the stack */
    size_t found = 0;
    pid_t frontier = getpid();

    read_proc_table(&t);
    for (size_t head = 0;; head++) {
        for (size_t i = 0; i < t.n && found < max; i++)
            if (t.ppid[i] == frontier)
                out[found++] = t.pid[i];
        if (head >= found)
            break;
        frontier = out[head];
    }
    return found;
}

static void signal_descendants(int signo, pid_t except)
{
    pid_t procs[1024];
    size_t n = descendants(procs, 1024);

    for (size_t i = 0; i < n; i++)
        if (procs[i] != except)
            kill(procs[i], signo);
}

/* ---- waiting, bounded -------------------------------------------------------- */

/* Reap every child that has ended; true once run->pid has. */
static bool reap_ended(struct run *r)
{
    bool done = false;
    pid_t p;
    int status;

    while ((p = waitpid(-1, &status, WNOHANG)) > 0)
        if (p == r->pid) {
            r->status = status;
            done = true;
        }
    return done;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for a signal of `set` until `deadline`: the signal, or 0 at the deadline. */
static int wait_signal(const sigset_t *set, double deadline)
{
    double left = deadline - now_s();
    struct timespec ts;
    int s;

    if (left <= 0)
        return 0;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    s = sigtimedwait(set, NULL, &ts);
    return s == -1 ? (errno == EAGAIN ? 0 : -1) : s;
}

/* The program's processes get SIGTERM (the collection's programs clean up
 * on it; the tracer in front of them is left to see them go), then,
 * after GRACE_S seconds, everything left gets SIGKILL. */
static void stop_program(struct run *r, const sigset_t *set, bool *done)
{
    double deadline = now_s() + GRACE_S;
    int s;

    signal_descendants(SIGTERM, r->pid);
    while (!*done && (s = wait_signal(set, deadline)) != 0)
        if (s == SIGCHLD)
            *done = reap_ended(r);
    for (int round = 0; round < 50; round++) {
        pid_t procs[1024];
        size_t n = descendants(procs, 1024);

        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            kill(procs[i], SIGKILL);
        usleep(20000);
        if (reap_ended(r))
            *done = true;
    }
    if (!*done) {
        waitpid(r->pid, &r->status, 0);
        *done = true;
    }
}

/* Until the run ends: the time limit, or a signal to the tool, stops it. */
static void wait_bounded(struct run *r, const sigset_t *set)
{
    double deadline = now_s() + (double)opt.timeout_s;
    bool done = false;

    while (!done) {
        int s = wait_signal(set, deadline);

        if (s == SIGCHLD) {
            done = reap_ended(r);
        } else if (s >= 0) {
            r->timed_out = s == 0;
            r->interrupted = s > 0;
            r->signo = s;
            stop_program(r, set, &done);
        }
    }
}

/* ---- the command's process ------------------------------------------------------- */

/* Gives the terminal to process group pgrp: the tool may be in the
 * background by then, and a background group may not take it unless
 * SIGTTOU is ignored. */
static void give_terminal(pid_t pgrp)
{
    signal(SIGTTOU, SIG_IGN);
    tcsetpgrp(STDIN_FILENO, pgrp);
    signal(SIGTTOU, SIG_DFL);
}

/* In the child: a process group of its own, the terminal if the tool had
 * it, and then argv. */
static void exec_in_own_group(char **argv, int err_fd, bool tty, const sigset_t *saved)
{
    setpgid(0, 0);
    if (tty)
        give_terminal(getpid());
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) == -1)
        _exit(126);
    /* Nothing the tool was given (make's jobserver pipe, a test's
     * descriptors) or opened reaches the program: its descriptor
     * numbers are the ones it shows without the tool. */
    close_range(3, ~0U, 0);
    no_leak_check_under_ptrace(); /* as in the harness */
    sigprocmask(SIG_SETMASK, saved, NULL);
    execvp(argv[0], argv);
    dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", prog_name(), argv[0], strerror(errno));
    _exit(127);
}

/* Runs argv in a process group of its own (given the terminal, when the tool
 * has it, so that Ctrl-C and terminal reads go to the program), bounded by
 * the time limit; SIGINT, SIGTERM or SIGHUP to the tool stops it too.
 * stdin, stdout and stderr are the tool's, unless err_fd >= 0. */
void run_bounded(char **argv, int err_fd, struct run *r)
{
    static const struct timespec zero = {0, 0};
    sigset_t set, saved;
    bool tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &saved);
    memset(r, 0, sizeof *r);
    fflush(NULL);
    r->pid = fork_or_die();
    if (r->pid == 0)
        exec_in_own_group(argv, err_fd, tty, &saved);
    setpgid(r->pid, r->pid); /* both sides: no race with the exec */
    wait_bounded(r, &set);
    /* Whatever the tracer left (it detaches from tracees when killed). */
    signal_descendants(SIGKILL, 0);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (tty)
        give_terminal(getpgrp());
    /* A signal that came after the end, consumed: the run is over. */
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* What became of the run, in one line on stderr; true if the program exited 0. */
bool report_run(const char *what, const struct run *r)
{
    if (r->timed_out)
        warn_msg("%s %s: still running after the time limit of %ld s: stopped it (SIGTERM, "
                 "then SIGKILL after %d s); --timeout S (make ... TIMEOUT=S) gives it longer",
                 opt.prog, what, opt.timeout_s, GRACE_S);
    else if (r->interrupted)
        warn_msg("%s %s: interrupted by %s: stopped the program (SIGTERM, then SIGKILL after "
                 "%d s)",
                 opt.prog, what, strsignal(r->signo), GRACE_S);
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
        return !r->timed_out && !r->interrupted;
    if (!r->timed_out && !r->interrupted)
        warn_msg("%s %s: %s", opt.prog, what, fmt_wait_status(r->status).s);
    return false;
}
