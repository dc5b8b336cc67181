/* test_trace.c - tests of tools/trace (make trace / make sched).
 *
 * On one program of each chapter, the calls of the lesson appear in order
 * with the roles the narration gives them, and the loader's and libc's
 * start-up does not; a Trace: line limits the view to its calls; a program
 * that hangs is stopped at the time limit, and one that ignores SIGTERM is
 * killed, leaving no process, FIFO or temporary directory behind.
 * Run from tests/ (make -C tests check), after the programs are built.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOOL "../tools/trace"

static char tmp[PATH_MAX]; /* the tool's TMPDIR, one per test */

static bool have_strace(void)
{
    return system("command -v strace >/dev/null 2>&1") == 0;
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;

    ck_assert_msg(fp != NULL, "open %s: %s", path, strerror(errno));
    FILE *mem = open_memstream(&text, &len);
    int ch;

    while ((ch = getc(fp)) != EOF)
        putc(ch, mem);
    fclose(mem);
    fclose(fp);
    return text;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result {
    int status;
    char *out, *err;
    double seconds;
};

/* Runs tools/trace with args (NULL-terminated), stdin /dev/null, stdout and
 * stderr in files; signo > 0 is sent to it after delay_ms. */
static struct result run_tool_signalled(const char *const *args, int signo, unsigned delay_ms)
{
    char out[PATH_MAX + 8], err[PATH_MAX + 8];
    const char *argv[32] = {TOOL};
    struct result r;
    size_t n = 1;

    for (; args[n - 1] != NULL && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    snprintf(out, sizeof out, "%s/.out", tmp);
    snprintf(err, sizeof err, "%s/.err", tmp);
    double start = now_s();
    pid_t pid = fork();

    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
            e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        close_range(3, ~0U, 0); /* Check's own pipe stays out of the tool */
        setenv("TMPDIR", tmp, 1);
        setenv("LC_ALL", "C", 1);
        alarm(40); /* the test's own bound: the tool must end long before */
        execv(TOOL, (char **)argv);
        _exit(127);
    }
    if (signo > 0) {
        usleep(delay_ms * 1000);
        kill(pid, signo);
    }
    ck_assert_int_eq(waitpid(pid, &r.status, 0), pid);
    r.seconds = now_s() - start;
    r.out = slurp(out);
    r.err = slurp(err);
    unlink(out);
    unlink(err);
    return r;
}

static struct result run_tool(const char *const *args)
{
    return run_tool_signalled(args, 0, 0);
}

static void free_result(struct result *r)
{
    free(r->out);
    free(r->err);
}

static int exit_status(const struct result *r)
{
    return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 128 + WTERMSIG(r->status);
}

/* The trace: the lines after the "==== system calls" or "==== every" header. */
static const char *trace_part(const struct result *r)
{
    const char *t = strstr(r->out, "\n==== system calls of the lesson");

    if (t == NULL)
        t = strstr(r->out, "\n==== every system call");
    ck_assert_msg(t != NULL, "no trace in the output:\n%.2000s\nstderr:\n%.1000s", r->out, r->err);
    return t + 1;
}

/* Each step is "ROLE-REGEX<TAB>CALL-REGEX": a line of the trace whose role
 * matches the first and whose call matches the second, after the line the
 * step before matched. */
static void expect_in_order(const struct result *r, const char *const *steps)
{
    const char *line = trace_part(r);

    for (size_t k = 0; steps[k] != NULL; k++) {
        const char *tab = strchr(steps[k], '\t');
        char role_re[128], *line_copy;
        regex_t role, call;
        bool found = false;

        snprintf(role_re, sizeof role_re, "^\\+ *[0-9.]+ (µs|ms|s) +\\[%.*s\\] +",
                 (int)(tab - steps[k]), steps[k]);
        ck_assert_int_eq(regcomp(&role, role_re, REG_EXTENDED | REG_NOSUB), 0);
        ck_assert_int_eq(regcomp(&call, tab + 1, REG_EXTENDED | REG_NOSUB), 0);
        while (!found && (line = strchr(line, '\n')) != NULL) {
            line++;
            line_copy = strndup(line, strcspn(line, "\n"));
            const char *text = strstr(line_copy, "]  ");

            found = regexec(&role, line_copy, 0, NULL, 0) == 0 && text != NULL &&
                    regexec(&call, text + 3 + strspn(text + 3, " "), 0, NULL, 0) == 0;
            free(line_copy);
        }
        regfree(&role);
        regfree(&call);
        ck_assert_msg(found, "step %zu (%s) not found in order in:\n%.3000s", k + 1, steps[k],
                      trace_part(r));
    }
}

/* No line of the trace contains any of these. */
static void expect_none(const struct result *r, const char *const *texts)
{
    const char *t = trace_part(r);

    for (size_t k = 0; texts[k] != NULL; k++)
        ck_assert_msg(strstr(t, texts[k]) == NULL, "'%s' in the trace:\n%.3000s", texts[k], t);
}

/* What the loader and libc do before main(), and common/'s check of the
 * standard descriptors: never shown. */
static const char *const startup_noise[] = {
    "libc.so.6", "ld.so.cache", "ld.so.preload", "arch_prctl(", "set_tid_address(",
    "rseq(",     "prlimit64(",  "</dev/null>",   NULL,
};

static char base[PATH_MAX - 64]; /* holds each test's tmp; removed by the runner */

/* Unchecked: run by the runner itself, so base goes even when a failing
 * check ended a test (in its own process) before its teardown. */
static void make_base(void)
{
    snprintf(base, sizeof base, "/tmp/test_trace.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("test_trace: mkdtemp");
        exit(EXIT_FAILURE);
    }
}

static void remove_base(void)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "test_trace: could not remove %s\n", base);
}

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "%s/t.XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmp));
}

