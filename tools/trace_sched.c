/* trace_sched.c - the scheduler's view: who woke whom
 *
 * Runs the program a second time under `perf record -a` on the scheduler's
 * tracepoints (system-wide: a wake-up or a switch-in is recorded in the
 * context of the task that is running, often not the program's), keeps
 * the program's process tree (perf's child and its forks), and prints
 * each wake-up of one of its processes: who woke it, on which CPU, how
 * long it had slept, how long the waker had run, and how long the woken
 * process then waited for a CPU.
 */
#define _GNU_SOURCE
#include "trace.h"

#include "common.h"
#include "proc.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
struct perf_line {
    int tid, cpu;
    long long ns;
    char event[64];   /* "sched_wakeup" */
    const char *text; /* the tracepoint's fields */
};

static bool parse_perf_line(const char *line, struct perf_line *pl)
{
    double t;
    int used = 0;

    /* The event is "sched:NAME": the second %[^:] overwrites the first. */
    if (sscanf(line, " %d [%d] %lf: %63[^:]:%63[^:]: %n", &pl->tid, &pl->cpu, &t, pl->event,
               pl->event, &used) < 5 ||
        used == 0)
        return false;
    pl->text = line + used;
    pl->ns = llround(t * 1e9);
    return true;
}

/* The first pass: the program's process tree, the forks below perf. */
static void tree_line(struct sched *s, const struct perf_line *pl, pid_t perf_pid)
{
    char comm[32];
    int parent, child;

    if (s->n == 0) {
        /* The program's first process: perf's child, named perf-exec until
         * it execs the program (perf forks it before recording starts). */
        const char *root = strstr(pl->text, "comm=perf-exec ");

        if (root != NULL)
            add_task(s, (int)field_long(root, "pid="), "perf-exec");
    }
    if (strcmp(pl->event, "sched_process_fork") != 0)
        return;
    parent = (int)field_long(pl->text, " pid=");
    child = (int)field_long(pl->text, "child_pid=");
    field_str(pl->text, "child_comm=", comm, sizeof comm);
    if (parent == perf_pid || task_of(s, parent) != NULL)
        add_task(s, child, comm);
}

/* A switch: the task going out is asleep unless still runnable; the one
 * coming in, if it was woken, has waited that long for the CPU. */
static void on_switch(struct sched *s, const struct perf_line *pl)
{
    struct task *prev = task_of(s, (int)field_long(pl->text, "prev_pid="));
    struct task *next = task_of(s, (int)field_long(pl->text, "next_pid="));
    char state[8];

    field_str(pl->text, "prev_state=", state, sizeof state);
    if (prev != NULL) {
        prev->running_since = -1;
        prev->asleep_since = state[0] == 'R' ? -1 : pl->ns;
    }
    if (next == NULL)
        return;
    if (next->woken_at >= 0) {
        printf("           ");
        printf("%s runs on CPU %d", next->label, pl->cpu);
        print_span(",", pl->ns - next->woken_at);
        printf(" after its wake-up\n");
    }
    next->running_since = pl->ns;
    next->woken_at = -1;
}

/* A wake-up of one of the program's tasks: by whom, and how long each side
 * had been as it was. */
static void on_wakeup(struct sched *s, const struct perf_line *pl, long long t0)
{
    struct task *wakee = task_of(s, (int)field_long(pl->text, " pid="));
    struct task *waker = task_of(s, pl->tid);
    char role[40];

    if (wakee == NULL)
        return;
    if (waker != NULL)
        snprintf(role, sizeof role, "%s", waker->label);
    else if (pl->tid == 0)
        snprintf(role, sizeof role, "<idle>");
    else
        snprintf(role, sizeof role, "<outside: pid %d>", pl->tid);
    printf("%8.3f ms  %s woken by %s on CPU %d", (double)(pl->ns - t0) / 1e6, wakee->label, role,
           pl->cpu);
    if (strcmp(pl->event, "sched_wakeup_new") == 0)
        printf(" (new task)");
    else
        print_span(", asleep", wakee->asleep_since >= 0 ? pl->ns - wakee->asleep_since : -1);
    if (waker != NULL)
        print_span("; the waker had run",
                   waker->running_since >= 0 ? pl->ns - waker->running_since : -1);
    putchar('\n');
    wakee->woken_at = pl->ns;
    wakee->asleep_since = -1;
}

/* The second pass: the switches and wake-ups, timed from the first event. */
static void wake_line(struct sched *s, const struct perf_line *pl, long long *t0)
{
    if (*t0 == 0)
        *t0 = pl->ns;
    if (strcmp(pl->event, "sched_switch") == 0)
        on_switch(s, pl);
    else if (strcmp(pl->event, "sched_wakeup") == 0 || strcmp(pl->event, "sched_wakeup_new") == 0)
        on_wakeup(s, pl, *t0);
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

static bool mentions_any(const char *line, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strstr(line, *words) != NULL)
            return true;
    return false;
}

