/* trace.c - watch the kernel: a program's system calls, and who woke whom
 *
 * Runs one program of the collection under `strace -f` and prints, once it
 * has ended, the system calls of its lesson in time order, one line each:
 * the time since the line before, the process's role as its narration names
 * it ([parent], [child]), the call with its arguments and result.  The
 * loader's and libc's start-up calls are left out, and so are the calls not
 * named on the `Trace:` line of the program's header comment, when it has
 * one.  With --sched it then runs the program again under `perf record` and
 * shows, from the scheduler's side, who woke whom, on which CPU, and how long
 * each side waited: the blocking hand-off of the chapter.
 *
 * Guide part: kernel (every chapter; `make trace P=...`, `make sched P=...`).
 * Run: tools/trace [--timeout S] [--all] [--narration] [--sched] PROG [ARGS...]
 */
#define _GNU_SOURCE
#include "cleanup.h"
#include "common.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "[--timeout S] [--all] [--narration] [--sched] PROG [ARGS...]\n"
    "    --timeout S  stop the program after S seconds (1-600, default 10)\n"
    "    --all        every call after start-up, not only the Trace: line's\n"
    "    --narration  also the write() calls of the [role] narration\n"
    "    --sched      then the scheduler's view, under perf record";

#define GRACE_S 2 /* from SIGTERM to SIGKILL */
#define MAX_PATTERNS 32

static struct {
    long timeout_s;
    bool all, narration, sched;
    const char *prog;
    char **argv; /* PROG ARGS... */
} opt = {10, false, false, false, NULL, NULL};

/* ---- one line of the trace ------------------------------------------------- */

enum kind { CALL, SIGNAL, EXIT };

struct event {
    long long t_us; /* when the call was entered, microseconds */
    double took_s;  /* time inside the call (strace -T), or -1 */
    int pid;
    enum kind kind;
    char name[32]; /* the call's name */
    char *text;    /* "pipe2([3<pipe:[12]>, 4<pipe:[12]>], 0) = 0" */
};

struct proc {
    int pid;
    char role[40]; /* "[parent]", or the fallback chosen in name_roles() */
    char exe[24];  /* what it exec'd, if it did */
    bool thread;   /* created with CLONE_THREAD */
    long long first_us;
};

struct trace {
    struct event *ev;
    size_t nev, cap;
    struct proc *procs;
    size_t nprocs;
    size_t after_startup; /* calls that were not start-up noise */
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL)
        die("out of memory");
    return q;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        die("out of memory");
    return d;
}

/* ---- reading strace's lines ------------------------------------------------ */

struct call {
    char name[32];
    const char *args; /* after '(' */
    size_t args_len;  /* up to the ')' before " = " */
    const char *ret;  /* after "= " */
};

/* "write(3<pipe:[12]>, "ab", 2) = 2": false for a line that is not a call.
 * The last ") = " ends the arguments (strace pads short calls to a column). */
static bool parse_call(const char *line, struct call *c)
{
    size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
    const char *close = NULL;

    if (n == 0 || n >= sizeof c->name || line[n] != '(')
        return false;
    for (const char *p = strchr(line, ')'); p != NULL; p = strchr(p + 1, ')')) {
        const char *q = p + 1 + strspn(p + 1, " ");

        if (q > p + 1 && q[0] == '=' && q[1] == ' ') {
            close = p;
            c->ret = q + 2;
        }
    }
    if (close == NULL)
        return false;
    memcpy(c->name, line, n);
    c->name[n] = '\0';
    c->args = line + n + 1;
    c->args_len = (size_t)(close - c->args);
    return true;
}

static bool args_contain(const struct call *c, const char *needle)
{
    return memmem(c->args, c->args_len, needle, strlen(needle)) != NULL;
}

static bool is_one_of(const char *name, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcmp(name, *names) == 0)
            return true;
    return false;
}

/* Names a file of the dynamic loader: a shared library, ld.so.cache or
 * ld.so.preload (as a path, or as strace -y shows a descriptor). */
static bool names_loader_file(const struct call *c)
{
    return args_contain(c, ".so\"") || args_contain(c, ".so>") || args_contain(c, ".so.") ||
           args_contain(c, "ld.so.cache") || args_contain(c, "ld.so.preload");
}

/* The calls of a process between its execve() and main(), as glibc 2.36's
 * loader and libc make them on this machine: the loader maps itself and
 * the libraries, libc sets up thread-local storage, robust futexes, rseq,
 * stack limit and malloc's random seed. */
