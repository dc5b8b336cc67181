/* basic_sysv_msg_types.c - selective receive: msgtyp 0, positive, negative, and MSG_EXCEPT
 *
 * The last arguments of msgrcv() choose which message to take, not just
 * whether to wait: msgtyp 0 takes the oldest message, msgtyp N > 0 the oldest
 * of type N, msgtyp -N the oldest of the lowest type <= N (a priority queue
 * where small types come first), and N with MSG_EXCEPT (Linux) the oldest
 * whose type is not N.  IPC_NOWAIT turns "no such message" into ENOMSG.
 * Between steps the queue is listed with MSG_COPY (Linux), which copies a
 * message by position without removing it.
 *
 * Guide part: theory (System V message queues: message types).
 * Run: ./basic_sysv_msg_types
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

static const char usage[] = "";

enum { TEXT_MAX = 16 };

struct message {
    long mtype;
    char mtext[TEXT_MAX];
};

/* Sent in this order by the sender: the text names the type and the arrival. */
static const struct message sent[] = {
    {3, "c1"}, {1, "a1"}, {2, "b1"}, {3, "c2"}, {1, "a2"}, {5, "e1"},
};

/* What each step asks for, in the words of msgrcv(2). */
static const struct step {
    long msgtyp;
    int flags;
    const char *meaning;
} steps[] = {
    {2, 0, "the oldest message of type 2"},
    {-3, 0, "the oldest of the lowest type <= 3"},
    {-3, 0, "again: type 1 is still the lowest there"},
    {3, MSG_EXCEPT, "with MSG_EXCEPT: the oldest whose type is not 3"},
    {0, 0, "the oldest message, whatever its type"},
    {4, IPC_NOWAIT, "with IPC_NOWAIT: a type that is not there"},
    {0, IPC_NOWAIT, "the oldest message"},
};

/* MSG_COPY (Linux 3.8, kernels built with CONFIG_CHECKPOINT_RESTORE) reads the
 * message at position i and leaves it queued; it needs IPC_NOWAIT. */
static void list_queue(int msqid)
{
    char line[256] = "";
    size_t len = 0;
    struct message msg;
    ssize_t n;

    for (long i = 0; (n = msgrcv(msqid, &msg, TEXT_MAX, i, MSG_COPY | IPC_NOWAIT)) != -1; i++)
        len += (size_t)snprintf(line + len, sizeof line - len, " %.*s(type %ld)", (int)n, msg.mtext,
                                msg.mtype);
    if (errno == ENOSYS || errno == EINVAL) {
        printf("[receiver] (MSG_COPY is not in this kernel: the queue cannot be listed)\n");
        return;
    }
    if (errno != ENOMSG)
        die_errno("msgrcv MSG_COPY");
    printf("[receiver] queue, oldest first:%s\n", len > 0 ? line : " (empty)");
}

static void run_sender(int msqid)
{
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++) {
        printf("[sender] msgsnd type %ld \"%s\"\n", sent[i].mtype, sent[i].mtext);
        if (msgsnd(msqid, &sent[i], strlen(sent[i].mtext), 0) == -1)
            die_errno("msgsnd");
    }
    exit(0);
}

static void run_steps(int msqid)
{
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        const struct step *s = &steps[i];
        struct message msg;
        ssize_t n;

        list_queue(msqid);
        printf("[receiver] msgrcv(msgtyp %ld%s): %s\n", s->msgtyp,
               s->flags == MSG_EXCEPT   ? ", MSG_EXCEPT"
               : s->flags == IPC_NOWAIT ? ", IPC_NOWAIT"
                                        : "",
               s->meaning);
        if ((n = msgrcv(msqid, &msg, TEXT_MAX, s->msgtyp, s->flags)) == -1) {
            if (errno != ENOMSG)
                die_errno("msgrcv");
            printf("[receiver]   -> fails with ENOMSG: no such message, and no wait\n");
            continue;
        }
        printf("[receiver]   -> \"%.*s\" (type %ld)\n", (int)n, msg.mtext, msg.mtype);
    }
    list_queue(msqid);
}

int main(int argc, char *argv[])
{
    pid_t sender;
    int msqid;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    msqid = sysv_msg_create();
    printf("[receiver] created private queue msqid %d\n", msqid);

    if ((sender = fork_or_die()) == 0)
        run_sender(msqid);
    if (reap_child(sender, "receiver") != 0)
        die("the sender failed");
    run_steps(msqid);
    return 0; /* exit() removes the queue */
}
