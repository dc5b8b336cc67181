/* harness.h - what the parts of the examples harness share.
 *
 *   examples.c  finds the programs, schedules their cases (in parallel),
 *               prints each case's report whole and feeds Check the verdicts
 *   isolate.c   puts one case in namespaces of its own (or, where the
 *               machine refuses them, takes the machine-wide snapshots)
 *   runner.c    runs one case: input, output, signals, strace, time limit
 *   judge.c     compares what happened with the expectation
 *   report.c    the text of a case's report
 *   under_strace.c  (its own header, shared with tools/trace) strace's lines,
 *               and LeakSanitizer off under it
 */
#ifndef HARNESS_H
#define HARNESS_H

#include "expect.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MAX_SHOWN_OUTPUT 4000 /* bytes of each stream shown with a failure */
#define DEMO_BUDGET_S 2.0     /* the contract's budget; over it we only warn */
/* The harness's own folders are kept short, so that every path made from
 * them fits PATH_MAX with room to spare. */
#define SHORT_PATH (PATH_MAX / 4)
#define CASE_PATH (PATH_MAX / 2)

struct program {
    char chapter[64];         /* "01_pipes" */
    char dir[PATH_MAX];       /* absolute chapter folder */
    char name[128];           /* "basic_pipe_fork" */
    char bin[PATH_MAX + 200]; /* what is run */
    bool names_sockets;       /* its source calls bind() or connect(): a network each case */
};

struct options {
    const char *only;             /* --only NAME */
    const char *case_part;        /* --case TEXT: only cases whose name holds it */
    const char *exercise;         /* --exercise NAME */
    const char *bin;              /* --bin PATH, with --exercise */
    bool valgrind;                /* --valgrind */
    bool light;                   /* --light: sanitizers; light-args: apply */
    bool no_namespaces;           /* --no-namespaces: the serial fallback */
    bool namespaces;              /* isolation in use */
    bool netns;                   /* and with a network namespace per case */
    bool verbose;                 /* --verbose: show the output of passing cases too */
    bool threads_only;            /* --threads-only: programs that start threads (for TSan) */
    bool quick;                   /* --quick: with --valgrind, solutions' checker cases natively */
    unsigned jobs;                /* -j N */
    double timeout_scale;         /* time limits: TIMEOUT_SCALE, times 10 under valgrind */
    double delay_scale;           /* signal delays: TIMEOUT_SCALE, times 4 under valgrind */
    unsigned delay_offset_ms;     /* and added to them: valgrind's start-up */
    char top[SHORT_PATH];         /* the collection's top folder */
    char work[SHORT_PATH];        /* tests/.work: case folders */
    char mqueue[SHORT_PATH + 16]; /* fallback mode: where queues are listed, or "" */
};

extern struct options opt;

/* ---- isolate.c ----------------------------------------------------------- */

/* Tries the isolation in a throwaway child; true if it works here.  On
 * false, `why` says what was refused.  Sets opt.netns when a network
 * namespace per case works too (else says so once: the cases then share
 * the machine's network). */
bool isolation_works(char *why, size_t size);
/* In the case's runner: new user (unless root), IPC and mount namespaces,
 * a network namespace with `lo` up if `netns`,
 * private tmpfs on /tmp and /dev/shm, an mqueue filesystem on `mq_dir`.
 * Paths under /tmp that the case needs (the collection, a student's
 * binary) are bound back.  -1 with a message on failure. */
int isolation_enter(const char *mq_dir, bool netns, char *err, size_t size);
/* Fallback mode: find (or mount) the mqueue filesystem for listings. */
void fallback_find_mqueue(void);

enum place { DEV_SHM, MQUEUE, TMP, SYSV_SHM, SYSV_MSG, SYSV_SEM, NPLACES };

struct names {
    char **v;
    size_t n;
};

struct snapshot {
    struct names at[NPLACES];
};

void take_snapshot(struct snapshot *s, const char *mq_dir);
void free_snapshot(struct snapshot *s);
/* Appends "left behind: ..." for every name new in `after`, except the
 * names in /tmp that `exempt` lists.  Removes nothing: a namespace
 * vanishes with its objects, and in fallback mode the harness cannot tell
 * whose an object is. */
void compare_snapshots(const struct snapshot *before, const struct snapshot *after,
                       const struct names *exempt, char **report);

void names_add(struct names *l, const char *s);
bool names_has(const struct names *l, const char *s);
void names_free(struct names *l);
void list_dir(const char *path, struct names *out);
void remove_tree(const char *path);

/* ---- runner.c -------------------------------------------------------------- */

struct instance {
    pid_t pid;
    int status;      /* from waitpid */
    char *out, *err; /* captured streams, NUL-terminated */
    size_t out_len, err_len;
    char trace_prefix[PATH_MAX + 32]; /* strace -ff output: PREFIX.PID */
};

struct file_seen {
    bool exists;
    struct stat st;
    char *bytes; /* regular files: the content */
    size_t len;
};

struct outcome {
    unsigned ninstances;
    struct instance inst[8];
    bool hung, traced;
    double seconds;
    char *input; /* the stdin bytes fed, for comparisons */
    size_t input_len;
    struct file_seen *files; /* one per file: check */
    size_t nfiles;
    char *problems;  /* leftovers, setup errors: "; "-separated */
    char *diagnosis; /* the processes of a hung case */
};

/* Runs case `c` of `prog` in the current process (a runner child of the
 * scheduler): sets up, runs, collects.  Never exits on its own.  SIGINT,
 * SIGTERM or SIGHUP to the runner kills the program's process groups
 * first. */
void run_case(const struct program *prog, const struct expect_case *c, const char *case_dir,
              struct outcome *o);
void free_outcome(struct outcome *o);

/* ---- judge.c --------------------------------------------------------------- */

/* Appends to *why every way the outcome falls short of the case.
 * `narrated`: the contract's demo checks apply (a [role] line, quiet
 * stderr).  Under valgrind its logs are read from case_dir, copied into
 * *log, and descriptors left open are faults. */
void judge_case(const struct program *prog, const struct expect_case *c, const struct outcome *o,
                bool narrated, const char *case_dir, char **why, char **log);

/* ---- report.c -------------------------------------------------------------- */

/* printf onto a growing malloc'd string. */
void append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `len` bytes of `text` shown as a report shows a stream: under a heading,
 * cut at the limit, unprintable bytes escaped. */
void append_stream(char **s, const char *name, const char *text, size_t len);

#endif
