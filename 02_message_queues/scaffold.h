/* scaffold.h - scaffolding shared by the programs of 02_message_queues, not their lesson.
 *
 * The chapter's module: the few lines of setup that several programs repeated word for word
 * (a signal handler without SA_RESTART, a private System V queue whose registry slot is
 * wanted back, the number of messages on a POSIX queue).  Each dies (die_errno) on failure.
 * test_scaffold checks it.
 */
#ifndef SCAFFOLD_H
#define SCAFFOLD_H

#include <mqueue.h>

/* sigaction(sig) with an empty sa_mask and sa_flags = flags.  Without SA_RESTART (flags 0)
 * a handled signal makes a waiting msgrcv(), mq_receive() or read() fail with EINTR. */
void catch_signal(int sig, void (*handler)(int), int flags);
/* SIGINT and SIGTERM only store their number in stop_signal (cleanup.h), without
 * SA_RESTART; unlike stop_signals_to_flag() they stay unblocked, for a loop that waits with
 * a timeout (mq_timedreceive) and looks at stop_signal after each wake-up. */
void catch_stop_signals(void);
/* A private System V queue (IPC_PRIVATE, IPC_EXCL, 0600), created and registered with the
 * stop signals held across the two; *slot gets its registry entry, for cleanup_forget()
 * once another process has removed the queue.  Returns the msqid. */
int sysv_msg_create_slot(int *slot);
/* mq_curmsgs of mq_getattr(): how many messages wait on the queue now. */
long mq_curmsgs_of(mqd_t mq);

#endif
