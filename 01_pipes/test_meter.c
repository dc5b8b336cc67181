/* test_meter.c - Check unit tests of the job meter (meter.h): it counts up and down and keeps
 * the highest count; a process that maps it again from the descriptor alone (as an exec'd job
 * does) counts in the same meter; the descriptor survives exec (no FD_CLOEXEC); a bad
 * descriptor dies.
 */
#define _GNU_SOURCE
#include "meter.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

START_TEST(counts_and_keeps_the_highest)
{
    int fd = meter_create();

    ck_assert_int_eq(meter_max(), 0);
    meter_count(+1, "test", 0);
    meter_count(+1, "test", 0);
    meter_count(-1, "test", 5);
    meter_count(+1, "test", 0);
    ck_assert_int_eq(meter_max(), 2);
    meter_count(-1, "test", 5);
    meter_count(-1, "test", 5);
    ck_assert_int_eq(meter_max(), 2); /* the peak stays */
    meter_unmap();
    close(fd);
}
END_TEST

START_TEST(a_process_mapping_the_descriptor_counts_in_the_same_meter)
{
    int fd = meter_create(), status;
    pid_t pid;

    meter_count(+1, "parent", 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        meter_unmap(); /* what exec does to the mapping; the descriptor stays */
        meter_map(fd);
        meter_count(+1, "child", 0);
        meter_count(+1, "child", 0);
        _exit(meter_max() == 3 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    ck_assert_int_eq(meter_max(), 3);
    meter_unmap();
    close(fd);
}
END_TEST

START_TEST(the_descriptor_survives_exec)
{
    int fd = meter_create();

    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    meter_unmap();
    close(fd);
}
END_TEST

START_TEST(a_bad_descriptor_dies)
{
    meter_map(-1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("meter");
    TCase *tc = tcase_create("meter");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, counts_and_keeps_the_highest);
    tcase_add_test(tc, a_process_mapping_the_descriptor_counts_in_the_same_meter);
    tcase_add_test(tc, the_descriptor_survives_exec);
    tcase_add_exit_test(tc, a_bad_descriptor_dies, 1);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
