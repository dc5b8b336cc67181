/* pitfall_msgsize.c - a buffer smaller than mq_msgsize: EMSGSIZE, however small the message
 *
 * The messages are 20 bytes, so a 256-byte buffer looks ample.  But the kernel
 * compares the buffer with the queue's mq_msgsize, the largest message the
 * queue could ever hold, before it looks at any message: smaller, and
 * mq_receive() fails with EMSGSIZE and leaves the message where it was.  A
 * queue opened without attributes gets /proc/sys/fs/mqueue/msgsize_default
 * (8192 unless changed), which the program never chose.
 * Here the receiver did not create the queue: it opens it by name and
 * guesses.  --fixed: size the buffer from mq_getattr() of the open queue.
 *
 * Guide part: pitfall (mq_receive buffer size).
 * Run: ./pitfall_msgsize [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

/* "Our messages are never longer than this" - true, and beside the point. */
enum { ASSUMED_MAX = 256 };

static void receive_broken(mqd_t mq)
{
    char buf[ASSUMED_MAX];
    ssize_t n;

    printf("[receiver] mq_receive into a %d-byte buffer: the message is only 20 bytes\n",
           ASSUMED_MAX);
    n = mq_receive(mq, buf, sizeof buf, NULL);
    if (n == -1 && errno == EMSGSIZE) {
        printf("[receiver] mq_receive failed with EMSGSIZE (%s)\n", strerror(errno));
        printf("[receiver] the message is still queued: mq_curmsgs=%ld\n", mq_curmsgs_of(mq));
        return;
    }
    if (n == -1)
        die_errno("mq_receive");
    die("mq_receive into %d bytes succeeded: is msgsize_default this small?", ASSUMED_MAX);
}

static void receive_fixed(mqd_t mq)
{
    struct mq_attr attr;
    char *buf;
    ssize_t n;

    /* THE FIX: the buffer must hold mq_msgsize bytes, whatever the messages. */
    if (mq_getattr(mq, &attr) == -1)
        die_errno("mq_getattr");
    if ((buf = malloc((size_t)attr.mq_msgsize)) == NULL)
        die_errno("malloc");
    printf("[receiver] mq_getattr says mq_msgsize=%ld: receiving into that many bytes\n",
           attr.mq_msgsize);
    if ((n = mq_receive(mq, buf, (size_t)attr.mq_msgsize, NULL)) == -1)
        die_errno("mq_receive");
    printf("[receiver] received %zd bytes: \"%s\"; mq_curmsgs=%ld\n", n, buf, mq_curmsgs_of(mq));
    free(buf);
}

int main(int argc, char *argv[])
{
    static const char text[] = "a 20-byte message!!";
    long def = -1;
    bool fixed;
    char name[64];
    sigset_t saved;
    pid_t receiver;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    snprintf(name, sizeof name, "/pitfall_msgsize.%d", (int)getpid());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    /* NULL attributes: the kernel's defaults, as many programs open their queues. */
    if ((mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL)) == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq %s", name);
    stop_signals_release(&saved);
    if (sysctl_long("fs/mqueue/msgsize_default", &def) == 0)
        printf("[sender] created %s with NULL attributes (msgsize_default is %ld)\n", name, def);
    else
        printf("[sender] created %s with NULL attributes\n", name);

    printf("[sender] mq_send of %zu bytes\n", sizeof text);
    if (mq_send(mq, text, sizeof text, 0) == -1)
        die_errno("mq_send");
    if (mq_close(mq) == -1)
        die_errno("mq_close");

    if ((receiver = fork_or_die()) == 0) {
        if ((mq = mq_open(name, O_RDONLY)) == (mqd_t)-1)
            die_errno("mq_open %s", name);
        if (fixed)
            receive_fixed(mq);
        else
            receive_broken(mq);
        mq_close(mq);
        exit(0);
    }
    return reap_child(receiver, "sender") == 0 ? 0 : 1; /* exit() unlinks the queue */
}
