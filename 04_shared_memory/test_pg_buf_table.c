/* test_pg_buf_table.c - Check unit tests of the buffer mapping table (pg_buf_table.h):
 * empty after init, insert then lookup, delete, a full partition refused, tags spread over
 * the partitions, and the two-partition lock taken in either order and across processes.
 */
#define _GNU_SOURCE
#include "pg_buf_table.h"

#include <check.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static struct buf_table *new_table(void)
{
    struct buf_table *t =
        mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(t, MAP_FAILED);
    ck_assert_int_eq(buf_table_init(t), 0);
    return t;
}

START_TEST(empty_after_init)
{
    struct buf_table *t = new_table();

    for (int tag = 0; tag < 100; tag++)
        ck_assert_int_eq(buf_table_lookup(buf_table_partition(t, tag), tag), -1);
    munmap(t, sizeof *t);
}
END_TEST

START_TEST(insert_lookup_delete)
{
    struct buf_table *t = new_table();
    struct buf_partition *p = buf_table_partition(t, 42);

    ck_assert_int_eq(buf_table_insert(p, 42, 7), 0);
    ck_assert_int_eq(buf_table_lookup(p, 42), 7);
    ck_assert_int_eq(buf_table_lookup(p, 43), -1);
    buf_table_delete(p, 42);
    ck_assert_int_eq(buf_table_lookup(p, 42), -1);
    buf_table_delete(p, 42); /* absent: nothing happens */
    ck_assert_int_eq(buf_table_insert(p, 42, 3), 0);
    ck_assert_int_eq(buf_table_lookup(p, 42), 3);
    munmap(t, sizeof *t);
}
END_TEST

START_TEST(full_partition_refused)
{
    struct buf_table *t = new_table();
    struct buf_partition *p = &t->part[0];

    for (int i = 0; i < BUF_TABLE_SLOTS; i++)
        ck_assert_int_eq(buf_table_insert(p, 1000 + i, i), 0);
    ck_assert_int_eq(buf_table_insert(p, 5000, 99), -1);
    for (int i = 0; i < BUF_TABLE_SLOTS; i++)
        ck_assert_int_eq(buf_table_lookup(p, 1000 + i), i);
    buf_table_delete(p, 1003);
    ck_assert_int_eq(buf_table_insert(p, 5000, 99), 0);
    ck_assert_int_eq(buf_table_lookup(p, 5000), 99);
    munmap(t, sizeof *t);
}
END_TEST

START_TEST(tags_spread_over_partitions)
{
    struct buf_table *t = new_table();
    int used[BUF_TABLE_PARTITIONS] = {0};

    for (int tag = 0; tag < 64; tag++) {
        struct buf_partition *p = buf_table_partition(t, tag);

        ck_assert(p >= &t->part[0] && p < &t->part[BUF_TABLE_PARTITIONS]);
        ck_assert_ptr_eq(p, buf_table_partition(t, tag)); /* the same every time */
        used[p - t->part]++;
    }
    for (int i = 0; i < BUF_TABLE_PARTITIONS; i++)
        ck_assert_int_gt(used[i], 0);
    munmap(t, sizeof *t);
}
END_TEST

/* Two processes lock the same two partitions, named in opposite orders, many times: with one
 * global order neither ever waits for the other for ever (the test's timeout would fire). */
START_TEST(lock_two_in_either_order)
{
    struct buf_table *t = new_table();
    struct buf_partition *a = &t->part[0], *b = &t->part[3];
    int status;
    pid_t child = fork();

    ck_assert_int_ne(child, -1);
    for (int i = 0; i < 20000; i++) {
        if (child == 0)
            buf_table_lock_two(b, a);
        else
            buf_table_lock_two(a, b);
        buf_table_unlock_two(a, b);
    }
    if (child == 0)
        _exit(0);
    buf_table_lock_two(a, a); /* one partition named twice is locked once */
    buf_table_unlock_two(a, a);
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_int_eq(status, 0);
    munmap(t, sizeof *t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pg_buf_table");
    TCase *tc = tcase_create("table");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, empty_after_init);
    tcase_add_test(tc, insert_lookup_delete);
    tcase_add_test(tc, full_partition_refused);
    tcase_add_test(tc, tags_spread_over_partitions);
    tcase_add_test(tc, lock_two_in_either_order);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
