/* runner.c - runs one case of one program and collects what happened.
 *
 * The runner is a child of the scheduler, alone in its namespaces (or, in
 * fallback mode, holding the machine-wide lock).  It is the child subreaper,
 * so every process the program starts and abandons comes back to it.  For
 * each copy of the program it starts, as the case asks, a feeder process
 * that writes stdin (all at once or paced), and a drain process that reads
 * stdout slowly; then it watches the clock, sends the case's signals, kills
 * the whole tree at the time limit after noting what each process was
 * waiting for, and finally lists what was left behind.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "under_strace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 2
#define ORPHAN_GRACE_MS 300

struct helpers {
    pid_t pids[16]; /* feeders and drains: the harness's, not orphans */
    size_t n;
};

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void pause_ms(unsigned ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&t, &t) == -1 && errno == EINTR)
        ;
}

/* The program's process groups, for the runner's own stop signals. */
static volatile pid_t running_groups[8];

static void on_stop(int sig)
{
    for (int i = 0; i < 8; i++)
        if (running_groups[i] > 0)
            kill(-running_groups[i], SIGKILL);
    _exit(128 + sig);
}

static void kill_program_on_stop(void)
{
    struct sigaction sa = {.sa_handler = on_stop};
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP};

    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stops / sizeof *stops; i++)
        sigaction(stops[i], &sa, NULL);
}

static bool is_helper(const struct helpers *h, pid_t pid)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->pids[i] == pid)
            return true;
    return false;
}

/* ---- the processes of the case ---------------------------------------------- */

/* The parent pid in /proc/PID/stat, read after the last ')' since the
 * command name may hold spaces and parentheses; -1 if gone. */
static pid_t parent_of(pid_t pid, char *state)
{
    char path[64], buf[1024];
    int fd, ppid = -1;
    ssize_t n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *after = strrchr(buf, ')');
    if (after == NULL || sscanf(after + 1, " %c %d", state, &ppid) != 2)
        return -1;
    return ppid;
}

/* Every live descendant of this process, parents before children. */
static size_t descendants(pid_t *out, size_t max)
{
    pid_t all[4096], parents[4096];
    size_t nall = 0, n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    char state;

    while (d != NULL && (e = readdir(d)) != NULL && nall < 4096) {
        int pid = atoi(e->d_name);

        if (pid > 0 && (parents[nall] = parent_of(pid, &state)) > 0)
            all[nall++] = pid;
    }
    if (d != NULL)
        closedir(d);
    out[n++] = getpid();
    for (size_t i = 0; i < n && n < max; i++) /* breadth first from ourselves */
        for (size_t j = 0; j < nall && n < max; j++)
            if (parents[j] == out[i])
                out[n++] = all[j];
    memmove(out, out + 1, (n - 1) * sizeof *out);
    return n - 1;
}

static void read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

