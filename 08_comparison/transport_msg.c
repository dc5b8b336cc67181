/* transport_msg.c - the message mechanisms: UNIX datagram and seqpacket, UDP loopback, POSIX
 * and System V queues, and the port of 03_mailboxes (its mailbox.c, built into this chapter).
 *
 * Each carries n bytes as chunks (transport.h): 64 KiB datagrams for the UNIX sockets (under
 * the default 208 KiB send buffer, net.core.wmem_default), 32 KiB for UDP, the queue's own
 * mq_msgsize for POSIX queues, min(kernel.msgmax, kernel.msgmnb) for System V, and a port
 * message's 176-byte payload (MB_MAX_PAYLOAD) for the mailbox port.  Every receive checks the
 * length of what came, so a lost, merged or truncated message is EPROTO.
 */
#define _GNU_SOURCE
#include "transport_impl.h"
#include "../03_mailboxes/mailbox.h"
#include "cleanup.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#define UNIX_DGRAM_CHUNK 65536
#define UDP_CHUNK 32768
/* UDP has no back-pressure: on loopback a datagram that finds the receive buffer
 * (net.core.rmem_default, 208 KiB) full is dropped.  So the receiver grants credit: after
 * every UDP_WINDOW_BYTES or UDP_WINDOW_MSGS datagrams, whichever comes first, it sends one
 * empty datagram back, and the sender waits for it before going on.  In flight at most 64 KiB
 * of payload, well under the buffer even with each datagram's overhead (its truesize). */
#define UDP_WINDOW_BYTES 65536
#define UDP_WINDOW_MSGS 32
#define MAILBOX_CAPACITY 64

static int dgram_send(struct transport *t, const unsigned char *p, size_t len)
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

/* One datagram of exactly len bytes.  MSG_TRUNC: the real length of a longer datagram, not
 * the part that fitted.  0 bytes when len > 0 is the end of file of seqpacket. */
static int dgram_recv(struct transport *t, unsigned char *p, size_t len)
{
    ssize_t got;

    while ((got = recv(t->sock[t->side], p, len, MSG_TRUNC)) == -1)
        if (errno != EINTR)
            return -1;
    if (got == 0 && len > 0) {
        errno = ECONNRESET;
        return -1;
    }
    if ((size_t)got != len) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

static int open_unix_pair(struct transport *t, int type)
{
    t->chunk = UNIX_DGRAM_CHUNK;
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, t->sock);
}

static int open_unix_dgram(struct transport *t)
{
    return open_unix_pair(t, SOCK_DGRAM);
}

static int open_unix_seqpacket(struct transport *t)
{
    return open_unix_pair(t, SOCK_SEQPACKET);
}

/* Two loopback sockets bound to ports of the kernel's choice and connected to each other:
 * each then receives datagrams from its peer only. */
