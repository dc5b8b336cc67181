/* test_scaffold.c - Check unit tests of the chapter's scaffolding (scaffold.h): a handler
 * installed without SA_RESTART interrupts a blocking read() (EINTR), with SA_RESTART the
 * read() goes on; the stop signals set stop_signal and do not kill; a queue made by
 * sysv_msg_create_slot() is registered (cleanup_run() removes it) and its slot can be
 * forgotten; mq_curmsgs_of() counts the messages waiting; a bad descriptor dies.
 */
#define _GNU_SOURCE
#include "scaffold.h"

#include "cleanup.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* SIGALRM every 20 ms while read() waits on a pipe whose writer (a child) writes one byte
 * after 100 ms.  Returns what read() returned; *err is its errno. */
static ssize_t read_under_alarms(int flags, int *err)
{
    struct itimerval every = {{0, 20000}, {0, 20000}}, off = {{0, 0}, {0, 0}};
    int fds[2], status;
    char byte;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        usleep(100000);
        _exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
    }
    close(fds[1]);
    catch_signal(SIGALRM, on_alarm, flags);
    alarms = 0;
    ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
    ssize_t n = read(fds[0], &byte, 1);
    *err = errno;
    setitimer(ITIMER_REAL, &off, NULL);
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return n;
}

START_TEST(without_sa_restart_a_signal_interrupts_a_read)
{
    int err;

    ck_assert_int_eq(read_under_alarms(0, &err), -1);
    ck_assert_int_eq(err, EINTR);
    ck_assert_int_ge(alarms, 1);
}
END_TEST

START_TEST(with_sa_restart_the_read_goes_on)
{
    int err;

    ck_assert_int_eq(read_under_alarms(SA_RESTART, &err), 1);
    /* At least one came during the read and did not end it.  (Natively about five come;
     * ThreadSanitizer, which delivers signals itself, was seen to run the handler once.) */
    ck_assert_int_ge(alarms, 1);
}
END_TEST

START_TEST(stop_signals_set_the_flag)
{
    catch_stop_signals();
    stop_signal = 0;
    raise(SIGTERM);
    ck_assert_int_eq(stop_signal, SIGTERM);
    raise(SIGINT);
    ck_assert_int_eq(stop_signal, SIGINT);
    stop_signal = 0;
}
END_TEST

START_TEST(a_private_queue_is_registered_and_can_be_forgotten)
{
    struct msqid_ds ds;
    int slot, msqid = sysv_msg_create_slot(&slot);

    ck_assert_int_ge(slot, 0);
    ck_assert_int_eq(msgctl(msqid, IPC_STAT, &ds), 0);
    ck_assert_int_eq(ds.msg_perm.mode & 0777, 0600);
    cleanup_run(); /* what exit() does: the queue goes */
    ck_assert_int_eq(msgctl(msqid, IPC_STAT, &ds), -1);

    msqid = sysv_msg_create_slot(&slot);
    cleanup_forget(slot); /* as if another process had removed it: the registry leaves it */
    cleanup_run();
    ck_assert_int_eq(msgctl(msqid, IPC_STAT, &ds), 0);
    ck_assert_int_eq(msgctl(msqid, IPC_RMID, NULL), 0);
}
END_TEST

START_TEST(curmsgs_counts_the_waiting_messages)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    char name[64];
    mqd_t mq;

    snprintf(name, sizeof name, "/test_scaffold.%d", (int)getpid());
    mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    ck_assert_int_ne(mq, (mqd_t)-1);
    mq_unlink(name);
    ck_assert_int_eq(mq_curmsgs_of(mq), 0);
    ck_assert_int_eq(mq_send(mq, "a", 1, 0), 0);
    ck_assert_int_eq(mq_send(mq, "b", 1, 0), 0);
    ck_assert_int_eq(mq_curmsgs_of(mq), 2);
    mq_close(mq);
}
END_TEST

START_TEST(curmsgs_of_a_bad_descriptor_dies)
{
    mq_curmsgs_of((mqd_t)-1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("scaffold");
    TCase *tc = tcase_create("scaffold");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, without_sa_restart_a_signal_interrupts_a_read);
    tcase_add_test(tc, with_sa_restart_the_read_goes_on);
    tcase_add_test(tc, stop_signals_set_the_flag);
    tcase_add_test(tc, a_private_queue_is_registered_and_can_be_forgotten);
    tcase_add_test(tc, curmsgs_counts_the_waiting_messages);
    tcase_add_exit_test(tc, curmsgs_of_a_bad_descriptor_dies, 1);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