static bool is_startup_call(const struct call *c)
{
    static const char *const always[] = {
        "brk",      "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
        "mprotect", "prlimit64",  "munmap",          "getrandom",       NULL,
    };
    static const char *const on_loader_file[] = {
        "mmap", "openat", "open", "read", "pread64", "newfstatat", "fstat", "access", "close", NULL,
    };

    if (is_one_of(c->name, always))
        return true;
    if (strcmp(c->name, "mmap") == 0 && args_contain(c, "MAP_ANONYMOUS"))
        return true;
    return is_one_of(c->name, on_loader_file) && names_loader_file(c);
}

/* The first thing a program of the collection does, in cli_getopt():
 * ensure_std_fds() of common/proc.c opens /dev/null to see that 0, 1 and 2
 * are taken, and closes it. */
static bool is_std_fds_probe(const struct call *c)
{
    return (strcmp(c->name, "openat") == 0 && args_contain(c, "\"/dev/null\", O_RDWR")) ||
           (strcmp(c->name, "close") == 0 && args_contain(c, "</dev/null>"));
}

/* A failed execve() is the PATH search of execvp(), not the lesson. */
static bool is_failed_execve(const struct call *c)
{
    return strcmp(c->name, "execve") == 0 && c->ret[0] == '-';
}

/* Strip strace -T's trailing " <0.000012>" from line; returns it in seconds. */
static double strip_time_in_call(char *line)
{
    size_t len = strlen(line);
    char *open;

    if (len < 3 || line[len - 1] != '>' || (open = strrchr(line, '<')) == NULL || open == line ||
        open[-1] != ' ' || strspn(open + 1, "0123456789.") != (size_t)(line + len - 1 - open - 1))
        return -1;
    double took = strtod(open + 1, NULL);

    open[-1] = '\0';
    return took;
}

static void add_event(struct trace *tr, long long t_us, double took, int pid, enum kind kind,
                      const char *name, const char *text)
{
    if (tr->nev == tr->cap) {
        tr->cap = tr->cap ? 2 * tr->cap : 256;
        tr->ev = xrealloc(tr->ev, tr->cap * sizeof *tr->ev);
    }
    struct event *e = &tr->ev[tr->nev++];

    e->t_us = t_us;
    e->took_s = took;
    e->pid = pid;
    e->kind = kind;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->text = xstrdup(text);
}

static struct proc *find_proc(struct trace *tr, int pid)
{
    for (size_t i = 0; i < tr->nprocs; i++)
        if (tr->procs[i].pid == pid)
            return &tr->procs[i];
    return NULL;
}

static struct proc *add_proc(struct trace *tr, int pid)
{
    struct proc *p = find_proc(tr, pid);

