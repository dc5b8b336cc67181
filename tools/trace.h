/* trace.h - what the parts of tools/trace share
 *
 *   trace.c          options, the two views in order, main()
 *   trace_run.c      running strace or perf on the program, bounded in time
 *   trace_events.c   reading strace's files: calls, start-up left out, roles
 *   trace_print.c    the Trace: line of the lesson, and the merged listing
 *   trace_sched.c    perf record and script: who woke whom
 * and, from the harness, tests/under_strace.c: strace's lines parsed, and
 * LeakSanitizer off under ptrace.
 */
#ifndef TRACE_H
#define TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define GRACE_S 2 /* from SIGTERM to SIGKILL */
#define MAX_PATTERNS 32

struct options {
    long timeout_s;
    bool all, narration, sched;
    const char *prog;
    char **argv; /* PROG ARGS... */
};

extern struct options opt;

/* ---- one line of the trace (trace_events.c) ----------------------------------- */

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

/* Every t.PID file of dir, read into tr (in the order the processes first
 * appear) and removed. */
void read_trace(struct trace *tr, const char *dir);
/* Each process's role: its narration's "[role]", or what it runs. */
void name_roles(struct trace *tr);
struct proc *find_proc(struct trace *tr, int pid);
/* A write() of "[role] ..." to descriptor 1 or 2: the program's output. */
bool is_narration(const struct event *e);
void free_trace(struct trace *tr);

/* ---- which calls are the lesson, and the listing (trace_print.c) -------------- */

struct lesson {
    char *patterns[MAX_PATTERNS]; /* fnmatch(3) patterns: "pipe*", "write" */
    size_t n;
    char line[512];
};

void read_trace_line(const char *prog, struct lesson *l);
void print_trace(struct trace *tr, const struct lesson *l);
void free_lesson(struct lesson *l);

/* ---- running a command, bounded (trace_run.c) --------------------------------- */

struct run {
    pid_t pid;  /* strace or perf: the direct child */
    int status; /* its wait status */
    bool timed_out, interrupted;
    int signo; /* the signal that interrupted the tool */
};

void run_bounded(char **argv, int err_fd, struct run *r);
bool report_run(const char *what, const struct run *r);

/* ---- the scheduler's view (trace_sched.c) ------------------------------------- */

void sched_view(const char *dir, const struct trace *tr);

/* ---- shared helpers (trace.c) ------------------------------------------------- */

void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
bool on_path(const char *cmd);
char **command_line(const char *const *head, size_t nhead);

#endif
