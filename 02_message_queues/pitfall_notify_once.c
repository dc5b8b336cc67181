/* pitfall_notify_once.c - mq_notify() fires once: a registration not renewed, or renewed too late
 *
 * mq_notify() asks for one signal when the queue goes from empty to
 * non-empty; delivering it removes the registration.  Two classic mistakes:
 * never registering again (the first batch is noticed, the second never is),
 * and registering again only after draining: a batch that arrives in between
 * finds the queue unwatched, and the queue is no longer empty when the
 * registration comes, so there is no empty-to-non-empty change left to report.
 * --fixed: register again first, then drain with O_NONBLOCK until EAGAIN:
 * whatever arrives after the drain empties the queue is announced.
 *
 * Guide part: pitfall (mq_notify is one-shot).
 * Run: ./pitfall_notify_once [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { MAXMSG = 8, MSGSIZE = 32, BATCH = 3, WAIT_MS = 400 };

struct link {
    int order_fd; /* the consumer asks for a batch: one byte */
    int done_fd;  /* the sender says it has sent it: one byte */
};

/* The sender sends one batch per byte it reads, and acknowledges each.  It
 * opens the queue again: O_NONBLOCK belongs to the open file description,
 * which a fork() shares, and its sends are to block. */
static noreturn void run_sender(const char *name, int order_fd, int done_fd)
{
    mqd_t mq = mq_open(name, O_WRONLY);
    char batch;

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    while (read(order_fd, &batch, 1) == 1) {
        printf("[sender] sending batch %c (%d messages)\n", batch, BATCH);
        for (int i = 1; i <= BATCH; i++) {
            char msg[MSGSIZE];
            int len = snprintf(msg, sizeof msg, "batch %c message %d", batch, i);

            if (mq_send(mq, msg, (size_t)len, 0) == -1)
                die_errno("mq_send");
        }
        if (write(done_fd, "s", 1) != 1)
            die_errno("write");
    }
    close(order_fd);
    close(done_fd);
    mq_close(mq);
    exit(0);
}

static void order_batch(const struct link *to_sender, char batch)
{
    char ack;

    if (write(to_sender->order_fd, &batch, 1) != 1 || read(to_sender->done_fd, &ack, 1) != 1)
        die_errno("talk to the sender");
}

static void register_notification(mqd_t mq)
{
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};

    if (mq_notify(mq, &sev) == -1)
        die_errno("mq_notify");
    printf("[consumer] mq_notify: SIGUSR1 when the queue goes from empty to non-empty\n");
}

/* SIGUSR1 is blocked: sigtimedwait() takes it, or gives up after WAIT_MS. */
static bool wait_notification(const char *what)
{
    struct timespec limit = {.tv_sec = 0, .tv_nsec = WAIT_MS * 1000000L};
    sigset_t usr1;
    siginfo_t info;

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    while (sigtimedwait(&usr1, &info, &limit) == -1) {
        if (errno == EAGAIN) {
            printf("[consumer] no notification for %s within %d ms\n", what, WAIT_MS);
            return false;
        }
        if (errno != EINTR)
            die_errno("sigtimedwait");
    }
    printf("[consumer] notified of %s: SIGUSR1, si_code %s\n", what,
           info.si_code == SI_MESGQ ? "SI_MESGQ" : "other");
    return true;
}

/* Takes everything queued; the descriptor is O_NONBLOCK, so an empty queue says EAGAIN. */
static int drain(mqd_t mq)
{
    char buf[MSGSIZE];
    int n = 0;

    while (mq_receive(mq, buf, sizeof buf, NULL) != -1)
        n++;
    if (errno != EAGAIN)
        die_errno("mq_receive");
    printf("[consumer] drained %d message(s) until EAGAIN\n", n);
    return n;
}

static void never_renewed(mqd_t mq, const struct link *to_sender)
{
    printf("[consumer] --- mistake 1: the registration is never renewed\n");
    register_notification(mq);
    order_batch(to_sender, '1');
    wait_notification("batch 1");
    drain(mq);
    order_batch(to_sender, '2');
    if (!wait_notification("batch 2"))
        printf("[consumer] batch 2 sits in the queue unannounced: only looking finds it\n");
    drain(mq);
}

static void renewed_after_draining(mqd_t mq, const struct link *to_sender)
{
    printf("[consumer] --- mistake 2: drain first, register again afterwards\n");
    register_notification(mq);
    order_batch(to_sender, '3');
    wait_notification("batch 3");
    drain(mq);
    order_batch(to_sender, '4'); /* arrives before the registration: nobody watches */
    register_notification(mq);   /* the queue is not empty now: no change to announce */
    if (!wait_notification("batch 4"))
        printf("[consumer] batch 4 came between the drain and the registration: only looking "
               "finds it\n");
    drain(mq);
    if (mq_notify(mq, NULL) == -1) /* still registered: cancel it */
        die_errno("mq_notify NULL");
}

static void fixed(mqd_t mq, const struct link *to_sender)
{
    printf("[consumer] --- fixed: register again first, then drain\n");
    register_notification(mq);
    order_batch(to_sender, '1');
    wait_notification("batch 1");
    for (char batch = '2'; batch <= '3'; batch++) {
        register_notification(mq); /* THE FIX: before the drain, never after */
        drain(mq);
        order_batch(to_sender, batch);
        if (!wait_notification(batch == '2' ? "batch 2" : "batch 3"))
            die("the fixed consumer missed a batch");
    }
    drain(mq);
}

int main(int argc, char *argv[])
{
    int order[2], done[2];
    struct link to_sender;
    sigset_t usr1;
    char name[64];
    bool is_fixed;
    pid_t sender;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    is_fixed = cli_pitfall_fixed(argc, argv, usage);

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL); /* taken by sigtimedwait(), never by a handler */
    snprintf(name, sizeof name, "/pitfall_notify_once.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR | O_NONBLOCK, MAXMSG, MSGSIZE);

    if (pipe(order) == -1 || pipe(done) == -1)
        die_errno("pipe");
    if ((sender = fork_or_die()) == 0) {
        close(order[1]);
        close(done[0]);
        mq_close(mq);
        run_sender(name, order[0], done[1]);
    }
    close(order[0]);
    close(done[1]);
    to_sender = (struct link){.order_fd = order[1], .done_fd = done[0]};
    if (is_fixed) {
        fixed(mq, &to_sender);
    } else {
        never_renewed(mq, &to_sender);
        renewed_after_draining(mq, &to_sender);
    }
    close(order[1]); /* the sender sees EOF and ends */
    close(done[0]);
    mq_close(mq);
    return reap_child(sender, "consumer") == 0 ? 0 : 1; /* exit() unlinks the queue */
}
