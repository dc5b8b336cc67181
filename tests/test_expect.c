/* test_expect.c - Check unit tests of the .expect reader used by the harness:
 * a harness that misreads an expectation would pass programs it should fail.
 */
#define _GNU_SOURCE
#include "expect.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

/* Writes text to a fresh temporary .expect file; its name goes in `path`. */
static void write_expect(const char *text)
{
    int fd;

    snprintf(path, sizeof path, "/tmp/test_expect.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int load(const char *text, struct expectation *exp, char *err, size_t size)
{
    int r;

    write_expect(text);
    r = expect_load(path, exp, err, size);
    unlink(path);
    return r;
}

START_TEST(reads_every_directive)
{
    struct expectation exp;
    char err[256] = "";

    ck_assert_int_eq(load("# a comment\n"
                          "symptom: torn\n"
                          "out: ^\\[parent\\] done$\n"
                          "\n"
                          "run: --size 'a b' -v\n"
                          "stdin: one\\ttwo\\n\n"
                          "stdin: three\\\\\n"
                          "exit: 2\n"
                          "timeout: 1.5\n"
                          "err: ^prog: \n"
                          "no-out: secret\n"
                          "no-err: warning\n",
                          &exp, err, sizeof err),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(exp.ncases, 2);
    ck_assert(exp.cases[0].is_demo);
    ck_assert_ptr_null(exp.cases[0].argv[0]);
    ck_assert_uint_eq(exp.cases[0].npatterns, 1);
    ck_assert_uint_eq(exp.nsymptoms, 1);

    struct expect_case *c = &exp.cases[1];
    ck_assert(!c->is_demo);
    ck_assert_int_eq(c->line, 5);
    ck_assert_str_eq(c->argv[0], "--size");
    ck_assert_str_eq(c->argv[1], "a b"); /* quotes keep the space */
    ck_assert_str_eq(c->argv[2], "-v");
    ck_assert_ptr_null(c->argv[3]);
    size_t len;
    char *input = data_bytes(&c->stdin_data, "/", &len, err, sizeof err);

    ck_assert_ptr_nonnull(input);
    ck_assert_str_eq(input, "one\ttwo\nthree\\");
    ck_assert_uint_eq(len, 14);
    free(input);
    ck_assert_str_eq(c->label, "--size 'a b' -v <<< 'one\\ttwo\\n' + 'three\\\\'");
    ck_assert_int_eq(c->exit_status, 2);
    ck_assert_double_eq_tol(c->timeout_s, 1.5, 1e-9);
    ck_assert_uint_eq(c->npatterns, 3);
    ck_assert(c->patterns[0].stream == STDERR_STREAM && !c->patterns[0].negated);
    ck_assert(c->patterns[1].stream == STDOUT_STREAM && c->patterns[1].negated);
    ck_assert(c->patterns[2].stream == STDERR_STREAM && c->patterns[2].negated);
    expect_free(&exp);
}
END_TEST

START_TEST(rejects_malformed_files)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"outt: x\n", ":1: unknown directive 'outt'"},
        {"out: (unclosed\n", ":1: bad regex"},
        {"\nrun: -x\nsymptom: y\n", ":3: symptom: belongs before the first run:"},
        {"run: 'open\n", ":1: unclosed quote"},
        {"exit: two\n", ":1: bad number 'two'"},
        {"just words\n", ":1: expected 'key: value'"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct expectation exp;
        char err[256] = "";

        ck_assert_int_eq(load(bad[i].text, &exp, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "'%s' gave '%s'", bad[i].text, err);
        ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "error does not name the file");
        expect_free(&exp);
    }
}
END_TEST

START_TEST(a_missing_file_is_an_error)
{
    struct expectation exp;
    char err[256] = "";

    ck_assert_int_eq(expect_load("/nonexistent/x.expect", &exp, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "every program needs one"));
    expect_free(&exp);
}
END_TEST

START_TEST(patterns_match_whole_lines_only)
{
    regex_t re;

    ck_assert_int_eq(regcomp(&re, "^b.*c$", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert(any_line_matches(&re, "a\nbxc\nd"));
    ck_assert(any_line_matches(&re, "bc"));          /* last line without newline */
    ck_assert(!any_line_matches(&re, "abc\nbcd\n")); /* anchors hold per line */
    ck_assert(!any_line_matches(&re, "b\nc\n"));     /* never across lines */
    ck_assert(!any_line_matches(&re, ""));
    regfree(&re);
}
END_TEST

START_TEST(reads_the_new_directives)
{
    struct expectation exp;
    char err[256] = "";

    ck_assert_int_eq(load("run: -\n"
                          "name: big binary input\n"
                          "stdin: a\\x00\\xff\n"
                          "stdin-bytes: 1K\n"
                          "stdin-lines: 3 yes\n"
                          "stdin-pace: 512 5\n"
                          "stdout-slow: 100 2\n"
                          "out-exact: one\n"
                          "out-exact: two\n"
                          "out-count: 2 ^t\n"
                          "out-same: stdin\n"
                          "given: log.fifo fifo\n"
                          "given: old.txt mode=0600 text stale\\n\n"
                          "file: copy.txt same-as=stdin mode=0644 size=1035 type=f\n"
                          "file: gone absent\n"
                          "signal: TERM group after 300\n"
                          "signal: SIGINT on ^\\[server\\] listening\n"
                          "syscall: write fd~pipe ==3 ret==100\n"
                          "no-syscall: read fd~pipe\n"
                          "syscall: splice args~SPLICE_F_MOVE, 0\n"
                          "requires: cpus 2\n"
                          "exit: SIGTERM\n"
                          "copies: 2\n"
                          "light-args: --rounds 10\n"
                          "hint: look at the write end\n",
                          &exp, err, sizeof err),
                     0);
    ck_assert_str_eq(err, "");
    struct expect_case *c = &exp.cases[1];
    size_t len;
    char *input = data_bytes(&c->stdin_data, "/", &len, err, sizeof err);
    unsigned char pattern[1024];

    ck_assert_str_eq(c->label, "big binary input");
    ck_assert_uint_eq(len, 3 + 1024 + 12);
    ck_assert(input[0] == 'a' && input[1] == '\0' && (unsigned char)input[2] == 0xff);
    pattern_fill(pattern, sizeof pattern);
    ck_assert_mem_eq(input + 3, pattern, sizeof pattern);
    ck_assert_str_eq(input + 3 + 1024, "yes\nyes\nyes\n");
    free(input);
    ck_assert_uint_eq(c->pace_bytes, 512);
    ck_assert_uint_eq(c->pace_ms, 5);
    ck_assert(c->stdout_pipe && c->slow_bytes == 100 && c->slow_ms == 2);
    ck_assert_str_eq(c->exact[STDOUT_STREAM], "one\ntwo\n");
    ck_assert_int_eq(c->patterns[0].count, 2);
    ck_assert(c->same_as_stdin[STDOUT_STREAM] && !c->same_as_stdin[STDERR_STREAM]);
    ck_assert_uint_eq(c->ngivens, 2);
    ck_assert(c->givens[0].kind == GIVEN_FIFO && c->givens[0].mode == 0600);
    ck_assert(c->givens[1].kind == GIVEN_FILE && c->givens[1].mode == 0600);
    ck_assert_uint_eq(c->nfiles, 2);
    ck_assert(c->files[0].same_as_stdin && c->files[0].mode == 0644 && c->files[0].size == 1035);
    ck_assert(c->files[0].type == 'f' && !c->files[0].absent && c->files[1].absent);
    ck_assert_uint_eq(c->nsignals, 2);
    ck_assert(c->signals[0].signo == SIGTERM && c->signals[0].group &&
              c->signals[0].after_ms == 300);
    ck_assert(c->signals[1].signo == SIGINT && c->signals[1].on_output && !c->signals[1].group);
    ck_assert_uint_eq(c->nsyscalls, 3);
    ck_assert(c->syscalls[0].has_fd_re && c->syscalls[0].op == EXACTLY &&
              c->syscalls[0].count == 3);
    ck_assert(c->syscalls[0].has_ret && c->syscalls[0].ret == 100);
    ck_assert(c->syscalls[1].op == EXACTLY && c->syscalls[1].count == 0);
    ck_assert(c->syscalls[2].has_args_re && !c->syscalls[2].has_fd_re);
    ck_assert_int_eq(
        regexec(&c->syscalls[2].args_re, "3, NULL, 4, NULL, 5, SPLICE_F_MOVE, 0", 0, NULL, 0), 0);
    ck_assert_uint_eq(c->nrequires, 1);
    ck_assert_str_eq(c->requires[0], "cpus 2");
    ck_assert(c->exit_by_signal && c->exit_status == SIGTERM);
    ck_assert_uint_eq(c->copies, 2);
    ck_assert_str_eq(c->light_argv[1], "10");
    ck_assert_str_eq(c->hint, "look at the write end");
    expect_free(&exp);
}
END_TEST

START_TEST(rejects_malformed_new_directives)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"run: x\nstdin: \\q\n", ":2: bad escape"},
        {"run: x\nstdin-bytes: lots\n", ":2: bytes needs a count"},
        {"run: x\nstdin-bytes: 1T\n", ":2: bytes needs a count"},
        {"run: x\nstdin-pace: 0 5\n", ":2: expected 'BYTES MS'"},
        {"run: x\nstdin-pace: 10 5\n", ":1: stdin-pace: without any stdin"},
        {"run: x\nout-same: stdin\n", ":1: out-same: stdin without any stdin"},
        {"run: x\nout-count: many ^a\n", ":2: expected 'N REGEX'"},
        {"run: x\ngiven: a/b text x\n", ":2: expected 'NAME [mode=OCTAL] KIND"},
        {"run: x\ngiven: a blob x\n", ":2: unknown kind of data 'blob'"},
        {"run: x\nfile: f colour=red\n", ":2: unknown file check 'colour=red'"},
        {"run: x\nsignal: NOPE after 10\n", ":2: expected a signal name"},
        {"run: x\nsignal: TERM later\n", ":2: expected 'NAME [group] after MS'"},
        {"run: x\nsyscall: write ~=3\n", ":2: cannot read '~=3'"},
        {"run: x\nno-syscall: write >=3\n", ":2: cannot read '>=3'"},
        {"run: x\nsyscall: futex args~WAKE >=3\n", ":2: cannot read 'args~WAKE >=3'"},
        {"run: x\nsyscall: futex args~WAKE(\n", ":2: cannot read 'args~WAKE('"},
        {"run: x\nrequires: unicorns\n", ":2: unknown requirement 'unicorns'"},
        {"run: x\nexit: SIGNOPE\n", ":2: bad number 'SIGNOPE'"},
        {"run: x\nexit: 256\n", ":2: bad number '256'"},
        {"run: x\ncopies: 9\n", ":2: copies: 1 to 8"},
        {"run: x\nname:\n", ":2: name: needs a text"},
    };

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct expectation exp;
        char err[256] = "";

        ck_assert_int_eq(load(bad[i].text, &exp, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "'%s' gave '%s'", bad[i].text, err);
        expect_free(&exp);
    }
}
END_TEST

