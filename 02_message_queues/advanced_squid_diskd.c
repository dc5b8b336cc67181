/* advanced_squid_diskd.c - Squid's diskd: disk I/O handed to a helper over two System V queues
 *
 * Real-world pattern: Squid's "diskd" cache_dir type keeps the proxy from
 * blocking on disk I/O.  Squid starts the diskd helper with the identifiers
 * of two System V queues: it sends requests on one, each with mtype = the
 * operation (_MQD_OPEN, _MQD_CREATE, _MQD_CLOSE, _MQD_READ, _MQD_WRITE,
 * _MQD_UNLINK), a file id and a sequence number, and collects the replies,
 * same mtype and id plus a status, from the other, without waiting for each.
 * It counts the requests "away"; cache_dir's Q1 and Q2 bound them: above Q1
 * Squid sheds load (no new files opened, unlinks done by itself), above Q2
 * it blocks until replies come back.  diskd wakes from msgrcv() on a timer
 * (msgrcv() is never restarted after a signal, even with SA_RESTART) to check
 * its stdin pipe: EOF means Squid is gone, and it removes both queues.
 * Left out: the shared memory segment that carries paths and data (here the
 * bytes travel in the message; shared memory is chapter 04), the key scheme
 * (Squid derives keys from its pid; IPC_PRIVATE here), the hash of open files.
 *
 * Guide part: real-world (Squid's diskd helper: request and reply queues, Q1/Q2).
 * Run: ./advanced_squid_diskd
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"
#include "scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/time.h>
#include <unistd.h>

static const char usage[] = "";

/* The operations, in diomsg.h's order. */
enum { MQD_NOP, MQD_OPEN, MQD_CREATE, MQD_CLOSE, MQD_READ, MQD_WRITE, MQD_UNLINK };
static const char *const op_names[] = {"NOP", "OPEN", "CREATE", "CLOSE", "READ", "WRITE", "UNLINK"};

enum { Q1 = 3, Q2 = 5, MAX_FILES = 16, DATA_MAX = 256, DISK_MS = 15, TICK_MS = 100 };

struct diomsg {
    long mtype; /* the operation */
    int id;     /* which file */
    int seq_no;
    int size;            /* bytes to read or write */
    int flags;           /* open() flags (diskd passes them in offset) */
    int status;          /* reply: the result, or -errno */
    char data[DATA_MAX]; /* a path, or the bytes (shared memory in Squid) */
};
#define MSG_SIZE (sizeof(struct diomsg) - sizeof(long))

/* ---- diskd ---------------------------------------------------------------- */

static void on_tick(int sig)
{
    (void)sig;
}

static int do_op(const struct diomsg *r, struct diomsg *s, int *fds)
{
    int fd = r->id >= 0 && r->id < MAX_FILES ? fds[r->id] : -1;
    ssize_t n;

    sleep_ms(DISK_MS); /* a busy disk: what Squid must not wait for */
    switch (r->mtype) {
    case MQD_OPEN:
    case MQD_CREATE:
        if (r->id < 0 || r->id >= MAX_FILES || fd != -1)
            return -EBADF;
        if ((fds[r->id] = open(r->data, r->flags | O_CLOEXEC, 0600)) == -1)
            return -errno;
        return fds[r->id];
    case MQD_CLOSE:
        if (fd == -1)
            return -EBADF;
        fds[r->id] = -1;
        return close(fd) == -1 ? -errno : 0;
    case MQD_READ:
        if (fd == -1 || r->size < 0 || r->size > DATA_MAX)
            return -EBADF;
        n = read(fd, s->data, (size_t)r->size);
        return n == -1 ? -errno : (int)n;
    case MQD_WRITE:
        if (fd == -1 || r->size < 0 || r->size > DATA_MAX)
            return -EBADF;
        n = write(fd, r->data, (size_t)r->size);
        return n == -1 ? -errno : (int)n;
    case MQD_UNLINK: return unlink(r->data) == -1 ? -errno : 0;
    default: return -EINVAL;
    }
}