    if (p != NULL)
        return p;
    tr->procs = xrealloc(tr->procs, (tr->nprocs + 1) * sizeof *tr->procs);
    p = &tr->procs[tr->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    return p;
}

/* One process's file, t.PID.  Its start-up is left out: from an execve()
 * to the first call that is not start-up, the loader's, libc's or common/'s
 * standard-descriptor check (the program's first execve() is
 * left out too: it is the command line we gave), and in a forked child or a
 * new thread the set_robust_list() and rseq() that glibc's fork() and
 * pthread_create() make in it first. */
static void read_process(struct trace *tr, const char *path, int pid, bool *root_seen)
{
    FILE *fp = fopen(path, "r");
    char line[16384];
    bool first = true, startup = false, new_task = true;
    struct proc *p = add_proc(tr, pid);

    if (fp == NULL)
        die_errno("open %s", path);
    while (fgets(line, sizeof line, fp) != NULL) {
        char *rest, *nl = strchr(line, '\n');
        struct call c;

        if (nl != NULL)
            *nl = '\0';
        double t = strtod(line, &rest);
        long long t_us = llround(t * 1e6);

        if (rest == line || *rest != ' ')
            continue;
        rest++;
        double took = strip_time_in_call(rest);

        if (first)
            p->first_us = t_us;
        if (strncmp(rest, "--- ", 4) == 0) {
            add_event(tr, t_us, -1, pid, SIGNAL, "", rest);
            continue;
        }
        if (strncmp(rest, "+++ ", 4) == 0) {
            add_event(tr, t_us, -1, pid, EXIT, "", rest);
            continue;
        }
        if (!parse_call(rest, &c)) { /* an unfinished call: shown as it is */
            tr->after_startup++;
            add_event(tr, t_us, took, pid, CALL, "", rest);
            continue;
        }
        bool was_first = first;

        first = false;
        new_task = new_task && strcmp(c.name, "execve") != 0;
        if (is_failed_execve(&c))
            continue;
        if (strcmp(c.name, "execve") == 0) {
            /* execve("/usr/bin/sort", ...): the file's base name */
            const char *file = c.args + 1, *end = file + strcspn(file, "\"");
            const char *base = memrchr(file, '/', (size_t)(end - file));

            base = base != NULL ? base + 1 : file;
            snprintf(p->exe, sizeof p->exe, "%.*s", (int)(end - base), base);
            startup = true;
            if (was_first && !*root_seen) {
                *root_seen = true; /* the command itself */
                p->exe[0] = '\0';
                continue;
            }
        } else if (startup && is_startup_call(&c)) {
            continue;
        } else if (startup && is_std_fds_probe(&c)) {
            continue; /* still start-up: the collection's own, in common/ */
        } else if (new_task &&
                   (strcmp(c.name, "set_robust_list") == 0 || strcmp(c.name, "rseq") == 0)) {
            continue;
        } else {
            startup = false;
            new_task = false;
        }
        tr->after_startup++;
        add_event(tr, t_us, took, pid, CALL, c.name, rest);
        if ((strcmp(c.name, "clone") == 0 || strcmp(c.name, "clone3") == 0) &&
            args_contain(&c, "CLONE_THREAD") && atoi(c.ret) > 0)
            add_proc(tr, atoi(c.ret))->thread = true; /* add_proc may move p */
        p = find_proc(tr, pid);
    }
    fclose(fp);
}

static int by_first_line(const void *a, const void *b)
{
    const struct proc *x = a, *y = b;

    return (x->first_us > y->first_us) - (x->first_us < y->first_us);
}

/* Every t.PID file of dir, read and then removed (so the directory is empty
 * whatever happens next, and the cleanup registry's rmdir() succeeds). */
static void read_trace(struct trace *tr, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX + 32];
    int pids[4096];
    size_t n = 0;
    bool root_seen = false;