/* The tool's directory is gone, and so is everything the program made. */
static void teardown(void)
{
    DIR *d = opendir(tmp);
    struct dirent *de;
    char left[512] = "";

    while (d != NULL && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            snprintf(left + strlen(left), sizeof left - strlen(left), " %s", de->d_name);
    if (d != NULL)
        closedir(d);
    rmdir(tmp);
    ck_assert_msg(left[0] == '\0', "left behind in TMPDIR:%s", left);
}

/* A process whose command line contains marker is still running. */
static bool process_with(const char *marker)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    bool found = false;

    while (!found && (de = readdir(d)) != NULL) {
        char path[300], buf[4096];
        int fd;
        ssize_t n;

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || atoi(de->d_name) == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
        if ((fd = open(path, O_RDONLY)) < 0)
            continue;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < n; i++)
            buf[i] = buf[i] == '\0' ? ' ' : buf[i];
        found = n > 0 && (buf[n] = '\0', strstr(buf, marker) != NULL);
    }
    closedir(d);
    return found;
}

#define SKIP_WITHOUT_STRACE()                                                                      \
    do {                                                                                           \
        if (!have_strace()) {                                                                      \
            fprintf(stderr, "test_trace: skipped, no strace (Debian package strace)\n");           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* The calls a program makes are judged on native builds only, as in the
 * harness: a sanitizer's runtime makes calls of its own before main(). */
#ifdef SANITIZED_PROGRAMS
#define SKIP_UNLESS_NATIVE()                                                                       \
    do {                                                                                           \
        fprintf(stderr, "test_trace: calls not judged under SANITIZE=...\n");                      \
        return;                                                                                    \
    } while (0)
#else
#define SKIP_UNLESS_NATIVE() SKIP_WITHOUT_STRACE()
#endif

/* ---- one program per chapter ---------------------------------------------------- */

/* The program (no arguments) exits 0 under the tool, its trace holds steps
 * in order and none of the start-up noise. */
static void expect_lesson(const char *prog, const char *const *steps)
{
    const char *const args[] = {prog, NULL};
    struct result r = run_tool(args);

    ck_assert_msg(exit_status(&r) == 0, "%s: status %d, stderr:\n%.2000s", prog, exit_status(&r),
                  r.err);
    expect_in_order(&r, steps);
    expect_none(&r, startup_noise);
    free_result(&r);
}

START_TEST(pipes_pipe_fork)
{
    SKIP_UNLESS_NATIVE();
    const char *const args[] = {"../01_pipes/basic_pipe_fork", "--lines", "2", NULL};
    /* Lines are in the order the calls were entered: a read() that blocks
     * is entered before the write() that ends it, so each sequence holds
     * only what must come in that order. */
    const char *const steps[] = {
        "parent\tpipe2?\\(\\[3<pipe:",         "parent\tclone3?\\(",
        "parent\twrite\\(4<pipe:.* = 12( |$)", "child\tread\\(3<pipe:.* = 0( |$)",
        "child\t\\+\\+\\+ exited with 0",      NULL,
    };
    const char *const child_steps[] = {
        "parent\tclone3?\\(",
        "child\tclose\\(4<pipe:",
        "child\tread\\(3<pipe:.*\"line 1 of 2\\\\n\".* = 12( |$)",
        "child\tread\\(3<pipe:.*\"line 2 of 2\\\\n\"",
        NULL,
    };
    /* SIGCHLD may come before wait4() or during it, and strace may see
     * the child's exit after the parent's SIGCHLD. */
    const char *const reap_steps[] = {"parent\tclose\\(4<pipe:", "parent\twait4\\(", NULL};
    const char *const signal_steps[] = {"parent\tclone3?\\(", "parent\t--- SIGCHLD", NULL};
    const char *const narration[] = {"write(1", NULL};
    struct result r = run_tool(args);

    ck_assert_msg(exit_status(&r) == 0, "status %d, stderr:\n%s", exit_status(&r), r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "[child] read() returned 0")); /* its own output */
    expect_in_order(&r, steps);
    expect_in_order(&r, child_steps);
    expect_in_order(&r, reap_steps);
    expect_in_order(&r, signal_steps);
    expect_none(&r, startup_noise);
    expect_none(&r, narration); /* the narration is the program's output, not the lesson */
    free_result(&r);
}
END_TEST

/* Children that exec: their own start-up (sort's loader) is noise too, the
 * PATH search's failed execve() calls are left out, and a child that never
 * narrates is named by what it runs. */
START_TEST(pipes_pipeline_exec)
{
    SKIP_UNLESS_NATIVE();
    const char *const args[] = {"../01_pipes/basic_pipeline", NULL};
    const char *const steps[] = {
        "parent\tpipe2?\\(",    "parent\tclone3?\\(",
        "sort [0-9]+\tdup2\\(", "sort [0-9]+\texecve\\(\"[^\"]*/sort\", \\[\"sort\"\\].* = 0( |$)",
        "parent\twait4\\(",     NULL,
    };
    struct result r = run_tool(args);

    /* Only the loader's part: sort's main() sets its own limits (prlimit64). */
    const char *const loader[] = {"libc.so.6", "ld.so.cache", "arch_prctl(", "set_tid_address(",
                                  NULL};

    ck_assert_int_eq(exit_status(&r), 0);
    expect_in_order(&r, steps);
    expect_none(&r, loader);
    /* The failed tries of execvp()'s PATH search end in ENOENT. */
    ck_assert_msg(strstr(trace_part(&r), "= -1 ENOENT") == NULL ||
                      strstr(trace_part(&r), "execve(") == NULL ||
                      !strstr(strstr(trace_part(&r), "execve("), ") = -1 ENOENT"),
                  "the PATH search is shown:\n%.3000s", trace_part(&r));
    free_result(&r);
}
END_TEST

START_TEST(message_queues_posix_mq)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "creator\tmq_open\\(\"basic_posix_mq\\.[0-9]+\", O_WRONLY\\|O_CREAT\\|O_EXCL",
        "creator\tmq_timedsend\\(3</basic_posix_mq\\.[0-9]+>, \"first\"",
        "parent\tmq_timedreceive\\(3</basic_posix_mq\\.[0-9]+>, \"first\".* = 5( |$)",
        "parent\tmq_unlink\\(\"basic_posix_mq\\.[0-9]+\"\\) = 0( |$)",
        NULL,
    };

    expect_lesson("../02_message_queues/basic_posix_mq", steps);
}
END_TEST

