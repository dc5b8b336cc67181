/* test_expect.c - Check unit tests of the .expect reader used by the harness:
 * a harness that misreads an expectation would pass programs it should fail.
 */
#define _GNU_SOURCE
#include "expect.h"

#include <check.h>
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
                          &exp, err, sizeof err), 0);
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
    ck_assert_str_eq(c->argv[1], "a b");        /* quotes keep the space */
    ck_assert_str_eq(c->argv[2], "-v");
    ck_assert_ptr_null(c->argv[3]);
    ck_assert_str_eq(c->stdin_text, "one\ttwo\nthree\\");
    ck_assert_uint_eq(c->stdin_len, 14);
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
    static const struct { const char *text, *why; } bad[] = {
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
    ck_assert(any_line_matches(&re, "bc"));             /* last line without newline */
    ck_assert(!any_line_matches(&re, "abc\nbcd\n"));    /* anchors hold per line */
    ck_assert(!any_line_matches(&re, "b\nc\n"));        /* never across lines */
    ck_assert(!any_line_matches(&re, ""));
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
    suite_add_tcase(s, tc);
    runner = srunner_create(s);
    srunner_run_all(runner, CK_VERBOSE);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