START_TEST(cases_with_the_same_arguments_are_told_apart)
{
    struct expectation exp;
    char err[256] = "";

    ck_assert_int_eq(
        load("run: -\nstdin: hello\\n\nrun: -\nrun: -\nstdin-bytes: 1M\n", &exp, err, sizeof err),
        0);
    ck_assert_str_eq(exp.cases[1].label, "- <<< 'hello\\n'");
    ck_assert_str_eq(exp.cases[2].label, "-");
    ck_assert_str_eq(exp.cases[3].label, "- <<< 1048576 pattern bytes");
    expect_free(&exp);
}
END_TEST

START_TEST(the_pattern_is_repeatable_and_binary)
{
    unsigned char a[70000], b[70000];
    bool seen[256] = {false};
    size_t distinct = 0;

    pattern_fill(a, sizeof a);
    pattern_fill(b, sizeof b);
    ck_assert_mem_eq(a, b, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        if (!seen[a[i]]) {
            seen[a[i]] = true;
            distinct++;
        }
    ck_assert_uint_eq(distinct, 256);           /* NUL and 0xff included */
    ck_assert(memcmp(a, a + 4096, 4096) != 0);  /* no period of a page */
    ck_assert(memcmp(a, a + 65536, 4096) != 0); /* nor of a pipe */
}
END_TEST

START_TEST(counts_matching_lines)
{
    regex_t re;

    ck_assert_int_eq(regcomp(&re, "^ok", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_uint_eq(count_matching_lines(&re, "ok 1\nnot ok\nok 2\nok"), 3);
    ck_assert_uint_eq(count_matching_lines(&re, ""), 0);
    regfree(&re);
    ck_assert_int_eq(regcomp(&re, ".*", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_uint_eq(count_matching_lines(&re, ""), 0);   /* empty output: no line at all */
    ck_assert_uint_eq(count_matching_lines(&re, "\n"), 1); /* one empty line */
    regfree(&re);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("expect");
    TCase *tc = tcase_create("reader");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, reads_every_directive);
    tcase_add_test(tc, rejects_malformed_files);
    tcase_add_test(tc, a_missing_file_is_an_error);
    tcase_add_test(tc, patterns_match_whole_lines_only);
    tcase_add_test(tc, reads_the_new_directives);
    tcase_add_test(tc, rejects_malformed_new_directives);
    tcase_add_test(tc, cases_with_the_same_arguments_are_told_apart);
    tcase_add_test(tc, the_pattern_is_repeatable_and_binary);
    tcase_add_test(tc, counts_matching_lines);
    suite_add_tcase(s, tc);
    runner = srunner_create(s);
    srunner_run_all(runner, CK_VERBOSE);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
