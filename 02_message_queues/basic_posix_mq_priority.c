/* basic_posix_mq_priority.c - priorities: highest first, first-in first-out within one priority
 *
 * Every mq_send() carries a priority from 0 to MQ_PRIO_MAX - 1.  The queue
 * keeps its messages sorted: mq_receive() always takes the oldest message of
 * the highest priority.  Priorities only reorder messages that wait in the
 * queue, though: a message that finds a receiver already blocked in
 * mq_receive() goes straight to it, whatever comes after.
 *
 * Guide part: theory (POSIX message queues: priorities).
 * Run: ./basic_posix_mq_priority
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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "";

enum { MAXMSG = 8, MSGSIZE = 64 };

struct message {
    const char *text;
    unsigned prio;
};

/* Sent in this order; they come out as high B, high E, mid C, mid F, low A, low D. */
static const struct message sent[] = {
    {"low A", 1}, {"high B", 20}, {"mid C", 10}, {"low D", 1}, {"high E", 20}, {"mid F", 10},
};
enum { SENT = sizeof sent / sizeof sent[0] };

static void send_one(const char *role, mqd_t mq, const char *text, unsigned prio)
{
    printf("[%s] mq_send \"%s\" with priority %u\n", role, text, prio);
    if (mq_send(mq, text, strlen(text), prio) == -1)
        die_errno("mq_send \"%s\"", text);
}

/* Receives one message into buf (NUL-terminated) and narrates it. */
static void receive_one(const char *role, mqd_t mq, char buf[MSGSIZE + 1])
{
    unsigned prio;
    ssize_t n = mq_receive(mq, buf, MSGSIZE, &prio);

    if (n == -1)
        die_errno("mq_receive");
    buf[n] = '\0';
    printf("[%s] received \"%s\" (priority %u)\n", role, buf, prio);
}

/* Part 1: all six wait in the queue before anyone receives. */
static void sorted_by_priority(mqd_t mq)
{
    long prio_max = sysconf(_SC_MQ_PRIO_MAX);
    char buf[MSGSIZE + 1], order[SENT * (MSGSIZE + 2)];
    size_t len = 0;

    printf("[parent] MQ_PRIO_MAX is %ld here (POSIX requires at least 32)\n", prio_max);
    for (int i = 0; i < SENT; i++)
        send_one("parent", mq, sent[i].text, sent[i].prio);
    printf("[parent] %d messages wait in the queue; receiving them now:\n", SENT);
    for (int i = 0; i < SENT; i++) {
        receive_one("parent", mq, buf);
        len += snprintf(order + len, sizeof order - len, "%s%s", i > 0 ? ", " : "", buf);
    }
    printf("[parent] arrival order: %s\n", order);

    errno = 0;
    if (prio_max > 0 && mq_send(mq, "too high", 8, (unsigned)prio_max) == -1)
        printf("[parent] priority %ld (MQ_PRIO_MAX itself): mq_send fails with %s\n", prio_max,
               strerrorname_np(errno));
    else
        die("mq_send with priority MQ_PRIO_MAX did not fail (%s)", strerror(errno));
}

/* Waits (at most 5 s: valgrind is slow) until `pid` sleeps in mq_receive():
 * wait channel wq_sleep, the sleep of ipc/mqueue.c. */
static void wait_until_asleep(pid_t pid)
{
    if (proc_wait_wchan(pid, "wq_sleep", 5000) == 0)
        printf("[parent] the receiver is asleep in mq_receive (kernel wait channel: wq_sleep)\n");
    else
        printf("[parent] the receiver was not seen asleep in wq_sleep within 5 s\n");
}

/* Part 2: a receiver already waits when the low-priority message comes. */
static void handed_to_waiting_receiver(const char *name, mqd_t mq)
{
    pid_t receiver = fork_or_die();

    if (receiver == 0) {
        mqd_t rq = mq_open(name, O_RDONLY);
        char buf[MSGSIZE + 1];

        mq_close(mq); /* the parent's descriptor: not ours to keep */
        if (rq == (mqd_t)-1)
            die_errno("mq_open %s", name);
        receive_one("receiver", rq, buf);
        receive_one("receiver", rq, buf);
        mq_close(rq);
        exit(0);
    }
    printf("[parent] started a receiver, pid %d, on the empty queue\n", (int)receiver);
    wait_until_asleep(receiver);
    send_one("parent", mq, "low, sent first", 1);
    send_one("parent", mq, "high, sent second", 30);
    if (reap_child(receiver, "parent") != 0)
        die("the receiver failed");
    printf("[parent] the low one was not overtaken: it went to the waiting receiver at once\n");
}

int main(int argc, char *argv[])
{
    char name[64];
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    snprintf(name, sizeof name, "/basic_posix_mq_priority.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR, MAXMSG, MSGSIZE);
    printf("[parent] created %s: maxmsg=%d msgsize=%d\n", name, MAXMSG, MSGSIZE);

    sorted_by_priority(mq);
    handed_to_waiting_receiver(name, mq);
    if (mq_close(mq) == -1)
        die_errno("mq_close");
    return 0; /* exit() unlinks the queue */
}
