/* advanced_mq_timeouts.c - O_NONBLOCK and timed sends and receives on an empty and a full queue
 *
 * A receiver on an empty queue and a sender on a full one have three choices:
 * wait for ever (plain mq_receive/mq_send), not at all (O_NONBLOCK: EAGAIN at
 * once), or until a deadline (mq_timedreceive/mq_timedsend: ETIMEDOUT).  The
 * deadline is an absolute CLOCK_REALTIME time, so a program computes "now +
 * timeout" for each call; one already past still takes a message that is
 * there.  Last, back-pressure made visible: a fast producer meets a slow
 * consumer through a 5-message queue, and once the queue is full every send
 * waits for the consumer: the producer is slowed to the consumer's pace.
 *
 * Guide part: theory (POSIX message queues: blocking, timeouts, back-pressure).
 * Run: ./advanced_mq_timeouts [--timeout MS]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--timeout MS]    (MS from 10 to 5000, default 150)";

enum { MAXMSG = 5, MSGSIZE = 32, FLOW = 14, CONSUMER_MS = 20 };

/* One call's result and how long it took, in a line. */
static void report(const char *what, int rc, uint64_t start)
{
    double ms = (double)elapsed_ns(start) / 1e6;

    if (rc == -1)
        printf("[demo] %-52s -> %s after %.0f ms\n", what, strerrorname_np(errno), ms);
    else
        printf("[demo] %-52s -> success after %.0f ms\n", what, ms);
}

static void empty_queue(mqd_t mq, long timeout_ms)
{
    char buf[MSGSIZE], what[64];
    struct timespec ts;
    uint64_t start;
    int rc;

    printf("[demo] --- an empty queue and a receiver\n");
    set_nonblocking(mq, true);
    start = now_ns();
    rc = mq_receive(mq, buf, sizeof buf, NULL) == -1 ? -1 : 0;
    report("mq_receive, O_NONBLOCK", rc, start);
    set_nonblocking(mq, false);
    snprintf(what, sizeof what, "mq_timedreceive, deadline now + %ld ms", timeout_ms);
    ts = deadline_after_ms(timeout_ms);
    start = now_ns();
    rc = mq_timedreceive(mq, buf, sizeof buf, NULL, &ts) == -1 ? -1 : 0;
    report(what, rc, start);

    if (mq_send(mq, "here", 4, 0) == -1)
        die_errno("mq_send");
    ts = deadline_after_ms(-1000); /* a second ago */
    start = now_ns();
    rc = mq_timedreceive(mq, buf, sizeof buf, NULL, &ts) == -1 ? -1 : 0;
    report("mq_timedreceive, deadline passed, 1 message queued", rc, start);
}

static void full_queue(mqd_t mq, long timeout_ms)
{
    struct timespec ts;
    char what[64];
    uint64_t start;
    int rc;

    printf("[demo] --- a full queue and a sender\n");
    for (int i = 0; i < MAXMSG; i++)
        if (mq_send(mq, "filler", 6, 0) == -1)
            die_errno("mq_send");
    printf("[demo] queued %d messages: the queue is full\n", MAXMSG);
    set_nonblocking(mq, true);
    start = now_ns();
    rc = mq_send(mq, "one more", 8, 0);
    report("mq_send, O_NONBLOCK", rc, start);
    set_nonblocking(mq, false);
    snprintf(what, sizeof what, "mq_timedsend, deadline now + %ld ms", timeout_ms);
    ts = deadline_after_ms(timeout_ms);
    start = now_ns();
    rc = mq_timedsend(mq, "one more", 8, 0, &ts);
    report(what, rc, start);
}

/* Takes one message every CONSUMER_MS. */
static noreturn void run_consumer(mqd_t mq)
{
    char buf[MSGSIZE];

    for (int i = 0; i < FLOW; i++) {
        if (mq_receive(mq, buf, sizeof buf, NULL) == -1)
            die_errno("mq_receive");
        sleep_ms(CONSUMER_MS); /* the slow work on each message */
    }
    mq_close(mq);
    exit(0);
}

static void back_pressure(const char *name, mqd_t mq)
{
    struct mq_attr attr;
    char buf[MSGSIZE];
    pid_t consumer;
    mqd_t own;

    set_nonblocking(mq, true); /* empty it first: the fillers of full_queue() */
    while (mq_receive(mq, buf, sizeof buf, NULL) != -1)
        ;
    set_nonblocking(mq, false);

    printf("[producer] --- back-pressure: %d messages as fast as mq_send lets us, into %d slots;"
           " the consumer takes one every %d ms\n",
           FLOW, MAXMSG, CONSUMER_MS);
    if ((own = mq_open(name, O_RDONLY)) == (mqd_t)-1) /* the consumer's own open */
        die_errno("mq_open %s", name);
    if ((consumer = fork_or_die()) == 0) {
        mq_close(mq);
        run_consumer(own);
    }
    mq_close(own);
    for (int i = 1; i <= FLOW; i++) {
        uint64_t start = now_ns();

        if (mq_send(mq, "work", 4, 0) == -1)
            die_errno("mq_send");
        if (mq_getattr(mq, &attr) == -1)
            die_errno("mq_getattr");
        printf("[producer] message %2d: mq_send waited %3.0f ms, %ld queued\n", i,
               (double)elapsed_ns(start) / 1e6, attr.mq_curmsgs);
    }
    reap_child(consumer, "producer");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long timeout_ms = 150;
    char name[64];
    mqd_t mq;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:h", longopts, usage)) != -1)
        timeout_ms = cli_long(optarg, 10, 5000, "--timeout", usage);
    cli_no_operands(argc, argv, usage);

    snprintf(name, sizeof name, "/advanced_mq_timeouts.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR, MAXMSG, MSGSIZE);
    printf("[demo] created %s: %d messages of up to %d bytes\n", name, MAXMSG, MSGSIZE);

    empty_queue(mq, timeout_ms);
    full_queue(mq, timeout_ms);
    back_pressure(name, mq);
    mq_close(mq);
    return 0; /* exit() unlinks the queue */
}
