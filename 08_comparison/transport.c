/* transport.c - the ten mechanisms of transport.h.
 *
 * Byte streams (pipe, socketpair, UNIX stream, TCP) write n bytes at once and read until n
 * have come.  Message mechanisms carry chunks: 64 KiB datagrams for the UNIX datagram and
 * seqpacket sockets (under the default 208 KiB socket send buffer, net.core.wmem_default),
 * the queue's own mq_msgsize for POSIX queues, min(kernel.msgmax, kernel.msgmnb) for System V,
 * and the 64 KiB slot of each direction for the two shared-memory transports.
 */
#define _GNU_SOURCE
#include "transport.h"
#include "cleanup.h"
#include "common.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DGRAM_CHUNK 65536
#define SHM_CHUNK 65536
#define PAGE 4096

enum kind {
    PIPE,
    SOCKETPAIR,
    UNIX_STREAM,
    UNIX_DGRAM,
    UNIX_SEQPACKET,
    TCP,
    POSIX_MQ,
    SYSV_MSG,
    SHM_SEM,
    SHM_FUTEX
};

const char *const transport_names[] = {"pipe",           "socketpair", "unix-stream", "unix-dgram",
                                       "unix-seqpacket", "tcp",        "posix-mq",    "sysv-msg",
                                       "shm-sem",        "shm-futex"};
const size_t transport_count = sizeof transport_names / sizeof transport_names[0];

struct channel {                  /* one direction of the shared-memory transports */
    alignas(64) atomic_uint full; /* futex word: 1 while data[] holds an unread message */
    sem_t filled, emptied;        /* the same two states for shm-sem */
    uint32_t len;
    alignas(PAGE) unsigned char data[SHM_CHUNK];
};

struct region {
    struct channel dir[2];
};

struct transport {
    enum kind kind;
    int side; /* -1 until transport_take_side */
    pid_t creator, peer;
    int fd[2][2]; /* pipes: fd[dir][0] read end, fd[dir][1] write end */
    int sock[2];  /* sockets: sock[side] */
    mqd_t mq[2];  /* POSIX queues: mq[dir] */
    int msqid;    /* System V: one queue, mtype dir + 1 */
    int msq_slot; /* its registry slot */
    size_t chunk; /* 0 for a byte stream */
    void *bounce; /* page-aligned: System V's mtype header, short POSIX-queue chunks */
    struct region *shm;
};

static unsigned open_count; /* tells apart the names of one process's transports */

static void *alloc_pages(size_t n)
{
    return aligned_alloc(PAGE, (n + PAGE - 1) / PAGE * PAGE);
}

/* A child that has died stays a zombie until reaped, and kill(pid, 0) still succeeds on a
 * zombie: ask waitid() first, with WNOWAIT so the caller can still reap it.  A peer that is
 * not our child (side 1 asking after its parent) is asked with kill(). */
static bool peer_gone(const struct transport *t)
{
    siginfo_t info = {0};

    if (t->peer <= 0)
        return false;
    if (waitid(P_PID, (id_t)t->peer, &info, WEXITED | WNOHANG | WNOWAIT) == 0)
        return info.si_pid == t->peer;
    return kill(t->peer, 0) == -1 && errno == ESRCH;
}

static int open_pipes(struct transport *t)
{
    if (pipe2(t->fd[0], O_CLOEXEC) == -1)
        return -1;
    return pipe2(t->fd[1], O_CLOEXEC);
}

static int open_socketpair(struct transport *t, int type)
{
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, t->sock);
}

/* A listening socket connected to itself: connect() completes from the backlog before
 * accept(), so one process can make both ends. */
static int connect_pair(struct transport *t, int listener, const struct sockaddr *addr,
                        socklen_t len)
{
    if (listen(listener, 1) == -1)
        return -1;
    t->sock[1] = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->sock[1] == -1 || connect(t->sock[1], addr, len) == -1)
        return -1;
    t->sock[0] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    return t->sock[0] == -1 ? -1 : 0;
}

