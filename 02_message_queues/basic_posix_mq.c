/* basic_posix_mq.c - a POSIX message queue: mq_open with attributes, a queue outliving its creator
 *
 * mq_open() with O_CREAT takes explicit attributes: how many messages the
 * queue holds (mq_maxmsg) and how large each may be (mq_msgsize).  Messages
 * keep their boundaries: one mq_send() is one mq_receive().  The queue is a
 * kernel object with a name, not a part of the process that made it: here its
 * creator sends three messages and exits, and the parent still finds them all
 * by name.  Only mq_unlink() removes the name; the memory goes with the last close.
 *
 * Guide part: theory (POSIX message queues: mq_open, attributes, persistence).
 * Trace: clone mq_* wait4
 * Run: ./basic_posix_mq
 *      two terminals: ./basic_posix_mq --receive /demo       (creates /demo, prints what
 *                                                            arrives; Ctrl-C unlinks it)
 *                     ./basic_posix_mq --send /demo hi there (one message per word)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[--receive /NAME | --send /NAME TEXT...]";

/* Small on purpose: without CAP_SYS_RESOURCE the kernel refuses more than
 * /proc/sys/fs/mqueue/msg_max (10) messages or msgsize_max (8192) bytes. */
enum { DEMO_MAXMSG = 4, DEMO_MSGSIZE = 128 };

static void print_attr(const char *role, mqd_t mq)
{
    struct mq_attr attr;

    if (mq_getattr(mq, &attr) == -1)
        die_errno("mq_getattr");
    printf("[%s] mq_getattr: mq_flags=%ld mq_maxmsg=%ld mq_msgsize=%ld mq_curmsgs=%ld\n", role,
           attr.mq_flags, attr.mq_maxmsg, attr.mq_msgsize, attr.mq_curmsgs);
}

/* A queue name is "/" plus up to NAME_MAX bytes and no other "/"; mq_open()
 * would say EINVAL, but a usage error says what is wrong. */
static void check_name(const char *name)
{
    if (name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') != NULL ||
        strlen(name + 1) > NAME_MAX)
        die_usage(usage, "'%s' is not a queue name: '/' then 1 to %d bytes, no other '/'", name,
                  NAME_MAX);
}

/* Receives until the queue is empty (demo) or forever (--receive). */
static void receive_all(const char *role, mqd_t mq, bool wait_forever)
{
    struct mq_attr attr;
    unsigned prio;
    char *buf;
    ssize_t n;

    if (mq_getattr(mq, &attr) == -1)
        die_errno("mq_getattr");
    /* mq_receive() refuses a buffer smaller than mq_msgsize (pitfall_msgsize). */
    if ((buf = malloc((size_t)attr.mq_msgsize)) == NULL)
        die_errno("malloc");
    while (wait_forever || attr.mq_curmsgs-- > 0) {
        if ((n = mq_receive(mq, buf, (size_t)attr.mq_msgsize, &prio)) == -1)
            die_errno("mq_receive");
        printf("[%s] received \"%.*s\" (%zd bytes, priority %u)\n", role, (int)n, buf, n, prio);
    }
    free(buf);
}

/* The creator: makes the queue, fills it, and exits without unlinking it. */
static noreturn void run_creator(const char *name)
{
    struct mq_attr attr = {.mq_maxmsg = DEMO_MAXMSG, .mq_msgsize = DEMO_MSGSIZE};
    static const char *const texts[] = {"first", "second message", "third and last"};
    mqd_t mq;

    printf("[creator] mq_open(\"%s\", O_CREAT|O_EXCL|O_WRONLY, 0600, maxmsg=%d msgsize=%d)\n", name,
           DEMO_MAXMSG, DEMO_MSGSIZE);
    if ((mq = mq_open(name, O_CREAT | O_EXCL | O_WRONLY, 0600, &attr)) == (mqd_t)-1)
        die_errno("mq_open %s", name);
    print_attr("creator", mq);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        printf("[creator] mq_send \"%s\" (%zu bytes)\n", texts[i], strlen(texts[i]));
        if (mq_send(mq, texts[i], strlen(texts[i]), 0) == -1)
            die_errno("mq_send");
    }
    print_attr("creator", mq);
    printf("[creator] mq_close and exit, without mq_unlink\n");
    if (mq_close(mq) == -1)
        die_errno("mq_close");
    exit(0);
}