START_TEST(mailboxes_port_send_receive)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "receiver\tsocketpair\\(AF_UNIX, SOCK_SEQPACKET",
        "receiver\tclone3?\\(",
        "sender\tsendmsg\\(",
        "receiver\trecvmsg\\(.*hello #1",
        "receiver\twait4\\(",
        NULL,
    };

    expect_lesson("../03_mailboxes/basic_port_send_receive", steps);
}
END_TEST

START_TEST(shared_memory_posix_shm)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "parent\topenat\\(.*\"/dev/shm/basic_posix_shm\\.[0-9]+\", O_RDWR\\|O_CREAT\\|O_EXCL",
        "parent\tftruncate\\(3</dev/shm/",
        "parent\tmmap\\(NULL, [0-9]+, PROT_READ\\|PROT_WRITE, MAP_SHARED, 3</dev/shm/",
        "reader\tmmap\\(.*MAP_SHARED, 3</dev/shm/",
        "parent\tunlink\\(\"/dev/shm/basic_posix_shm\\.[0-9]+\"\\) = 0( |$)",
        NULL,
    };

    expect_lesson("../04_shared_memory/basic_posix_shm", steps);
}
END_TEST

START_TEST(semaphores_named_sem)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "waiter\topenat\\(.*\"/dev/shm/sem\\.",
        "waiter\tclone3?\\(",
        "waiter\tfutex\\(0x[0-9a-f]+, FUTEX_WAIT",
        "poster\tfutex\\(0x[0-9a-f]+, FUTEX_WAKE, 1\\) = 1",
        "waiter\tunlink\\(\"/dev/shm/sem\\.",
        NULL,
    };

    expect_lesson("../05_semaphores/basic_posix_named_sem", steps);
}
END_TEST

