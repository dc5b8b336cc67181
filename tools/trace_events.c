/* trace_events.c - reading strace's files: the calls, start-up left out, roles
 *
 * strace -ff writes one file per process, t.PID, each line
 * "SECONDS.MICROS CALL(ARGS) = RET <TIME-IN-CALL>", or a signal ("--- ")
 * or an end ("+++ ").  Each file is read into events, leaving out each
 * process's start-up (the loader's, libc's and common/'s calls before
 * main()), and each process gets the role its narration gives it.
 */
#define _GNU_SOURCE
#include "trace.h"

#include "common.h"
#include "under_strace.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- reading strace's lines ------------------------------------------------ */

static bool args_contain(const struct strace_call *c, const char *needle)
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
static bool names_loader_file(const struct strace_call *c)
{
    return args_contain(c, ".so\"") || args_contain(c, ".so>") || args_contain(c, ".so.") ||
           args_contain(c, "ld.so.cache") || args_contain(c, "ld.so.preload");
}

/* The calls of a process between its execve() and main(), as glibc 2.36's
 * loader and libc make them on this machine: the loader maps itself and
 * the libraries, libc sets up thread-local storage, robust futexes, rseq,
 * stack limit and malloc's random seed. */
static bool is_startup_call(const struct strace_call *c)
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
static bool is_std_fds_probe(const struct strace_call *c)
{
    return (strcmp(c->name, "openat") == 0 && args_contain(c, "\"/dev/null\", O_RDWR")) ||
           (strcmp(c->name, "close") == 0 && args_contain(c, "</dev/null>"));
}

/* A failed execve() is the PATH search of execvp(), not the lesson. */
static bool is_failed_execve(const struct strace_call *c)
{
    return strcmp(c->name, "execve") == 0 && c->has_ret && c->ret_value < 0;
}

/* Strip strace -T's trailing " <0.000012>" from line; returns it in seconds. */
static double strip_time_in_call(char *line)
{
    size_t len = strlen(line);
    char *open;
    double took;

    if (len < 3 || line[len - 1] != '>' || (open = strrchr(line, '<')) == NULL || open == line ||
        open[-1] != ' ' || strspn(open + 1, "0123456789.") != (size_t)(line + len - 1 - open - 1))
        return -1;
    took = strtod(open + 1, NULL);
    open[-1] = '\0';
    return took;
}

static void add_event(struct trace *tr, long long t_us, double took, int pid, enum kind kind,
                      const char *name, const char *text)
{
    struct event *e;

    if (tr->nev == tr->cap) {
        tr->cap = tr->cap ? 2 * tr->cap : 256;
        tr->ev = xrealloc(tr->ev, tr->cap * sizeof *tr->ev);
    }
    e = &tr->ev[tr->nev++];
    e->t_us = t_us;
    e->took_s = took;
    e->pid = pid;
    e->kind = kind;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->text = xstrdup(text);
}

struct proc *find_proc(struct trace *tr, int pid)
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

/* ---- one process's file ------------------------------------------------------- */

/* Where the reading of one process's file is. */
struct reader {
    struct trace *tr;
    int pid;
    bool first;      /* no call read yet */
    bool startup;    /* after an execve(), before the program's first own call */
    bool new_task;   /* a forked child or new thread, before its first own call */
    bool *root_seen; /* the program's own execve() has been left out */
};

/* "1700000000.123456 write(...) = 2 <0.000012>": the time in microseconds,
 * the rest after it, and the time in the call (-1 if none) stripped off;
 * false for a line that has no time. */
static bool split_line(char *line, long long *t_us, char **rest, double *took)
{
    char *nl = strchr(line, '\n');
    double t;

    if (nl != NULL)
        *nl = '\0';
    t = strtod(line, rest);
    *t_us = llround(t * 1e6);
    if (*rest == line || **rest != ' ')
        return false;
    (*rest)++;
    *took = strip_time_in_call(*rest);
    return true;
}

/* execve("/usr/bin/sort", ...): the file's base name, "sort". */
static void note_exe(struct proc *p, const struct strace_call *c)
{
    const char *file = c->args + 1, *end = file + strcspn(file, "\"");
    const char *base = memrchr(file, '/', (size_t)(end - file));

    base = base != NULL ? base + 1 : file;
    snprintf(p->exe, sizeof p->exe, "%.*s", (int)(end - base), base);
}

static bool is_new_task_setup(const struct strace_call *c)
{
    return strcmp(c->name, "set_robust_list") == 0 || strcmp(c->name, "rseq") == 0;
}

/* Whether a finished call is start-up, to be left out: from an execve() to
 * the first call that is not the loader's, libc's or common/'s
 * standard-descriptor check (the program's first execve() is left out too:
 * it is the command line we gave), and in a forked child or a new thread
 * the set_robust_list() and rseq() that glibc's fork() and
 * pthread_create() make in it first. */
