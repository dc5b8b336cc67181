/* basic_sysv_msg.c - a System V queue between two processes: msgget, msgsnd, msgrcv, IPC_RMID
 *
 * A System V message is a struct the program defines, starting with a long
 * mtype (> 0) followed by the data.  msgsnd() and msgrcv() take the size of
 * the data only, never of mtype: the kernel copies mtype separately.  The
 * queue is found by its identifier (from msgget), lives in the kernel until
 * msgctl(IPC_RMID), and that removal is immediate: a process still waiting
 * in msgrcv() is woken with EIDRM, unlike a POSIX queue that lives on open.
 *
 * Guide part: theory (System V message queues).
 * Run: ./basic_sysv_msg
 *      two terminals: ./basic_sysv_msg --receive            (prints its msqid; Ctrl-C removes it)
 *                     ./basic_sysv_msg --send MSQID hi there (one message per word)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

static const char usage[] = "[--receive | --send MSQID TEXT...]";

enum { TEXT_MAX = 64 };

/* The layout msgsnd() expects: a long type, then the data.  Only the data counts in msgsz. */
struct message {
    long mtype;
    char mtext[TEXT_MAX];
};

/* What msgrcv() fills: room for TEXT_MAX bytes and a NUL of our own, since a
 * peer's text need not end in one. */
struct received {
    long mtype;
    char mtext[TEXT_MAX + 1];
};

/* Creates a private queue; *slot is its registry entry, for cleanup_forget(). */
static int create_queue(const char *role, int *slot)
{
    sigset_t saved;
    int msqid;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    if ((msqid = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("msgget");
    if ((*slot = cleanup_add_sysv_msg(msqid)) == -1)
        die_errno("cleanup_add_sysv_msg");
    stop_signals_release(&saved);
    printf("[%s] msgget(IPC_PRIVATE, IPC_CREAT|IPC_EXCL|0600) = msqid %d\n", role, msqid);
    return msqid;
}

static void send_text(const char *role, int msqid, long mtype, const char *text)
{
    struct message msg = {.mtype = mtype};
    size_t msgsz = strlen(text) + 1; /* the text and its NUL: mtype is not counted */

    if (msgsz > sizeof msg.mtext)
        die("message \"%s\" is longer than %d bytes", text, TEXT_MAX - 1);
    memcpy(msg.mtext, text, msgsz);
    printf("[%s] msgsnd mtype=%ld \"%s\", msgsz=%zu\n", role, mtype, text, msgsz);
    if (msgsnd(msqid, &msg, msgsz, 0) == -1)
        die_errno("msgsnd");
}

/* msgrcv() returns the number of data bytes it copied, mtype excluded. */
static ssize_t receive_text(int msqid, struct received *msg)
{
    ssize_t n = msgrcv(msqid, msg, TEXT_MAX, 0, 0);

    if (n >= 0)
        msg->mtext[n] = '\0';
    return n;
}

static void show_stat(const char *role, int msqid)
{
    struct msqid_ds ds;

    if (msgctl(msqid, IPC_STAT, &ds) == -1)
        die_errno("msgctl IPC_STAT");
    printf("[%s] IPC_STAT: msg_qnum=%lu msg_cbytes=%lu msg_qbytes=%lu msg_lspid=%d\n", role,
           (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes,
           (int)ds.msg_lspid);
}

/* A child waits in msgrcv() for a message that never comes; IPC_RMID wakes it. */
static void remove_under_a_waiter(int msqid, int slot)
{
    pid_t waiter = fork_or_die();
    bool asleep;

    if (waiter == 0) {
        struct received msg;

        if (receive_text(msqid, &msg) != -1 || errno != EIDRM)
            die_errno("msgrcv should have failed with EIDRM");
        printf("[waiter] msgrcv failed with EIDRM: the queue was removed under it\n");
        exit(0);
    }
    asleep = proc_wait_wchan(waiter, "do_msgrcv", 5000) == 0; /* 5 s: valgrind is slow */
    printf("[parent] a waiter, pid %d, sleeps in msgrcv (kernel wait channel: %s)\n", (int)waiter,
           asleep ? "do_msgrcv" : "(not shown)");
    printf("[parent] msgctl(IPC_RMID): the queue goes now, waiter or not\n");
    if (msgctl(msqid, IPC_RMID, NULL) == -1)
        die_errno("msgctl IPC_RMID");
    cleanup_forget(slot);
    if (reap_child(waiter, "parent") != 0)
        die("the waiter did not see EIDRM");
}

static void demo(void)
{
    static const char *const texts[] = {"hello", "from the", "sender"};
    struct received msg;
    int slot, msqid = create_queue("parent", &slot);
    pid_t sender;
    ssize_t n;

    printf("[parent] sizeof(struct message) is %zu: a long mtype (%zu) and mtext[%d]\n",
           sizeof(struct message), sizeof(long), TEXT_MAX);
    if ((sender = fork_or_die()) == 0) {
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            send_text("sender", msqid, 1, texts[i]);
        exit(0);
    }
    if (reap_child(sender, "parent") != 0)
        die("the sender failed");
    printf("[parent] the sender is gone; its messages wait in the kernel:\n");
    show_stat("parent", msqid);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if ((n = receive_text(msqid, &msg)) == -1)
            die_errno("msgrcv");
        printf("[parent] msgrcv returned %zd: mtype=%ld \"%s\"\n", n, msg.mtype, msg.mtext);
    }
    show_stat("parent", msqid);
    remove_under_a_waiter(msqid, slot);
    if (msgsnd(msqid, &msg, 1, IPC_NOWAIT) == -1)
        printf("[parent] msgsnd to msqid %d after IPC_RMID: %s\n", msqid, strerror(errno));
}

/* --receive: prints every message until Ctrl-C, whose handler removes the queue. */
static void run_receiver(void)
{
    int slot, msqid = create_queue("receiver", &slot);
    struct received msg;
    ssize_t n;

    printf("[receiver] send with: %s --send %d TEXT...; Ctrl-C removes the queue\n", prog_name(),
           msqid);
    while ((n = receive_text(msqid, &msg)) != -1)
        printf("[receiver] msgrcv returned %zd: mtype=%ld \"%s\"\n", n, msg.mtype, msg.mtext);
    die_errno("msgrcv");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"receive", no_argument, NULL, 'r'},
        {"send", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *msqid_arg = NULL;
    int c, mode = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "rs:h", longopts, usage)) != -1) {
        if (mode != 0)
            die_usage(usage, "give only one of --receive and --send");
        mode = c;
        msqid_arg = optarg;
    }
    if (mode == 's') {
        int msqid = (int)cli_long(msqid_arg, 0, INT32_MAX, "MSQID", usage);

        if (optind == argc)
            die_usage(usage, "--send needs at least one TEXT to send");
        for (int i = optind; i < argc; i++)
            send_text("sender", msqid, 1, argv[i]);
        return 0;
    }
    cli_no_operands(argc, argv, usage);
    if (mode == 'r')
        run_receiver();
    demo();
    return 0;
}