START_TEST(sockets_socketpair)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "parent\tsocketpair\\(AF_UNIX, SOCK_STREAM",
        "parent\tclone3?\\(",
        "parent\twrite\\(3<socket:.*\"ping 1",
        "child\twrite\\(4<socket:.*\"pong 1",
        "parent\twait4\\(",
        NULL,
    };

    expect_lesson("../06_sockets/basic_socketpair", steps);
}
END_TEST

/* The data crosses through the shared page: no system call between mmap and munmap
 * but the fork and the wait. */
START_TEST(mmap_anon_shared)
{
    SKIP_UNLESS_NATIVE();
    const char *const steps[] = {
        "parent\tmmap\\(NULL, [0-9]+, PROT_READ\\|PROT_WRITE, MAP_SHARED\\|MAP_ANONYMOUS, -1, 0\\)",
        "parent\tclone3?\\(",
        "parent\twait4\\(",
        "parent\tmunmap\\(",
        NULL,
    };

    expect_lesson("../07_mmap/basic_mmap_anon_shared", steps);
}
END_TEST

/* The benchmark's pipe row: pinned, two pipes, a fork, and the ping-pong between the
 * machine's process and a peer that never narrates ([pid N]). */
START_TEST(comparison_bench_pipe_row)
{
    SKIP_UNLESS_NATIVE();
    const char *const args[] = {"../08_comparison/advanced_ipc_bench",
                                "--mechanisms",
                                "pipe",
                                "--rounds",
                                "20",
                                "--sizes",
                                "64",
                                NULL};
    const char *const steps[] = {
        "machine\tsched_setaffinity\\(0, [0-9]+, \\[0\\]\\) = 0",
        "machine\tpipe2\\(\\[3<pipe:",
        "machine\tpipe2\\(\\[5<pipe:",
        "machine\tclone3?\\(",
        "machine\twrite\\(4<pipe:.* = 64( |$)",
        "pid [0-9]+\twrite\\(6<pipe:.* = 64( |$)",
        "machine\twait4\\(",
        NULL,
    };
    struct result r = run_tool(args);

    ck_assert_msg(exit_status(&r) == 0, "status %d, stderr:\n%.2000s", exit_status(&r), r.err);
    expect_in_order(&r, steps);
    expect_none(&r, startup_noise);
    free_result(&r);
}
END_TEST

/* ---- the Trace: line, --narration ------------------------------------------------- */

/* A copy of basic_pipe_fork beside a source whose header names three calls:
 * only those are shown, with the signals and exits. */