/* The lines of perf's complaint that say why, six at the most. */
static void print_perf_reasons(const char *err_path)
{
    static const char *const why[] = {"rror",     "int:",          "ermission",
                                      "paranoid", "not supported", NULL};
    FILE *fp = fopen(err_path, "r");
    char line[512];
    int shown = 0;

    if (fp == NULL)
        return;
    while (shown < 6 && fgets(line, sizeof line, fp) != NULL)
        if (mentions_any(line, why)) {
            printf("    %s", line);
            shown++;
        }
    fclose(fp);
}

/* kernel.perf_event_paranoid, as text; "?" if it cannot be read. */
static void read_paranoid(char *out, size_t size)
{
    FILE *fp = fopen("/proc/sys/kernel/perf_event_paranoid", "r");

    snprintf(out, size, "?");
    if (fp == NULL)
        return;
    if (fgets(out, (int)size, fp) != NULL)
        out[strcspn(out, "\n")] = '\0';
    fclose(fp);
}

/* perf's own words, the lines that say why (not its usage text), and what
 * to change: checked on Debian 12's kernel 6.1 and perf 6.1 as a normal
 * user, where both steps are needed. */
static void print_perf_refusal(const char *err_path)
{
    char paranoid[16];

    read_paranoid(paranoid, sizeof paranoid);
    printf("sched: perf may not record the scheduler's events here; it said:\n");
    print_perf_reasons(err_path);
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

/* perf record on the program, its complaints in err; false (and why, on
 * stdout) when perf refused to record. */
static bool record(const char *data, const char *err, struct run *r)
{
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
    char **argv = command_line(head, sizeof head / sizeof *head);
    struct stat st;
    int err_fd = open(err, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (err_fd == -1)
        die_errno("create %s", err);
    printf("==== %s under perf record (sched_switch, sched_wakeup): its output first\n", opt.prog);
    run_bounded(argv, err_fd, r);
    close(err_fd);
    free(argv);
    /* Refused, perf writes no data (or only its header) and the program
     * never runs. */
    if (stat(data, &st) == -1 || st.st_size == 0 || !WIFEXITED(r->status) ||
        WEXITSTATUS(r->status) == 129) {
        print_perf_refusal(err);
        return false;
    }
    report_run("under perf", r);
    return true;
}

struct lines {
    char **line;
    size_t n;
};

/* `perf script` on data, read through a pipe: its lines, to free(). */
static void perf_script(const char *data, struct lines *out)
{
    char line[1024];
    int fds[2];
    pid_t pid;
    FILE *in;

    if (pipe2(fds, O_CLOEXEC) == -1)
        die_errno("pipe for perf script");
    pid = fork_or_die();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (dup2(fds[1], STDOUT_FILENO) == -1 || (null >= 0 && dup2(null, STDERR_FILENO) == -1))
            _exit(126);
        execlp("perf", "perf", "script", "-i", data, "-F", "tid,cpu,time,event,trace",
               (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    if ((in = fdopen(fds[0], "r")) == NULL)
        die_errno("fdopen");
    out->line = NULL;
    out->n = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        out->line = xrealloc(out->line, (out->n + 1) * sizeof *out->line);
        out->line[out->n++] = xstrdup(line);
    }
    fclose(in);
    waitpid(pid, NULL, 0);
}

/* First the program's process tree (the forks below perf), to label it
 * with the strace view's roles; then its wake-ups. */
static void print_wakeups(const struct lines *ls, pid_t perf_pid, const struct trace *tr)
{
    struct sched s = {0};
    struct perf_line pl;
    long long t0 = 0;

    for (size_t i = 0; i < ls->n; i++)
        if (parse_perf_line(ls->line[i], &pl))
            tree_line(&s, &pl, perf_pid);
    label_tasks(&s, tr);
    printf("==== who woke whom: each wake-up of one of the program's %zu processes\n", s.n);
    printf("(time since the first event; \"asleep\": since it blocked; \"the waker had run\": "
           "since it last got the CPU;\n <idle>, <outside: pid N>: an interrupt, such as the "
           "timer of a sleep, on a CPU that was idle or ran another task)\n");
    for (size_t i = 0; i < ls->n; i++)
        if (parse_perf_line(ls->line[i], &pl))
            wake_line(&s, &pl, &t0);
    free(s.t);
}

void sched_view(const char *dir, const struct trace *tr)
{
    char data[PATH_MAX + 16], err[PATH_MAX + 16];
    struct lines ls;
    struct run r;
    bool recorded;

    if (!on_path("perf")) {
        printf(
            "sched: perf is not installed: sudo apt-get install linux-perf (Debian's package)\n");
        return;
    }
    snprintf(data, sizeof data, "%s/perf.data", dir);
    snprintf(err, sizeof err, "%s/perf.err", dir);
    recorded = record(data, err, &r);
    unlink(err);
    if (!recorded) {
        unlink(data);
        return;
    }
    perf_script(data, &ls);
    unlink(data);
    print_wakeups(&ls, r.pid, tr);
    for (size_t i = 0; i < ls.n; i++)
        free(ls.line[i]);
    free(ls.line);
}
