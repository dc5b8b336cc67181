/* test_sibling.c - Check unit tests of sibling_path() (sibling.h): it finds a program in the
 * directory of the running one, by an absolute path, even when run by a relative path; a
 * missing program dies; so does a run through PATH (no '/' in the name).
 */
#define _GNU_SOURCE
#include "sibling.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(finds_itself_by_an_absolute_path)
{
    char *self = realpath(program_invocation_name, NULL);
    char *path = sibling_path("test_sibling");

    ck_assert_ptr_nonnull(self);
    ck_assert_int_eq(path[0], '/');
    ck_assert_str_eq(path, self);
    free(path);
    free(self);
}
END_TEST

START_TEST(a_missing_program_dies)
{
    sibling_path("no_such_program_beside_me");
}
END_TEST

START_TEST(a_run_through_path_dies)
{
    program_invocation_name = (char *)"test_sibling";
    sibling_path("test_sibling");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sibling");
    TCase *tc = tcase_create("sibling");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, finds_itself_by_an_absolute_path);
    tcase_add_exit_test(tc, a_missing_program_dies, 1);
    tcase_add_exit_test(tc, a_run_through_path_dies, 1);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
