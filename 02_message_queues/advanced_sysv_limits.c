/* advanced_sysv_limits.c - the kernel's side of System V queues: msgmnb, msqid_ds as a queue fills
 *
 * kernel.msgmax, msgmnb and msgmni, then a child fills a queue with
 * 4000-byte messages until msgsnd() blocks: msqid_ds from IPC_STAT
 * (msg_qnum, msg_cbytes, msg_qbytes, msg_lspid, msg_lrpid) is read before,
 * while the filler sleeps in the kernel, and after one receive lets it go on,
 * beside the line /proc/sysvipc/msg shows (what ipcs -q prints).  Last, what
 * needs a privilege: raising msg_qbytes above msgmnb (EPERM without
 * CAP_SYS_RESOURCE), and a message above msgmax (EINVAL for everyone).
 *
 * Guide part: kernel (ipc/msg.c: do_msgsnd, msg_fits_inqueue; /proc/sysvipc/msg).
 * Run: ./advanced_sysv_limits
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "scaffold.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

static const char usage[] = "";

enum { SYSV_TEXT = 4000 };

static long knob(const char *path, const char *meaning)
{
    long v = -1;

    if (sysctl_long(path, &v) == -1)
        printf("[kernel] /proc/sys/%-24s (not readable: %s)\n", path, strerror(errno));
    else
        printf("[kernel] /proc/sys/%-24s %8ld  %s\n", path, v, meaning);
    return v;
}

static void show_msqid_ds(int msqid)
{
    struct msqid_ds ds;
    char line[256];
    FILE *fp;
    int id;
    unsigned long cbytes, qnum;

    if (msgctl(msqid, IPC_STAT, &ds) == -1)
        die_errno("msgctl IPC_STAT");
    printf("[sysv] IPC_STAT: msg_qnum=%lu msg_cbytes=%lu msg_qbytes=%lu msg_lspid=%d "
           "msg_lrpid=%d\n",
           (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes,
           (int)ds.msg_lspid, (int)ds.msg_lrpid);
    if ((fp = fopen("/proc/sysvipc/msg", "r")) == NULL)
        return;
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "%*d %d %*o %lu %lu", &id, &cbytes, &qnum) == 3 && id == msqid)
            printf("[sysv] /proc/sysvipc/msg (ipcs -q): msqid %d, cbytes %lu, qnum %lu\n", id,
                   cbytes, qnum);
    fclose(fp);
}

static noreturn void run_filler(int msqid)
{
    static struct {
        long mtype;
        char mtext[SYSV_TEXT];
    } msg = {.mtype = 1};

    for (int i = 1; i <= 5; i++) {
        printf("[filler] msgsnd #%d: %d bytes\n", i, SYSV_TEXT);
        if (msgsnd(msqid, &msg, sizeof msg.mtext, 0) == -1)
            die_errno("msgsnd");
    }
    exit(0);
}

static void sysv_fill(long msgmax, long msgmnb)
{
    struct {
        long mtype;
        char mtext[SYSV_TEXT];
    } msg;
    int msqid, slot;
    struct msqid_ds ds;
    long *big;
    pid_t filler;
    bool asleep;

    msqid = sysv_msg_create_slot(&slot);
    show_msqid_ds(msqid);
    if ((filler = fork_or_die()) == 0)
        run_filler(msqid);
    asleep = proc_wait_wchan(filler, "do_msgsnd", 5000) == 0; /* 5 s: valgrind is slow */
    printf("[sysv] the filler sleeps in %s: 4 x %d bytes queued, one more would pass msg_qbytes\n",
           asleep ? "do_msgsnd" : "(wait channel not shown)", SYSV_TEXT);
    show_msqid_ds(msqid);
    if (msgrcv(msqid, &msg, sizeof msg.mtext, 0, 0) == -1)
        die_errno("msgrcv");
    printf("[sysv] took one message: the filler's fifth msgsnd goes through\n");
    reap_child(filler, "sysv");
    show_msqid_ds(msqid);

    if (msgctl(msqid, IPC_STAT, &ds) == -1)
        die_errno("msgctl IPC_STAT");
    ds.msg_qbytes = (msglen_t)msgmnb * 2;
    printf("[sysv] IPC_SET msg_qbytes=%ld (twice msgmnb): %s\n", msgmnb * 2,
           msgctl(msqid, IPC_SET, &ds) == -1 ? strerrorname_np(errno) : "allowed");
    /* A buffer that really holds msgmax + 1 bytes: the kernel refuses the size
     * before it reads any, but the call must not name memory we do not have. */
    if ((big = calloc(1, sizeof(long) + (size_t)msgmax + 1)) == NULL)
        die_errno("calloc");
    *big = 1; /* mtype */
    printf("[sysv] msgsnd of msgmax + 1 = %ld bytes: %s\n", msgmax + 1,
           msgsnd(msqid, big, (size_t)msgmax + 1, IPC_NOWAIT) == -1 ? strerrorname_np(errno)
                                                                    : "sent");
    free(big);
    if (msgctl(msqid, IPC_RMID, NULL) == -1)
        die_errno("msgctl IPC_RMID");
    cleanup_forget(slot);
}

int main(int argc, char *argv[])
{
    long msgmax, msgmnb;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    msgmax = knob("kernel/msgmax", "largest message (bytes)");
    msgmnb = knob("kernel/msgmnb", "a new queue's msg_qbytes (bytes)");
    knob("kernel/msgmni", "queues in this IPC namespace");
    if (msgmax <= 0 || msgmnb <= 0)
        die("cannot read the limits from /proc/sys/kernel");
    sysv_fill(msgmax, msgmnb);
    return 0;
}