/* What a process blocked in this kernel function is typically waiting for. */
static const char *what_to_look_at(const char *wchan, char state)
{
    static const struct {
        const char *in_wchan, *advice;
    } table[] = {
        {"fifo_open", "open() of a FIFO waits until the other side opens it too: open the other "
                      "side first, or use O_NONBLOCK"},
        {"wait_for_partner", "open() of a FIFO waits until the other side opens it too"},
        {"pipe_read", "a read from a pipe waits until every write end is closed: look in the "
                      "descriptor lists below for a write end still open (often a copy kept by "
                      "the reader itself or by another child)"},
        {"pipe_write", "a write to a full pipe waits until someone reads: is the reader alive, "
                       "and does it read before it writes?"},
        {"pipe", "blocked on a pipe: a read waits for data or for every write end to close, a "
                 "write waits for room"},
        {"do_wait", "waiting for a child that has not exited (is the child itself blocked?)"},
        {"futex", "waiting on a futex: a mutex, condition variable, semaphore or thread join "
                  "that nobody releases"},
        {"wq_sleep", "blocked on a POSIX message queue: empty (receive) or full (send)"},
        {"msg", "blocked on a System V message queue: no message of the type asked for, or full"},
        {"sem", "blocked on a semaphore that nobody posts"},
        {"unix", "waiting on a UNIX socket: no peer data, connection or room"},
        {"inet_csk_accept", "accept() waits for a client that never connects"},
        {"sk_wait", "waiting on a socket: no peer data, connection or room"},
        {"poll", "waiting in poll/select for a descriptor that never becomes ready"},
        {"select", "waiting in poll/select for a descriptor that never becomes ready"},
        {"ep_poll", "waiting in epoll_wait for an event that never comes"},
        {"sigsuspend", "waiting for a signal that nobody sends"},
        {"sigtimedwait", "waiting for a signal that nobody sends"},
        {"pause", "waiting for a signal that nobody sends"},
        {"nanosleep", "sleeping"},
    };

    if (state == 'R')
        return "running: a busy loop that never sees its exit condition";
    if (state == 'T' || state == 't')
        return "stopped (SIGSTOP or a tracer)";
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strstr(wchan, table[i].in_wchan) != NULL)
            return table[i].advice;
    return NULL;
}

/* "fd 0 -> /dev/null, fd 3 -> pipe:[123]" for one process. */
static void describe_fds(pid_t pid, char **text)
{
    char dir[64], link[PATH_MAX + 64], target[PATH_MAX];
    struct names fds = {0};

    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    list_dir(dir, &fds);
    append(text, "      descriptors:");
    for (size_t i = 0; i < fds.n; i++) {
        ssize_t n;

        snprintf(link, sizeof link, "%s/%s", dir, fds.v[i]);
        n = readlink(link, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        append(text, "%s %s -> %s", i == 0 ? "" : ",", fds.v[i], target);
    }
    append(text, "%s\n", fds.n == 0 ? " none" : "");
    names_free(&fds);
}

/* Before a hung case is killed: each process, what it waits in, what that
 * usually means, and its descriptors. */
static void diagnose(const struct helpers *h, char **text)
{
    pid_t procs[256];
    size_t n = descendants(procs, 256);

    append(text, "    --- processes still running at the time limit ---\n");
    for (size_t i = 0; i < n; i++) {
        char path[64], comm[64], wchan[128], state = '?';
        const char *advice;

        if (is_helper(h, procs[i]))
            continue;
        snprintf(path, sizeof path, "/proc/%d/comm", (int)procs[i]);
        read_small(path, comm, sizeof comm);
        snprintf(path, sizeof path, "/proc/%d/wchan", (int)procs[i]);
        read_small(path, wchan, sizeof wchan);
        parent_of(procs[i], &state);
        append(text, "    pid %d (%s), state %c, waiting in %s\n", (int)procs[i], comm, state,
               wchan[0] != '\0' && strcmp(wchan, "0") != 0 ? wchan : "(not shown)");
        advice = what_to_look_at(wchan, state);
        if (advice != NULL)
            append(text, "      what to look at: %s\n", advice);
        describe_fds(procs[i], text);
    }
}

static void kill_descendants(const struct helpers *h, bool helpers_too)
{
    pid_t procs[256];
    size_t n = descendants(procs, 256);

    for (size_t i = 0; i < n; i++)
        if (helpers_too || !is_helper(h, procs[i]))
            kill(procs[i], SIGKILL);
}

static bool only_helpers_left(const struct helpers *h)
{
    pid_t procs[256];
    size_t n = descendants(procs, 256);

    for (size_t i = 0; i < n; i++)
        if (!is_helper(h, procs[i]))
            return false;
    return true;
}

/* Reaps the processes orphaned to us (we are their subreaper): each is one
 * the program did not wait for.  Those still alive after a grace period
 * are killed.  Returns how many there were; feeders and drains are ours
 * and are marked in helper_done instead. */
static int reap_orphans(const struct helpers *h, bool *helper_done)
{
    int found = 0, status;
    pid_t pid;

    for (unsigned waited = 0; waited < ORPHAN_GRACE_MS + 5000; waited += 10) {
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            bool ours = false;

            for (size_t i = 0; i < h->n; i++)
                if (h->pids[i] == pid)
                    ours = helper_done[i] = true;
            found += !ours;
        }
        if (pid == -1 || only_helpers_left(h))
            break; /* ECHILD, or nothing of the program left */
        if (waited >= ORPHAN_GRACE_MS)
            kill_descendants(h, false);
        pause_ms(10);
    }
    return found;
}