static int open_unix_stream(struct transport *t)
{
    char dir[256];
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    sigset_t saved;
    int listener, dir_slot, path_slot = -1, rc = -1, saved_errno;

    snprintf(dir, sizeof dir, "%s/ipc_bench.%ld.XXXXXX", tmp_dir(), (long)getpid());
    stop_signals_hold(&saved);
    if (mkdtemp(dir) == NULL) {
        stop_signals_release(&saved);
        return -1;
    }
    dir_slot = cleanup_add_dir(dir);
    stop_signals_release(&saved);
    listener = -1;
    if (strlen(dir) + sizeof "/sock" > sizeof addr.sun_path)
        errno = ENAMETOOLONG; /* a long $TMPDIR: sun_path holds 108 bytes */
    else
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener != -1) {
        memcpy(addr.sun_path, dir, strlen(dir));
        strcat(addr.sun_path, "/sock");
    }
    if (listener != -1) {
        stop_signals_hold(&saved);
        if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0) {
            path_slot = cleanup_add_path(addr.sun_path);
            stop_signals_release(&saved);
            rc = connect_pair(t, listener, (struct sockaddr *)&addr, sizeof addr);
        } else {
            stop_signals_release(&saved);
        }
    }
    saved_errno = errno;
    if (listener != -1)
        close(listener);
    /* The connected pair no longer needs the name. */
    if (path_slot != -1) {
        unlink(addr.sun_path);
        cleanup_forget(path_slot);
    }
    rmdir(dir);
    cleanup_forget(dir_slot);
    errno = saved_errno;
    return rc;
}

