/* scaffold.c - the chapter's scaffolding of scaffold.h. */
#define _GNU_SOURCE
#include "scaffold.h"

#include "common.h"
#include "cleanup.h"

#include <errno.h>
#include <signal.h>
#include <sys/msg.h>

void catch_signal(int sig, void (*handler)(int), int flags)
{
    struct sigaction sa = {.sa_handler = handler, .sa_flags = flags};

    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == -1)
        die_errno("sigaction");
}

static void on_stop(int sig)
{
    stop_signal = sig;
}

void catch_stop_signals(void)
{
    catch_signal(SIGINT, on_stop, 0);
    catch_signal(SIGTERM, on_stop, 0);
}

int sysv_msg_create_slot(int *slot)
{
    sigset_t saved;
    int msqid;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    if ((msqid = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("msgget");
    if ((*slot = cleanup_add_sysv_msg(msqid)) == -1) {
        int err = errno; /* ENOSPC: the registry is full */

        msgctl(msqid, IPC_RMID, NULL);
        errno = err;
        die_errno("cleanup_add_sysv_msg");
    }
    stop_signals_release(&saved);
    return msqid;
}

long mq_curmsgs_of(mqd_t mq)
{
    struct mq_attr attr;

    if (mq_getattr(mq, &attr) == -1)
        die_errno("mq_getattr");
    return attr.mq_curmsgs;
}
