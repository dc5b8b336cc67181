/* examples.c - the harness that runs every example program of the collection.
 *
 * For every basic_/advanced_/pitfall_/solution_ program of the chapters named
 * on the command line it runs the cases of NAME.expect plus the checks every
 * program owes the contract (tests/README.md), each under a time limit, and
 * checks around every run that nothing was left behind.  One Check test per
 * program; a failure names the program, the case and what failed, and shows
 * the program's output.
 *
 * usage: examples [--only NAME] [--exercise NAME --bin PATH] [--valgrind] CHAPTER_DIR...
 */
#define _GNU_SOURCE
#include "expect.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEMO_BUDGET_S 2.0       /* the contract's budget; over it we only warn */
#define MAX_SHOWN_OUTPUT 4000   /* bytes of each stream shown with a failure */

struct program {
    char chapter[64];           /* "01_pipes" */
    char dir[PATH_MAX];         /* absolute chapter folder */
    char name[128];             /* "basic_pipe_fork" */
    char bin[PATH_MAX + 200];   /* what is run */
    char title[200];            /* "01_pipes/basic_pipe_fork", the test's name */
};

static struct program *programs;
static size_t nprograms;

static struct {
    const char *only;           /* --only NAME */
    const char *exercise;       /* --exercise NAME */
    const char *bin;            /* --bin PATH, with --exercise */
    bool valgrind;
    double timeout_scale;
    char work[PATH_MAX];        /* tests/.work: captured output, private TMPDIRs */
    char mqueue[PATH_MAX];      /* where POSIX message queues are listed, or "" */
} opt;

/* ---- what one run leaves behind ------------------------------------------ */

/* A sorted list of names: the entries of a directory or the ids of a
 * /proc/sysvipc table. */
struct names {
    char **v;
    size_t n;
};

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_add(struct names *l, const char *s)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    if (l->v == NULL || (l->v[l->n++] = strdup(s)) == NULL) {
        perror("examples: out of memory");       /* also used outside a test */
        exit(1);
    }
}

static void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static bool names_has(const struct names *l, const char *s)
{
    return l->n > 0 && bsearch(&s, l->v, l->n, sizeof *l->v, compare_strings) != NULL;
}

static void list_dir(const char *path, struct names *out)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names_add(out, e->d_name);
    closedir(d);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, compare_strings);
}

/* The id column (the second) of /proc/sysvipc/shm, msg or sem. */
static void list_sysv(const char *table, struct names *out)
{
    char path[64], line[512], key[32], id[32];
    FILE *fp;

    snprintf(path, sizeof path, "/proc/sysvipc/%s", table);
    fp = fopen(path, "r");
    if (fp == NULL)
        return;
    if (fgets(line, sizeof line, fp) != NULL)           /* the header */
        while (fgets(line, sizeof line, fp) != NULL)
            if (sscanf(line, "%31s %31s", key, id) == 2)
                names_add(out, id);
    fclose(fp);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, compare_strings);
}

enum place { DEV_SHM, MQUEUE, TMP, SYSV_SHM, SYSV_MSG, SYSV_SEM, NPLACES };

static const char *const place_names[NPLACES] = {
    "/dev/shm", "POSIX message queue", "/tmp",
    "System V shared memory id", "System V message queue id", "System V semaphore set id",
};

struct snapshot {
    struct names at[NPLACES];
};

static void take_snapshot(struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    list_dir("/dev/shm", &s->at[DEV_SHM]);
    if (opt.mqueue[0] != '\0')
        list_dir(opt.mqueue, &s->at[MQUEUE]);
    list_dir("/tmp", &s->at[TMP]);
    list_sysv("shm", &s->at[SYSV_SHM]);
    list_sysv("msg", &s->at[SYSV_MSG]);
    list_sysv("sem", &s->at[SYSV_SEM]);
}