static int open_udp(struct transport *t)
{
    struct sockaddr_in addr[2];

    t->chunk = UDP_CHUNK;
    for (int s = 0; s < 2; s++) {
        socklen_t len = sizeof addr[s];

        addr[s] =
            (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        t->sock[s] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (t->sock[s] == -1 || bind(t->sock[s], (struct sockaddr *)&addr[s], len) == -1 ||
            getsockname(t->sock[s], (struct sockaddr *)&addr[s], &len) == -1)
            return -1;
    }
    for (int s = 0; s < 2; s++)
        if (connect(t->sock[s], (struct sockaddr *)&addr[1 - s], sizeof addr[1 - s]) == -1)
            return -1;
    return 0;
}

/* A datagram waits for no end of file: poll a second at a time and ask after the peer.
 * ECONNREFUSED is the ICMP "port unreachable" of a peer socket already closed. */
static int udp_recv_one(struct transport *t, unsigned char *p, size_t len)
{
    if (transport_wait_readable(t, t->sock[t->side]) == -1)
        return -1;
    if (dgram_recv(t, p, len) == 0)
        return 0;
    if (errno == ECONNREFUSED)
        errno = ECONNRESET;
    return -1;
}

/* Counts one datagram of len bytes into a window; true (and a fresh window) when it is full. */
static bool window_ends(uint64_t *bytes, uint64_t *msgs, size_t len)
{
    *bytes += len;
    *msgs += 1;
    if (*bytes < UDP_WINDOW_BYTES && *msgs < UDP_WINDOW_MSGS)
        return false;
    *bytes = *msgs = 0;
    return true;
}

static int udp_send(struct transport *t, const unsigned char *p, size_t len)
{
    if (dgram_send(t, p, len) == -1) {
        if (errno == ECONNREFUSED)
            errno = EPIPE;
        return -1;
    }
    if (!window_ends(&t->sent_bytes, &t->sent_msgs, len))
        return 0;
    /* The credit is an empty datagram; data here means both sides sent at once, which this
     * rule does not allow: EPROTO (dgram_recv's length check). */
    return udp_recv_one(t, t->bounce, 0);
}

static int udp_recv(struct transport *t, unsigned char *p, size_t len)
{
    if (udp_recv_one(t, p, len) == -1)
        return -1;
    if (!window_ends(&t->rcvd_bytes, &t->rcvd_msgs, len))
        return 0;
    return dgram_send(t, t->bounce, 0);
}

static int open_udp_credit(struct transport *t)
{
    t->bounce = transport_alloc_pages(PAGE);
    return t->bounce == NULL ? -1 : open_udp(t);
}

static int open_posix_mq(struct transport *t)
{
    struct mq_attr attr;

    for (int dir = 0; dir < 2; dir++) {
        char name[64];
        sigset_t saved;
        int slot;

        snprintf(name, sizeof name, "/ipc_bench.%ld.%u.%d", (long)getpid(), transport_open_count(),
                 dir);
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
    t->bounce = transport_alloc_pages(t->chunk);
    return t->bounce == NULL ? -1 : 0;
}

/* After a timed queue call failed: true to wait again (a second passed and the peer lives,
 * or a signal came), false with errno set (ECONNRESET: the peer is gone). */
static bool mq_wait_again(const struct transport *t)
{
    if (errno == ETIMEDOUT && transport_peer_gone(t)) {
        errno = ECONNRESET;
        return false;
    }
    return errno == ETIMEDOUT || errno == EINTR;
}

static int mq_send_chunk(struct transport *t, const unsigned char *p, size_t len)
{
    for (;;) {
        struct timespec deadline = transport_one_second(CLOCK_REALTIME);

        if (mq_timedsend(t->mq[t->side], (const char *)p, len, 0, &deadline) == 0)
            return 0;
        if (!mq_wait_again(t))
            return -1;
    }
}

static int mq_recv_chunk(struct transport *t, unsigned char *p, size_t len)
{
    /* mq_receive wants room for a whole mq_msgsize: a shorter last chunk goes via bounce. */
    unsigned char *into = len == t->chunk ? p : t->bounce;
    ssize_t got;

    for (;;) {
        struct timespec deadline = transport_one_second(CLOCK_REALTIME);

        got = mq_timedreceive(t->mq[1 - t->side], (char *)into, t->chunk, NULL, &deadline);
        if (got >= 0)
            break;
        if (!mq_wait_again(t))
            return -1;
    }
    if ((size_t)got != len) {
        errno = EPROTO;
        return -1;
    }
    if (into != p)
        memcpy(p, into, len);
    return 0;
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
    t->bounce = transport_alloc_pages(sizeof(long) + t->chunk);
    if (t->bounce == NULL)
        return -1;
    stop_signals_hold(&saved);
    t->msqid = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
    if (t->msqid != -1)
        t->msq_slot = cleanup_add_sysv_msg(t->msqid);
    stop_signals_release(&saved);
    return t->msqid == -1 ? -1 : 0;
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

/* The System V queue cannot be removed early (IPC_RMID destroys it at once). */
static void sysv_close(struct transport *t)
{
    if (t->msqid != -1 && getpid() == t->creator) {
        msgctl(t->msqid, IPC_RMID, NULL);
        cleanup_forget(t->msq_slot);
    }
}

/* The mailbox port: one 03_mailboxes port per direction, each a SOCK_SEQPACKET socketpair
 * whose send buffer holds MAILBOX_CAPACITY messages.  Side s keeps the send right of
 * direction s and the receive right of the other; the peer's death closes its send right,
 * which the receive reads as end of file. */
static int open_mailbox_port(struct transport *t)
{
    t->chunk = MB_MAX_PAYLOAD;
    t->bounce = transport_alloc_pages(sizeof(struct mb_msg));
    if (t->bounce == NULL)
        return -1;
    for (int dir = 0; dir < 2; dir++) {
        mb_send_t right;

        t->port[dir] = mb_port_create(MAILBOX_CAPACITY, &right);
        if (t->port[dir] == NULL)
            return -1;
        t->right[dir] = right.fd;
    }
    return 0;
}

static void mailbox_take_side(struct transport *t)
{
    mb_send_t other = {.fd = t->right[1 - t->side]};

    mb_port_destroy(t->port[t->side]); /* this process's descriptor only: the peer keeps it */
    t->port[t->side] = NULL;
    mb_send_release(&other);
    t->right[1 - t->side] = -1;
}

static int mailbox_send(struct transport *t, const unsigned char *p, size_t len)
{
    struct mb_msg *m = t->bounce;
    mb_send_t to = {.fd = t->right[t->side]};

    if (mb_msg_init(m, 0, 0, p, len) == -1)
        return -1;
    return mb_send(to, m, MB_FOREVER);
}

static int mailbox_recv(struct transport *t, unsigned char *p, size_t len)
{
    struct mb_msg *m = t->bounce;
    int got = mb_receive(t->port[1 - t->side], m, MB_FOREVER);

    if (got == 0)
        errno = ECONNRESET; /* no senders: the peer closed or died */
    if (got != 1)
        return -1;
    if (m->len != len || m->nrights != 0) {
        mb_msg_release(m);
        errno = EPROTO;
        return -1;
    }
    memcpy(p, m->payload, len);
    return 0;
}

static void mailbox_close(struct transport *t)
{
    for (int dir = 0; dir < 2; dir++) {
        mb_send_t right = {.fd = t->right[dir]};

        mb_port_destroy(t->port[dir]);
        mb_send_release(&right);
    }
}

const struct transport_ops unix_dgram_ops = {
    "unix-dgram", open_unix_dgram, dgram_send, dgram_recv, NULL, NULL};
const struct transport_ops unix_seqpacket_ops = {
    "unix-seqpacket", open_unix_seqpacket, dgram_send, dgram_recv, NULL, NULL};
const struct transport_ops udp_ops = {"udp", open_udp_credit, udp_send, udp_recv, NULL, NULL};
const struct transport_ops posix_mq_ops = {"posix-mq",    open_posix_mq, mq_send_chunk,
                                           mq_recv_chunk, NULL,          NULL};
const struct transport_ops sysv_msg_ops = {"sysv-msg",      open_sysv_msg, sysv_send_chunk,
                                           sysv_recv_chunk, NULL,          sysv_close};
const struct transport_ops mailbox_port_ops = {"mailbox-port", open_mailbox_port, mailbox_send,
                                               mailbox_recv,   mailbox_take_side, mailbox_close};
