/* trace_print.c - which calls are the lesson, and the merged listing
 *
 * A program declares the calls of its lesson once, in its header comment:
 * " * Trace: pipe* clone close write read wait4" (fnmatch(3) patterns).
 * The listing merges every process's events by the time they were entered.
 */
#define _GNU_SOURCE
#include "trace.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- which calls are the lesson ---------------------------------------------- */

/* The words of the Trace: line, after "Trace:", into l->line. */
static void find_trace_line(FILE *fp, struct lesson *l)
{
    char line[512];

    while (fgets(line, sizeof line, fp) != NULL && strstr(line, "*/") == NULL) {
        const char *t = line + strspn(line, " /*");

        if (strncmp(t, "Trace:", 6) != 0)
            continue;
        snprintf(l->line, sizeof l->line, "%s", t + 6 + strspn(t + 6, " \t"));
        l->line[strcspn(l->line, "\n")] = '\0';
        return;
    }
}

/* The program's source is PROG.c; its header comment may hold a line
 * " * Trace: pipe2 clone write read wait4". */
void read_trace_line(const char *prog, struct lesson *l)
{
    char path[PATH_MAX], words[sizeof l->line];
    char *save = NULL, *w;
    FILE *fp;

    l->n = 0;
    l->line[0] = '\0';
    snprintf(path, sizeof path, "%s.c", prog);
    if ((fp = fopen(path, "r")) == NULL)
        return;
    find_trace_line(fp, l);
    fclose(fp);
    /* l->line is printed as it is: the patterns are cut from a copy. */
    snprintf(words, sizeof words, "%s", l->line);
    for (w = strtok_r(words, " \t,", &save); w != NULL && l->n < MAX_PATTERNS;
         w = strtok_r(NULL, " \t,", &save))
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

void free_lesson(struct lesson *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->patterns[i]);
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

/* The widest role: the calls then start in one column. */
static size_t role_width(const struct trace *tr)
{
    size_t width = 0;

    for (size_t i = 0; i < tr->nprocs; i++)
        if (strlen(tr->procs[i].role) > width)
            width = strlen(tr->procs[i].role);
    return width;
}

/* The lesson's calls of every process, in the order they were entered,
 * each with the time since the line before. */
void print_trace(struct trace *tr, const struct lesson *l)
{
    size_t shown = 0, width = role_width(tr);
    long long last = 0;

    qsort(tr->ev, tr->nev, sizeof *tr->ev, by_time);
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