START_TEST(trace_line_limits_the_calls)
{
    SKIP_UNLESS_NATIVE();
    char bin[PATH_MAX + 32], src[PATH_MAX + 32], cmd[3 * PATH_MAX];

    snprintf(bin, sizeof bin, "%s/lesson", tmp);
    snprintf(src, sizeof src, "%s/lesson.c", tmp);
    snprintf(cmd, sizeof cmd, "cp ../01_pipes/basic_pipe_fork %s", bin);
    ck_assert_int_eq(system(cmd), 0);
    FILE *fp = fopen(src, "w");

    fputs("/* lesson.c - a test's copy\n *\n * Trace: pipe* read\n * Run: ./lesson\n */\n", fp);
    fclose(fp);
    const char *const args[] = {bin, "--lines", "1", NULL};
    const char *const steps[] = {
        "parent\tpipe2?\\(",   "child\tread\\(.* = 12( |$)",      "child\tread\\(.* = 0( |$)",
        "parent\t--- SIGCHLD", "parent\t\\+\\+\\+ exited with 0", NULL};
    const char *const hidden[] = {"clone(", "write(", "close(", "wait4(", "openat(", NULL};
    struct result r = run_tool(args);

    unlink(bin);
    unlink(src);
    ck_assert_int_eq(exit_status(&r), 0);
    ck_assert_ptr_nonnull(strstr(r.out, "(Trace: pipe* read)"));
    expect_in_order(&r, steps);
    expect_none(&r, hidden);
    free_result(&r);
}
END_TEST

START_TEST(narration_option_shows_the_writes)
{
    SKIP_UNLESS_NATIVE();
    const char *const args[] = {"--narration", "../01_pipes/basic_pipe_fork", "--lines", "1", NULL};
    const char *const steps[] = {"parent\twrite\\(1<.*\"\\[parent\\] pipe created", NULL};
    struct result r = run_tool(args);

    ck_assert_int_eq(exit_status(&r), 0);
    expect_in_order(&r, steps);
    free_result(&r);
}
END_TEST

/* make sched: where perf may record, the child's wake-ups by the parent are
 * there, labelled with the strace view's roles; where it may not, perf's
 * reason and the fix are printed; either way the status is the strace
 * view's, 0. */
START_TEST(sched_view_or_its_refusal)
{
    SKIP_UNLESS_NATIVE();
    if (system("command -v perf >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_trace: sched view not tested, no perf (Debian package linux-perf)\n");
        return;
    }
    const char *const args[] = {"--sched", "../01_pipes/basic_pipe_fork", "--lines", "2", NULL};
    struct result r = run_tool(args);
    const char *view = strstr(r.out, "==== who woke whom");

    ck_assert_msg(exit_status(&r) == 0, "status %d, stderr:\n%.2000s", exit_status(&r), r.err);
    if (view != NULL) {
        ck_assert_msg(strstr(view, "[child] woken by [parent] on CPU") != NULL, "%.3000s", view);
        /* (By the child's exit too, unless the parent reached wait4() late.) */
        ck_assert_msg(strstr(view, "[parent] woken by ") != NULL, "%.3000s", view);
    } else {
        ck_assert_msg(strstr(r.out, "sched: perf may not record") != NULL, "%.3000s", r.out);
        ck_assert_msg(strstr(r.out, "kernel.perf_event_paranoid") != NULL ||
                          strstr(r.out, "even as root") != NULL,
                      "%.3000s", r.out);
        fprintf(stderr, "test_trace: perf refused here: the refusal was checked\n");
    }
    free_result(&r);
}
END_TEST

/* ---- bounded: the time limit, SIGKILL, Ctrl-C ------------------------------------- */

/* A FIFO reader waits for a writer forever.  Stopped (by the time limit,
 * or by signo to the tool after delay_ms), it gets SIGTERM, on which it
 * removes its FIFO; the tool says why, in stderr_says, within max_s. */
static void expect_reader_stopped(const char *timeout, int signo, const char *stderr_says,
                                  double max_s)
{
    char fifo[PATH_MAX + 16];

    snprintf(fifo, sizeof fifo, "%s/reader.fifo", tmp);
    const char *const args[] = {"--timeout", timeout, "../01_pipes/basic_fifo",
                                "--reader",  fifo,    NULL};
    struct result r = run_tool_signalled(args, signo, 700);

    ck_assert_int_eq(exit_status(&r), 1);
    ck_assert_msg(strstr(r.err, stderr_says) != NULL, "stderr:\n%.2000s", r.err);
    ck_assert_msg(r.seconds < max_s, "took %.1f s", r.seconds);
    ck_assert_msg(strstr(trace_part(&r), "--- SIGTERM") != NULL, "%.3000s", trace_part(&r));
    ck_assert_msg(access(fifo, F_OK) == -1, "the FIFO is left behind");
    ck_assert(!process_with(fifo));
    free_result(&r);
}

