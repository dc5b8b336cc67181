/* test_transport.c - Check unit tests of transport.h: every mechanism carries 64 B, 4 KiB,
 * 64 KiB and 1 MiB to a forked peer and back with every byte checked against a pattern that
 * changes each byte (so a lost, repeated or reordered chunk shows), unpinned and again with
 * both processes on one CPU; the chunk rule is the stated one; an unknown name is refused; a
 * message of the wrong length is refused (EPROTO); UDP's credits hold back a sender whose
 * receiver is late; a peer that closes, or dies where there is no end of file, is reported,
 * not waited for.
 */
#define _GNU_SOURCE
#include "transport.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const size_t sizes[] = {64, 4096, 65536, 1048576};
#define MAX_SIZE 1048576

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* Not periodic in any power of two below 2^24, so a chunk in the wrong place differs. */
static void fill_pattern(unsigned char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
}

/* The peer: receives each size, checks it, sends it back; exit status 0 if all were right. */
static void echo_peer(struct transport *t)
{
    unsigned char *buf = aligned_alloc(4096, MAX_SIZE);
    unsigned char *want = aligned_alloc(4096, MAX_SIZE);
    int status = 0;

    transport_take_side(t, 1, getppid());
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        fill_pattern(want, sizes[s], (unsigned)s);
        if (transport_recv(t, buf, sizes[s]) == -1 || memcmp(buf, want, sizes[s]) != 0 ||
            transport_send(t, buf, sizes[s]) == -1) {
            status = 1;
            break;
        }
    }
    transport_close(t);
    free(buf);
    free(want);
    _exit(status);
}

static void round_trip_every_size(const char *name)
{
    struct transport *t = transport_open(name);
    unsigned char *out, *back;
    pid_t pid;
    int status;

    ck_assert_msg(t != NULL, "%s: transport_open: %s", name, strerror(errno));
    ck_assert_str_eq(transport_name(t), name);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0)
        echo_peer(t);
    transport_take_side(t, 0, pid);
    out = aligned_alloc(4096, MAX_SIZE); /* after the fork: the peer has buffers of its own */
    back = aligned_alloc(4096, MAX_SIZE);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        fill_pattern(out, sizes[s], (unsigned)s);
        memset(back, 0, sizes[s]);
        ck_assert_msg(transport_send(t, out, sizes[s]) == 0, "%s: send %zu: %s", name, sizes[s],
                      strerror(errno));
        ck_assert_msg(transport_recv(t, back, sizes[s]) == 0, "%s: recv %zu: %s", name, sizes[s],
                      strerror(errno));
        ck_assert_msg(memcmp(out, back, sizes[s]) == 0, "%s: %zu bytes came back changed", name,
                      sizes[s]);
    }
    transport_close(t);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: the peer saw wrong data",
                  name);
    free(out);
    free(back);
}

START_TEST(round_trips_every_size)
{
    round_trip_every_size(transport_names[_i]);
}
END_TEST

/* The same with both processes pinned to one CPU (the child inherits the affinity), the
 * benchmark's one-core placement: every message is a context switch, and shm-spin-ring must
 * yield, or its reader would spin until the end of its time slice. */
START_TEST(round_trips_on_one_cpu)
{
    cpu_set_t set;
    int cpu = 0;

    ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
    while (!CPU_ISSET(cpu, &set))
        cpu++;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ck_assert_int_eq(sched_setaffinity(0, sizeof set, &set), 0);
    round_trip_every_size(transport_names[_i]);
}
END_TEST

/* The chunk of each mechanism, as transport.h and the README state it. */
START_TEST(chunk_rule_is_the_stated_one)
{
    static const char *const streams[] = {"pipe",        "fifo", "socketpair",
                                          "unix-stream", "tcp",  "shm-spin-ring"};
    static const char *const slots[] = {"unix-dgram", "unix-seqpacket", "shm-sem",     "shm-futex",
                                        "file-futex", "eventfd+shm",    "sigqueue+shm"};
    const char *name = transport_names[_i];
    struct transport *t = transport_open(name);
    size_t chunk;

    ck_assert_ptr_nonnull(t);
    chunk = transport_chunk(t);
    if (in_list(name, streams, sizeof streams / sizeof streams[0]))
        ck_assert_uint_eq(chunk, 0);
    else if (in_list(name, slots, sizeof slots / sizeof slots[0]))
        ck_assert_uint_eq(chunk, 65536);
    else if (strcmp(name, "udp") == 0)
        ck_assert_uint_eq(chunk, 32768);
    else if (strcmp(name, "mailbox-port") == 0)
        ck_assert_uint_eq(chunk, 176); /* MB_MAX_PAYLOAD of 03_mailboxes/mailbox.h */
    else
        ck_assert_uint_ge(chunk, 128); /* the queue's own limit, at least POSIX's minimum */
    transport_close(t);
}
END_TEST

/* UDP has no back-pressure, so its credits must hold the sender back: 1 MiB sent at once to a
 * receiver that starts reading 200 ms later (the buffer holds about 200 KiB) still arrives
 * whole and in order. */