    if (d == NULL)
        die_errno("open %s", dir);
    while ((de = readdir(d)) != NULL && n < sizeof pids / sizeof *pids)
        if (strncmp(de->d_name, "t.", 2) == 0)
            pids[n++] = atoi(de->d_name + 2);
    closedir(d);
    /* The lowest pid first: the program's own process, whose first line is
     * the execve() of the command. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && pids[j] < pids[j - 1]; j--) {
            int swap = pids[j];
            pids[j] = pids[j - 1];
            pids[j - 1] = swap;
        }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/t.%d", dir, pids[i]);
        read_process(tr, path, pids[i], &root_seen);
        unlink(path);
    }
    qsort(tr->procs, tr->nprocs, sizeof *tr->procs, by_first_line);
}

/* ---- roles -------------------------------------------------------------------- */

/* The narration a write() carries: "[role] " at the start of what it writes
 * to descriptor 1 or 2.  Copies "[role]" into role. */
static bool narration_role(const struct event *e, char *role, size_t size)
{
    const char *a, *q, *end;

    if (strcmp(e->name, "write") != 0) /* a write's text is "write(..." */
        return false;
    a = e->text + strlen("write(");
    if ((a[0] != '1' && a[0] != '2') || (a[1] != '<' && a[1] != ','))
        return false;
    q = strstr(a, ", \"[");
    if (q == NULL || (end = strchr(q + 3, ']')) == NULL || end[1] != ' ' ||
        memchr(q + 3, '"', (size_t)(end - q - 3)) != NULL || end - q - 3 > 30)
        return false;
    snprintf(role, size, "%.*s", (int)(end - q - 2), q + 3);
    return true;
}

static bool is_narration(const struct event *e)
{
    char role[40];

    return e->kind == CALL && narration_role(e, role, sizeof role);
}

/* A process's role is the first [role] it narrates.  One that never narrates
 * is named by what it runs, "[sort 1261]" (a pipeline stage), or else
 * "[thread N]" / "[pid N]": its parent's role would hide which child it is. */
static void name_roles(struct trace *tr)
{
    for (size_t i = 0; i < tr->nev; i++) {
        struct proc *p = find_proc(tr, tr->ev[i].pid);

        if (p->role[0] == '\0')
            narration_role(&tr->ev[i], p->role, sizeof p->role);
    }
    for (size_t i = 0; i < tr->nprocs; i++) {
        struct proc *p = &tr->procs[i];

        if (p->role[0] != '\0')
            continue;
        if (p->exe[0] != '\0')
            snprintf(p->role, sizeof p->role, "[%s %d]", p->exe, p->pid);
        else
            snprintf(p->role, sizeof p->role, "[%s %d]", p->thread ? "thread" : "pid", p->pid);
    }
}

/* ---- which calls are the lesson ---------------------------------------------- */

struct lesson {
    char *patterns[MAX_PATTERNS]; /* fnmatch(3) patterns: "pipe*", "write" */
    size_t n;
    char line[512];
};

/* The program's source is PROG.c; its header comment may hold a line
 * " * Trace: pipe2 clone write read wait4". */
static void read_trace_line(const char *prog, struct lesson *l)
{
    char path[PATH_MAX], line[512];
    FILE *fp;

    l->n = 0;
    l->line[0] = '\0';
    snprintf(path, sizeof path, "%s.c", prog);
    if ((fp = fopen(path, "r")) == NULL)
        return;
    while (fgets(line, sizeof line, fp) != NULL && strstr(line, "*/") == NULL) {
        const char *t = line + strspn(line, " /*");

        if (strncmp(t, "Trace:", 6) != 0)
            continue;
        snprintf(l->line, sizeof l->line, "%s", t + 6 + strspn(t + 6, " \t"));
        l->line[strcspn(l->line, "\n")] = '\0';
        break;
    }
    fclose(fp);
    char *save = NULL;

    for (char *w = strtok_r(l->line[0] ? strcpy(line, l->line) : line, " \t,", &save);
         l->line[0] && w != NULL && l->n < MAX_PATTERNS; w = strtok_r(NULL, " \t,", &save))
        l->patterns[l->n++] = xstrdup(w);
}

static bool in_lesson(const struct lesson *l, const struct event *e)
{
    if (e->kind != CALL)
        return true; /* signals and exits are always shown */
    if (!opt.narration && is_narration(e))
        return false;
    if (opt.all || l->n == 0)
        return true;
    for (size_t i = 0; i < l->n; i++)
        if (fnmatch(l->patterns[i], e->name, 0) == 0)
            return true;
    return false;
}

/* ---- printing ------------------------------------------------------------------ */

static int by_time(const void *a, const void *b)
{
    const struct event *x = a, *y = b;

    if (x->t_us != y->t_us)
        return (x->t_us > y->t_us) - (x->t_us < y->t_us);
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* "+   12 µs", "+ 20.4 ms", "+  1.25 s ": a fixed width on the terminal. */
static void print_delta(long long us)
{
    if (us < 1000)
        printf("+%5lld µs", us);
    else if (us < 1000000)
        printf("+%5.1f ms", (double)us / 1e3);
    else
        printf("+%5.2f s ", (double)us / 1e6);
}

static void print_trace(struct trace *tr, const struct lesson *l)
{
    size_t shown = 0, width = 0;
    long long last = 0;

    qsort(tr->ev, tr->nev, sizeof *tr->ev, by_time);
    for (size_t i = 0; i < tr->nprocs; i++)
        width = strlen(tr->procs[i].role) > width ? strlen(tr->procs[i].role) : width;
    if (tr->nprocs > 0)
        last = tr->procs[0].first_us; /* the program's execve() */
    for (size_t i = 0; i < tr->nev; i++) {
        const struct event *e = &tr->ev[i];

        if (!in_lesson(l, e))
            continue;
        print_delta(e->t_us - last);
        printf("  %-*s  %s", (int)width, find_proc(tr, e->pid)->role, e->text);
        if (e->took_s >= 0.001)
            printf("   (%.1f ms in the call)", e->took_s * 1e3);
        putchar('\n');
        last = e->t_us;
        shown += e->kind == CALL;
    }
    printf("trace: %zu of the %zu calls after start-up shown, %zu process%s\n", shown,
           tr->after_startup, tr->nprocs, tr->nprocs == 1 ? "" : "es");
}

static void free_trace(struct trace *tr)
{
    for (size_t i = 0; i < tr->nev; i++)
        free(tr->ev[i].text);
    free(tr->ev);
    free(tr->procs);
}

static void free_lesson(struct lesson *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->patterns[i]);
}

/* ---- running a command, bounded ------------------------------------------------ */

/* Every process below this one (the tool is a child subreaper, so orphans
 * of the program come back to it and are still found here). */
static size_t descendants(pid_t *out, size_t max)
{
    static pid_t pid[32768], ppid[32768];
    size_t n = 0, found = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL && n < 32768) {
        char path[300], buf[512], *paren;
        int fd, len;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
            continue;
        len = (int)read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        if ((paren = strrchr(buf, ')')) == NULL) /* the name may hold a ")" */
            continue;
        pid[n] = atoi(buf);
        ppid[n++] = atoi(paren + 4); /* ") S PPID" */
    }
    if (d != NULL)
        closedir(d);
    /* Walk down from this process, breadth first. */
    pid_t frontier = getpid();
    for (size_t head = 0;; head++) {
        for (size_t i = 0; i < n && found < max; i++)
            if (ppid[i] == frontier)
                out[found++] = pid[i];
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

struct run {
    pid_t pid;  /* strace or perf: the direct child */
    int status; /* its wait status */
    bool timed_out, interrupted;
    int signo; /* the signal that interrupted the tool */
};

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

    if (left <= 0)
        return 0;
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    int s = sigtimedwait(set, NULL, &ts);

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

/* LeakSanitizer cannot run under ptrace: a program built with SANITIZE=
 * address has its leak check (only) turned off here, as in the harness. */
static void no_leak_check_under_ptrace(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char options[1024];

    snprintf(options, sizeof options, "%s%sdetect_leaks=0", old != NULL ? old : "",
             old != NULL && old[0] != '\0' ? ":" : "");
    setenv("ASAN_OPTIONS", options, 1);
}

/* Runs argv in a process group of its own (given the terminal, when the tool
 * has it, so that Ctrl-C and terminal reads go to the program), bounded by
 * the time limit; SIGINT, SIGTERM or SIGHUP to the tool stops it too.
 * stdin, stdout and stderr are the tool's, unless out_fd/err_fd >= 0. */
static void run_bounded(char **argv, int err_fd, struct run *r)
{
    sigset_t set, saved;
    bool tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
    bool done = false;
    int s;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &saved);
    memset(r, 0, sizeof *r);
    fflush(NULL);
    r->pid = fork_or_die();
    if (r->pid == 0) {
        setpgid(0, 0);
        if (tty) {
            signal(SIGTTOU, SIG_IGN); /* a background group may not take the terminal */
            tcsetpgrp(STDIN_FILENO, getpid());
            signal(SIGTTOU, SIG_DFL);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) == -1)
            _exit(126);
        /* Nothing the tool was given (make's jobserver pipe, a test's
         * descriptors) or opened reaches the program: its descriptor
         * numbers are the ones it shows without the tool. */
        close_range(3, ~0U, 0);
        no_leak_check_under_ptrace();
        sigprocmask(SIG_SETMASK, &saved, NULL);
        execvp(argv[0], argv);
        dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", prog_name(), argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(r->pid, r->pid); /* both sides: no race with the exec */
    double deadline = now_s() + (double)opt.timeout_s;

    while (!done) {
        s = wait_signal(&set, deadline);
        if (s == SIGCHLD) {
            done = reap_ended(r);
        } else if (s == 0 || s > 0) {
            r->timed_out = s == 0;
            r->interrupted = s > 0;
            r->signo = s;
            stop_program(r, &set, &done);
        }
    }
    /* Whatever the tracer left (it detaches from tracees when killed). */
    signal_descendants(SIGKILL, 0);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (tty) {
        signal(SIGTTOU, SIG_IGN);
        tcsetpgrp(STDIN_FILENO, getpgrp());
        signal(SIGTTOU, SIG_DFL);
    }
    /* A signal that came after the end, consumed: the run is over. */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* What became of the run, in one line on stderr; true if the program exited 0. */
static bool report_run(const char *what, const struct run *r)
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

/* ---- the command on PATH? --------------------------------------------------------- */

static bool on_path(const char *cmd)
{
    const char *path = getenv("PATH");
    char dir[PATH_MAX + 64];

    for (const char *p = path ? path : "/usr/bin:/bin"; *p != '\0';) {
        size_t len = strcspn(p, ":");

        snprintf(dir, sizeof dir, "%.*s/%s", (int)len, p, cmd);
        if (len > 0 && access(dir, X_OK) == 0)
            return true;
        p += len + (p[len] == ':');
    }
    return false;
}

/* The tracer's words, then PROG ARGS...: a NULL-terminated argv to free(). */
static char **command_line(const char *const *head, size_t nhead)
{
    size_t nargs = 0;

    while (opt.argv[nargs] != NULL)
        nargs++;
    char **argv = xrealloc(NULL, (nhead + nargs + 1) * sizeof *argv);

    for (size_t i = 0; i < nhead; i++)
        argv[i] = (char *)head[i];
    for (size_t i = 0; i <= nargs; i++)
        argv[nhead + i] = opt.argv[i];
    return argv;
}

/* ---- the strace view ------------------------------------------------------------- */

static bool strace_view(const char *dir, struct trace *tr)
{
    char out[PATH_MAX + 8];
    const char *head[] = {"strace", "-f", "-ff", "-ttt", "-T", "-q",
                          "-y",     "-s", "48",  "-o",   out,  "--"};
    size_t nhead = sizeof head / sizeof *head;
    struct lesson l;
    struct run r;

    char **argv = command_line(head, nhead);

    snprintf(out, sizeof out, "%s/t", dir);
    read_trace_line(opt.prog, &l);
    printf("==== %s under strace -f: its output first, then its system calls\n", opt.prog);
    run_bounded(argv, -1, &r);
    free(argv);
    bool ok = report_run("under strace", &r);

    read_trace(tr, dir);
    name_roles(tr);
    if (l.n > 0 && !opt.all)
        printf("==== system calls of the lesson (Trace: %s), start-up left out\n", l.line);
    else
        printf("==== every system call after start-up (loader and libc set-up left out)\n");
    print_trace(tr, &l);
    free_lesson(&l);
    return ok;
}

/* ---- the scheduler's view (perf) ---------------------------------------------------- */

struct task {
    int pid;
    char label[40];
    long long asleep_since;  /* ns, when it last switched out not runnable; -1 */
    long long running_since; /* ns, when it last switched in; -1 */
    long long woken_at;      /* ns, its last wake-up, until it runs; -1 */
};

struct sched {
    struct task *t;
    size_t n;
};

static struct task *task_of(struct sched *s, int pid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->t[i].pid == pid)
            return &s->t[i];
    return NULL;
}

static struct task *add_task(struct sched *s, int pid, const char *comm)
{
    struct task *t = task_of(s, pid);