START_TEST(hang_stopped_at_time_limit)
{
    SKIP_WITHOUT_STRACE();
    expect_reader_stopped("1", 0, "time limit of 1 s", 6);
}
END_TEST

/* A program that ignores SIGTERM (and its child, which inherits that) is
 * killed GRACE_S seconds later; nothing of it survives. */
START_TEST(sigterm_ignored_then_killed)
{
    SKIP_WITHOUT_STRACE();
    const char *const args[] = {"--timeout", "1", "/bin/sh", "-c", "trap '' TERM; sleep 37.25",
                                NULL};
    struct result r = run_tool(args);

    ck_assert_int_eq(exit_status(&r), 1);
    ck_assert_msg(r.seconds < 8, "took %.1f s", r.seconds);
    ck_assert_msg(strstr(r.err, "SIGKILL") != NULL, "stderr:\n%s", r.err);
    ck_assert(!process_with("sleep 37.25"));
    free_result(&r);
}
END_TEST

/* SIGINT to the tool (a reader's Ctrl-C when the program does not hold the
 * terminal) stops the program the same way. */
START_TEST(interrupt_stops_the_program)
{
    SKIP_WITHOUT_STRACE();
    expect_reader_stopped("20", SIGINT, "interrupted", 6);
}
END_TEST

/* ---- the command line ---------------------------------------------------------------- */

START_TEST(usage_errors)
{
    const char *const none[] = {NULL};
    const char *const zero[] = {"--timeout", "0", "../01_pipes/basic_pipe_fork", NULL};
    const char *const missing[] = {"./no_such_program", NULL};
    const char *const help[] = {"-h", NULL};
    struct result r = run_tool(none);

    ck_assert_int_eq(exit_status(&r), 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage: trace"));
    free_result(&r);
    r = run_tool(zero);
    ck_assert_int_eq(exit_status(&r), 2);
    free_result(&r);
    r = run_tool(missing);
    ck_assert_int_eq(exit_status(&r), 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no_such_program"));
    free_result(&r);
    r = run_tool(help);
    ck_assert_int_eq(exit_status(&r), 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: trace"));
    free_result(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace");
    TCase *chapters = tcase_create("chapters"), *filter = tcase_create("filter");
    TCase *bounded = tcase_create("bounded"), *cli = tcase_create("cli");
    SRunner *sr;
    int failed;

    for (TCase **tc = (TCase *[]){chapters, filter, bounded, cli, NULL}; *tc != NULL; tc++)
        tcase_add_unchecked_fixture(*tc, make_base, remove_base);
    tcase_add_checked_fixture(chapters, setup, teardown);
    tcase_add_checked_fixture(filter, setup, teardown);
    tcase_add_checked_fixture(bounded, setup, teardown);
    tcase_add_checked_fixture(cli, setup, teardown);
    tcase_set_timeout(chapters, 30);
    tcase_set_timeout(filter, 30);
    tcase_set_timeout(bounded, 30);
    tcase_add_test(chapters, pipes_pipe_fork);
    tcase_add_test(chapters, pipes_pipeline_exec);
    tcase_add_test(chapters, message_queues_posix_mq);
    tcase_add_test(chapters, mailboxes_port_send_receive);
    tcase_add_test(chapters, shared_memory_posix_shm);
    tcase_add_test(chapters, semaphores_named_sem);
    tcase_add_test(chapters, sockets_socketpair);
    tcase_add_test(chapters, mmap_anon_shared);
    tcase_add_test(chapters, comparison_bench_pipe_row);
    tcase_add_test(filter, trace_line_limits_the_calls);
    tcase_add_test(filter, narration_option_shows_the_writes);
    tcase_add_test(filter, sched_view_or_its_refusal);
    tcase_add_test(bounded, hang_stopped_at_time_limit);
    tcase_add_test(bounded, sigterm_ignored_then_killed);
    tcase_add_test(bounded, interrupt_stops_the_program);
    tcase_add_test(cli, usage_errors);
    suite_add_tcase(s, chapters);
    suite_add_tcase(s, filter);
    suite_add_tcase(s, bounded);
    suite_add_tcase(s, cli);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