START_TEST(udp_credits_hold_the_sender)
{
    struct transport *t = transport_open("udp");
    unsigned char *buf = aligned_alloc(4096, MAX_SIZE);
    pid_t pid;
    int status;

    ck_assert_ptr_nonnull(t);
    fill_pattern(buf, MAX_SIZE, 7);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        unsigned char *want = aligned_alloc(4096, MAX_SIZE);
        int ok;

        transport_take_side(t, 1, getppid());
        usleep(200000);
        fill_pattern(want, MAX_SIZE, 7);
        ok = transport_recv(t, buf, MAX_SIZE) == 0 && memcmp(buf, want, MAX_SIZE) == 0;
        transport_close(t);
        free(want);
        free(buf);
        _exit(ok ? 0 : 1);
    }
    transport_take_side(t, 0, pid);
    ck_assert_msg(transport_send(t, buf, MAX_SIZE) == 0, "udp: send: %s", strerror(errno));
    transport_close(t);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "udp: 1 MiB came wrong");
    free(buf);
}
END_TEST

START_TEST(unknown_name_is_refused)
{
    errno = 0;
    ck_assert_ptr_null(transport_open("carrier-pigeon"));
    ck_assert_int_eq(errno, EINVAL);
    transport_close(NULL); /* ignored */
}
END_TEST

/* Byte streams, seqpacket and the mailbox port (whose send right closes) see the peer's close
 * as end of file: ECONNRESET, not a hang. */
static const char *const closing[] = {"pipe",           "fifo", "socketpair",  "unix-stream",
                                      "unix-seqpacket", "tcp",  "mailbox-port"};
START_TEST(closed_peer_is_reported)
{
    const char *const *names = closing;
    struct transport *t = transport_open(names[_i]);
    char byte;
    pid_t pid;

    ck_assert_ptr_nonnull(t);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        transport_take_side(t, 1, getppid());
        transport_close(t);
        _exit(0);
    }
    transport_take_side(t, 0, pid);
    errno = 0;
    ck_assert_int_eq(transport_recv(t, &byte, 1), -1);
    ck_assert_int_eq(errno, ECONNRESET);
    transport_close(t);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}
END_TEST

/* A message of the wrong length fails the receive with EPROTO, whatever carries it. */
static const char *const messages[] = {"unix-dgram", "unix-seqpacket", "udp",         "posix-mq",
                                       "sysv-msg",   "mailbox-port",   "shm-sem",     "shm-futex",
                                       "file-futex", "eventfd+shm",    "sigqueue+shm"};
START_TEST(wrong_length_is_refused)
{
    const char *const *names = messages;
    struct transport *t = transport_open(names[_i]);
    unsigned char buf[100] = {0};
    pid_t pid;

    ck_assert_ptr_nonnull(t);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        transport_take_side(t, 1, getppid());
        _exit(transport_send(t, buf, sizeof buf) == 0 ? 0 : 1);
    }
    transport_take_side(t, 0, pid);
    errno = 0;
    ck_assert_int_eq(transport_recv(t, buf, 64), -1);
    ck_assert_int_eq(errno, EPROTO);
    transport_close(t);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}
END_TEST

/* Shared memory, queues, UDP and the notifications have no end of file: a peer that died
 * without a word is noticed at the next one-second check (a zombie child counts as gone).
 * Each mechanism is tried in its own process, all at once, so the test takes one second, not
 * one per mechanism. */
static const char *const silent[] = {"udp",        "posix-mq",      "shm-sem",     "shm-futex",
                                     "file-futex", "shm-spin-ring", "eventfd+shm", "sigqueue+shm"};
#define NSILENT (sizeof silent / sizeof silent[0])

/* In a process of its own: exit status 0 when the receive failed with ECONNRESET. */
static void expect_dead_peer(const char *name)
{
    struct transport *t = transport_open(name);
    char byte;
    pid_t pid;
    int ok;

    if (t == NULL)
        _exit(2);
    pid = fork();
    if (pid == -1)
        _exit(3);
    if (pid == 0)
        _exit(0);
    transport_take_side(t, 0, pid);
    errno = 0;
    ok = transport_recv(t, &byte, 1) == -1 && errno == ECONNRESET;
    transport_close(t);
    waitpid(pid, NULL, 0);
    _exit(ok ? 0 : 1);
}

START_TEST(dead_peer_is_noticed)
{
    pid_t testers[NSILENT];

    for (size_t i = 0; i < NSILENT; i++) {
        testers[i] = fork();
        ck_assert_int_ne(testers[i], -1);
        if (testers[i] == 0)
            expect_dead_peer(silent[i]);
    }
    for (size_t i = 0; i < NSILENT; i++) {
        int status;

        ck_assert_int_eq(waitpid(testers[i], &status, 0), testers[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "%s: a dead peer was not reported as ECONNRESET (status %d)", silent[i],
                      status);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("transport");
    TCase *tc = tcase_create("transport");
    SRunner *runner;
    int failed;

    tcase_set_timeout(tc, 20);
    tcase_add_loop_test(tc, round_trips_every_size, 0, (int)transport_count);
    tcase_add_loop_test(tc, round_trips_on_one_cpu, 0, (int)transport_count);
    tcase_add_loop_test(tc, chunk_rule_is_the_stated_one, 0, (int)transport_count);
    tcase_add_test(tc, unknown_name_is_refused);
    tcase_add_test(tc, udp_credits_hold_the_sender);
    tcase_add_loop_test(tc, closed_peer_is_reported, 0, sizeof closing / sizeof closing[0]);
    tcase_add_loop_test(tc, wrong_length_is_refused, 0, sizeof messages / sizeof messages[0]);
    tcase_add_test(tc, dead_peer_is_noticed);
    suite_add_tcase(suite, tc);
    runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
