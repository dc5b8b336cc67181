/* test_common.c - Check unit tests of common/: what each helper promises,
 * its edge cases and its error paths.  Functions that exit (die*, usage)
 * run in a forked child whose exit status and output are checked.
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers: run a function in a child, capture what it prints ----------- */

struct captured {
    int status;
    char out[1024], err[1024];
};

static void read_into(int fd, char *buf, size_t size)
{
    ssize_t n = read_full(fd, buf, size - 1);

    buf[n < 0 ? 0 : n] = '\0';
    close(fd);
}

static void run_captured(void (*fn)(void *), void *arg, struct captured *c)
{
    int out[2], err[2];
    pid_t pid;

    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        fn(arg);
        exit(0);
    }
    close(out[1]);
    close(err[1]);
    read_into(out[0], c->out, sizeof c->out);
    read_into(err[0], c->err, sizeof c->err);
    ck_assert_int_eq(waitpid(pid, &c->status, 0), pid);
}

static int exit_code(const struct captured *c)
{
    ck_assert_msg(WIFEXITED(c->status), "child did not exit normally");
    return WEXITSTATUS(c->status);
}

/* ---- errors.c, cli.c and proc.c ---------------------------------------------- */

static void call_die_errno(void *arg)
{
    (void)arg;
    errno = ENOENT;
    die_errno("open %s", "missing.txt");
}