static int open_tcp(struct transport *t)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1, rc = -1, saved_errno;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (listener != -1 && bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(listener, (struct sockaddr *)&addr, &len) == 0 &&
        connect_pair(t, listener, (struct sockaddr *)&addr, len) == 0 &&
        setsockopt(t->sock[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
        setsockopt(t->sock[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
        rc = 0;
    saved_errno = errno;
    if (listener != -1)
        close(listener);
    errno = saved_errno;
    return rc;
}

static int open_posix_mq(struct transport *t)
{
    struct mq_attr attr;

    for (int dir = 0; dir < 2; dir++) {
        char name[64];
        sigset_t saved;
        int slot;

        snprintf(name, sizeof name, "/ipc_bench.%ld.%u.%d", (long)getpid(), open_count, dir);
        stop_signals_hold(&saved);
        t->mq[dir] = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, NULL);
        slot = t->mq[dir] == (mqd_t)-1 ? -1 : cleanup_add_mq(name);
        stop_signals_release(&saved);
        if (t->mq[dir] == (mqd_t)-1)
            return -1;
        mq_unlink(name); /* the descriptors keep the queue */
        cleanup_forget(slot);
    }
    if (mq_getattr(t->mq[0], &attr) == -1)
        return -1;
    t->chunk = (size_t)attr.mq_msgsize;
    t->bounce = alloc_pages(t->chunk);
    return t->bounce == NULL ? -1 : 0;
}

static long read_sysctl(const char *path, long fallback)
{
    FILE *f = fopen(path, "re");
    long value = fallback;

    if (f != NULL) {
        if (fscanf(f, "%ld", &value) != 1)
            value = fallback;
        fclose(f);
    }
    return value;
}

static int open_sysv_msg(struct transport *t)
{
    long msgmax = read_sysctl("/proc/sys/kernel/msgmax", 8192);
    long msgmnb = read_sysctl("/proc/sys/kernel/msgmnb", 16384);
    sigset_t saved;

    t->chunk = (size_t)(msgmax < msgmnb ? msgmax : msgmnb);
    t->bounce = alloc_pages(sizeof(long) + t->chunk);
    if (t->bounce == NULL)
        return -1;
    stop_signals_hold(&saved);
    t->msqid = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
    if (t->msqid != -1)
        t->msq_slot = cleanup_add_sysv_msg(t->msqid);
    stop_signals_release(&saved);
    return t->msqid == -1 ? -1 : 0;
}

static int open_shm(struct transport *t)
{
    char name[64];
    sigset_t saved;
    int fd, slot;

    snprintf(name, sizeof name, "/ipc_bench.%ld.%u", (long)getpid(), open_count);
    stop_signals_hold(&saved);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    slot = fd == -1 ? -1 : cleanup_add_shm(name);
    stop_signals_release(&saved);
    if (fd == -1)
        return -1;
    if (ftruncate(fd, sizeof(struct region)) == 0)
        t->shm = mmap(NULL, sizeof(struct region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    shm_unlink(name); /* the mapping keeps the memory */
    cleanup_forget(slot);
    if (t->shm == NULL || t->shm == MAP_FAILED) {
        t->shm = NULL;
        return -1;
    }
    t->chunk = SHM_CHUNK;
    for (int dir = 0; dir < 2; dir++) {
        struct channel *ch = &t->shm->dir[dir];

        atomic_init(&ch->full, 0);
        if (sem_init(&ch->filled, 1, 0) == -1 || sem_init(&ch->emptied, 1, 1) == -1)
            return -1;
    }
    return 0;
}

struct transport *transport_open(const char *name)
{
    struct transport *t;
    size_t k = 0;
    int rc;

    while (k < transport_count && strcmp(name, transport_names[k]) != 0)
        k++;
    if (k == transport_count) {
        errno = EINVAL;
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    *t = (struct transport){.kind = (enum kind)k,
                            .side = -1,
                            .creator = getpid(),
                            .fd = {{-1, -1}, {-1, -1}},
                            .sock = {-1, -1},
                            .mq = {(mqd_t)-1, (mqd_t)-1},
                            .msqid = -1,
                            .msq_slot = -1};
    open_count++;
    switch (t->kind) {
    case PIPE: rc = open_pipes(t); break;
    case SOCKETPAIR: rc = open_socketpair(t, SOCK_STREAM); break;
    case UNIX_STREAM: rc = open_unix_stream(t); break;
    case UNIX_DGRAM: rc = open_socketpair(t, SOCK_DGRAM); break;
    case UNIX_SEQPACKET: rc = open_socketpair(t, SOCK_SEQPACKET); break;
    case TCP: rc = open_tcp(t); break;
    case POSIX_MQ: rc = open_posix_mq(t); break;
    case SYSV_MSG: rc = open_sysv_msg(t); break;
    default: rc = open_shm(t); break;
    }
    if (t->kind == UNIX_DGRAM || t->kind == UNIX_SEQPACKET)
        t->chunk = DGRAM_CHUNK;
    if (rc == -1) {
        int saved_errno = errno;

        transport_close(t);
        errno = saved_errno;
        return NULL;
    }
    return t;
}

static void close_fd(int *fd)
{
    if (*fd != -1)
        close(*fd);
    *fd = -1;
}

void transport_take_side(struct transport *t, int side, pid_t peer)
{
    t->side = side;
    t->peer = peer;
    close_fd(&t->fd[side][0]);     /* the read end of what this side sends */
    close_fd(&t->fd[1 - side][1]); /* the write end of what it receives */
    close_fd(&t->sock[1 - side]);
}

/* A wait on shared memory or a POSIX queue wakes each second to ask whether the peer lives. */
static struct timespec one_second_from_now(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += 1;
    return ts;
}

static int sem_wait_peer(struct transport *t, sem_t *sem)
{
    for (;;) {
        struct timespec deadline = one_second_from_now(CLOCK_MONOTONIC);

        if (sem_clockwait(sem, CLOCK_MONOTONIC, &deadline) == 0)
            return 0;
        if (errno == ETIMEDOUT && peer_gone(t)) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != ETIMEDOUT && errno != EINTR)
            return -1;
    }
}

/* Sleeps while *word == busy (FUTEX_WAIT compares and sleeps in one step, so a wake between
 * the check and the sleep is not lost).  Not FUTEX_PRIVATE: the word is in shared memory. */
static int futex_wait_while(struct transport *t, atomic_uint *word, unsigned busy)
{
    while (atomic_load_explicit(word, memory_order_acquire) == busy) {
        struct timespec one_second = {.tv_sec = 1};

        if (syscall(SYS_futex, word, FUTEX_WAIT, busy, &one_second, NULL, 0) == -1) {
            if (errno == ETIMEDOUT && peer_gone(t)) {
                errno = ECONNRESET;
                return -1;
            }
            if (errno != ETIMEDOUT && errno != EINTR && errno != EAGAIN)
                return -1;
        }
    }
    return 0;
}

static void futex_set_and_wake(atomic_uint *word, unsigned value)
{
    atomic_store_explicit(word, value, memory_order_release);
    syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int shm_send_chunk(struct transport *t, const unsigned char *p, size_t len)
{
    struct channel *ch = &t->shm->dir[t->side];

    if (t->kind == SHM_SEM ? sem_wait_peer(t, &ch->emptied) : futex_wait_while(t, &ch->full, 1))
        return -1;
    memcpy(ch->data, p, len);
    ch->len = (uint32_t)len;
    if (t->kind == SHM_SEM)
        return sem_post(&ch->filled);
    futex_set_and_wake(&ch->full, 1);
    return 0;
}

static int shm_recv_chunk(struct transport *t, unsigned char *p, size_t len)
{
    struct channel *ch = &t->shm->dir[1 - t->side];

    if (t->kind == SHM_SEM ? sem_wait_peer(t, &ch->filled) : futex_wait_while(t, &ch->full, 0))
        return -1;
    if (ch->len != len) {
        errno = EPROTO;
        return -1;
    }
    memcpy(p, ch->data, len);
    if (t->kind == SHM_SEM)
        return sem_post(&ch->emptied);
    futex_set_and_wake(&ch->full, 0);
    return 0;
}

static int mq_send_chunk(struct transport *t, const unsigned char *p, size_t len)
{
    for (;;) {
        struct timespec deadline = one_second_from_now(CLOCK_REALTIME);

        if (mq_timedsend(t->mq[t->side], (const char *)p, len, 0, &deadline) == 0)
            return 0;
        if (errno == ETIMEDOUT && peer_gone(t))
            errno = ECONNRESET;
        else if (errno == ETIMEDOUT || errno == EINTR)
            continue;
        return -1;
    }
}

static int mq_recv_chunk(struct transport *t, unsigned char *p, size_t len)
{
    /* mq_receive wants room for a whole mq_msgsize: a shorter last chunk goes via bounce. */
    unsigned char *into = len == t->chunk ? p : t->bounce;

    for (;;) {
        struct timespec deadline = one_second_from_now(CLOCK_REALTIME);
        ssize_t got = mq_timedreceive(t->mq[1 - t->side], (char *)into, t->chunk, NULL, &deadline);

        if (got >= 0) {
            if ((size_t)got != len) {
                errno = EPROTO;
                return -1;
            }
            if (into != p)
                memcpy(p, into, len);
            return 0;
        }
        if (errno == ETIMEDOUT && peer_gone(t))
            errno = ECONNRESET;
        else if (errno == ETIMEDOUT || errno == EINTR)
            continue;
        return -1;
    }
}

/* struct msgbuf is a long mtype followed by the text: the bytes are copied in and out of
 * bounce on each side, a copy that the API's layout asks of every program using it. */
static int sysv_send_chunk(struct transport *t, const unsigned char *p, size_t len)
{
    long mtype = t->side + 1;

    memcpy(t->bounce, &mtype, sizeof mtype);
    memcpy((char *)t->bounce + sizeof mtype, p, len);
    while (msgsnd(t->msqid, t->bounce, len, 0) == -1)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int sysv_recv_chunk(struct transport *t, unsigned char *p, size_t len)
{
    ssize_t got;

    while ((got = msgrcv(t->msqid, t->bounce, t->chunk, 2 - t->side, 0)) == -1)
        if (errno != EINTR)
            return -1;
    if ((size_t)got != len) {
        errno = EPROTO;
        return -1;
    }
    memcpy(p, (char *)t->bounce + sizeof(long), len);
    return 0;
}

static int sock_send_chunk(struct transport *t, const unsigned char *p, size_t len)
{
    ssize_t sent;

    while ((sent = send(t->sock[t->side], p, len, MSG_NOSIGNAL)) == -1)
        if (errno != EINTR)
            return -1;
    if ((size_t)sent != len) { /* a datagram goes whole or not at all */
        errno = EPROTO;
        return -1;
    }
    return 0;
}

static int sock_recv_chunk(struct transport *t, unsigned char *p, size_t len)
{
    ssize_t got;

    /* MSG_TRUNC: the real length of a longer datagram, not the part that fitted. */
    while ((got = recv(t->sock[t->side], p, len, MSG_TRUNC)) == -1)
        if (errno != EINTR)
            return -1;
    if (got == 0) {
        errno = ECONNRESET;
        return -1;
    }
    if ((size_t)got != len) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

struct chunk_ops {
    int (*send)(struct transport *t, const unsigned char *p, size_t len);
    int (*recv)(struct transport *t, unsigned char *p, size_t len);
};

static const struct chunk_ops *chunk_ops(const struct transport *t)
{
    static const struct chunk_ops mq = {mq_send_chunk, mq_recv_chunk};
    static const struct chunk_ops sysv = {sysv_send_chunk, sysv_recv_chunk};
    static const struct chunk_ops shm = {shm_send_chunk, shm_recv_chunk};
    static const struct chunk_ops sock = {sock_send_chunk, sock_recv_chunk};

    return t->kind == POSIX_MQ ? &mq : t->kind == SYSV_MSG ? &sysv : t->shm != NULL ? &shm : &sock;
}

/* The rule of transport.h: ceil(n / chunk) messages, each `chunk` bytes but the last; zero
 * bytes are one empty message, so that a send of 0 still meets its receive. */
static size_t chunk_count(const struct transport *t, size_t n)
{
    return n == 0 ? 1 : (n + t->chunk - 1) / t->chunk;
}

static size_t chunk_len(const struct transport *t, size_t n, size_t i)
{
    return n - i * t->chunk < t->chunk ? n - i * t->chunk : t->chunk;
}

int transport_send(struct transport *t, const void *buf, size_t n)
{
    const unsigned char *p = buf;

    switch (t->kind) {
    case PIPE: return write_full(t->fd[t->side][1], buf, n) == -1 ? -1 : 0;
    case SOCKETPAIR:
    case UNIX_STREAM:
    case TCP:
        while (n > 0) {
            ssize_t sent = send(t->sock[t->side], p, n, MSG_NOSIGNAL);

            if (sent == -1 && errno != EINTR)
                return -1;
            if (sent > 0) {
                p += sent;
                n -= (size_t)sent;
            }
        }
        return 0;
    default: break;
    }
    for (size_t i = 0; i < chunk_count(t, n); i++)
        if (chunk_ops(t)->send(t, p + i * t->chunk, chunk_len(t, n, i)) == -1)
            return -1;
    return 0;
}

int transport_recv(struct transport *t, void *buf, size_t n)
{
    unsigned char *p = buf;

    switch (t->kind) {
    case PIPE:
    case SOCKETPAIR:
    case UNIX_STREAM:
    case TCP: {
        int fd = t->kind == PIPE ? t->fd[1 - t->side][0] : t->sock[t->side];
        ssize_t got = read_full(fd, buf, n);

        if (got == -1)
            return -1;
        if ((size_t)got != n) {
            errno = ECONNRESET;
            return -1;
        }
        return 0;
    }
    default: break;
    }
    for (size_t i = 0; i < chunk_count(t, n); i++)
        if (chunk_ops(t)->recv(t, p + i * t->chunk, chunk_len(t, n, i)) == -1)
            return -1;
    return 0;
}

size_t transport_chunk(const struct transport *t)
{
    return t->chunk;
}

const char *transport_name(const struct transport *t)
{
    return transport_names[t->kind];
}

void transport_close(struct transport *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        close_fd(&t->fd[i][0]);
        close_fd(&t->fd[i][1]);
        close_fd(&t->sock[i]);
        if (t->mq[i] != (mqd_t)-1)
            mq_close(t->mq[i]);
    }
    if (t->msqid != -1 && getpid() == t->creator) {
        msgctl(t->msqid, IPC_RMID, NULL);
        cleanup_forget(t->msq_slot);
    }
    if (t->shm != NULL)
        munmap(t->shm, sizeof *t->shm);
    free(t->bounce);
    free(t);
}