static noreturn void run_diskd(int requests, int replies, int lifeline)
{
    struct itimerval tick = {{0, TICK_MS * 1000}, {0, TICK_MS * 1000}};
    int fds[MAX_FILES], served = 0;
    char byte;

    for (int i = 0; i < MAX_FILES; i++)
        fds[i] = -1;
    catch_signal(SIGALRM, on_tick, SA_RESTART);
    setitimer(ITIMER_REAL, &tick, NULL); /* diskd itself uses alarm(1) */
    fcntl(lifeline, F_SETFL, O_NONBLOCK);
    printf("[diskd] pid %d: requests on msqid %d, replies on msqid %d\n", (int)getpid(), requests,
           replies);
    for (;;) {
        struct diomsg r, s;

        if (msgrcv(requests, &r, MSG_SIZE, 0, 0) == -1) {
            if (errno != EINTR)
                die_errno("diskd: msgrcv");
            if (read(lifeline, &byte, 1) == 0)
                break; /* EOF: Squid is gone */
            continue;
        }
        s = (struct diomsg){.mtype = r.mtype, .id = r.id, .seq_no = r.seq_no};
        s.status = do_op(&r, &s, fds);
        served++;
        if (msgsnd(replies, &s, MSG_SIZE, 0) == -1)
            die_errno("diskd: msgsnd");
    }
    printf("[diskd] stdin at EOF after %d requests: Squid is gone; removing both queues\n", served);
    msgctl(requests, IPC_RMID, NULL);
    msgctl(replies, IPC_RMID, NULL);
    for (int i = 0; i < MAX_FILES; i++)
        if (fds[i] != -1)
            close(fds[i]);
    close(lifeline);
    exit(0);
}

/* ---- Squid's side ---------------------------------------------------------- */

static struct {
    int requests, replies; /* msqids: Squid sends on the first */
    int away, seq, sent, sync_unlinks;
    char dir[200]; /* a path must fit a message's data */
} squid;

static void object_path(const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s", squid.dir, name);
}

/* Takes one reply: waiting for it, or only if one is there.  False if none. */
static bool collect(bool wait)
{
    struct diomsg s;

    if (msgrcv(squid.replies, &s, MSG_SIZE, 0, wait ? 0 : IPC_NOWAIT) == -1) {
        if (!wait && errno == ENOMSG)
            return false;
        die_errno("squid: msgrcv");
    }
    squid.away--;
    if (s.mtype == MQD_READ && s.status > 0)
        printf("[squid] <- READ id %d seq %d: %d bytes \"%.*s\"\n", s.id, s.seq_no, s.status,
               (int)strcspn(s.data, "\r\n"), s.data);
    else
        printf("[squid] <- %s id %d seq %d: status %d%s\n", op_names[s.mtype], s.id, s.seq_no,
               s.status, s.status < 0 ? " (failed)" : "");
    return true;
}

/* DiskdIOStrategy::send(): above Q2 requests away, block for replies first. */
static void send_op(long op, int id, int flags, const char *data, int size)
{
    struct diomsg r = {.mtype = op, .id = id, .seq_no = ++squid.seq, .size = size, .flags = flags};

    if (squid.away > Q2)
        printf("[squid] %d away > Q2=%d: blocking until diskd answers\n", squid.away, Q2);
    while (squid.away > Q2)
        collect(true);
    if (data != NULL) /* a path (with its NUL) or the bytes to write; READ asks for `size` */
        memcpy(r.data, data, (size_t)size < sizeof r.data ? (size_t)size : sizeof r.data);
    if (msgsnd(squid.requests, &r, MSG_SIZE, 0) == -1)
        die_errno("squid: msgsnd");
    squid.away++;
    squid.sent++;
    printf("[squid] -> %s id %d seq %d (away %d)\n", op_names[op], id, r.seq_no, squid.away);
}

static void send_path(long op, int id, int flags, const char *name)
{
    char path[DATA_MAX];

    object_path(name, path, sizeof path);
    send_op(op, id, flags, path, (int)strlen(path) + 1);
}