static void free_snapshot(struct snapshot *s)
{
    for (int p = 0; p < NPLACES; p++)
        names_free(&s->at[p]);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes a leftover so that one faulty program does not litter the
 * machine; /tmp is only reported, since something else may own it. */
static void remove_leftover(enum place p, const char *name)
{
    char path[PATH_MAX + 300];
    int id = atoi(name);

    switch (p) {
    case DEV_SHM:
        snprintf(path, sizeof path, "/dev/shm/%s", name);
        remove_tree(path);
        break;
    case MQUEUE:
        snprintf(path, sizeof path, "%s/%s", opt.mqueue, name);
        unlink(path);
        break;
    case SYSV_SHM: shmctl(id, IPC_RMID, NULL); break;
    case SYSV_MSG: msgctl(id, IPC_RMID, NULL); break;
    case SYSV_SEM: semctl(id, 0, IPC_RMID); break;
    case TMP: case NPLACES: break;
    }
}

/* /tmp is shared with the rest of the machine: a compiler's temporary file
 * that happened to exist during the run is gone a moment later. */
static bool is_transient(const char *name)
{
    char path[PATH_MAX];
    struct timespec pause = {0, 200 * 1000 * 1000};

    snprintf(path, sizeof path, "/tmp/%s", name);
    nanosleep(&pause, NULL);
    return access(path, F_OK) == -1;
}

/* Appends to `report` every name present after the run but not before. */
static void compare_snapshots(const struct snapshot *before, const struct snapshot *after,
                              char *report, size_t size)
{
    for (int p = 0; p < NPLACES; p++)
        for (size_t i = 0; i < after->at[p].n; i++) {
            const char *name = after->at[p].v[i];

            if (names_has(&before->at[p], name) || (p == TMP && is_transient(name)))
                continue;
            snprintf(report + strlen(report), size - strlen(report),
                     "left behind: %s %s; ", place_names[p], name);
            remove_leftover((enum place)p, name);
        }
}

/* Reaps the descendants that were orphaned to us (we are their subreaper):
 * each one is a process the program did not wait for.  Those still running
 * after a short grace period are killed. */
static int reap_orphans(void)
{
    int found = 0;

    for (int tries = 0; tries < 30; tries++) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);

        if (pid > 0) {
            found++;
            tries--;
        } else if (pid == 0) {
            struct timespec t = {0, 10 * 1000 * 1000};
            nanosleep(&t, NULL);
        } else {
            return found;       /* ECHILD: no descendant left */
        }
    }
    /* Still alive after 300 ms: kill every process whose parent we are. */
    DIR *d = opendir("/proc");
    struct dirent *e;

    while (d != NULL && (e = readdir(d)) != NULL) {
        char path[300], stat[512];
        int pid = atoi(e->d_name), ppid = 0;
        FILE *fp;

        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        if (fgets(stat, sizeof stat, fp) != NULL) {
            char *after_name = strrchr(stat, ')');

            if (after_name != NULL)
                sscanf(after_name + 1, " %*c %d", &ppid);
        }
        fclose(fp);
        if (ppid == getpid())
            kill(pid, SIGKILL);
    }
    if (d != NULL)
        closedir(d);
    while (waitpid(-1, NULL, 0) > 0)
        found++;
    return found;
}

/* ---- running one case ----------------------------------------------------- */

struct outcome {
    int status;                 /* from waitpid */
    bool hung;
    double seconds;
    char *out, *err;            /* captured streams, NUL-terminated */
    char leftovers[2048];
};