static bool is_left_out(struct reader *r, const struct strace_call *c)
{
    bool was_first = r->first;

    r->first = false;
    r->new_task = r->new_task && strcmp(c->name, "execve") != 0;
    if (is_failed_execve(c))
        return true;
    if (strcmp(c->name, "execve") == 0) {
        struct proc *p = find_proc(r->tr, r->pid);

        note_exe(p, c);
        r->startup = true;
        if (was_first && !*r->root_seen) {
            *r->root_seen = true; /* the command itself */
            p->exe[0] = '\0';
            return true;
        }
        return false; /* a child's execve() is shown; its start-up is not */
    }
    if (r->startup && (is_startup_call(c) || is_std_fds_probe(c)))
        return true; /* the std-fds probe: still start-up, the collection's own */
    if (r->new_task && is_new_task_setup(c))
        return true;
    r->startup = false;
    r->new_task = false;
    return false;
}

/* A clone() that made a thread: its process is marked as one. */
static void note_thread(struct trace *tr, const struct strace_call *c)
{
    if ((strcmp(c->name, "clone") == 0 || strcmp(c->name, "clone3") == 0) &&
        args_contain(c, "CLONE_THREAD") && c->ret_value > 0)
        add_proc(tr, (int)c->ret_value)->thread = true;
}

static void read_line(struct reader *r, char *line)
{
    long long t_us;
    double took;
    char *rest;
    struct strace_call c;

    if (!split_line(line, &t_us, &rest, &took))
        return;
    if (r->first)
        find_proc(r->tr, r->pid)->first_us = t_us;
    if (strncmp(rest, "--- ", 4) == 0) {
        add_event(r->tr, t_us, -1, r->pid, SIGNAL, "", rest);
    } else if (strncmp(rest, "+++ ", 4) == 0) {
        add_event(r->tr, t_us, -1, r->pid, EXIT, "", rest);
    } else if (!parse_strace_call(rest, &c)) { /* an unfinished call: shown as it is */
        r->tr->after_startup++;
        add_event(r->tr, t_us, took, r->pid, CALL, "", rest);
    } else if (!is_left_out(r, &c)) {
        r->tr->after_startup++;
        add_event(r->tr, t_us, took, r->pid, CALL, c.name, rest);
        note_thread(r->tr, &c);
    }
}

/* One process's file, t.PID, its start-up left out. */
static void read_process(struct trace *tr, const char *path, int pid, bool *root_seen)
{
    struct reader r = {tr, pid, true, false, true, root_seen};
    FILE *fp = fopen(path, "r");
    char line[16384];

    add_proc(tr, pid);
    if (fp == NULL)
        die_errno("open %s", path);
    while (fgets(line, sizeof line, fp) != NULL)
        read_line(&r, line);
    fclose(fp);
}

/* ---- every process's file ------------------------------------------------------- */

static int by_first_line(const void *a, const void *b)
{
    const struct proc *x = a, *y = b;

    return (x->first_us > y->first_us) - (x->first_us < y->first_us);
}

static int by_pid(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return (x > y) - (x < y);
}

/* The pids of dir's t.PID files, the lowest first: the program's own
 * process, whose first line is the execve() of the command. */
static size_t traced_pids(const char *dir, int *pids, size_t max)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (d == NULL)
        die_errno("open %s", dir);
    while ((de = readdir(d)) != NULL && n < max)
        if (strncmp(de->d_name, "t.", 2) == 0)
            pids[n++] = atoi(de->d_name + 2);
    closedir(d);
    qsort(pids, n, sizeof *pids, by_pid);
    return n;
}

/* Every t.PID file of dir, read and then removed (so the directory is empty
 * whatever happens next, and the cleanup registry's rmdir() succeeds). */
void read_trace(struct trace *tr, const char *dir)
{
    char path[PATH_MAX + 32];
    int pids[4096];
    size_t n = traced_pids(dir, pids, sizeof pids / sizeof *pids);
    bool root_seen = false;

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

bool is_narration(const struct event *e)
{
    char role[40];

    return e->kind == CALL && narration_role(e, role, sizeof role);
}

/* A process's role is the first [role] it narrates.  One that never narrates
 * is named by what it runs, "[sort 1261]" (a pipeline stage), or else
 * "[thread N]" / "[pid N]": its parent's role would hide which child it is. */
void name_roles(struct trace *tr)
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

void free_trace(struct trace *tr)
{
    for (size_t i = 0; i < tr->nev; i++)
        free(tr->ev[i].text);
    free(tr->ev);
    free(tr->procs);
}
