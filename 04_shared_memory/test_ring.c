/* test_ring.c - Check unit tests of the SPSC ring (ring.h): formats refused, empty, full,
 * wrap-around in both the copying and the zero-copy calls, and every byte of a long stream
 * verified between two processes sharing one mapping.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void *map_ring(size_t capacity)
{
    void *mem = mmap(NULL, ring_mapping_size(capacity), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(mem, MAP_FAILED);
    ck_assert_int_eq(ring_init(mem, capacity), 0);
    return mem;
}

static unsigned char pattern_byte(uint64_t i)
{
    uint64_t x = i * 0x9e3779b97f4a7c15ULL;

    return (unsigned char)(x >> 56);
}

START_TEST(init_refuses_bad_capacity)
{
    static unsigned char mem[8192] __attribute__((aligned(4096)));
    struct ring_producer p;

    errno = 0;
    ck_assert_int_eq(ring_init(mem, 100), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(ring_init(mem, 32), -1);
    ck_assert_int_eq(ring_init(mem, 0), -1);
    memset(mem, 0, sizeof mem);
    errno = 0;
    ck_assert_int_eq(ring_producer_open(&p, mem), -1); /* never formatted */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(ring_mapping_size(64), 4096 + 64);
}
END_TEST

START_TEST(empty_ring_reads_nothing)
{
    void *mem = map_ring(64);
    struct ring_consumer c;
    const unsigned char *where = NULL;
    char buf[8];

    ck_assert_int_eq(ring_consumer_open(&c, mem), 0);
    ck_assert_uint_eq(ring_read(&c, buf, sizeof buf), 0);
    ck_assert_uint_eq(ring_read_peek(&c, &where), 0);
    ck_assert_uint_eq(ring_used(&c), 0);
    munmap(mem, ring_mapping_size(64));
}
END_TEST

START_TEST(full_ring_refuses_more)
{
    void *mem = map_ring(64);
    struct ring_producer p;
    struct ring_consumer c;
    unsigned char in[100], out[100], *where;

    for (int i = 0; i < 100; i++)
        in[i] = (unsigned char)i;
    ck_assert_int_eq(ring_producer_open(&p, mem), 0);
    ck_assert_int_eq(ring_consumer_open(&c, mem), 0);
    ck_assert_uint_eq(ring_write(&p, in, 100), 64); /* only the capacity fits */
    ck_assert_uint_eq(ring_write(&p, in, 1), 0);
    ck_assert_uint_eq(ring_write_reserve(&p, &where), 0);
    ck_assert_uint_eq(ring_used(&c), 64);
    ck_assert_uint_eq(ring_read(&c, out, 1), 1); /* one byte of room again */
    ck_assert_uint_eq(ring_write(&p, in + 64, 5), 1);
    ck_assert_uint_eq(ring_read(&c, out + 1, 100), 64);
    ck_assert_mem_eq(out, in, 65);
    munmap(mem, ring_mapping_size(64));
}
END_TEST

START_TEST(copying_calls_wrap_around)
{
    void *mem = map_ring(64);
    struct ring_producer p;
    struct ring_consumer c;
    unsigned char in[50], out[50];

    ck_assert_int_eq(ring_producer_open(&p, mem), 0);
    ck_assert_int_eq(ring_consumer_open(&c, mem), 0);
    for (int round = 0; round < 20; round++) { /* 1000 bytes through 64: many wraps */
        for (int i = 0; i < 50; i++)
            in[i] = pattern_byte((uint64_t)round * 50 + (uint64_t)i);
        ck_assert_uint_eq(ring_write(&p, in, 50), 50);
        memset(out, 0, sizeof out);
        ck_assert_uint_eq(ring_read(&c, out, 50), 50);
        ck_assert_mem_eq(out, in, 50);
    }
    munmap(mem, ring_mapping_size(64));
}
END_TEST

START_TEST(zero_copy_calls_stop_at_the_end)
{
    void *mem = map_ring(64);
    struct ring_producer p;
    struct ring_consumer c;
    unsigned char *w;
    const unsigned char *r;

    ck_assert_int_eq(ring_producer_open(&p, mem), 0);
    ck_assert_int_eq(ring_consumer_open(&c, mem), 0);
    ck_assert_uint_eq(ring_write_reserve(&p, &w), 64);
    memset(w, 'a', 40);
    ring_write_commit(&p, 40);
    ck_assert_uint_eq(ring_read_peek(&c, &r), 40);
    ck_assert_int_eq(r[39], 'a');
    ring_read_release(&c, 40);
    /* head at 40: contiguous room is the 24 bytes to the end, not all 64 */
    ck_assert_uint_eq(ring_write_reserve(&p, &w), 24);
    memset(w, 'b', 24);
    ring_write_commit(&p, 24);
    ck_assert_uint_eq(ring_write_reserve(&p, &w), 40); /* then from the start */
    ck_assert_ptr_eq(w, (unsigned char *)mem + RING_DATA_OFFSET);
    memset(w, 'c', 10);
    ring_write_commit(&p, 10);
    ck_assert_uint_eq(ring_read_peek(&c, &r), 24);
    ring_read_release(&c, 24);
    ck_assert_uint_eq(ring_read_peek(&c, &r), 10);
    ck_assert_int_eq(r[0], 'c');
    munmap(mem, ring_mapping_size(64));
}
END_TEST

/* 8 MiB in odd-sized pieces through a 4 KiB ring, producer and consumer in two processes. */
START_TEST(every_byte_across_processes)
{
    enum { CAP = 4096 };
    const uint64_t total = 8u << 20;
    void *mem = map_ring(CAP);
    struct ring_consumer c;
    unsigned char buf[3001];
    uint64_t got = 0, bad = 0;
    int status;
    pid_t producer = fork();

    ck_assert_int_ne(producer, -1);
    if (producer == 0) {
        struct ring_producer p;
        uint64_t sent = 0;
        size_t piece = 1;

        if (ring_producer_open(&p, mem) == -1)
            _exit(3);
        while (sent < total) {
            size_t n = piece, w;

            if (n > total - sent)
                n = (size_t)(total - sent);
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern_byte(sent + i);
            for (size_t off = 0; off < n; off += w) {
                w = ring_write(&p, buf + off, n - off);
                if (w == 0)
                    sched_yield();
            }
            sent += n;
            piece = (piece + 96) % sizeof buf + 1; /* 1, 98, 195 ... up to the buffer */
        }
        _exit(0);
    }
    ck_assert_int_eq(ring_consumer_open(&c, mem), 0);
    while (got < total) {
        size_t n = ring_read(&c, buf, sizeof buf);

        if (n == 0) {
            sched_yield();
            continue;
        }
        for (size_t i = 0; i < n; i++)
            bad += buf[i] != pattern_byte(got + i);
        got += n;
    }
    ck_assert_int_eq(waitpid(producer, &status, 0), producer);
    ck_assert_int_eq(status, 0);
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(ring_used(&c), 0);
    munmap(mem, ring_mapping_size(CAP));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ring");
    TCase *tc = tcase_create("spsc");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, init_refuses_bad_capacity);
    tcase_add_test(tc, empty_ring_reads_nothing);
    tcase_add_test(tc, full_ring_refuses_more);
    tcase_add_test(tc, copying_calls_wrap_around);
    tcase_add_test(tc, zero_copy_calls_stop_at_the_end);
    tcase_add_test(tc, every_byte_across_processes);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