/* ---- input, output and the program ---------------------------------------------- */

/* A helper process keeps only its own descriptors (and 0-2): a copy of the
 * other end of a pipe would keep it from ever seeing EOF or EPIPE. */
static void keep_only(int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;

    if (lo > 3)
        close_range(3, (unsigned)lo - 1, 0);
    if (hi > lo + 1)
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0U, 0);
}

static void reset_signals(void)
{
    sigset_t none;

    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A process of the harness that writes the input into the program's stdin,
 * `pace` bytes at a time with `pace_ms` between, then closes it. */
static pid_t start_feeder(int wfd, const char *data, size_t len, unsigned pace, unsigned pace_ms)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    keep_only(wfd, wfd);
    signal(SIGPIPE, SIG_IGN); /* a program that stops reading gives EPIPE: fine */
    for (size_t done = 0; done < len;) {
        size_t chunk = pace > 0 && len - done > pace ? pace : len - done;
        ssize_t n = write(wfd, data + done, chunk);

        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
        if (pace > 0 && pace_ms > 0 && done < len)
            pause_ms(pace_ms);
    }
    _exit(0);
}

/* A process of the harness that reads the program's stdout `bytes` at a
 * time with `ms` between (a slow reader), into the capture file. */
static pid_t start_drain(int rfd, int out_fd, unsigned bytes, unsigned ms)
{
    pid_t pid = fork();
    char *buf;
    ssize_t n;

    if (pid != 0)
        return pid;
    keep_only(rfd, out_fd);
    buf = malloc(bytes);
    while (buf != NULL && ((n = read(rfd, buf, bytes)) > 0 || (n == -1 && errno == EINTR))) {
        if (n > 0 && write(out_fd, buf, (size_t)n) != n)
            break;
        if (ms > 0)
            pause_ms(ms);
    }
    _exit(0);
}

static bool under_valgrind(const struct expect_case *c)
{
    return opt.valgrind && !c->usage_only && !c->natively &&
           !(c->exit_status == 2 && !c->exit_by_signal);
}

static bool under_strace(const struct expect_case *c)
{
    return c->nsyscalls > 0 && !under_valgrind(c);
}

/* The command line: [valgrind ... | strace ...] program args [light-args]. */
static char **build_argv(const struct program *prog, const struct expect_case *c,
                         const char *case_dir, unsigned copy)
{
    static char vg_log[PATH_MAX + 64], trace[PATH_MAX + 64];
    /* Not -q: the log is a file of its own, and it must say when a process
     * was killed by a signal (judge.c then does not count its descriptors). */
    const char *valgrind[] = {
        "valgrind",
        "--vgdb=no",
        "--read-inline-info=no", /* start-up is most of a short run */
        "--error-exitcode=99",
        "--leak-check=full",
        "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect",
        "--track-fds=yes",
        "--trace-children=yes",
        "--trace-children-skip=/usr/*,/bin/*,/sbin/*",
        vg_log,
    };
    const char *strace[] = {"strace", "-f",          "-ff", "-qq", "-y",
                            "-e",     "signal=none", "-o",  trace, "--"};
    char **argv = calloc(64 + 16, sizeof *argv);
    size_t n = 0;

    if (argv == NULL)
        _exit(126);
    snprintf(vg_log, sizeof vg_log, "--log-file=%s/valgrind.%u.%%p", case_dir, copy);
    snprintf(trace, sizeof trace, "%s/trace.%u", case_dir, copy);
    if (under_valgrind(c))
        for (size_t i = 0; i < sizeof valgrind / sizeof *valgrind; i++)
            argv[n++] = (char *)valgrind[i];
    else if (under_strace(c))
        for (size_t i = 0; i < sizeof strace / sizeof *strace; i++)
            argv[n++] = (char *)strace[i];
    argv[n++] = (char *)prog->bin;
    for (size_t i = 0; c->argv[i] != NULL && n < 70; i++)
        argv[n++] = c->argv[i];
    if (c->light_argv != NULL && (opt.light || opt.valgrind))
        for (size_t i = 0; c->light_argv[i] != NULL && n < 78; i++)
            argv[n++] = c->light_argv[i];
    return argv;
}