static char *slurp(int fd)
{
    struct stat st;
    char *buf;
    ssize_t n;

    fstat(fd, &st);
    buf = malloc((size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(buf);
    n = pread(fd, buf, (size_t)st.st_size, 0);
    buf[n < 0 ? 0 : n] = '\0';
    close(fd);
    return buf;
}

static int temp_file(const char *what)
{
    char path[PATH_MAX + 64];
    int fd;

    snprintf(path, sizeof path, "%s/%s.XXXXXX", opt.work, what);
    fd = mkstemp(path);
    ck_assert_msg(fd >= 0, "mkstemp %s: %s", path, strerror(errno));
    unlink(path);
    return fd;
}

/* The command line: the program, or valgrind and the program. */
static char **build_argv(const struct program *prog, const struct expect_case *c)
{
    static const char *const valgrind[] = {
        "valgrind", "-q", "--vgdb=no", "--error-exitcode=99", "--leak-check=full",
        "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
        "--trace-children=yes", "--trace-children-skip=/usr/*,/bin/*,/sbin/*", NULL,
    };
    size_t n = 0, nargs = 0, nvg = opt.valgrind ? sizeof valgrind / sizeof *valgrind - 1 : 0;
    char **argv;

    while (c->argv[nargs] != NULL)
        nargs++;
    argv = calloc(nvg + nargs + 2, sizeof *argv);
    ck_assert_ptr_nonnull(argv);
    for (size_t i = 0; i < nvg; i++)
        argv[n++] = (char *)valgrind[i];
    argv[n++] = (char *)prog->bin;
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = c->argv[i];
    return argv;
}

static void exec_child(const struct program *prog, const struct expect_case *c,
                       int in_fd, int out_fd, int err_fd, const char *tmpdir)
{
    char **argv = build_argv(prog, c);

    setpgid(0, 0);              /* a timeout kills the program and its children */
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    close_range(3, ~0U, 0);     /* nothing of the harness leaks into the program */
    setenv("TMPDIR", tmpdir, 1);
    if (chdir(tmpdir) == -1)    /* a stray file in the working directory is a leftover too */
        _exit(126);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    dprintf(2, "examples: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Waits for the program to end within the time limit; kills its process
 * group when it does not. */
static void wait_with_deadline(pid_t pid, double limit_s, struct outcome *o)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

    ck_assert_msg(pidfd >= 0, "pidfd_open: %s", strerror(errno));
    if (poll(&pfd, 1, (int)(limit_s * 1000)) == 0) {
        o->hung = true;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    close(pidfd);
    while (waitpid(pid, &o->status, 0) == -1 && errno == EINTR)
        ;
}

static void run_case(const struct program *prog, const struct expect_case *c, struct outcome *o)
{
    struct snapshot before, after;
    char tmpdir[PATH_MAX + 16];
    int in_pipe[2] = {-1, -1}, in_fd, out_fd = temp_file("out"), err_fd = temp_file("err");
    /* Harness runs from any checkout on this machine would see each other's
     * objects: they take turns, by a lock on /tmp itself, which every
     * machine has and which no lock file of ours would litter. */
    int lock = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct timespec t0, t1;
    struct names stray = {0};
    pid_t pid;

    memset(o, 0, sizeof *o);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp.XXXXXX", opt.work);
    ck_assert_msg(mkdtemp(tmpdir) != NULL, "mkdtemp: %s", strerror(errno));
    if (c->stdin_text != NULL) {
        ck_assert(pipe(in_pipe) == 0);
        in_fd = in_pipe[0];
    } else {
        in_fd = open("/dev/null", O_RDONLY);
    }
    flock(lock, LOCK_EX);
    take_snapshot(&before);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(NULL);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0)
        exec_child(prog, c, in_fd, out_fd, err_fd, tmpdir);
    close(in_fd);
    if (c->stdin_text != NULL) {
        /* The text fits in the pipe, so this cannot block even when the
         * program never reads it. */
        if (write(in_pipe[1], c->stdin_text, c->stdin_len) != (ssize_t)c->stdin_len)
            snprintf(o->leftovers, sizeof o->leftovers, "stdin: could not feed the text; ");
        close(in_pipe[1]);
    }
    wait_with_deadline(pid, c->timeout_s * opt.timeout_scale, o);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    o->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    int orphans = reap_orphans();
    if (orphans > 0)
        snprintf(o->leftovers + strlen(o->leftovers), sizeof o->leftovers - strlen(o->leftovers),
                 "left behind: %d child process(es) it did not wait for; ", orphans);
    take_snapshot(&after);
    compare_snapshots(&before, &after, o->leftovers, sizeof o->leftovers);
    flock(lock, LOCK_UN);
    close(lock);
    list_dir(tmpdir, &stray);
    for (size_t i = 0; i < stray.n; i++)
        snprintf(o->leftovers + strlen(o->leftovers), sizeof o->leftovers - strlen(o->leftovers),
                 "left behind: $TMPDIR/%s; ", stray.v[i]);
    names_free(&stray);
    remove_tree(tmpdir);
    free_snapshot(&before);
    free_snapshot(&after);
    o->out = slurp(out_fd);
    o->err = slurp(err_fd);
}

/* ---- judging a case ---------------------------------------------------------- */

struct verdict {
    char why[4096];             /* empty: passed */
};

PRINTF_FORMAT(2, 3)
static void fault(struct verdict *v, const char *fmt, ...)
{
    size_t len = strlen(v->why);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v->why + len, sizeof v->why - len, fmt, ap);
    va_end(ap);
    len = strlen(v->why);
    snprintf(v->why + len, sizeof v->why - len, "; ");
}

static void judge_status(const struct expect_case *c, const struct outcome *o, struct verdict *v)
{
    if (o->hung)
        fault(v, "hung: killed after %.1f s", c->timeout_s * opt.timeout_scale);
    else if (WIFSIGNALED(o->status))
        fault(v, "killed by signal %d (%s), expected exit status %d", WTERMSIG(o->status),
              strsignal(WTERMSIG(o->status)), c->exit_status);
    else if (WEXITSTATUS(o->status) == 99 && opt.valgrind)
        fault(v, "valgrind reported errors (see stderr)");
    else if (WEXITSTATUS(o->status) != c->exit_status)
        fault(v, "exit status %d, expected %d", WEXITSTATUS(o->status), c->exit_status);
}

static void judge_patterns(const struct expect_case *c, const struct outcome *o, struct verdict *v)
{
    for (size_t i = 0; i < c->npatterns; i++) {
        const struct pattern *p = &c->patterns[i];
        const char *text = p->stream == STDOUT_STREAM ? o->out : o->err;
        const char *stream = p->stream == STDOUT_STREAM ? "stdout" : "stderr";

        if (any_line_matches(&p->re, text) == p->negated)
            fault(v, "%s has %s line matching /%s/", stream, p->negated ? "a" : "no", p->source);
    }
}

/* What the contract asks of every demonstration run: narration and a
 * quiet stderr. */
static void judge_narration(const struct expect_case *c, const struct outcome *o, struct verdict *v)
{
    regex_t role;
    bool err_expected = false;

    for (size_t i = 0; i < c->npatterns; i++)
        err_expected |= c->patterns[i].stream == STDERR_STREAM && !c->patterns[i].negated;
    regcomp(&role, "^\\[[^]]+\\] ", REG_EXTENDED | REG_NOSUB);
    if (!any_line_matches(&role, o->out))
        fault(v, "no narration: stdout has no '[role] ' line");
    regfree(&role);
    if (!err_expected && o->err[0] != '\0' && !opt.valgrind)
        fault(v, "a successful demo printed on stderr");
}

static void show_stream(const char *name, const char *text)
{
    size_t len = strlen(text);

    printf("    --- %s%s ---\n", name, len > MAX_SHOWN_OUTPUT ? " (first part)" : "");
    printf("%.*s%s", MAX_SHOWN_OUTPUT, text, len > 0 && text[len - 1] != '\n' ? "\n" : "");
}

/* Runs one case, prints a result line, and returns 1 if it failed. */
static int check_case(const struct program *prog, const struct expect_case *c, bool narrated,
                      struct outcome *keep)
{
    struct outcome o;
    struct verdict v = {""};

    run_case(prog, c, &o);
    judge_status(c, &o, &v);
    judge_patterns(c, &o, &v);
    if (narrated && !opt.exercise)
        judge_narration(c, &o, &v);
    if (o.leftovers[0] != '\0')
        fault(&v, "%.*s", (int)strlen(o.leftovers) - 2, o.leftovers);     /* without its "; " */
    if (v.why[0] == '\0') {
        printf("  ok   %s/%s: %s [%.2f s]%s\n", prog->chapter, prog->name, c->label, o.seconds,
               c->is_demo && o.seconds > DEMO_BUDGET_S * opt.timeout_scale
                   ? " (slow: over the 2 s budget)" : "");
    } else {
        char where[48] = "";

        if (c->line > 0)
            snprintf(where, sizeof where, " (.expect line %d)", c->line);
        printf("  FAIL %s/%s: %s%s: %.*s\n", prog->chapter, prog->name, c->label, where,
               (int)strlen(v.why) - 2, v.why);                      /* without the last "; " */
        show_stream("stdout", o.out);
        show_stream("stderr", o.err);
    }
    if (keep != NULL) {
        *keep = o;
    } else {
        free(o.out);
        free(o.err);
    }
    return v.why[0] != '\0';
}

/* ---- one program: its expectation and the contract's own checks ---------- */

static struct expect_case *find_case(struct expectation *exp, const char *label)
{
    for (size_t i = 0; i < exp->ncases; i++)
        if (strcmp(exp->cases[i].label, label) == 0)
            return &exp->cases[i];
    return NULL;
}

/* The contract's cases, added unless the expectation already has them. */
static void add_contract_cases(const struct program *prog, struct expectation *exp)
{
    char *help[] = {"-h", NULL}, *bogus[] = {"--no-such-option", NULL}, *fixed[] = {"--fixed", NULL};
    char name_re[200];
    struct expect_case *c;

    if (strncmp(prog->name, "pitfall_", 8) == 0 && find_case(exp, "--fixed") == NULL)
        expect_add_case(exp, "--fixed", fixed, 0);
    c = expect_add_case(exp, "-h", help, 0);
    expect_add_pattern(c, STDOUT_STREAM, false, "usage:");
    c = expect_add_case(exp, "--no-such-option", bogus, 2);
    snprintf(name_re, sizeof name_re, "^%s: ", prog->name);
    expect_add_pattern(c, STDERR_STREAM, false, name_re);
    expect_add_pattern(c, STDERR_STREAM, false, "usage:");
}

/* The symptom shows in the broken run and is gone in the --fixed run. */
static int judge_symptoms(const struct program *prog, const struct expectation *exp,
                          const struct outcome *broken, const struct outcome *fixed)
{
    int failed = 0;

    for (size_t i = 0; i < exp->nsymptoms; i++) {
        const struct pattern *s = &exp->symptoms[i];
        bool in_broken = any_line_matches(&s->re, broken->out);
        bool in_fixed = any_line_matches(&s->re, fixed->out);

        if (in_broken && !in_fixed) {
            printf("  ok   %s/%s: symptom /%s/ shows broken, gone with --fixed\n",
                   prog->chapter, prog->name, s->source);
            continue;
        }
        printf("  FAIL %s/%s: symptom /%s/ %s\n", prog->chapter, prog->name, s->source,
               !in_broken ? "does not show in the broken run" : "still shows with --fixed");
        failed++;
    }
    return failed;
}

START_TEST(run_program)
{
    const struct program *prog = &programs[_i];
    bool pitfall = strncmp(prog->name, "pitfall_", 8) == 0 && !opt.exercise;
    struct outcome broken = {0}, fixed = {0};
    struct expectation exp;
    char path[PATH_MAX + 200], err[512];
    int failed = 0;

    prctl(PR_SET_CHILD_SUBREAPER, 1);   /* orphans of the program come to us */
    snprintf(path, sizeof path, "%s/%s.expect", prog->dir, prog->name);
    if (expect_load(path, &exp, err, sizeof err) == -1) {
        expect_free(&exp);
        ck_abort_msg("%s/%s: %s", prog->chapter, prog->name, err);
    }
    if (pitfall && exp.nsymptoms == 0) {
        expect_free(&exp);
        ck_abort_msg("%s/%s: a pitfall's expectation needs a symptom: line", prog->chapter,
                     prog->name);
    }
    if (access(prog->bin, X_OK) == -1) {
        expect_free(&exp);
        ck_abort_msg("%s/%s: no program at %s (not built?)", prog->chapter, prog->name, prog->bin);
    }
    if (!opt.exercise)
        add_contract_cases(prog, &exp);
    for (size_t i = 0; i < exp.ncases; i++) {
        struct expect_case *c = &exp.cases[i];
        bool is_fixed = pitfall && strcmp(c->label, "--fixed") == 0;

        failed += check_case(prog, c, c->is_demo || is_fixed,
                             pitfall && c->is_demo ? &broken : is_fixed ? &fixed : NULL);
    }
    if (pitfall)
        failed += judge_symptoms(prog, &exp, &broken, &fixed);
    free(broken.out), free(broken.err), free(fixed.out), free(fixed.err);
    expect_free(&exp);
    fflush(stdout);
    ck_assert_msg(failed == 0, "%s/%s: %d check(s) failed, see the FAIL lines above",
                  prog->chapter, prog->name, failed);
}
END_TEST

/* ---- finding the programs ---------------------------------------------------- */

static bool is_program_source(const char *file)
{
    static const char *const levels[] = {"basic_", "advanced_", "pitfall_", "solution_"};
    size_t len = strlen(file);

    if (len < 3 || strcmp(file + len - 2, ".c") != 0)
        return false;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (strncmp(file, levels[i], strlen(levels[i])) == 0)
            return true;
    return false;
}

static void add_program(const char *dir, const char *file)
{
    struct program *p;

    programs = realloc(programs, (nprograms + 1) * sizeof *programs);
    if (programs == NULL) {
        perror("realloc");
        exit(1);
    }
    p = &programs[nprograms++];
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->chapter, sizeof p->chapter, "%s", strrchr(dir, '/') + 1);
    snprintf(p->name, sizeof p->name, "%.*s", (int)(strlen(file) - 2), file);
    if (opt.bin == NULL)
        snprintf(p->bin, sizeof p->bin, "%s/%s", dir, p->name);
    else if (realpath(opt.bin, p->bin) == NULL)     /* programs run in their own directory */
        snprintf(p->bin, sizeof p->bin, "%s", opt.bin);     /* reported missing later */
}

static void find_programs(const char *chapter_dir)
{
    char dir[PATH_MAX];
    struct names files = {0};

    if (realpath(chapter_dir, dir) == NULL) {
        fprintf(stderr, "examples: %s: %s\n", chapter_dir, strerror(errno));
        exit(2);
    }
    list_dir(dir, &files);
    for (size_t i = 0; i < files.n; i++) {
        const char *wanted = opt.exercise != NULL ? opt.exercise : opt.only;
        size_t len = strlen(files.v[i]);

        if (!is_program_source(files.v[i]))
            continue;
        if (wanted != NULL && (strlen(wanted) != len - 2 || strncmp(files.v[i], wanted, len - 2) != 0))
            continue;
        add_program(dir, files.v[i]);
    }
    names_free(&files);
}

/* ---- setting up ----------------------------------------------------------------- */

/* POSIX message queues can only be listed where the mqueue filesystem is
 * mounted.  Use /dev/mqueue if it is; otherwise mount one in a private
 * mount namespace that vanishes with the harness (needs root). */
static void find_mqueue(const char *here)
{
    FILE *fp = fopen("/proc/self/mounts", "r");
    char dev[256], mnt[PATH_MAX], type[64];

    while (fp != NULL && fscanf(fp, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3)
        if (strcmp(type, "mqueue") == 0) {
            snprintf(opt.mqueue, sizeof opt.mqueue, "%s", mnt);
            fclose(fp);
            return;
        }
    if (fp != NULL)
        fclose(fp);
    snprintf(opt.mqueue, sizeof opt.mqueue, "%s/.mqueue", here);
    mkdir(opt.mqueue, 0700);
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("mqueue", opt.mqueue, "mqueue", 0, NULL) == 0)
        return;
    printf("examples: note: no mqueue filesystem (%s): POSIX message queues left behind "
           "cannot be detected\n", strerror(errno));
    opt.mqueue[0] = '\0';
}

static void setup_paths(void)
{
    char exe[PATH_MAX - 64];    /* room for the names added below */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0) {
        perror("readlink /proc/self/exe");
        exit(1);
    }
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(opt.work, sizeof opt.work, "%s/.work", exe);
    mkdir(opt.work, 0700);
    find_mqueue(exe);
}

