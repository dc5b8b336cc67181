/* pitfall_sysv_msgsz.c - msgsz that wrongly includes mtype: 8 bytes too many, both ways
 *
 * msgsnd(id, &msg, sizeof msg, 0) looks natural and is wrong: msgsz is the
 * size of the text after the long mtype.  With sizeof msg the kernel copies
 * sizeof(long) bytes more than mtext holds: the sender ships whatever lies
 * after its struct (here a password), and a receiver that makes the same
 * mistake lets msgrcv() write those bytes past the end of its struct (here
 * over a guard field; in a real program, over the next variable).  No error
 * is reported on either side.  Both structs are wrapped so the bytes beyond
 * them are known and the demonstration stays inside valid memory.
 * --fixed: msgsz = sizeof msg.mtext on both sides.
 *
 * Guide part: pitfall (System V message size).
 * Run: ./pitfall_sysv_msgsz [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

struct message {
    long mtype;
    char mtext[32];
};

/* What follows each struct in memory, made explicit. */
struct outgoing {
    struct message msg;
    char password[16];
};
struct incoming {
    struct message msg;
    char guard[16];
};

/* Bytes as text, with anything unprintable as '.'. */
static void print_bytes(const char *role, const char *what, const char *bytes, size_t n)
{
    printf("[%s] %s: \"", role, what);
    for (size_t i = 0; i < n; i++)
        putchar(isprint((unsigned char)bytes[i]) ? bytes[i] : '.');
    printf("\"\n");
}

static noreturn void run_sender(int msqid, bool fixed)
{
    struct outgoing out = {.msg = {.mtype = 1}, .password = "hunter2-passwd"};
    /* THE FIX: the text's size; sizeof out.msg also counts the long mtype. */
    size_t msgsz = fixed ? sizeof out.msg.mtext : sizeof out.msg;

    memset(out.msg.mtext, 'T', sizeof out.msg.mtext);
    printf("[sender] msgsnd(msgsz = %s = %zu): mtext holds %zu bytes\n",
           fixed ? "sizeof msg.mtext" : "sizeof msg", msgsz, sizeof out.msg.mtext);
    if (msgsnd(msqid, &out.msg, msgsz, 0) == -1)
        die_errno("msgsnd");
    exit(0);
}

static void receive(int msqid, bool fixed)
{
    struct incoming in;
    size_t msgsz = fixed ? sizeof in.msg.mtext : sizeof in.msg;
    struct msqid_ds ds;
    ssize_t n;

    memset(&in, '-', sizeof in);
    if (msgctl(msqid, IPC_STAT, &ds) == -1)
        die_errno("msgctl IPC_STAT");
    printf("[receiver] IPC_STAT: one message, msg_cbytes=%lu\n", (unsigned long)ds.__msg_cbytes);
    printf("[receiver] msgrcv(msgsz = %s = %zu)\n", fixed ? "sizeof msg.mtext" : "sizeof msg",
           msgsz);
    if ((n = msgrcv(msqid, &in.msg, msgsz, 0, 0)) == -1)
        die_errno("msgrcv");
    printf("[receiver] msgrcv returned %zd bytes of text\n", n);
    print_bytes("receiver", "the guard after the struct", in.guard, sizeof in.guard);
    if (memcmp(in.guard, "--------", 8) != 0)
        printf("[receiver] the guard was overwritten with %zd bytes from beyond the sender's "
               "struct: msgrcv wrote past the end of ours\n",
               n - (ssize_t)sizeof in.msg.mtext);
    else
        printf("[receiver] the guard is intact\n");
}

int main(int argc, char *argv[])
{
    pid_t sender;
    bool fixed;
    int msqid;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    msqid = sysv_msg_create();
    printf("[receiver] struct message { long mtype; char mtext[32]; }: sizeof %zu\n",
           sizeof(struct message));

    if ((sender = fork_or_die()) == 0)
        run_sender(msqid, fixed);
    if (reap_child(sender, "receiver") != 0)
        die("the sender failed");
    receive(msqid, fixed);
    return 0; /* exit() removes the queue */
}