static void exec_program(char **argv, int in_fd, int out_fd, int err_fd, const char *cwd,
                         bool traced)
{
    setpgid(0, 0);                    /* a time limit kills the program and its children */
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* and so does the end of its runner */
    if (dup2(in_fd, 0) == -1 || dup2(out_fd, 1) == -1 || dup2(err_fd, 2) == -1)
        _exit(126);
    close_range(3, ~0U, 0); /* nothing of the harness leaks into the program */
    reset_signals();
    setenv("TMPDIR", cwd, 1);
    setenv("LC_ALL", "C", 1); /* messages as the expectations spell them */
    if (chdir(cwd) == -1)
        _exit(126);
    umask(022);
    if (traced)
        no_leak_check_under_ptrace();
    execvp(argv[0], argv);
    dprintf(2, "examples: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* ---- given files -------------------------------------------------------------- */

static int make_given(const struct program *prog, const struct given *g, const char *cwd,
                      char **problems)
{
    char path[PATH_MAX + 256], err[256];
    size_t len;
    char *bytes;
    int fd;

    snprintf(path, sizeof path, "%s/%s", cwd, g->name);
    if (g->kind == GIVEN_FIFO)
        return mkfifo(path, g->mode) == 0 && chmod(path, g->mode) == 0 ? 0 : -1;
    if (g->kind == GIVEN_DIR)
        return mkdir(path, g->mode) == 0 && chmod(path, g->mode) == 0 ? 0 : -1;
    bytes = data_bytes(&g->content, prog->dir, &len, err, sizeof err);
    if (bytes == NULL) {
        append(problems, "given %s: %s; ", g->name, err);
        return 0;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, g->mode);
    if (fd == -1 || write(fd, bytes, len) != (ssize_t)len || fchmod(fd, g->mode) == -1) {
        free(bytes);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    free(bytes);
    return close(fd);
}

/* ---- collecting --------------------------------------------------------------- */

static char *slurp_path(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    ssize_t n = 0;

    *len = 0;
    if (fd == -1 || fstat(fd, &st) == -1) {
        if (fd >= 0)
            close(fd);
        return strdup("");
    }
    buf = malloc((size_t)st.st_size + 1);
    while (buf != NULL && *len < (size_t)st.st_size &&
           (n = pread(fd, buf + *len, (size_t)st.st_size - *len, (off_t)*len)) > 0)
        *len += (size_t)n;
    if (buf != NULL)
        buf[*len] = '\0';
    close(fd);
    return buf;
}

static void collect_files(const struct expect_case *c, const char *cwd, struct outcome *o)
{
    o->files = calloc(c->nfiles + 1, sizeof *o->files);
    o->nfiles = o->files != NULL ? c->nfiles : 0;
    for (size_t i = 0; o->files != NULL && i < c->nfiles; i++) {
        char path[PATH_MAX + 256];
        struct file_seen *f = &o->files[i];

        snprintf(path, sizeof path, "%s/%s", cwd, c->files[i].name);
        f->exists = lstat(path, &f->st) == 0;
        if (f->exists && S_ISREG(f->st.st_mode))
            f->bytes = slurp_path(path, &f->len);
    }
}

/* The names of the working directory that are the case's own: its given
 * files and the files it checks. */
static void own_names(const struct expect_case *c, struct names *own)
{
    for (size_t i = 0; i < c->ngivens; i++)
        names_add(own, c->givens[i].name);
    for (size_t i = 0; i < c->nfiles; i++)
        names_add(own, c->files[i].name);
}

/* ---- watching the run ------------------------------------------------------------ */

struct watch {
    double start, deadline;
    bool reaped[8];
    bool sent[8][16];
    off_t scanned[8][16]; /* of each stdout file, bytes searched for each signal */
    bool traced;
};

/* The process a signal is meant for: the program, not strace in front of it. */
static pid_t signal_target(const struct instance *in, bool traced)
{
    char path[96], buf[64];
    int pid;

    if (!traced)
        return in->pid;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)in->pid, (int)in->pid);
    read_small(path, buf, sizeof buf);
    pid = atoi(buf);
    return pid > 0 ? pid : in->pid;
}

static void send_signal(const struct instance *in, const struct signal_spec *s, bool traced)
{
    pid_t target = signal_target(in, traced);

    if (!s->group) {
        kill(target, s->signo);
        return;
    }
    if (!traced) {
        kill(-in->pid, s->signo);
        return;
    }
    /* The group, less strace itself. */
    pid_t procs[256];
    size_t n = descendants(procs, 256);

    for (size_t i = 0; i < n; i++)
        if (procs[i] != in->pid && getpgid(procs[i]) == in->pid)
            kill(procs[i], s->signo);
}

static bool output_shows(const char *out_path, const regex_t *re)
{
    size_t len;
    char *text = slurp_path(out_path, &len);
    bool hit = text != NULL && any_line_matches(re, text);

    free(text);
    return hit;
}

static void send_due_signals(const struct expect_case *c, struct outcome *o, struct watch *w,
                             const char *case_dir)
{
    double elapsed_ms = (now_s() - w->start) * 1000;

    for (unsigned i = 0; i < o->ninstances; i++)
        for (size_t k = 0; k < c->nsignals && k < 16; k++) {
            const struct signal_spec *s = &c->signals[k];
            bool due;

            if (w->reaped[i] || w->sent[i][k])
                continue;
            if (s->on_output) {
                char path[PATH_MAX + 32];
                struct stat st = {.st_size = 0};

                /* The size is taken before the read: output that arrives
                 * during it is searched again next time, never skipped. */
                snprintf(path, sizeof path, "%s/out.%u", case_dir, i);
                due = stat(path, &st) == 0 && st.st_size != w->scanned[i][k] &&
                      output_shows(path, &s->re);
                if (!due)
                    w->scanned[i][k] = st.st_size;
            } else {
                due = elapsed_ms >= s->after_ms * opt.delay_scale + opt.delay_offset_ms;
            }
            if (due) {
                send_signal(&o->inst[i], s, w->traced);
                w->sent[i][k] = true;
            }
        }
}

/* Until every copy has exited or the time limit passes. */
static void watch_run(const struct expect_case *c, struct outcome *o, const struct helpers *h,
                      const char *case_dir, bool traced)
{
    struct watch w = {.start = now_s(), .traced = traced};
    unsigned left = o->ninstances;

    w.deadline = w.start + c->timeout_s * opt.timeout_scale;
    while (left > 0) {
        for (unsigned i = 0; i < o->ninstances; i++)
            if (!w.reaped[i] && waitpid(o->inst[i].pid, &o->inst[i].status, WNOHANG) > 0) {
                w.reaped[i] = true;
                left--;
            }
        if (left == 0)
            break;
        send_due_signals(c, o, &w, case_dir);
        if (now_s() > w.deadline) {
            o->hung = true;
            diagnose(h, &o->diagnosis);
            for (unsigned i = 0; i < o->ninstances; i++)
                kill(-o->inst[i].pid, SIGKILL);
            kill_descendants(h, false);
            for (unsigned i = 0; i < o->ninstances; i++)
                if (!w.reaped[i])
                    waitpid(o->inst[i].pid, &o->inst[i].status, 0);
            break;
        }
        pause_ms(POLL_MS);
    }
    o->seconds = now_s() - w.start;
}

/* The harness's own processes end once the program's side is gone; a
 * feeder whose reader never read is still blocked and is killed. */
static void finish_helpers(struct helpers *h, bool *done)
{
    double until = now_s() + 2.0;

    for (size_t i = 0; i < h->n; i++) {
        while (!done[i] && now_s() < until) {
            int status;

            if (waitpid(h->pids[i], &status, WNOHANG) != 0)
                done[i] = true;
            else
                pause_ms(5);
        }
        if (!done[i]) {
            kill(h->pids[i], SIGKILL);
            waitpid(h->pids[i], NULL, 0);
        }
    }
}

/* ---- one case ------------------------------------------------------------------------ */

/* Starts copy `i`: its capture files, its feeder and drain, the program. */
static void start_copy(const struct program *prog, const struct expect_case *c,
                       const char *case_dir, const char *cwd, unsigned i, struct outcome *o,
                       struct helpers *h)
{
    char path[PATH_MAX + 32];
    int in_fd, out_fd, err_fd, in_pipe[2], out_pipe[2], program_out;
    char **argv = build_argv(prog, c, case_dir, i);

    snprintf(path, sizeof path, "%s/out.%u", case_dir, i);
    out_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    snprintf(path, sizeof path, "%s/err.%u", case_dir, i);
    err_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    program_out = out_fd;
    if (c->has_stdin && pipe2(in_pipe, O_CLOEXEC) == 0) {
        in_fd = in_pipe[0];
        h->pids[h->n++] =
            start_feeder(in_pipe[1], o->input, o->input_len, c->pace_bytes, c->pace_ms);
        close(in_pipe[1]);
    } else {
        in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (c->stdout_pipe && pipe2(out_pipe, O_CLOEXEC) == 0) {
        h->pids[h->n++] = start_drain(out_pipe[0], out_fd, c->slow_bytes, c->slow_ms);
        close(out_pipe[0]);
        program_out = out_pipe[1];
    }
    /* Signals meant for the program that come before its exec must not run
     * the runner's own stop handler in the child: they wait, blocked, until
     * the child has reset every handler (exec_program). */
    sigset_t all, before;

    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &before);
    fflush(NULL);
    o->inst[i].pid = fork();
    if (o->inst[i].pid != 0)
        sigprocmask(SIG_SETMASK, &before, NULL);
    if (o->inst[i].pid == 0)
        exec_program(argv, in_fd, program_out, err_fd, cwd, under_strace(c));
    snprintf(o->inst[i].trace_prefix, sizeof o->inst[i].trace_prefix, "%s/trace.%u", case_dir, i);
    setpgid(o->inst[i].pid, o->inst[i].pid); /* both sides: no race with kill(-pid) */
    running_groups[i] = o->inst[i].pid;
    close(in_fd);
    if (program_out != out_fd)
        close(program_out);
    close(out_fd);
    close(err_fd);
    free(argv);
}

static void collect_streams(const char *case_dir, struct outcome *o)
{
    for (unsigned i = 0; i < o->ninstances; i++) {
        char path[PATH_MAX + 32];

        snprintf(path, sizeof path, "%s/out.%u", case_dir, i);
        o->inst[i].out = slurp_path(path, &o->inst[i].out_len);
        snprintf(path, sizeof path, "%s/err.%u", case_dir, i);
        o->inst[i].err = slurp_path(path, &o->inst[i].err_len);
    }
}

/* The names in /tmp that are not the program's: the top folders of what
 * was bound back, and, in namespace mode, the case's own files. */
static void exempt_names(const struct expect_case *c, struct names *exempt)
{
    const char *paths[2] = {opt.top, opt.bin};

    for (size_t i = 0; i < 2; i++)
        if (paths[i] != NULL && strncmp(paths[i], "/tmp/", 5) == 0) {
            char first[PATH_MAX];

            snprintf(first, sizeof first, "%s", paths[i] + 5);
            first[strcspn(first, "/")] = '\0';
            names_add(exempt, first);
        }
    if (opt.namespaces)
        own_names(c, exempt);
}

/* Fallback mode: the program's private $TMPDIR must be empty but for the
 * case's own files. */
static void check_private_tmpdir(const struct expect_case *c, const char *cwd, char **problems)
{
    struct names stray = {0}, own = {0};

    own_names(c, &own);
    list_dir(cwd, &stray);
    for (size_t i = 0; i < stray.n; i++)
        if (!names_has(&own, stray.v[i]))
            append(problems, "left behind: $TMPDIR/%s; ", stray.v[i]);
    names_free(&stray);
    names_free(&own);
}

void run_case(const struct program *prog, const struct expect_case *c, const char *case_dir,
              struct outcome *o)
{
    char cwd[CASE_PATH + 16], mq_dir[CASE_PATH + 16], err[512] = "";
    struct snapshot before, after;
    struct names exempt = {0};
    struct helpers h = {.n = 0};
    bool helper_done[16] = {false};
    int orphans;

    memset(o, 0, sizeof *o);
    kill_program_on_stop();
    o->ninstances = c->copies;
    o->traced = under_strace(c);
    snprintf(mq_dir, sizeof mq_dir, "%s/mqueue", case_dir);
    if (opt.namespaces) {
        mkdir(mq_dir, 0700);
        if (isolation_enter(mq_dir, opt.netns && prog->names_sockets, err, sizeof err) == -1) {
            append(&o->problems, "could not isolate the case: %s; ", err);
            return;
        }
        snprintf(cwd, sizeof cwd, "/tmp");
    } else {
        snprintf(mq_dir, sizeof mq_dir, "%s", opt.mqueue);
        snprintf(cwd, sizeof cwd, "%s/tmp", case_dir);
        mkdir(cwd, 0700);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of the program come to us */
    if (c->has_stdin) {
        o->input = data_bytes(&c->stdin_data, prog->dir, &o->input_len, err, sizeof err);
        if (o->input == NULL) {
            append(&o->problems, "stdin: %s; ", err);
            return;
        }
    }
    for (size_t i = 0; i < c->ngivens; i++)
        if (make_given(prog, &c->givens[i], cwd, &o->problems) == -1)
            append(&o->problems, "could not create the given %s: %s; ", c->givens[i].name,
                   strerror(errno));
    exempt_names(c, &exempt);
    take_snapshot(&before, mq_dir);
    for (unsigned i = 0; i < o->ninstances; i++)
        start_copy(prog, c, case_dir, cwd, i, o, &h);
    watch_run(c, o, &h, case_dir, o->traced);
    orphans = reap_orphans(&h, helper_done);
    if (orphans > 0)
        append(&o->problems, "left behind: %d child process(es) it did not wait for; ", orphans);
    finish_helpers(&h, helper_done);
    collect_streams(case_dir, o);
    collect_files(c, cwd, o);
    take_snapshot(&after, mq_dir);
    compare_snapshots(&before, &after, &exempt, &o->problems);
    if (!opt.namespaces)
        check_private_tmpdir(c, cwd, &o->problems);
    free_snapshot(&before);
    free_snapshot(&after);
    names_free(&exempt);
}

void free_outcome(struct outcome *o)
{
    for (unsigned i = 0; i < o->ninstances; i++) {
        free(o->inst[i].out);
        free(o->inst[i].err);
    }
    free(o->input);
    for (size_t i = 0; i < o->nfiles; i++)
        free(o->files[i].bytes);
    free(o->files);
    free(o->problems);
    free(o->diagnosis);
}