    if (t != NULL)
        return t;
    s->t = xrealloc(s->t, (s->n + 1) * sizeof *s->t);
    t = &s->t[s->n++];
    t->pid = pid;
    snprintf(t->label, sizeof t->label, "[%s %d]", comm, pid);
    t->asleep_since = t->running_since = t->woken_at = -1;
    return t;
}

/* A field of a tracepoint's text: "next_pid=42" gives 42. */
static long field_long(const char *text, const char *key)
{
    const char *p = strstr(text, key);

    return p != NULL ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void field_str(const char *text, const char *key, char *out, size_t size)
{
    const char *p = strstr(text, key);

    out[0] = '\0';
    if (p != NULL)
        snprintf(out, size, "%.*s", (int)strcspn(p + strlen(key), " "), p + strlen(key));
}

static void print_span(const char *what, long long ns)
{
    if (ns < 0)
        printf("%s ?", what);
    else if (ns < 1000000)
        printf("%s %lld µs", what, ns / 1000);
    else
        printf("%s %.1f ms", what, (double)ns / 1e6);
}

/* One line of `perf script -F tid,cpu,time,event,trace`:
 *   "  1262 [001] 12345.678901: sched:sched_wakeup: comm=x pid=1263 ..." */
static void sched_line(struct sched *s, const char *line, pid_t perf_pid, long long *t0,
                       bool tree_only)
{
    char event[64], comm[32], role[40];
    int tid, cpu;
    double t;
    int used = 0;

    if (sscanf(line, " %d [%d] %lf: %63[^:]:%63[^:]: %n", &tid, &cpu, &t, event, event, &used) <
            5 ||
        used == 0)
        return;
    const char *text = line + used;
    long long ns = llround(t * 1e9);

    if (*t0 == 0)
        *t0 = ns;
    if (tree_only && s->n == 0) {
        /* The program's first process: perf's child, named perf-exec until
         * it execs the program (perf forks it before recording starts). */
        const char *root = strstr(text, "comm=perf-exec ");

        if (root != NULL)
            add_task(s, (int)field_long(root, "pid="), "perf-exec");
    }
    if (tree_only != (strcmp(event, "sched_process_fork") == 0))
        return;
    if (tree_only) {
        int parent = (int)field_long(text, " pid="), child = (int)field_long(text, "child_pid=");

        field_str(text, "child_comm=", comm, sizeof comm);
        if (parent == perf_pid || task_of(s, parent) != NULL)
            add_task(s, child, comm);
        return;
    }
    if (strcmp(event, "sched_switch") == 0) {
        struct task *prev = task_of(s, (int)field_long(text, "prev_pid="));
        struct task *next = task_of(s, (int)field_long(text, "next_pid="));
        char state[8];

        field_str(text, "prev_state=", state, sizeof state);
        if (prev != NULL) {
            prev->running_since = -1;
            prev->asleep_since = state[0] == 'R' ? -1 : ns;
        }
        if (next != NULL) {
            if (next->woken_at >= 0) {
                printf("           ");
                printf("%s runs on CPU %d", next->label, cpu);
                print_span(",", ns - next->woken_at);
                printf(" after its wake-up\n");
            }
            next->running_since = ns;
            next->woken_at = -1;
        }
        return;
    }
    if (strcmp(event, "sched_wakeup") != 0 && strcmp(event, "sched_wakeup_new") != 0)
        return;
    struct task *wakee = task_of(s, (int)field_long(text, " pid="));
    struct task *waker = task_of(s, tid);

    if (wakee == NULL)
        return;
    if (waker != NULL)
        snprintf(role, sizeof role, "%s", waker->label);
    else if (tid == 0)
        snprintf(role, sizeof role, "<idle>");
    else
        snprintf(role, sizeof role, "<outside: pid %d>", tid);
    printf("%8.3f ms  %s woken by %s on CPU %d", (double)(ns - *t0) / 1e6, wakee->label, role, cpu);
    if (strcmp(event, "sched_wakeup_new") == 0)
        printf(" (new task)");
    else
        print_span(", asleep", wakee->asleep_since >= 0 ? ns - wakee->asleep_since : -1);
    if (waker != NULL)
        print_span("; the waker had run",
                   waker->running_since >= 0 ? ns - waker->running_since : -1);
    putchar('\n');
    wakee->woken_at = ns;
    wakee->asleep_since = -1;
}

/* The perf view's labels: the roles of the strace view, matched by the order
 * the processes were created in (the two runs of a demo create them in the
 * same order); where the counts differ, the labels stay "[comm pid]". */
static void label_tasks(struct sched *s, const struct trace *tr)
{
    if (tr == NULL || tr->nprocs != s->n)
        return;
    for (size_t i = 0; i < s->n; i++)
        snprintf(s->t[i].label, sizeof s->t[i].label, "%s", tr->procs[i].role);
}

/* perf's own words, the lines that say why (not its usage text), and what
 * to change: checked on Debian 12's kernel 6.1 and perf 6.1 as a normal
 * user, where both steps are needed. */
static void print_perf_refusal(const char *err_path)
{
    static const char *const why[] = {"rror",     "int:",          "ermission",
                                      "paranoid", "not supported", NULL};
    char line[512], paranoid[16] = "?";
    FILE *fp = fopen("/proc/sys/kernel/perf_event_paranoid", "r");

    if (fp != NULL) {
        if (fgets(paranoid, sizeof paranoid, fp) != NULL)
            paranoid[strcspn(paranoid, "\n")] = '\0';
        fclose(fp);
    }
    printf("sched: perf may not record the scheduler's events here; it said:\n");
    fp = fopen(err_path, "r");
    for (int lines = 0; fp != NULL && fgets(line, sizeof line, fp) != NULL && lines < 6;) {
        bool relevant = false;

        for (size_t i = 0; why[i] != NULL; i++)
            relevant |= strstr(line, why[i]) != NULL;
        if (relevant) {
            printf("    %s", line);
            lines++;
        }
    }
    if (fp != NULL)
        fclose(fp);
    if (geteuid() == 0) {
        printf("sched: even as root: is this a container without perf events?\n");
        return;
    }
    printf("sched: a normal user needs two changes (until the next boot), or make sched as root:\n"
           "    sudo sysctl kernel.perf_event_paranoid=-1     (it is %s here: the scheduler's\n"
           "        tracepoints, system-wide, need -1)\n"
           "    sudo mount -o remount,mode=755,gid=$(id -g) /sys/kernel/tracing\n"
           "        (its event files are readable by root and the mount's group only)\n",
           paranoid);
}

static void sched_view(const char *dir, const struct trace *tr)
{
    char data[PATH_MAX + 16], err[PATH_MAX + 16], line[1024];
    const char *head[] = {
        "perf",
        "record",
        "-q",
        "-a",
        "--no-buildid",
        "--no-buildid-cache",
        "-o",
        data,
        "-e",
        "sched:sched_switch,sched:sched_wakeup,sched:sched_wakeup_new,sched:sched_process_fork",
        "--"};
    size_t nhead = sizeof head / sizeof *head;
    struct run r;
    int err_fd;

    if (!on_path("perf")) {
        printf(
            "sched: perf is not installed: sudo apt-get install linux-perf (Debian's package)\n");
        return;
    }
    snprintf(data, sizeof data, "%s/perf.data", dir);
    snprintf(err, sizeof err, "%s/perf.err", dir);
    if ((err_fd = open(err, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
        die_errno("create %s", err);
    char **argv = command_line(head, nhead);

    printf("==== %s under perf record (sched_switch, sched_wakeup): its output first\n", opt.prog);
    run_bounded(argv, err_fd, &r);
    close(err_fd);
    free(argv);
    struct stat st;

    /* Refused, perf writes no data (or only its header) and the program
     * never runs. */
    if (stat(data, &st) == -1 || st.st_size == 0 || !WIFEXITED(r.status) ||
        WEXITSTATUS(r.status) == 129) {
        print_perf_refusal(err);
        unlink(data);
        unlink(err);
        return;
    }
    report_run("under perf", &r);
    unlink(err);
    /* perf script, read through a pipe. */
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) == -1)
        die_errno("pipe for perf script");
    pid_t pid = fork_or_die();

    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (dup2(fds[1], STDOUT_FILENO) == -1 || (null >= 0 && dup2(null, STDERR_FILENO) == -1))
            _exit(126);
        execlp("perf", "perf", "script", "-i", data, "-F", "tid,cpu,time,event,trace",
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    char **lines = NULL;
    size_t nlines = 0;
    struct sched s = {0};
    long long t0 = 0;

    if (in == NULL)
        die_errno("fdopen");
    while (fgets(line, sizeof line, in) != NULL) {
        lines = xrealloc(lines, (nlines + 1) * sizeof *lines);
        lines[nlines++] = xstrdup(line);
    }
    fclose(in);
    waitpid(pid, NULL, 0);
    unlink(data);
    /* First the program's process tree (the forks below perf), to label it
     * with the strace view's roles; then its wake-ups. */
    for (size_t i = 0; i < nlines; i++)
        sched_line(&s, lines[i], r.pid, &t0, true);
    label_tasks(&s, tr);
    printf("==== who woke whom: each wake-up of one of the program's %zu processes\n", s.n);
    printf("(time since the first event; \"asleep\": since it blocked; \"the waker had run\": "
           "since it last got the CPU;\n <idle>, <outside: pid N>: an interrupt, such as the "
           "timer of a sleep, on a CPU that was idle or ran another task)\n");
    t0 = 0;
    for (size_t i = 0; i < nlines; i++) {
        sched_line(&s, lines[i], r.pid, &t0, false);
        free(lines[i]);
    }
    free(lines);
    free(s.t);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'}, {"all", no_argument, NULL, 'a'},
        {"narration", no_argument, NULL, 'n'},     {"sched", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    char dir[PATH_MAX];
    int c;

    while ((c = cli_getopt(argc, argv, "+h", longopts, usage)) != -1) {
        switch (c) {
        case 't': opt.timeout_s = cli_long(optarg, 1, 600, "--timeout", usage); break;
        case 'a': opt.all = true; break;
        case 'n': opt.narration = true; break;
        case 's': opt.sched = true; break;
        default: die_usage(usage, "unknown option");
        }
    }
    if (optind >= argc)
        die_usage(usage, "which program? PROG is missing");
    opt.prog = argv[optind];
    opt.argv = argv + optind;
    if (access(opt.prog, X_OK) == -1)
        die_usage(usage, "%s: not an executable program (%s); build it first (make)", opt.prog,
                  strerror(errno));
    if (strchr(opt.prog, '/') == NULL) /* not a PATH search: the collection's program */
        die_usage(usage, "%s: give its path, e.g. ./%s", opt.prog, opt.prog);
    if (!on_path("strace"))
        die("strace is not installed: sudo apt-get install strace (Debian's package strace)");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        die_errno("prctl PR_SET_CHILD_SUBREAPER");
    make_temp_dir(dir, sizeof dir, "trace");
    struct trace tr = {0};
    bool ok = strace_view(dir, &tr);

    if (opt.sched)
        sched_view(dir, &tr);
    free_trace(&tr);
    return ok ? 0 : 1;
}
