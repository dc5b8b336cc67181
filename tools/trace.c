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
#include "trace.h"

#include "cleanup.h"
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char usage[] =
    "[--timeout S] [--all] [--narration] [--sched] PROG [ARGS...]\n"
    "    --timeout S  stop the program after S seconds (1-600, default 10)\n"
    "    --all        every call after start-up, not only the Trace: line's\n"
    "    --narration  also the write() calls of the [role] narration\n"
    "    --sched      then the scheduler's view, under perf record";

struct options opt = {10, false, false, false, NULL, NULL};

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL)
        die("out of memory");
    return q;
}

char *xstrdup(const char *s)
{
    char *d = strdup(s);

    if (d == NULL)
        die("out of memory");
    return d;
}

/* ---- the command on PATH? --------------------------------------------------------- */

bool on_path(const char *cmd)
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
char **command_line(const char *const *head, size_t nhead)
{
    size_t nargs = 0;
    char **argv;

    while (opt.argv[nargs] != NULL)
        nargs++;
    argv = xrealloc(NULL, (nhead + nargs + 1) * sizeof *argv);
    for (size_t i = 0; i < nhead; i++)
        argv[i] = (char *)head[i];
    for (size_t i = 0; i <= nargs; i++)
        argv[nhead + i] = opt.argv[i];
    return argv;
}

/* ---- the strace view ------------------------------------------------------------- */

/* The program under strace, then its calls; true if it exited 0. */
static bool strace_view(const char *dir, struct trace *tr)
{
    char out[PATH_MAX + 8];
    const char *head[] = {"strace", "-f", "-ff", "-ttt", "-T", "-q",
                          "-y",     "-s", "48",  "-o",   out,  "--"};
    char **argv = command_line(head, sizeof head / sizeof *head);
    struct lesson l;
    struct run r;
    bool ok;

    snprintf(out, sizeof out, "%s/t", dir);
    read_trace_line(opt.prog, &l);
    printf("==== %s under strace -f: its output first, then its system calls\n", opt.prog);
    run_bounded(argv, -1, &r);
    free(argv);
    ok = report_run("under strace", &r);
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

/* The program, the one to trace: built, and named by a path. */
static void parse_options(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'}, {"all", no_argument, NULL, 'a'},
        {"narration", no_argument, NULL, 'n'},     {"sched", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
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
}

int main(int argc, char *argv[])
{
    char dir[PATH_MAX];
    struct trace tr = {0};
    bool ok;

    parse_options(argc, argv);
    if (!on_path("strace"))
        die("strace is not installed: sudo apt-get install strace (Debian's package strace)");
    /* Orphans of the program come back to the tool, to be found and stopped. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        die_errno("prctl PR_SET_CHILD_SUBREAPER");
    make_temp_dir(dir, sizeof dir, "trace");
    ok = strace_view(dir, &tr);
    if (opt.sched)
        sched_view(dir, &tr);
    free_trace(&tr);
    return ok ? 0 : 1;
}