START_TEST(die_errno_prints_cause_and_exits_1)
{
    struct captured c;

    run_captured(call_die_errno, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_str_eq(c.err, "test_common: open missing.txt: No such file or directory\n");
    ck_assert_str_eq(c.out, "");
}
END_TEST

static void call_die(void *arg)
{
    (void)arg;
    errno = EBADF; /* must not be printed */
    die("%d records torn", 3);
}

START_TEST(die_prints_without_errno_and_exits_1)
{
    struct captured c;

    run_captured(call_die, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_str_eq(c.err, "test_common: 3 records torn\n");
}
END_TEST

static void call_die_errnum(void *arg)
{
    (void)arg;
    die_errnum(EAGAIN, "pthread_create");
}

START_TEST(die_errnum_uses_the_given_code)
{
    struct captured c;

    run_captured(call_die_errnum, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_str_eq(c.err, "test_common: pthread_create: Resource temporarily unavailable\n");
}
END_TEST

static void call_warnings(void *arg)
{
    (void)arg;
    errno = EPIPE;
    warn_errno("write");
    printf("errno still %s\n", errno == EPIPE ? "EPIPE" : "changed");
    warn_msg("just %s", "saying");
}

START_TEST(warnings_return_and_keep_errno)
{
    struct captured c;

    run_captured(call_warnings, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_str_eq(c.err, "test_common: write: Broken pipe\ntest_common: just saying\n");
    ck_assert_str_eq(c.out, "errno still EPIPE\n");
}
END_TEST

static void call_die_usage(void *arg)
{
    (void)arg;
    die_usage("[--fixed]", "unknown option '%s'", "--bogus");
}

START_TEST(die_usage_prints_usage_and_exits_2)
{
    struct captured c;

    run_captured(call_die_usage, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_str_eq(c.err,
                     "test_common: unknown option '--bogus'\nusage: test_common [--fixed]\n");
}
END_TEST

START_TEST(wait_status_in_words)
{
    int status;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(3);
    waitpid(pid, &status, 0);
    ck_assert_str_eq(fmt_wait_status(status).s, "exit status 3");
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    ck_assert_str_eq(fmt_wait_status(status).s, "killed by signal 13 (SIGPIPE)");
}
END_TEST

static void fork_and_reap(void *arg)
{
    pid_t pid;

    (void)arg;
    setvbuf(stdout, NULL, _IOFBF, 0); /* as into a pipe: output waits in the buffer */
    printf("before fork|");
    pid = fork_or_die();
    if (pid == 0)
        exit(7); /* exit() flushes: unflushed text would show twice */
    printf("status=%#x|", (unsigned)reap_child(pid, "parent"));
}

START_TEST(fork_flushes_and_reap_reports)
{
    struct captured c;

    run_captured(fork_and_reap, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(strstr(c.out, "before fork|") == c.out &&
                      strstr(c.out + 1, "before fork|") == NULL,
                  "output before fork() printed twice: '%s'", c.out);
    ck_assert_ptr_nonnull(strstr(c.out, "] reaped child "));
    ck_assert_ptr_nonnull(strstr(c.out, ": exit status 7\nstatus=0x700|"));
    ck_assert_ptr_nonnull(strstr(c.out, "[parent] reaped child"));
}
END_TEST

static void close_stdin_then_ensure(void *arg)
{
    int fds[2];

    (void)arg;
    close(0);
    ensure_std_fds();
    if (pipe(fds) == -1)
        exit(3);
    printf("stdin %s, pipe fds %d %d\n", fcntl(0, F_GETFD) == -1 ? "closed" : "open", fds[0],
           fds[1]);
}

START_TEST(ensure_std_fds_fills_a_closed_stdin)
{
    struct captured c;

    run_captured(close_stdin_then_ensure, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(strstr(c.out, "stdin open, pipe fds ") != NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, " 0 ") == NULL && strstr(c.out, "fds 0") == NULL,
                  "pipe() handed out descriptor 0: %s", c.out);
}
END_TEST

static void call_no_options(void *arg)
{
    char **argv = arg;
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    optind = 1;
    cli_no_options(argc, argv, "");
    printf("ran\n");
}

START_TEST(no_options_accepts_only_help)
{
    char *none[] = {"prog", NULL}, *help[] = {"prog", "-h", NULL};
    char *opt[] = {"prog", "--fixed", NULL}, *operand[] = {"prog", "x", NULL};
    struct captured c;

    run_captured(call_no_options, none, &c);
    ck_assert_str_eq(c.out, "ran\n");
    run_captured(call_no_options, help, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_ptr_nonnull(strstr(c.out, "usage: test_common"));
    run_captured(call_no_options, opt, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    run_captured(call_no_options, operand, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_str_eq(c.out, "");
}
END_TEST

/* Runs cli_pitfall_fixed on the argument vector in arg, prints the result. */
static void call_pitfall_cli(void *arg)
{
    char **argv = arg;
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    optind = 1;
    printf("fixed=%d\n", cli_pitfall_fixed(argc, argv, "[--fixed]"));
}

START_TEST(pitfall_cli_modes)
{
    char *plain[] = {"prog", NULL}, *fixed[] = {"prog", "--fixed", NULL};
    char *help[] = {"prog", "--help", NULL}, *bogus[] = {"prog", "--frobnicate", NULL};
    char *operand[] = {"prog", "extra", NULL}, *short_bogus[] = {"prog", "-x", NULL};
    struct captured c;

    run_captured(call_pitfall_cli, plain, &c);
    ck_assert_str_eq(c.out, "fixed=0\n");
    run_captured(call_pitfall_cli, fixed, &c);
    ck_assert_str_eq(c.out, "fixed=1\n");
    run_captured(call_pitfall_cli, help, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_str_eq(c.out, "usage: test_common [--fixed]\n");
    run_captured(call_pitfall_cli, bogus, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_ptr_nonnull(strstr(c.err, "unknown option '--frobnicate'"));
    run_captured(call_pitfall_cli, short_bogus, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_ptr_nonnull(strstr(c.err, "unknown option '-x'"));
    run_captured(call_pitfall_cli, operand, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_ptr_nonnull(strstr(c.err, "unexpected argument 'extra'"));
}
END_TEST

static void call_getopt_with_value(void *arg)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char **argv = arg;
    int argc = 0, c;

    while (argv[argc] != NULL)
        argc++;
    optind = 1;
    /* '+': options end at the first operand, which is left alone. */
    while ((c = cli_getopt(argc, argv, "+n:h", longopts, "[--count N] CMD...")) != -1)
        if (c == 'n')
            printf("count=%ld\n", cli_long(optarg, 1, 10, "--count", "[--count N] CMD..."));
    printf("first operand=%s\n", optind < argc ? argv[optind] : "(none)");
}

START_TEST(getopt_values_and_operands)
{
    char *ok[] = {"prog", "--count", "7", "sort", "-r", NULL};
    char *missing[] = {"prog", "--count", NULL}, *range[] = {"prog", "-n", "11", NULL};
    struct captured c;

    run_captured(call_getopt_with_value, ok, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_str_eq(c.out, "count=7\nfirst operand=sort\n");
    run_captured(call_getopt_with_value, missing, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_ptr_nonnull(strstr(c.err, "option '--count' needs a value"));
    run_captured(call_getopt_with_value, range, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_ptr_nonnull(strstr(c.err, "--count must be an integer from 1 to 10, not '11'"));
}
END_TEST

/* Runs fn on argv in a child: a usage error (exit 2) whose first line is `want`. */
static void assert_usage_error(void (*fn)(void *), char **argv, const char *want)
{
    struct captured c;

    run_captured(fn, argv, &c);
    ck_assert_int_eq(exit_code(&c), 2);
    ck_assert_msg(strncmp(c.err, want, strlen(want)) == 0 && c.err[strlen(want)] == '\n',
                  "want \"%s\", stderr: %s", want, c.err);
}

START_TEST(getopt_names_the_option_as_typed)
{
    char *help_x[] = {"prog", "--help=x", NULL}, *abbrev[] = {"prog", "--he=x", NULL};
    char *fixed_x[] = {"prog", "--fixed=yes", NULL}, *short_f[] = {"prog", "-f", NULL};
    char *short_n[] = {"prog", "-n", NULL};

    assert_usage_error(call_no_options, help_x,
                       "test_common: option '--help' doesn't allow an argument");
    /* Named in full, as getopt_long matched the abbreviation. */
    assert_usage_error(call_no_options, abbrev,
                       "test_common: option '--help' doesn't allow an argument");
    assert_usage_error(call_pitfall_cli, fixed_x,
                       "test_common: option '--fixed' doesn't allow an argument");
    /* 'f' is the value of --fixed, but -f is no short option: still unknown. */
    assert_usage_error(call_pitfall_cli, short_f, "test_common: unknown option '-f'");
    assert_usage_error(call_getopt_with_value, short_n, "test_common: option '-n' needs a value");
}
END_TEST

static void close_stdout_then_cli(void *arg)
{
    char *argv[] = {"prog", NULL};
    struct stat null_st, st;

    (void)arg;
    close(STDOUT_FILENO);
    optind = 1;
    cli_no_options(1, argv, "");
    if (stat("/dev/null", &null_st) == -1 || fstat(STDOUT_FILENO, &st) == -1)
        fprintf(stderr, "fd 1 still closed\n");
    else if (st.st_rdev != null_st.st_rdev || !S_ISCHR(st.st_mode))
        fprintf(stderr, "fd 1 is not /dev/null\n");
    printf("into /dev/null: no error at exit\n");
}

START_TEST(cli_fills_a_closed_stdout_with_dev_null)
{
    struct captured c;

    run_captured(close_stdout_then_cli, NULL, &c);
    ck_assert_str_eq(c.err, "");
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_str_eq(c.out, "");
}
END_TEST

/* stdout onto /dev/full, or (how "pipe") a pipe with no reader and SIGPIPE
 * ignored; a temp dir registered; a child forked after the first failed
 * write exits normally.  how "full-buffered": the only line waits in the
 * buffer until exit, so the flush at exit is what fails; and the registry
 * is set up before the command line is parsed. */
static void write_to_a_bad_stdout(void *arg)
{
    const char *how = arg;
    bool buffered = strcmp(how, "full-buffered") == 0;
    char *argv[] = {"prog", NULL}, dir[256];
    int status, fds[2];
    pid_t pid;

    if (strcmp(how, "pipe") == 0) {
        if (pipe(fds) == -1 || dup2(fds[1], STDOUT_FILENO) == -1)
            _exit(4);
        close(fds[0]);
        close(fds[1]);
        signal(SIGPIPE, SIG_IGN);
    } else if (dup2(open("/dev/full", O_WRONLY), STDOUT_FILENO) == -1) {
        _exit(4);
    }
    setvbuf(stdout, NULL, buffered ? _IOFBF : _IOLBF, 0);
    /* The registry's atexit handler, registered before or after the check's
     * (in the caller's $TMPDIR): either way the directory must go. */
    if (buffered)
        make_temp_dir(dir, sizeof dir, "stdout_check");
    optind = 1;
    cli_no_options(1, argv, "");
    if (!buffered)
        make_temp_dir(dir, sizeof dir, "stdout_check");
    if (!buffered)
        printf("[parent] this line is lost at once\n");
    pid = fork_or_die();
    if (pid == 0) {
        printf("[child] and so is this\n");
        exit(0); /* must not report its parent's stdout again */
    }
    if (waitpid(pid, &status, 0) != pid || status != 0)
        _exit(3);
    if (buffered)
        printf("[parent] this line is lost at exit\n");
}

/* The captured stderr and exit status of write_to_a_bad_stdout(how), which
 * must also have removed its temp dir. */
static void check_bad_stdout(const char *how, const char *want_err)
{
    char dir[] = "/tmp/test_common.XXXXXX";
    struct captured c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);
    run_captured(write_to_a_bad_stdout, (void *)how, &c);
    ck_assert_msg(exit_code(&c) == 1, "%s: exit status %d", how, exit_code(&c));
    ck_assert_str_eq(c.err, want_err);
    ck_assert_msg(rmdir(dir) == 0, "%s: the registered temp dir was left in %s", how, dir);
}

START_TEST(output_errors_are_reported_at_exit)
{
    check_bad_stdout("full", "test_common: write to stdout: No space left on device\n");
    check_bad_stdout("full-buffered", "test_common: write to stdout: No space left on device\n");
    check_bad_stdout("pipe", "test_common: write to stdout: Broken pipe\n");
}
END_TEST

/* ---- parsing ------------------------------------------------------------------ */

static void assert_long_rejected(const char *s, long min, long max, int want_errno)
{
    long v = 12345;

    errno = 0;
    ck_assert_msg(parse_long(s, min, max, &v) == -1, "'%s' was accepted", s ? s : "(null)");
    ck_assert_int_eq(errno, want_errno);
    ck_assert_int_eq(v, 12345); /* untouched on failure */
}

START_TEST(parse_long_accepts_whole_numbers)
{
    long v;

    ck_assert_int_eq(parse_long("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(parse_long("-7", -10, 10, &v), 0);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(parse_long("100", 0, 100, &v), 0); /* bounds are inclusive */
    ck_assert_int_eq(v, 100);
    ck_assert_int_eq(parse_long("0", 0, 0, &v), 0);
    ck_assert_int_eq(v, 0);
}
END_TEST

START_TEST(parse_long_rejects_junk_and_overflow)
{
    assert_long_rejected("12abc", 0, 100, EINVAL);
    assert_long_rejected("", 0, 100, EINVAL);
    assert_long_rejected(NULL, 0, 100, EINVAL);
    assert_long_rejected(" 12", 0, 100, EINVAL);
    assert_long_rejected("+12", 0, 100, EINVAL);
    assert_long_rejected("-", -5, 5, EINVAL);
    assert_long_rejected("1.5", 0, 100, EINVAL);
    assert_long_rejected("99999999999999999999", 0, LONG_MAX, ERANGE);
    assert_long_rejected("-99999999999999999999", LONG_MIN, 0, ERANGE);
    assert_long_rejected("101", 0, 100, ERANGE);
    assert_long_rejected("-1", 0, 100, ERANGE); /* a negative where none is allowed */
}
END_TEST

START_TEST(parse_size_understands_suffixes)
{
    static const struct {
        const char *s;
        uint64_t v;
    } cases[] = {
        {"0", 0},         {"4096", 4096},        {"64K", 65536},           {"64k", 65536},
        {"1M", 1048576},  {"2G", 2147483648ULL}, {"1T", 1099511627776ULL}, {"1KiB", 1024},
        {"3MB", 3145728},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 1;

        ck_assert_msg(parse_size(cases[i].s, 0, UINT64_MAX, &v) == 0, "'%s' rejected", cases[i].s);
        ck_assert_uint_eq(v, cases[i].v);
    }
}
END_TEST

START_TEST(parse_size_rejects_bad_sizes)
{
    static const struct {
        const char *s;
        int err;
    } cases[] = {
        {"", EINVAL},
        {"-1", EINVAL},
        {"12abc", EINVAL},
        {"1X", EINVAL},
        {"1KB B", EINVAL},
        {"K", EINVAL},
        {" 1K", EINVAL},
        {"1Ki", EINVAL},
        {"99999999999999999999", ERANGE},
        {"17179869184G", ERANGE}, /* 2^34 GiB = 2^64 bytes: one past the top */
    };
    uint64_t v = 7;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        errno = 0;
        ck_assert_msg(parse_size(cases[i].s, 0, UINT64_MAX, &v) == -1, "'%s' accepted", cases[i].s);
        ck_assert_msg(errno == cases[i].err, "'%s': errno %d", cases[i].s, errno);
    }
    ck_assert_int_eq(parse_size("2M", 0, 1048576, &v), -1); /* over max */
    ck_assert_int_eq(errno, ERANGE);
    ck_assert_int_eq(parse_size("1K", 4096, 8192, &v), -1); /* under min */
    ck_assert_int_eq(errno, ERANGE);
    ck_assert_uint_eq(v, 7);
}
END_TEST

/* ---- timing.c ------------------------------------------------------------------ */

START_TEST(clock_is_monotonic_and_sleep_sleeps)
{
    uint64_t t0 = now_ns(), t1;

    sleep_ms(20);
    t1 = now_ns();
    ck_assert_uint_ge(t1 - t0, 20 * 1000 * 1000); /* at least: an upper bound would be flaky */
    ck_assert_uint_ge(elapsed_ns(t0), t1 - t0);
    ck_assert_double_eq_tol(ns_to_s(1500000000), 1.5, 1e-12);
}
END_TEST

START_TEST(human_formats)
{
    ck_assert_str_eq(fmt_duration(999).s, "999 ns");
    ck_assert_str_eq(fmt_duration(1500).s, "1.5 µs");
    ck_assert_str_eq(fmt_duration(2300000).s, "2.3 ms");
    ck_assert_str_eq(fmt_duration(1250000000).s, "1.25 s");
    ck_assert_str_eq(fmt_duration(150e3).s, "150 µs");
    ck_assert_str_eq(fmt_bytes(0).s, "0 B");
    ck_assert_str_eq(fmt_bytes(512).s, "512 B");
    ck_assert_str_eq(fmt_bytes(1023).s, "1023 B");
    ck_assert_str_eq(fmt_bytes(65536).s, "64 KiB");
    ck_assert_str_eq(fmt_bytes(1572864).s, "1.5 MiB");
    ck_assert_str_eq(fmt_bytes(UINT64_MAX).s, "16 EiB");
    ck_assert_str_eq(fmt_rate(2469606195ULL, 1000000000).s, "2.3 GiB/s");
    ck_assert_str_eq(fmt_rate(1024, 2000000000).s, "512 B/s");
    ck_assert_str_eq(fmt_rate(1, 0).s, "inf B/s");
}
END_TEST

/* ---- stats.c --------------------------------------------------------------------- */

START_TEST(percentiles_interpolate_between_ranks)
{
    double four[] = {1, 2, 3, 4};
    double ten[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    struct stats s;

    ck_assert_double_eq_tol(percentile_sorted(four, 4, 50), 2.5, 1e-12);
    ck_assert_double_eq_tol(percentile_sorted(four, 4, 0), 1, 1e-12);
    ck_assert_double_eq_tol(percentile_sorted(four, 4, 100), 4, 1e-12);
    ck_assert_double_eq_tol(percentile_sorted(four, 4, 25), 1.75, 1e-12);
    ck_assert_int_eq(stats_compute(ten, 10, &s), 0);
    ck_assert_double_eq(ten[0], 1); /* sorted in place */
    ck_assert_double_eq_tol(s.p50, 5.5, 1e-12);
    ck_assert_double_eq_tol(s.p90, 9.1, 1e-12);
    ck_assert_double_eq_tol(s.p99, 9.91, 1e-12);
    ck_assert_double_eq_tol(s.p999, 9.991, 1e-12);
    ck_assert_double_eq(s.min, 1);
    ck_assert_double_eq(s.max, 10);
}
END_TEST

START_TEST(mean_and_sample_stddev)
{
    double v[] = {2, 4, 4, 4, 5, 5, 7, 9};
    double one[] = {42};
    struct stats s;

    ck_assert_int_eq(stats_compute(v, 8, &s), 0);
    ck_assert_uint_eq(s.n, 8);
    ck_assert_double_eq_tol(s.mean, 5, 1e-12);
    ck_assert_double_eq_tol(s.stddev, sqrt(32.0 / 7.0), 1e-12); /* n - 1 in the divisor */
    ck_assert_int_eq(stats_compute(one, 1, &s), 0);
    ck_assert_double_eq(s.stddev, 0);
    ck_assert_double_eq(s.p999, 42);
    errno = 0;
    ck_assert_int_eq(stats_compute(v, 0, &s), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* ---- io.c ------------------------------------------------------------------------ */

#define BIG (1024 * 1024)

/* A pipe shrunk to one page forces write() to return early many times. */
START_TEST(write_full_finishes_across_a_small_pipe)
{
    unsigned char *buf = malloc(BIG);
    int fds[2];
    pid_t pid;
    int status;

    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (unsigned char)(i * 7);
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[1], F_SETPIPE_SZ, 4096), 4096);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* reader: small reads, checks every byte */
        unsigned char chunk[1000];
        size_t got = 0;
        ssize_t n;

        free(buf); /* the writer's, not needed here */
        close(fds[1]);
        while ((n = read(fds[0], chunk, sizeof chunk)) > 0)
            for (ssize_t i = 0; i < n; i++, got++)
                if (chunk[i] != (unsigned char)(got * 7))
                    _exit(3);
        _exit(got == BIG ? 0 : 4);
    }
    close(fds[0]);
    ck_assert_int_eq(write_full(fds[1], buf, BIG), BIG);
    close(fds[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    free(buf);
}
END_TEST

START_TEST(read_full_collects_pieces_and_reports_eof)
{
    char buf[64] = {0};
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(write(fds[1], "abc", 3), 3);
    ck_assert_int_eq(write(fds[1], "defg", 4), 4);
    ck_assert_int_eq(read_full(fds[0], buf, 5), 5); /* across two writes */
    ck_assert_str_eq(buf, "abcde");
    close(fds[1]);
    ck_assert_int_eq(read_full(fds[0], buf, sizeof buf), 2); /* EOF: a short count */
    ck_assert_int_eq(memcmp(buf, "fg", 2), 0);
    ck_assert_int_eq(read_full(fds[0], buf, sizeof buf), 0); /* EOF at once: 0 */
    close(fds[0]);
}
END_TEST

static void on_alarm(int sig)
{
    (void)sig;
}

/* A handler installed without SA_RESTART makes read() fail with EINTR. */
START_TEST(read_full_retries_after_eintr)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    char buf[4];
    int fds[2];
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sleep_ms(200);
        _exit(write(fds[1], "late", 4) == 4 ? 0 : 1);
    }
    alarm(0);
    ualarm(50000, 0); /* interrupts the read below */
    ck_assert_int_eq(read_full(fds[0], buf, 4), 4);
    ck_assert_int_eq(memcmp(buf, "late", 4), 0);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
}
END_TEST

START_TEST(io_errors_are_reported)
{
    char c = 'x';
    int fds[2];

    errno = 0;
    ck_assert_int_eq(read_full(-1, &c, 1), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(pipe(fds), 0);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(write_str(fds[1], "nobody reads"), -1);
    ck_assert_int_eq(errno, EPIPE);
    close(fds[1]);
}
END_TEST

START_TEST(set_nonblocking_changes_only_o_nonblock)
{
    char c;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_APPEND), 0); /* another status flag */
    ck_assert_int_eq(set_nonblocking(fds[0], true), 0);
    ck_assert_int_eq(fcntl(fds[0], F_GETFL) & (O_NONBLOCK | O_APPEND), O_NONBLOCK | O_APPEND);
    errno = 0;
    ck_assert_int_eq(read(fds[0], &c, 1), -1); /* empty: no wait */
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(set_nonblocking(fds[0], false), 0);
    ck_assert_int_eq(fcntl(fds[0], F_GETFL) & (O_NONBLOCK | O_APPEND), O_APPEND);
    ck_assert_int_eq(set_nonblocking(fds[0], false), 0); /* already off: stays off */
    ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
    close(fds[0]);
    close(fds[1]);
    errno = 0;
    ck_assert_int_eq(set_nonblocking(fds[0], true), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* ---- cleanup.c ------------------------------------------------------------------- */

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

/* The child creates and registers a real POSIX shm object, tells the parent,
 * and waits to be killed. */
START_TEST(cleanup_removes_shm_on_sigterm)
{
    char name[64], path[80], ready;
    int sync[2], status;
    pid_t pid;

    snprintf(name, sizeof name, "/test_common-%d", (int)getpid());
    snprintf(path, sizeof path, "/dev/shm%s", name);
    ck_assert_int_eq(pipe(sync), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);

        /* Check's runner handles SIGTERM; the registry only takes over
         * signals left at their default action, as a program's are. */
        signal(SIGTERM, SIG_DFL);
        if (fd == -1 || cleanup_add_shm(name) == -1)
            _exit(1);
        write(sync[1], "r", 1);
        for (;;)
            pause();
    }
    ck_assert_int_eq(read(sync[0], &ready, 1), 1);
    ck_assert_msg(exists(path), "%s was not created", path);
    kill(pid, SIGTERM);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
                  "the child should still die of SIGTERM (status %#x)", status);
    ck_assert_msg(!exists(path), "%s survived SIGTERM", path);
    close(sync[0]);
    close(sync[1]);
}
END_TEST

static void register_and_exit(void *arg)
{
    const char *dir = arg;
    char file[256], fifo[300], name[64];
    int fd, qid;
    mqd_t mq;

    make_temp_dir(file, sizeof file, "cleanup"); /* honours $TMPDIR */
    printf("%s\n", file);
    snprintf(fifo, sizeof fifo, "%s/fifo", file);
    if (mkfifo(fifo, 0600) == -1 || cleanup_add_path(fifo) == -1)
        exit(5);
    snprintf(name, sizeof name, "/test_common-mq-%d", (int)getpid());
    mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL);
    if (mq != (mqd_t)-1) { /* skipped where message queues are unavailable */
        cleanup_add_mq(name);
        mq_close(mq);
    }
    qid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (qid == -1 || cleanup_add_sysv_shm(qid) == -1)
        exit(6);
    printf("%d\n", qid);
    snprintf(file, sizeof file, "%s/kept", dir);
    fd = open(file, O_CREAT | O_EXCL | O_WRONLY, 0600);
    cleanup_forget(cleanup_add_path(file)); /* forgotten: must survive */
    close(fd);
    if (fork() == 0)
        exit(0); /* a child's exit() must leave its parent's objects alone */
    wait(NULL);
    printf("%s\n", exists(fifo) ? "child left them" : "child removed them");
    exit(0);
}

START_TEST(cleanup_at_exit_removes_only_what_is_registered)
{
    char dir[] = "/tmp/test_common.XXXXXX", made[256], kept[300];
    struct captured c;
    int shmid;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("TMPDIR", dir, 1);
    run_captured(register_and_exit, dir, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_int_eq(sscanf(c.out, "%255s %d", made, &shmid), 2);
    ck_assert_ptr_nonnull(strstr(c.out, "child left them"));
    ck_assert_msg(strncmp(made, dir, strlen(dir)) == 0, "%s is not in $TMPDIR", made);
    ck_assert_msg(!exists(made), "temp dir %s survived exit", made);
    ck_assert_msg(shmctl(shmid, IPC_STAT, &(struct shmid_ds){0}) == -1 && errno == EINVAL,
                  "System V segment %d survived exit", shmid);
    snprintf(kept, sizeof kept, "%s/kept", dir);
    ck_assert_msg(exists(kept), "a forgotten entry was removed");
    unlink(kept);
    rmdir(dir);
}
END_TEST

START_TEST(cleanup_registry_has_limits)
{
    char longname[400];
    int slot = 0;

    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    errno = 0;
    ck_assert_int_eq(cleanup_add_path(longname), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    for (int i = 0; i < 1000 && slot != -1; i++)
        slot = cleanup_add_path("/nonexistent/entry");
    ck_assert_int_eq(slot, -1);
    ck_assert_int_eq(errno, ENOSPC);
    cleanup_forget(5); /* frees one place */
    ck_assert_int_eq(cleanup_add_path("/nonexistent/again"), 5);
}
END_TEST

/* The child holds the stop signals, creates a FIFO and is sent SIGTERM
 * before it registers it: the signal must wait until the release. */
START_TEST(stop_signals_wait_until_the_object_is_registered)
{
    char dir[] = "/tmp/test_common.XXXXXX", path[64], byte;
    int to_child[2], from_child[2], status;
    pid_t pid;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    ck_assert_int_eq(pipe(to_child), 0);
    ck_assert_int_eq(pipe(from_child), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sigset_t saved, pending;

        signal(SIGTERM, SIG_DFL); /* as in a program, not Check's runner */
        stop_signals_hold(&saved);
        if (mkfifo(path, 0600) == -1 || write(from_child[1], "c", 1) != 1 ||
            read(to_child[0], &byte, 1) != 1) /* the parent has sent SIGTERM */
            _exit(1);
        sigpending(&pending);
        if (sigismember(&pending, SIGTERM) && write(from_child[1], "p", 1) != 1)
            _exit(1);
        if (cleanup_add_path(path) == -1)
            _exit(1);
        stop_signals_release(&saved); /* SIGTERM now: the registry removes the FIFO */
        _exit(2);
    }
    ck_assert_int_eq(read(from_child[0], &byte, 1), 1);
    ck_assert_msg(exists(path), "%s was not created", path);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(write(to_child[1], "k", 1), 1);
    ck_assert_msg(read(from_child[0], &byte, 1) == 1 && byte == 'p',
                  "SIGTERM was not held pending while the FIFO was unregistered");
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
                  "the child should die of SIGTERM at release (status %#x)", status);
    ck_assert_msg(!exists(path), "%s survived SIGTERM", path);
    ck_assert_int_eq(rmdir(dir), 0);
    for (int i = 0; i < 2; i++)
        close(to_child[i]), close(from_child[i]);
}
END_TEST

/* A child of the test process, blocked until SIGTERM, whose handler tells on
 * `report` whether the shm file `path` still existed when SIGTERM came. */
static const char *sleeper_path;
static int sleeper_report;

static void sleeper_on_term(int sig)
{
    (void)sig;
    write(sleeper_report, exists(sleeper_path) ? "e" : "g", 1);
    _exit(0);
}

/* SIGTERM is held across the fork: until the child has its own handler, it
 * would run the registry's handler inherited from the parent. */
static pid_t start_sleeper(const char *shm_path, int report)
{
    sigset_t term, saved;
    pid_t pid;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &saved);
    if ((pid = fork()) == 0) {
        sleeper_path = shm_path;
        sleeper_report = report;
        signal(SIGTERM, sleeper_on_term);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        for (;;)
            pause();
    }
    sigprocmask(SIG_SETMASK, &saved, NULL);
    return pid;
}

struct child_case {
    pid_t stranger; /* alive, but a child of the test, not of this process */
    bool by_signal; /* SIGTERM instead of cleanup_run() */
};

/* Registers an shm object, then a running child, a child it reaped itself and
 * a stranger's pid; then runs the registry and says what it saw. */
static void register_children(void *arg)
{
    const struct child_case *cc = arg;
    char name[64], path[80], said = '?';
    int report[2], status;
    pid_t sleeper, done;

    snprintf(name, sizeof name, "/test_common-child-%d", (int)getpid());
    snprintf(path, sizeof path, "/dev/shm%s", name);
    signal(SIGTERM, SIG_DFL); /* as in a program, not Check's runner */
    if (pipe(report) == -1 || shm_create_registered(name, 4096) == -1)
        exit(3);
    sleeper = start_sleeper(path, report[1]);
    close(report[1]); /* EOF, should the sleeper die without a word */
    if ((done = fork()) == 0)
        _exit(0);
    waitpid(done, NULL, 0); /* reaped here: the registry must skip it */
    if (cleanup_add_child(sleeper) == -1 || cleanup_add_child(done) == -1 ||
        cleanup_add_child(cc->stranger) == -1)
        exit(4);
    if (cc->by_signal)
        raise(SIGTERM);
    cleanup_run();
    read(report[0], &said, 1);
    printf("sleeper %s the object at SIGTERM\n", said == 'e' ? "saw" : "did not see");
    errno = 0;
    printf("sleeper reaped: %s\n",
           waitpid(sleeper, &status, WNOHANG) == -1 && errno == ECHILD ? "yes" : "no");
    printf("object %s\n", exists(path) ? "left" : "removed");
    exit(0);
}

static void check_children_case(bool by_signal)
{
    struct child_case cc = {.by_signal = by_signal};
    struct captured c;
    int status;

    cc.stranger = fork();
    ck_assert_int_ge(cc.stranger, 0);
    if (cc.stranger == 0) {
        signal(SIGTERM, SIG_DFL);
        for (;;)
            pause();
    }
    run_captured(register_children, &cc, &c);
    if (by_signal) {
        ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGTERM, "status %#x",
                      c.status);
    } else {
        ck_assert_int_eq(exit_code(&c), 0);
        ck_assert_msg(strstr(c.out, "sleeper saw the object at SIGTERM") != NULL, "%s", c.out);
        ck_assert_msg(strstr(c.out, "sleeper reaped: yes") != NULL, "%s", c.out);
        ck_assert_msg(strstr(c.out, "object removed") != NULL, "%s", c.out);
    }
    /* A pid that is not the registering process's child is never signalled. */
    ck_assert_int_eq(waitpid(cc.stranger, &status, WNOHANG), 0);
    kill(cc.stranger, SIGKILL);
    ck_assert_int_eq(waitpid(cc.stranger, &status, 0), cc.stranger);
    ck_assert_int_eq(WTERMSIG(status), SIGKILL);
}

START_TEST(cleanup_stops_and_reaps_registered_children_first)
{
    check_children_case(false);
    check_children_case(true);
}
END_TEST

/* A registered child that ignores SIGTERM must not hang the registry: it is
 * killed with SIGKILL about two seconds later, and reaped. */
static void register_stubborn_child(void *arg)
{
    int status;
    uint64_t start;
    pid_t stubborn;

    sigset_t term, saved;

    (void)arg;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &saved); /* until the child ignores it (Check handles it) */
    if ((stubborn = fork()) == 0) {
        signal(SIGTERM, SIG_IGN);
        sigprocmask(SIG_SETMASK, &saved, NULL);
        for (;;)
            pause();
    }
    sigprocmask(SIG_SETMASK, &saved, NULL);
    if (stubborn == -1 || cleanup_add_child(stubborn) == -1)
        exit(3);
    start = now_ns();
    cleanup_run();
    errno = 0;
    printf("reaped: %s after %.1f s\n",
           waitpid(stubborn, &status, WNOHANG) == -1 && errno == ECHILD ? "yes" : "no",
           ns_to_s(elapsed_ns(start)));
    exit(0);
}

START_TEST(cleanup_kills_a_child_that_ignores_sigterm)
{
    struct captured c;
    double seconds = 0;

    run_captured(register_stubborn_child, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(sscanf(c.out, "reaped: yes after %lf s", &seconds) == 1, "%s", c.out);
    ck_assert_msg(seconds >= 1.5, "killed after %.1f s, before the SIGTERM grace", seconds);
}
END_TEST

/* How many entries the registry still takes (each tried, then forgotten). */
static int free_entries(void)
{
    int slots[200], n = 0;

    while (n < 200 && (slots[n] = cleanup_add_path("/nonexistent/probe")) != -1)
        n++;
    for (int i = 0; i < n; i++)
        cleanup_forget(slots[i]);
    return n;
}

/* A child forked with fork_registered() reports its mask and waits; the parent reports its
 * own, takes one entry until it has reaped and forgotten the child, and, with `term`, is
 * sent SIGTERM while the child still runs. */
static void fork_registered_case(void *arg)
{
    const int *sync = arg; /* [0]: the child's pid goes there; [1]: 1 = SIGTERM case */
    sigset_t usr1, mask;
    int before, slot = 7, status;
    pid_t pid;

    signal(SIGTERM, SIG_DFL); /* as in a program, not Check's runner */
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL); /* the caller's mask, to be restored as it was */
    before = free_entries();
    if ((pid = fork_registered(&slot)) == 0) {
        sigprocmask(SIG_SETMASK, NULL, &mask);
        printf("child: slot %d, SIGTERM %s, SIGUSR1 %s\n", slot,
               sigismember(&mask, SIGTERM) ? "blocked" : "open",
               sigismember(&mask, SIGUSR1) ? "blocked" : "open");
        fflush(stdout);
        if (sync[1]) {
            write(sync[0], &(pid_t){getpid()}, sizeof(pid_t));
            for (;;)
                pause();
        }
        _exit(4);
    }
    sigprocmask(SIG_SETMASK, NULL, &mask);
    printf("parent: SIGTERM %s, SIGUSR1 %s, entries taken %d\n",
           sigismember(&mask, SIGTERM) ? "blocked" : "open",
           sigismember(&mask, SIGUSR1) ? "blocked" : "open", before - free_entries());
    fflush(stdout);
    if (sync[1])
        for (;;)
            pause(); /* the test sends SIGTERM */
    status = reap_quietly(pid);
    cleanup_forget(slot);
    printf("reaped: exit %d, entries taken %d\n", WEXITSTATUS(status), before - free_entries());
    exit(0);
}

START_TEST(fork_registered_registers_the_child_and_restores_the_mask)
{
    int sync[2] = {-1, 0}, pipefd[2], status;
    pid_t parent, child = 0;
    struct captured c;

    run_captured(fork_registered_case, sync, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(strstr(c.out, "child: slot -1, SIGTERM open, SIGUSR1 blocked\n"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "parent: SIGTERM open, SIGUSR1 blocked, entries taken 1\n"), "%s",
                  c.out);
    ck_assert_msg(strstr(c.out, "reaped: exit 4, entries taken 0\n"), "%s", c.out);

    /* SIGTERM to the parent: the registry stops and reaps the child before the parent dies
     * (a SIGTERM before the registration waits for it: the stop signals are held). */
    ck_assert_int_eq(pipe(pipefd), 0);
    sync[0] = pipefd[1];
    sync[1] = 1;
    fflush(NULL);
    if ((parent = fork()) == 0) {
        close(pipefd[0]);
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(3);
        fork_registered_case(sync);
    }
    ck_assert_int_ge(parent, 0);
    close(pipefd[1]);
    ck_assert_int_eq(read(pipefd[0], &child, sizeof child), (ssize_t)sizeof child);
    close(pipefd[0]);
    ck_assert_int_eq(kill(parent, SIGTERM), 0);
    ck_assert_int_eq(waitpid(parent, &status, 0), parent);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
                  "the parent should die of SIGTERM (status %#x)", status);
    if (kill(child, 0) == 0) {
        kill(child, SIGKILL);
        ck_abort_msg("child %d outlived its parent's SIGTERM", (int)child);
    }
    ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* Everything the create-and-register helpers made, with its mode and size. */
struct made {
    char shm[64], mq[64], fifo[128];
    int semid, zero_semid, shmid, msqid;
};

struct create_case {
    const char *dir;
    int names_fd; /* where the child writes its struct made */
};

static void create_all(void *arg)
{
    const unsigned short values[3] = {1, 2, 3};
    const struct create_case *cc = arg;
    struct made m = {0}; /* written whole, padding and all */
    struct mq_attr attr;
    struct stat st;
    mqd_t mq;
    int fd;

    snprintf(m.shm, sizeof m.shm, "/test_common-shm-%d", (int)getpid());
    snprintf(m.mq, sizeof m.mq, "/test_common-mq-%d", (int)getpid());
    snprintf(m.fifo, sizeof m.fifo, "%s/fifo", cc->dir);
    fd = shm_create_registered(m.shm, 8192);
    if (fstat(fd, &st) == 0)
        printf("shm mode %o size %lld\n", st.st_mode & 0777, (long long)st.st_size);
    mkfifo_registered(m.fifo);
    if (stat(m.fifo, &st) == 0)
        printf("fifo %s mode %o\n", S_ISFIFO(st.st_mode) ? "is" : "is not", st.st_mode & 0777);
    m.semid = sysv_sem_create(3, values);
    m.zero_semid = sysv_sem_create(2, NULL);
    m.shmid = sysv_shm_create(4096);
    m.msqid = sysv_msg_create();
    mq = mq_create_registered(m.mq, O_RDWR | O_NONBLOCK, 4, 64);
    if (mq_getattr(mq, &attr) == 0 && fstat(mq, &st) == 0) /* an mqd_t is a descriptor */
        printf("mq %ld x %ld%s mode %o\n", attr.mq_maxmsg, attr.mq_msgsize,
               attr.mq_flags & O_NONBLOCK ? " nonblocking" : "", st.st_mode & 0777);
    fflush(stdout);
    write(cc->names_fd, &m, sizeof m);
    close(fd);
    mq_close(mq);
    cleanup_run();
    exit(0);
}

static unsigned sysv_mode(int kind, int id)
{
    struct semid_ds sem;
    struct shmid_ds shm;
    struct msqid_ds msq;

    if (kind == 's' && semctl(id, 0, IPC_STAT, &sem) == 0)
        return sem.sem_perm.mode & 0777;
    if (kind == 'm' && shmctl(id, IPC_STAT, &shm) == 0)
        return shm.shm_perm.mode & 0777;
    if (kind == 'q' && msgctl(id, IPC_STAT, &msq) == 0)
        return msq.msg_perm.mode & 0777;
    return 0;
}

/* The child reports its objects' modes, tells their names, runs the registry
 * and exits; then none of them may be left. */
START_TEST(create_registered_makes_0600_objects_that_cleanup_removes)
{
    char dir[] = "/tmp/test_common.XXXXXX", path[96];
    struct captured c;
    struct made m;
    struct create_case cc = {.dir = dir};
    int names[2];

    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(pipe(names), 0);
    cc.names_fd = names[1];
    run_captured(create_all, &cc, &c);
    close(names[1]);
    ck_assert_int_eq(read(names[0], &m, sizeof m), (ssize_t)sizeof m);
    close(names[0]);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(strstr(c.out, "shm mode 600 size 8192\n") != NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, "fifo is mode 600\n") != NULL, "%s", c.out);
    if (strstr(c.err, "mq_open") == NULL) /* where message queues exist */
        ck_assert_msg(strstr(c.out, "mq 4 x 64 nonblocking mode 600\n") != NULL, "%s", c.out);
    snprintf(path, sizeof path, "/dev/shm%s", m.shm);
    ck_assert_msg(!exists(path) && !exists(m.fifo), "shm or FIFO left");
    ck_assert_int_eq(mq_unlink(m.mq), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(sysv_mode('s', m.semid) + sysv_mode('s', m.zero_semid), 0);
    ck_assert_int_eq(sysv_mode('m', m.shmid) + sysv_mode('q', m.msqid), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* The System V objects are looked at in the process that made them, while they
 * exist; the registry removes them before any assertion, since a failing one
 * ends the test without exit() (and the objects would outlive it). */
START_TEST(sysv_create_sets_mode_and_values)
{
    const unsigned short values[3] = {1, 2, 3};
    unsigned short got[3] = {9, 9, 9}, zero[2] = {9, 9};
    int semid = sysv_sem_create(3, values), zeros = sysv_sem_create(2, NULL);
    int shmid = sysv_shm_create(4096), msqid = sysv_msg_create();
    unsigned modes[4] = {sysv_mode('s', semid), sysv_mode('s', zeros), sysv_mode('m', shmid),
                         sysv_mode('q', msqid)};
    struct shmid_ds shm = {0};
    int got_rc = semctl(semid, 0, GETALL, got), zero_rc = semctl(zeros, 0, GETALL, zero);
    int shm_rc = shmctl(shmid, IPC_STAT, &shm);

    cleanup_run();
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(modes[i], 0600);
    ck_assert_int_eq(got_rc + zero_rc + shm_rc, 0);
    ck_assert_msg(got[0] == 1 && got[1] == 2 && got[2] == 3, "%u %u %u", got[0], got[1], got[2]);
    ck_assert_msg(zero[0] == 0 && zero[1] == 0, "%u %u", zero[0], zero[1]);
    ck_assert_uint_eq(shm.shm_segsz, 4096);
    ck_assert_int_eq(sysv_mode('s', semid) + sysv_mode('s', zeros), 0);
    ck_assert_int_eq(sysv_mode('m', shmid) + sysv_mode('q', msqid), 0);
}
END_TEST

static void mkfifo_twice(void *arg)
{
    mkfifo_registered(arg);
    mkfifo_registered(arg); /* O_EXCL semantics: dies, and exit() removes the first */
}

START_TEST(create_registered_is_exclusive)
{
    char dir[] = "/tmp/test_common.XXXXXX", path[64];
    struct captured c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    run_captured(mkfifo_twice, path, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_msg(strstr(c.err, "mkfifo") && strstr(c.err, "File exists"), "%s", c.err);
    ck_assert_msg(!exists(path), "%s left", path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A full registry: each helper removes what it just made before dying. */
static void create_with_a_full_registry(void *arg)
{
    const char *what = arg;
    char name[64];

    while (cleanup_add_path("/nonexistent/entry") != -1)
        ;
    snprintf(name, sizeof name, "/test_common-full-%d", (int)getppid());
    if (strcmp(what, "shm") == 0)
        shm_create_registered(name, 4096);
    else
        mkfifo_registered(what);
}

START_TEST(create_registered_leaves_nothing_when_the_registry_is_full)
{
    char dir[] = "/tmp/test_common.XXXXXX", fifo[64], shm[80];
    struct captured c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(shm, sizeof shm, "/dev/shm/test_common-full-%d", (int)getpid());
    run_captured(create_with_a_full_registry, fifo, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_msg(strstr(c.err, "No space left on device") != NULL, "%s", c.err);
    ck_assert_msg(!exists(fifo), "%s left", fifo);
    run_captured(create_with_a_full_registry, "shm", &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_msg(strstr(c.err, "No space left on device") != NULL, "%s", c.err);
    ck_assert_msg(!exists(shm), "%s left", shm);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* The lowest free descriptor: one more left open by a failed call moves it. */
static int lowest_free_fd(void)
{
    int fd = dup(0);

    close(fd);
    return fd;
}

/* In a child (the registry is per process): a listener that works, and each way
 * to fail leaving no descriptor, file or registry entry behind. */
static void listeners(void *arg)
{
    const char *dir = arg;
    char path[96], dgram[96], longpath[200];
    int fd, first_free, flags, accepting = 0, client, err;
    socklen_t len = sizeof accepting;
    struct stat st;
    struct sockaddr_un sun;

    snprintf(path, sizeof path, "%s/listener", dir);
    fd = unix_listener_registered(path, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 4);
    err = errno;
    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len);
    flags = fcntl(fd, F_GETFL);
    printf("listener %s, socket file %d, accepting %d, nonblock %d, cloexec %d\n",
           fd >= 0 ? "made" : strerror(err), stat(path, &st) == 0 && S_ISSOCK(st.st_mode),
           accepting, (flags & O_NONBLOCK) != 0, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    client = socket(AF_UNIX, SOCK_STREAM, 0);
    printf("connect %d\n",
           connect(client, (struct sockaddr *)&sun, (socklen_t)unix_address(&sun, path)));
    close(client);
    first_free = lowest_free_fd();
    fd = unix_listener_registered(path, SOCK_STREAM, 4);
    err = errno;
    printf("again: %d %s, first kept %d\n", fd, strerror(err),
           stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
    snprintf(dgram, sizeof dgram, "%s/dgram", dir);
    fd = unix_listener_registered(dgram, SOCK_DGRAM, 4);
    err = errno;
    printf("dgram: %d %s, file left %d\n", fd, strerror(err), exists(dgram));
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    fd = unix_listener_registered(longpath, SOCK_STREAM, 4);
    err = errno;
    printf("long: %d %s\n", fd, strerror(err));
    while (cleanup_add_path("/nonexistent/entry") != -1)
        ;
    snprintf(path, sizeof path, "%s/full", dir);
    fd = unix_listener_registered(path, SOCK_STREAM, 4);
    err = errno;
    printf("full: %d %s, file left %d\n", fd, strerror(err), exists(path));
    printf("descriptors left %d\n", lowest_free_fd() - first_free);
    exit(0); /* the registry removes the first listener's file */
}

START_TEST(unix_listener_registered_listens_or_leaves_nothing)
{
    char dir[] = "/tmp/test_common.XXXXXX", path[96];
    struct captured c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    run_captured(listeners, dir, &c);
    ck_assert_int_eq(exit_code(&c), 0);
    ck_assert_msg(strstr(c.out, "listener made, socket file 1, accepting 1, nonblock 1, "
                                "cloexec 1\nconnect 0\n") != NULL,
                  "%s", c.out);
    ck_assert_msg(strstr(c.out, "again: -1 Address already in use, first kept 1\n"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "dgram: -1 Operation not supported, file left 0\n"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "long: -1 File name too long\n"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "full: -1 No space left on device, file left 0\n"), "%s", c.out);
    ck_assert_msg(strstr(c.out, "descriptors left 0\n"), "%s", c.out);
    snprintf(path, sizeof path, "%s/listener", dir);
    ck_assert_msg(!exists(path), "%s left at exit", path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* SIGTERM sent while the loop runs stays pending until ppoll() with the wait
 * mask; stop_exit() then removes what is registered and dies of it. */
static void flag_loop(void *arg)
{
    const char *path = arg;
    struct timespec second = {1, 0};
    sigset_t wait_mask, pending;
    int n;

    stop_signals_to_flag(&wait_mask);
    mkfifo_registered(path);
    stop_exit(); /* stop_signal is 0: returns */
    printf("stop_exit returned\n");
    kill(getpid(), SIGTERM);
    sigpending(&pending);
    printf("before ppoll: stop_signal %d, pending %d\n", (int)stop_signal,
           sigismember(&pending, SIGTERM));
    n = ppoll(NULL, 0, &second, &wait_mask);
    printf("ppoll %d (%s), stop_signal %d\n", n, n == -1 ? strerror(errno) : "-", (int)stop_signal);
    stop_exit();
    printf("not reached\n");
}

START_TEST(stop_flag_is_seen_only_inside_the_wait)
{
    char dir[] = "/tmp/test_common.XXXXXX", path[64], want[64];
    struct captured c;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fifo", dir);
    run_captured(flag_loop, path, &c);
    ck_assert_msg(WIFSIGNALED(c.status) && WTERMSIG(c.status) == SIGTERM, "status %#x: %s",
                  c.status, c.out);
    ck_assert_msg(strstr(c.out, "stop_exit returned\n") != NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, "before ppoll: stop_signal 0, pending 1\n") != NULL, "%s", c.out);
    snprintf(want, sizeof want, "ppoll -1 (Interrupted system call), stop_signal %d\n", SIGTERM);
    ck_assert_msg(strstr(c.out, want) != NULL, "%s", c.out);
    ck_assert_msg(strstr(c.out, "not reached") == NULL, "%s", c.out);
    ck_assert_msg(!exists(path), "%s survived stop_exit", path);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- proc.c, timing.c: CPUs, quiet reaping, deadlines ---------------------------- */

START_TEST(allowed_cpus_and_pinning)
{
    int cpus[CPU_SETSIZE], n = allowed_cpus(cpus, CPU_SETSIZE), first[2] = {-1, -7};
    cpu_set_t set;

    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    ck_assert_int_eq(n, CPU_COUNT(&set));
    ck_assert_int_eq(allowed_cpus(first, 1), 1); /* at most max */
    ck_assert_int_eq(first[0], cpus[0]);
    ck_assert_int_eq(first[1], -7);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(CPU_ISSET(cpus[i], &set), "CPU %d is not allowed", cpus[i]);
        ck_assert(i == 0 || cpus[i] > cpus[i - 1]);
        ck_assert_int_eq(pin_to_cpu(cpus[i]), 0);
        ck_assert_int_eq(sched_getcpu(), cpus[i]); /* moved there at once */
    }
    errno = 0;
    ck_assert_int_eq(pin_to_cpu(-1), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(pin_to_cpu(CPU_SETSIZE), -1);
    ck_assert_int_eq(errno, EINVAL);
    /* Pinned to one CPU now, the process may run on that one only. */
    ck_assert_int_eq(allowed_cpus(cpus, CPU_SETSIZE), 1);
}
END_TEST

static void reap_exit_3(void *arg)
{
    pid_t pid = fork();

    (void)arg;
    if (pid == 0)
        _exit(3);
    printf("status %d\n", WEXITSTATUS(reap_quietly(pid)));
    reap_quietly(pid); /* reaped already: dies */
}

START_TEST(reap_quietly_returns_the_status_silently)
{
    struct captured c;

    run_captured(reap_exit_3, NULL, &c);
    ck_assert_int_eq(exit_code(&c), 1);
    ck_assert_str_eq(c.out, "status 3\n"); /* and no "reaped" line */
    ck_assert_msg(strstr(c.err, "waitpid") && strstr(c.err, "No child processes"), "%s", c.err);
}
END_TEST

static int64_t realtime_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

START_TEST(deadline_is_on_the_realtime_clock)
{
    const long delays[] = {0, 1, 999, 1000, 1500, 61001, -250};

    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        int64_t before = realtime_ns(), after, at;
        struct timespec d = deadline_after_ms(delays[i]);

        after = realtime_ns();
        at = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec;
        ck_assert_msg(d.tv_nsec >= 0 && d.tv_nsec < 1000000000, "tv_nsec %ld", d.tv_nsec);
        ck_assert_int_ge(at, before + delays[i] * 1000000);
        ck_assert_int_le(at, after + delays[i] * 1000000);
    }
}
END_TEST

START_TEST(spin_ns_spins_at_least_that_long)
{
    uint64_t start = now_ns();

    spin_ns(3000000);
    ck_assert_uint_ge(elapsed_ns(start), 3000000);
    start = now_ns();
    spin_ns(0);
    ck_assert_uint_lt(elapsed_ns(start), 1000000000);
}
END_TEST

/* ---- io.c: descriptor passing and the FIFO check ----------------------------------- */

/* How many descriptors this process has open (/proc/self/fd, less the one
 * that reads it). */
static int open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    ck_assert_ptr_nonnull(dir);
    while (readdir(dir) != NULL)
        n++;
    closedir(dir);
    return n - 3; /* ".", ".." and the directory's own */
}

static void send_two_fds(int sock, int a, int b)
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } control = {0};
    int fds[2] = {a, b};
    struct iovec iov = {.iov_base = "2", .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ck_assert_int_eq(sendmsg(sock, &msg, 0), 1);
}

START_TEST(send_fd_and_recv_fd_round_trip)
{
    int sv[2], pipefd[2], got, fds_before;
    char tag = 0, byte = 0;

    sigset_t pipe_signal;

    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &pipe_signal, NULL);
    signal(SIGPIPE, SIG_DFL); /* as in a program: send_fd must not die of it */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    ck_assert_int_eq(pipe(pipefd), 0);
    ck_assert_int_eq(send_fd(sv[0], pipefd[1], 'w'), 0);
    got = recv_fd(sv[1], &tag);
    ck_assert_int_ge(got, 0);
    ck_assert_int_ne(got, pipefd[1]); /* a new descriptor, for the same pipe */
    ck_assert_int_eq(tag, 'w');
    ck_assert_int_eq(fcntl(got, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(write(got, "x", 1), 1);
    ck_assert_int_eq(read(pipefd[0], &byte, 1), 1);
    ck_assert_int_eq(byte, 'x');
    close(got);
    ck_assert_int_eq(send_fd(sv[0], pipefd[0], 'r'), 0);
    got = recv_fd(sv[1], NULL); /* the tag may be ignored */
    ck_assert_int_ge(got, 0);
    close(got);

    fds_before = open_fds();
    ck_assert_int_eq(send(sv[0], "n", 1, 0), 1); /* data, no descriptor */
    errno = 0;
    ck_assert_int_eq(recv_fd(sv[1], &tag), -1);
    ck_assert_int_eq(errno, EBADMSG);
    send_two_fds(sv[0], pipefd[0], pipefd[1]);
    errno = 0;
    ck_assert_int_eq(recv_fd(sv[1], &tag), -1);
    ck_assert_int_eq(errno, EBADMSG);
    ck_assert_int_eq(open_fds(), fds_before); /* both received copies were closed */

    close(sv[0]);
    errno = 0;
    ck_assert_int_eq(recv_fd(sv[1], &tag), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    close(sv[1]);
    /* A stream socket raises SIGPIPE for a closed peer (SEQPACKET does not). */
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    errno = 0;
    ck_assert_int_eq(send_fd(sv[0], pipefd[0], 'p'), -1); /* no SIGPIPE, an error */
    ck_assert_int_eq(errno, EPIPE);
    close(sv[0]);
    close(pipefd[0]);
    close(pipefd[1]);
}
END_TEST

START_TEST(unix_address_fills_what_fits_and_refuses_the_rest)
{
    struct sockaddr_un sun, untouched;
    char dir[] = "/tmp/test_common_unix.XXXXXX", path[200];
    int len, listener, client;

    memset(&sun, 'x', sizeof sun);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s", dir);
    len = unix_address(&sun, path);
    ck_assert_int_eq(len, (int)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1));
    ck_assert_int_eq(sun.sun_family, AF_UNIX);
    ck_assert_str_eq(sun.sun_path, path);
    ck_assert_int_eq(sun.sun_path[sizeof sun.sun_path - 1], 0); /* the rest is zeroed */
    /* The length it returns is one bind() and connect() take. */
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&sun, (socklen_t)len), 0);
    ck_assert_int_eq(listen(listener, 1), 0);
    client = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(client, (struct sockaddr *)&sun, (socklen_t)len), 0);
    close(client);
    close(listener);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);

    memset(path, 'p', sizeof sun.sun_path - 1); /* 107 bytes and the NUL: fits */
    path[sizeof sun.sun_path - 1] = '\0';
    ck_assert_int_eq(unix_address(&sun, path), (int)sizeof sun);
    path[sizeof sun.sun_path - 1] = 'p'; /* 108: does not */
    path[sizeof sun.sun_path] = '\0';
    memcpy(&untouched, &sun, sizeof sun);
    errno = 0;
    ck_assert_int_eq(unix_address(&sun, path), -1);
    ck_assert_int_eq(errno, ENAMETOOLONG);
    ck_assert_mem_eq(&sun, &untouched, sizeof sun);
    errno = 0;
    ck_assert_int_eq(unix_address(&sun, ""), -1);
    ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(must_be_fifo_tells_a_fifo_from_a_file)
{
    char dir[] = "/tmp/test_common.XXXXXX", fifo[64], file[64];
    int fd;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(file, sizeof file, "%s/file", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    fd = open(fifo, O_RDWR | O_NONBLOCK); /* Linux: a FIFO opened both ways never waits */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(must_be_fifo(fd, fifo), 0);
    close(fd);
    fd = open(file, O_CREAT | O_EXCL | O_RDWR, 0600);
    ck_assert_int_ge(fd, 0);
    errno = 0;
    ck_assert_int_eq(must_be_fifo(fd, file), -1);
    ck_assert_int_eq(errno, ENOTSUP);
    close(fd);
    errno = 0;
    ck_assert_int_eq(must_be_fifo(fd, file), -1); /* closed: fstat's own error */
    ck_assert_int_eq(errno, EBADF);
    unlink(fifo);
    unlink(file);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(open_regular_opens_files_and_refuses_the_rest)
{
    char dir[] = "/tmp/test_common.XXXXXX", fifo[64], file[64], missing[64];
    struct stat st;
    int fd, flags, next;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    snprintf(file, sizeof file, "%s/file", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* O_CREAT makes a 0600 file, whatever the umask; O_NONBLOCK is gone again. */
    fd = open_regular(file, O_RDWR | O_CREAT, &st);
    ck_assert_int_ge(fd, 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0600);
    flags = fcntl(fd, F_GETFL);
    ck_assert_int_eq(flags & O_NONBLOCK, 0);
    ck_assert_int_eq(flags & O_ACCMODE, O_RDWR);
    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    /* Asked for, O_NONBLOCK stays; st may be NULL. */
    fd = open_regular(file, O_RDONLY | O_NONBLOCK, NULL);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    close(fd);
    /* A FIFO with no writer: refused at once (a plain open would block), nothing left
     * open (the next descriptor is the one the refused open had). */
    next = dup(0);
    close(next);
    errno = 0;
    ck_assert_int_eq(open_regular(fifo, O_RDONLY, &st), -1);
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_int_eq(open_regular(dir, O_RDONLY, &st), -1); /* a directory */
    ck_assert_int_eq(errno, EINVAL);
    fd = dup(0);
    ck_assert_int_eq(fd, next);
    close(fd);
    errno = 0;
    ck_assert_int_eq(open_regular(missing, O_RDONLY, &st), -1); /* open's own error */
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(open_regular(dir, O_RDWR, &st), -1);
    ck_assert_int_eq(errno, EISDIR);
    unlink(fifo);
    unlink(file);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* ---- procfs.c -------------------------------------------------------------------- */

/* The state of `pid` once it is `want`, or its last state after 2 s. */
static int wait_for_state(pid_t pid, int want)
{
    int state = -1;

    for (int i = 0; i < 200 && (state = proc_state(pid)) != want; i++)
        sleep_ms(10);
    return state;
}

/* A child blocked in read() on an empty pipe, optionally renamed first. */
static pid_t start_reader(int fds[2], const char *name)
{
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char byte;

        close(fds[1]);
        if (name != NULL && prctl(PR_SET_NAME, name) == -1)
            _exit(1);
        _exit(read(fds[0], &byte, 1) == 0 ? 0 : 1);
    }
    close(fds[0]);
    return pid;
}

static void stop_reader(pid_t pid, int write_fd)
{
    int status;

    close(write_fd); /* EOF: the reader exits 0 */
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
}

START_TEST(state_of_a_sleeping_and_a_stopped_process)
{
    int fds[2], status;
    pid_t pid = start_reader(fds, NULL);

    ck_assert_int_eq(wait_for_state(pid, 'S'), 'S');
    ck_assert_int_eq(kill(pid, SIGSTOP), 0);
    ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid); /* stopped for sure */
    ck_assert_int_eq(proc_state(pid), 'T');
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    stop_reader(pid, fds[1]);
    errno = 0;
    ck_assert_int_eq(proc_state(pid), -1); /* reaped: gone */
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A naive parser that stops at the first ')' would read "R" here. */
START_TEST(state_despite_spaces_and_parens_in_the_name)
{
    char path[64], comm[32] = "";
    int fds[2], fd;
    pid_t pid = start_reader(fds, "x) R (y");

    ck_assert_int_eq(wait_for_state(pid, 'S'), 'S');
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_gt(read(fd, comm, sizeof comm - 1), 0);
    close(fd);
    ck_assert_str_eq(comm, "x) R (y\n"); /* the rename did happen */
    stop_reader(pid, fds[1]);
}
END_TEST

START_TEST(wchan_of_a_reader_blocked_on_a_pipe)
{
    char wchan[64] = "unset";
    int fds[2];
    pid_t pid = start_reader(fds, NULL);

    ck_assert_int_eq(wait_for_state(pid, 'S'), 'S');
    /* "S" shows as soon as the task marks itself asleep; the kernel names the
     * wait channel only once it is off the run queue, a moment later. */
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(proc_wchan(pid, wchan, sizeof wchan), 0);
        if (wchan[0] != '\0')
            break;
        sleep_ms(10);
    }
    /* anon_pipe_read on Linux 6.18; pipe_read before 2025. */
    ck_assert_msg(strstr(wchan, "pipe") != NULL, "wchan \"%s\"", wchan);
    stop_reader(pid, fds[1]);
    ck_assert_int_eq(proc_wchan(getpid(), wchan, sizeof wchan), 0);
    ck_assert_str_eq(wchan, ""); /* running, reading it: the kernel says "0" */
    ck_assert_int_eq(proc_wchan(pid, wchan, sizeof wchan), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(descriptor_flags_of_a_process)
{
    int fds[2], flags;

    ck_assert_int_eq(pipe2(fds, O_NONBLOCK), 0);
    ck_assert_int_eq(fcntl(fds[1], F_SETFD, FD_CLOEXEC), 0);
    flags = proc_fd_flags(getpid(), fds[1]);
    ck_assert_int_eq(flags & O_ACCMODE, O_WRONLY);
    ck_assert_int_eq(flags & (O_NONBLOCK | O_CLOEXEC), O_NONBLOCK | O_CLOEXEC);
    flags = proc_fd_flags(getpid(), fds[0]);
    ck_assert_int_eq(flags & O_ACCMODE, O_RDONLY);
    ck_assert_int_eq(flags & O_CLOEXEC, 0);
    close(fds[0]);
    close(fds[1]);
    errno = 0;
    ck_assert_int_eq(proc_fd_flags(getpid(), fds[0]), -1);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(sysctl_numbers)
{
    long max_size = -1, v = 7, by_hand = -2;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &by_hand), 1);
    fclose(f);
    ck_assert_int_eq(sysctl_long("fs/pipe-max-size", &max_size), 0);
    ck_assert_int_eq(max_size, by_hand);
    ck_assert_int_ge(max_size, sysconf(_SC_PAGESIZE)); /* the kernel's minimum */
    errno = 0;
    ck_assert_int_eq(sysctl_long("fs/no-such-setting", &v), -1);
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(sysctl_long("kernel/printk", &v), -1); /* four numbers */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(peak_rss_grows_after_touching_32_mib)
{
    size_t size = 32u << 20;
    long before = peak_rss_kib(), after;
    char *p;

    ck_assert_int_gt(before, 0);
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    memset(p, 1, size); /* every page, now resident */
    after = peak_rss_kib();
    munmap(p, size);
    /* The kernel's RSS counters are cached per CPU and may lag by a few pages. */
    ck_assert_msg(after >= before + 30 * 1024, "VmHWM %ld KiB, then %ld KiB", before, after);
    ck_assert_int_ge(peak_rss_kib(), after - 1024); /* a peak: unmapping leaves it */
}
END_TEST

START_TEST(wait_wchan_of_a_blocked_and_a_running_child)
{
    int fds[2], status;
    pid_t reader = start_reader(fds, NULL), spinner;
    uint64_t start;

    /* The kernel's pipe read is anon_pipe_read since 2025 (pipe_read before). */
    ck_assert_int_eq(proc_wait_wchan(reader, "anon_pipe_read", 2000), 0);
    ck_assert_int_eq(proc_wait_wchan(reader, "", 100), 0); /* any wait channel */
    stop_reader(reader, fds[1]);
    errno = 0;
    ck_assert_int_eq(proc_wait_wchan(reader, "anon_pipe_read", 100), -1);
    ck_assert_int_eq(errno, ENOENT);

    spinner = fork();
    ck_assert_int_ge(spinner, 0);
    if (spinner == 0)
        for (;;) /* never asleep: no wait channel */
            ;
    start = now_ns();
    errno = 0;
    ck_assert_int_eq(proc_wait_wchan(spinner, "anon_pipe_read", 50), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_uint_ge(elapsed_ns(start), 50000000);
    kill(spinner, SIGKILL);
    ck_assert_int_eq(waitpid(spinner, &status, 0), spinner);
}
END_TEST

START_TEST(smaps_field_of_the_mapping_that_holds_an_address)
{
    long page = sysconf(_SC_PAGESIZE);
    char *p =
        mmap(NULL, 4 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(p, MAP_FAILED);
    madvise(p, 4 * (size_t)page, MADV_NOHUGEPAGE);  /* 4 KiB pages, whatever the THP mode */
    ck_assert_int_eq(smaps_field_kib(p, "Rss"), 0); /* nothing touched yet */
    p[0] = 1;
    p[2 * page] = 1;
    /* Any address inside the mapping names it, not only its start. */
    ck_assert_int_eq(smaps_field_kib(p + 3 * page - 1, "Rss"), 2 * page / 1024);
    ck_assert_int_eq(smaps_field_kib(p, "Private_Dirty"), 2 * page / 1024);
    ck_assert_int_eq(smaps_field_kib(p, "Shared_Dirty"), 0);
    errno = 0;
    ck_assert_int_eq(smaps_field_kib(p, "NoSuchField"), -1);
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_int_eq(smaps_field_kib(p, "Rs"), -1); /* a prefix of a name is no name */
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(munmap(p, 4 * (size_t)page), 0);
    errno = 0;
    ck_assert_int_eq(smaps_field_kib(p + page, "Rss"), -1); /* no mapping there now */
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- the suite ----------------------------------------------------------------------- */

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *errors = tcase_create("errors, processes, cli"), *parse = tcase_create("parse");
    TCase *timing = tcase_create("timing"), *stats = tcase_create("stats");
    TCase *io = tcase_create("io"), *cleanup = tcase_create("cleanup");
    TCase *procfs = tcase_create("procfs");

    tcase_add_test(errors, die_errno_prints_cause_and_exits_1);
    tcase_add_test(errors, die_prints_without_errno_and_exits_1);
    tcase_add_test(errors, die_errnum_uses_the_given_code);
    tcase_add_test(errors, warnings_return_and_keep_errno);
    tcase_add_test(errors, die_usage_prints_usage_and_exits_2);
    tcase_add_test(errors, wait_status_in_words);
    tcase_add_test(errors, fork_flushes_and_reap_reports);
    tcase_add_test(errors, ensure_std_fds_fills_a_closed_stdin);
    tcase_add_test(errors, no_options_accepts_only_help);
    tcase_add_test(errors, pitfall_cli_modes);
    tcase_add_test(errors, getopt_values_and_operands);
    tcase_add_test(errors, getopt_names_the_option_as_typed);
    tcase_add_test(errors, cli_fills_a_closed_stdout_with_dev_null);
    tcase_add_test(errors, output_errors_are_reported_at_exit);
    tcase_add_test(parse, parse_long_accepts_whole_numbers);
    tcase_add_test(parse, parse_long_rejects_junk_and_overflow);
    tcase_add_test(parse, parse_size_understands_suffixes);
    tcase_add_test(parse, parse_size_rejects_bad_sizes);
    tcase_add_test(timing, clock_is_monotonic_and_sleep_sleeps);
    tcase_add_test(timing, human_formats);
    tcase_add_test(stats, percentiles_interpolate_between_ranks);
    tcase_add_test(stats, mean_and_sample_stddev);
    tcase_add_test(io, write_full_finishes_across_a_small_pipe);
    tcase_add_test(io, read_full_collects_pieces_and_reports_eof);
    tcase_add_test(io, read_full_retries_after_eintr);
    tcase_add_test(io, io_errors_are_reported);
    tcase_add_test(io, set_nonblocking_changes_only_o_nonblock);
    tcase_add_test(io, unix_address_fills_what_fits_and_refuses_the_rest);
    tcase_add_test(cleanup, cleanup_removes_shm_on_sigterm);
    tcase_add_test(cleanup, cleanup_at_exit_removes_only_what_is_registered);
    tcase_add_test(cleanup, cleanup_registry_has_limits);
    tcase_add_test(cleanup, stop_signals_wait_until_the_object_is_registered);
    tcase_add_test(cleanup, cleanup_stops_and_reaps_registered_children_first);
    tcase_add_test(cleanup, cleanup_kills_a_child_that_ignores_sigterm);
    tcase_add_test(cleanup, create_registered_makes_0600_objects_that_cleanup_removes);
    tcase_add_test(cleanup, sysv_create_sets_mode_and_values);
    tcase_add_test(cleanup, create_registered_is_exclusive);
    tcase_add_test(cleanup, create_registered_leaves_nothing_when_the_registry_is_full);
    tcase_add_test(cleanup, stop_flag_is_seen_only_inside_the_wait);
    tcase_add_test(cleanup, fork_registered_registers_the_child_and_restores_the_mask);
    tcase_add_test(cleanup, unix_listener_registered_listens_or_leaves_nothing);
    tcase_add_test(errors, allowed_cpus_and_pinning);
    tcase_add_test(errors, reap_quietly_returns_the_status_silently);
    tcase_add_test(timing, deadline_is_on_the_realtime_clock);
    tcase_add_test(timing, spin_ns_spins_at_least_that_long);
    tcase_add_test(io, send_fd_and_recv_fd_round_trip);
    tcase_add_test(io, must_be_fifo_tells_a_fifo_from_a_file);
    tcase_add_test(io, open_regular_opens_files_and_refuses_the_rest);
    tcase_add_test(procfs, state_of_a_sleeping_and_a_stopped_process);
    tcase_add_test(procfs, state_despite_spaces_and_parens_in_the_name);
    tcase_add_test(procfs, wchan_of_a_reader_blocked_on_a_pipe);
    tcase_add_test(procfs, descriptor_flags_of_a_process);
    tcase_add_test(procfs, sysctl_numbers);
    tcase_add_test(procfs, peak_rss_grows_after_touching_32_mib);
    tcase_add_test(procfs, wait_wchan_of_a_blocked_and_a_running_child);
    tcase_add_test(procfs, smaps_field_of_the_mapping_that_holds_an_address);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, timing);
    suite_add_tcase(s, stats);
    suite_add_tcase(s, io);
    suite_add_tcase(s, cleanup);
    suite_add_tcase(s, procfs);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(common_suite());
    int failed;

    srunner_run_all(runner, CK_VERBOSE);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
