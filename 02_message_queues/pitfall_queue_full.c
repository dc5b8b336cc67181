/* pitfall_queue_full.c - a sender blocked for ever on a full queue; a timed send and a policy
 *
 * mq_send() on a full queue sleeps until a receiver makes room.  If the
 * receiver is stuck, so is the sender, and everything upstream of it: no
 * error, no timeout, just a process asleep in the kernel.  Here the consumer
 * takes two messages and stalls; the producer fills the queue (4 messages)
 * and blocks in mq_send().  The demo shows it asleep, then kills it: a real
 * one would wait for ever.
 * --fixed: mq_timedsend() with a 100 ms deadline, and a back-pressure policy
 * for a full queue: drop that message and count it, and after three drops in
 * a row give up and report the consumer as stalled.
 *
 * Guide part: pitfall (blocking sends, back-pressure).
 * Run: ./pitfall_queue_full [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { MAXMSG = 4, MSGSIZE = 32, MESSAGES = 12, TAKEN = 2, DEADLINE_MS = 100, GIVE_UP = 3 };

static noreturn void run_producer(mqd_t mq, bool fixed)
{
    int dropped_in_a_row = 0, sent = 0, dropped = 0;
    char msg[MSGSIZE];

    for (int i = 1; i <= MESSAGES; i++) {
        int len = snprintf(msg, sizeof msg, "message %d", i);
        struct timespec deadline = deadline_after_ms(DEADLINE_MS);

        printf("[producer] sending message %d\n", i);
        if (!fixed) {
            if (mq_send(mq, msg, (size_t)len, 0) == -1) /* sleeps while the queue is full */
                die_errno("mq_send");
        } else if (mq_timedsend(mq, msg, (size_t)len, 0, &deadline) == -1) {
            /* THE FIX: a full queue is news, and the policy decides what it means. */
            if (errno != ETIMEDOUT)
                die_errno("mq_timedsend");
            dropped++;
            printf("[producer] mq_timedsend: ETIMEDOUT after %d ms, queue still full: message %d "
                   "dropped\n",
                   DEADLINE_MS, i);
            if (++dropped_in_a_row == GIVE_UP) {
                printf("[producer] %d drops in a row: the consumer is stalled; giving up with "
                       "%d sent, %d dropped\n",
                       GIVE_UP, sent, dropped);
                break;
            }
            continue;
        }
        dropped_in_a_row = 0;
        sent++;
    }
    mq_close(mq);
    exit(0);
}

/* Takes TAKEN messages, then stalls until the demo closes `resume_fd`'s pipe. */
static noreturn void run_consumer(mqd_t mq, int resume_fd)
{
    char buf[MSGSIZE + 1], byte;
    ssize_t n;

    for (int i = 0; i < TAKEN; i++) {
        if ((n = mq_receive(mq, buf, MSGSIZE, NULL)) == -1)
            die_errno("mq_receive");
        printf("[consumer] got \"%.*s\"\n", (int)n, buf);
    }
    printf("[consumer] stalls (stuck on a slow disk, say)\n");
    if (read(resume_fd, &byte, 1) == -1) /* EOF: the demo is over */
        die_errno("read");
    close(resume_fd);
    mq_close(mq);
    exit(0);
}

/* Broken run: wait until the producer sleeps in mq_send on a full queue. */
static void show_blocked_producer(pid_t producer, mqd_t mq)
{
    struct mq_attr attr = {0};
    char wchan[64] = "";

    for (int i = 0; i < 500; i++) { /* at most 5 s, for valgrind */
        if (mq_getattr(mq, &attr) == -1)
            die_errno("mq_getattr");
        if (proc_wchan(producer, wchan, sizeof wchan) == 0 && strcmp(wchan, "wq_sleep") == 0 &&
            attr.mq_curmsgs == attr.mq_maxmsg)
            break;
        sleep_ms(10);
    }
    sleep_ms(500);
    if (proc_wchan(producer, wchan, sizeof wchan) == -1 || strcmp(wchan, "wq_sleep") != 0)
        die("the producer is not blocked in mq_send (wait channel '%s')", wchan);
    printf("[demo] the queue is full (%ld of %ld) and the producer has been asleep in mq_send "
           "for 500 ms (kernel wait channel: %s)\n",
           attr.mq_curmsgs, attr.mq_maxmsg, wchan);
    printf("[demo] nothing would ever wake it: killing it with SIGKILL (this demo's bound)\n");
    kill(producer, SIGKILL);
}

int main(int argc, char *argv[])
{
    pid_t producer, consumer;
    int resume[2], status;
    char name[64];
    bool fixed;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    snprintf(name, sizeof name, "/pitfall_queue_full.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR, MAXMSG, MSGSIZE);
    printf("[demo] created %s: room for %d messages; the consumer will take only %d\n", name,
           MAXMSG, TAKEN);

    if (pipe(resume) == -1)
        die_errno("pipe");
    if ((consumer = fork_or_die()) == 0) {
        close(resume[1]);
        run_consumer(mq, resume[0]);
    }
    close(resume[0]);
    if ((producer = fork_or_die()) == 0) {
        close(resume[1]);
        run_producer(mq, fixed);
    }
    if (!fixed)
        show_blocked_producer(producer, mq);
    status = reap_child(producer, "demo");
    close(resume[1]); /* the consumer sees EOF and ends */
    reap_child(consumer, "demo");
    mq_close(mq);
    if (fixed ? status != 0 : !WIFSIGNALED(status))
        die("the producer ended in an unexpected way");
    return 0; /* exit() unlinks the queue */
}