static void usage_exit(void)
{
    fprintf(stderr, "usage: examples [--only NAME] [--exercise NAME --bin PATH] [--valgrind] "
                    "CHAPTER_DIR...\n");
    exit(2);
}

static int parse_options(int argc, char *argv[])
{
    const char *scale = getenv("TIMEOUT_SCALE");
    int i;

    opt.timeout_scale = scale != NULL && atof(scale) > 0 ? atof(scale) : 1.0;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--valgrind") == 0)
            opt.valgrind = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            opt.only = argv[++i];
        else if (strcmp(argv[i], "--exercise") == 0 && i + 1 < argc)
            opt.exercise = argv[++i];
        else if (strcmp(argv[i], "--bin") == 0 && i + 1 < argc)
            opt.bin = argv[++i];
        else
            usage_exit();
    }
    if (i == argc || (opt.bin != NULL) != (opt.exercise != NULL))
        usage_exit();
    if (opt.valgrind)
        opt.timeout_scale *= 10;
    return i;
}

int main(int argc, char *argv[])
{
    Suite *suite = suite_create("examples");
    SRunner *runner;
    int failed;

    for (int i = parse_options(argc, argv); i < argc; i++)
        find_programs(argv[i]);
    if (nprograms == 0) {
        fprintf(stderr, "examples: no program found%s%s\n", opt.only || opt.exercise ? " named " : "",
                opt.exercise ? opt.exercise : opt.only ? opt.only : "");
        return 2;
    }
    setup_paths();
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < nprograms; i++) {
        TCase *tc;

        snprintf(programs[i].title, sizeof programs[i].title, "%s/%s", programs[i].chapter,
                 programs[i].name);
        tc = tcase_create(programs[i].title);
        tcase_set_timeout(tc, 3600); /* our own limits apply to each run */
        tcase_add_loop_test(tc, run_program, (int)i, (int)i + 1);
        suite_add_tcase(suite, tc);
    }
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    free(programs);
    return failed == 0 ? 0 : 1;
}