static void demo(void)
{
    char name[64];
    pid_t creator;
    mqd_t mq;

    snprintf(name, sizeof name, "/basic_posix_mq.%d", (int)getpid());
    /* Registered before it exists (mq_unlink of a missing name is harmless):
     * the parent removes it however the demo ends, though a child creates it. */
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq %s", name);
    if ((creator = fork_or_die()) == 0)
        run_creator(name);
    if (reap_child(creator, "parent") != 0)
        die("the creator failed");

    printf("[parent] the creator is gone; mq_open(\"%s\", O_RDONLY) still finds its queue\n", name);
    if ((mq = mq_open(name, O_RDONLY)) == (mqd_t)-1)
        die_errno("mq_open %s", name);
    print_attr("parent", mq);
    receive_all("parent", mq, false);

    printf("[parent] mq_unlink: the name goes now, the queue with the last descriptor\n");
    if (mq_unlink(name) == -1)
        die_errno("mq_unlink %s", name);
    if (mq_open(name, O_RDONLY) == (mqd_t)-1 && errno == ENOENT)
        printf("[parent] mq_open(\"%s\") after the unlink: %s\n", name, strerror(errno));
    else
        die("the queue %s is still there after mq_unlink", name);
    if (mq_close(mq) == -1)
        die_errno("mq_close");
}

static mqd_t receiver_mq = (mqd_t)-1;

/* Ctrl-C or SIGTERM: close the descriptor (on Linux mq_close() is close(),
 * which is async-signal-safe), remove the queue, then die of the signal. */
static void on_stop(int sig)
{
    close(receiver_mq);
    cleanup_run();
    signal(sig, SIG_DFL);
    raise(sig); /* delivered when the handler returns */
}

/* --receive: creates the queue, prints each message; Ctrl-C unlinks it. */
static void run_receiver(const char *name)
{
    struct mq_attr attr = {.mq_maxmsg = DEMO_MAXMSG, .mq_msgsize = DEMO_MSGSIZE};
    struct sigaction sa = {.sa_handler = on_stop};
    sigset_t saved;

    stop_signals_hold(&saved); /* a Ctrl-C between create and register would leave it */
    receiver_mq = mq_open(name, O_CREAT | O_EXCL | O_RDONLY, 0600, &attr);
    if (receiver_mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq %s", name);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    stop_signals_release(&saved);
    printf("[receiver] created %s (maxmsg=%d msgsize=%d); waiting, Ctrl-C removes it\n", name,
           DEMO_MAXMSG, DEMO_MSGSIZE);
    receive_all("receiver", receiver_mq, true);
}

/* --send: one message per word, into a queue someone else created. */
static void run_sender(const char *name, int count, char *texts[])
{
    mqd_t mq = mq_open(name, O_WRONLY);

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    for (int i = 0; i < count; i++) {
        printf("[sender] mq_send \"%s\"\n", texts[i]);
        if (mq_send(mq, texts[i], strlen(texts[i]), 0) == -1)
            die_errno("mq_send \"%s\"", texts[i]);
    }
    if (mq_close(mq) == -1)
        die_errno("mq_close");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"receive", required_argument, NULL, 'r'},
        {"send", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL;
    int c, mode = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "r:s:h", longopts, usage)) != -1) {
        if (mode != 0)
            die_usage(usage, "give only one of --receive and --send");
        mode = c;
        name = optarg;
    }
    if (mode == 0) {
        cli_no_operands(argc, argv, usage);
        demo();
        return 0;
    }
    check_name(name);
    if (mode == 'r') {
        cli_no_operands(argc, argv, usage);
        run_receiver(name);
    } else {
        if (optind == argc)
            die_usage(usage, "--send needs at least one TEXT to send");
        run_sender(name, argc - optind, argv + optind);
    }
    return 0;
}
