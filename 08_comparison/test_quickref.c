/* test_quickref.c - Check tests: every program that QUICKREF.md, this chapter's README.md and
 * basic_choose_ipc's tree name exists.  A name is "NN_chapter/prefix_topic" anywhere in the
 * text (prefix basic, advanced, pitfall or solution), or, in the README's program tables, a
 * bare `prefix_topic` in a row's first cell (a program of this chapter).  Each must have its
 * source file, ../NN_chapter/prefix_topic.c.  The scanner itself is tested on a text with a
 * wrong name, so a scanner that finds nothing cannot pass.
 */
#define _GNU_SOURCE
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_level(const char *s)
{
    static const char *const levels[] = {"basic_", "advanced_", "pitfall_", "solution_"};

    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strncmp(s, levels[i], strlen(levels[i])) == 0)
            return true;
    return false;
}

static size_t name_length(const char *s)
{
    size_t n = 0;

    while (islower((unsigned char)s[n]) || isdigit((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n;
}

/* Checks one name; prints it and returns 1 when its source is missing. */
static int check_name(const char *chapter, const char *program, size_t len, const char *where)
{
    char path[256], name[128];

    snprintf(name, sizeof name, "%.*s", (int)len, program);
    snprintf(path, sizeof path, "../%s/%s.c", chapter, name);
    if (access(path, F_OK) == 0)
        return 0;
    printf("test_quickref: %s names %s/%s, but %s does not exist\n", where, chapter, name, path);
    return 1;
}

/* Scans `text`; returns how many names in it are missing, and counts all of them in *seen. */
static int scan(const char *text, bool readme_table, const char *where, int *seen)
{
    int missing = 0;

    for (const char *p = text; *p != '\0'; p++) {
        bool start = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');

        /* NN_chapter/prefix_topic */
        if (start && isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && p[2] == '_') {
            size_t clen = 3 + name_length(p + 3);

            if (p[clen] == '/' && is_level(p + clen + 1)) {
                char chapter[64];

                snprintf(chapter, sizeof chapter, "%.*s", (int)clen, p);
                missing += check_name(chapter, p + clen + 1, name_length(p + clen + 1), where);
                (*seen)++;
            }
        }
        /* a README table row: "| `prefix_topic` |" at the start of a line */
        if (readme_table && (p == text || p[-1] == '\n') && strncmp(p, "| `", 3) == 0 &&
            is_level(p + 3)) {
            size_t len = name_length(p + 3);

            if (p[3 + len] == '`') {
                missing += check_name("08_comparison", p + 3, len, where);
                (*seen)++;
            }
        }
    }
    return missing;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text;
    long size;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(fread(text, 1, (size_t)size, f), size);
    fclose(f);
    return text;
}

static void check_file(const char *path, bool readme_table, int at_least)
{
    char *text = slurp(path);
    int seen = 0, missing = scan(text, readme_table, path, &seen);

    free(text);
    ck_assert_msg(missing == 0, "%s names %d program(s) that do not exist (listed above)", path,
                  missing);
    ck_assert_msg(seen >= at_least, "%s: only %d program names found", path, seen);
}

START_TEST(quickref_names_exist)
{
    check_file("QUICKREF.md", false, 40);
}
END_TEST

START_TEST(readme_names_exist)
{
    check_file("README.md", true, 10);
}
END_TEST

START_TEST(choose_ipc_tree_names_exist)
{
    check_file("basic_choose_ipc.c", false, 15);
}
END_TEST

/* The scanner finds a wrong name in each form, and accepts the right ones. */
START_TEST(scanner_catches_wrong_names)
{
    int seen = 0;

    ck_assert_int_eq(
        scan("read 01_pipes/basic_pipe_fork and 01_pipes/basic_pipe_frok.", false, "sample", &seen),
        1);
    ck_assert_int_eq(seen, 2);
    seen = 0;
    ck_assert_int_eq(
        scan("| `basic_choose_ipc` | ok |\n| `basic_choose_ipx` | no |\n", true, "sample", &seen),
        1);
    ck_assert_int_eq(seen, 2);
    seen = 0;
    ck_assert_int_eq(scan("09_nothing/basic_x, 07_mmap/advanced_file_ipc", false, "sample", &seen),
                     1);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("quickref");
    TCase *tc = tcase_create("names");
    SRunner *runner;
    int failed;

    tcase_add_test(tc, quickref_names_exist);
    tcase_add_test(tc, readme_names_exist);
    tcase_add_test(tc, choose_ipc_tree_names_exist);
    tcase_add_test(tc, scanner_catches_wrong_names);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_NOFORK); /* the names print in order, once */
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