/* DiskdIOStrategy::unlinkFile(): above Q1 (shedLoad), Squid unlinks by itself. */
static void unlink_object(const char *name)
{
    char path[DATA_MAX];

    if (squid.away > Q1) {
        object_path(name, path, sizeof path);
        printf("[squid] %d away > Q1=%d: shedding load, unlink(%s) done by Squid itself\n",
               squid.away, Q1, name);
        if (unlink(path) == -1)
            die_errno("unlink %s", path);
        squid.sync_unlinks++;
        return;
    }
    send_path(MQD_UNLINK, 0, 0, name);
}

static void drain_replies(void)
{
    while (squid.away > 0)
        collect(true);
}

/* Registers an object's path before anyone creates it. */
static void register_object(const char *name)
{
    char path[DATA_MAX];

    object_path(name, path, sizeof path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
}

int main(int argc, char *argv[])
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    int slots[2], lifeline[2];
    struct msqid_ds ds;
    char name[32];
    pid_t diskd;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);
    make_temp_dir(squid.dir, sizeof squid.dir, "advanced_squid_diskd");
    squid.requests = sysv_msg_create_slot(&slots[0]);
    squid.replies = sysv_msg_create_slot(&slots[1]);
    if (pipe(lifeline) == -1)
        die_errno("pipe");
    printf("[squid] cache_dir diskd %s Q1=%d Q2=%d\n", squid.dir, Q1, Q2);
    if ((diskd = fork_or_die()) == 0) {
        close(lifeline[1]);
        run_diskd(squid.requests, squid.replies, lifeline[0]);
    }
    close(lifeline[0]);

    printf("[squid] --- storing an object: CREATE, WRITE, CLOSE, without waiting for each\n");
    register_object("00000001");
    send_path(MQD_CREATE, 1, O_WRONLY | O_CREAT | O_EXCL, "00000001");
    send_op(MQD_WRITE, 1, 0, reply, (int)strlen(reply));
    send_op(MQD_CLOSE, 1, 0, NULL, 0);
    drain_replies();
    printf("[squid] --- a cache hit: OPEN, READ, CLOSE\n");
    send_path(MQD_OPEN, 2, O_RDONLY, "00000001");
    send_op(MQD_READ, 2, 0, NULL, 64);
    send_op(MQD_CLOSE, 2, 0, NULL, 0);
    drain_replies();

    printf("[squid] --- a big object: 8 writes in a row to a slow disk\n");
    register_object("00000002");
    send_path(MQD_CREATE, 3, O_WRONLY | O_CREAT | O_EXCL, "00000002");
    for (int i = 0; i < 8; i++)
        send_op(MQD_WRITE, 3, 0, reply, (int)strlen(reply));
    send_op(MQD_CLOSE, 3, 0, NULL, 0);
    drain_replies();

    printf("[squid] --- purging 6 objects at once\n");
    for (int i = 3; i <= 6; i++) { /* objects cached by an earlier run */
        char path[DATA_MAX];
        int fd;

        snprintf(name, sizeof name, "%08d", i);
        register_object(name);
        object_path(name, path, sizeof path);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1 ||
            close(fd) == -1)
            die_errno("create %s", path);
    }
    for (int i = 1; i <= 6; i++) {
        snprintf(name, sizeof name, "%08d", i);
        unlink_object(name);
    }
    drain_replies();
    printf("[squid] %d requests sent, all answered; %d unlinks done by Squid itself\n", squid.sent,
           squid.sync_unlinks);

    printf("[squid] exiting: closing diskd's stdin\n");
    close(lifeline[1]);
    reap_child(diskd, "squid");
    if (msgctl(squid.requests, IPC_STAT, &ds) == -1 && msgctl(squid.replies, IPC_STAT, &ds) == -1)
        printf("[squid] both queues are gone: diskd removed them\n");
    cleanup_forget(slots[0]);
    cleanup_forget(slots[1]);
    return 0; /* exit() removes the directory */
}
