/* mailbox.c - the port module of mailbox.h on SOCK_SEQPACKET, SCM_RIGHTS and epoll.
 *
 * The guarantees are in mailbox.h; this file says how each is obtained.
 */
#define _GNU_SOURCE
#include "mailbox.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h> /* SIOCINQ, SIOCOUTQ */

/* ---- the wire format: one fixed-size record per message ------------------------- */

#define MB_MAGIC 0x4d425831u /* "MBX1": tells a module message from stray bytes */
#define MB_FLAG_REPLY 0x01u  /* the last descriptor carried is the reply right */
enum { MB_MAX_FDS = MB_MAX_RIGHTS + 1 };

struct wire {
    uint32_t magic;
    uint32_t type;
    uint32_t id;
    uint16_t len;
    uint8_t nrights;
    uint8_t flags;
    unsigned char payload[MB_MAX_PAYLOAD];
};
_Static_assert(sizeof(struct wire) == MB_WIRE_SIZE, "a message is one fixed-size record");
_Static_assert(offsetof(struct wire, payload) == MB_HEADER_SIZE, "the header is 16 bytes");

/* A message kept by a selective receive, oldest first. */
struct saved {
    struct saved *next;
    struct mb_msg msg;
};

struct mb_port {
    int fd; /* the receive end */
    unsigned capacity;
    struct saved *head, *tail;
    unsigned nsaved, save_limit;
};

/* ---- deadlines ----------------------------------------------------------------------- */

static uint64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ms * 1000000u;
}

/* What is left of a deadline as a poll() timeout: -1 for none, rounded up. */
static int remaining_ms(uint64_t deadline)
{
    uint64_t now;

    if (deadline == UINT64_MAX)
        return -1;
    now = now_ns();
    if (now >= deadline)
        return 0;
    return (int)((deadline - now + 999999u) / 1000000u);
}

/* Waits for `events` on fd until the deadline.  1 ready (revents in *revents), 0
 * timed out, -1 error (EINTR included). */
static int wait_for(int fd, short events, uint64_t deadline, short *revents)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, remaining_ms(deadline));

    if (n == 1)
        *revents = p.revents;
    return n;
}

/* ---- the truesize of one message, measured once ----------------------------------------- */

static long measured_truesize;

long mb_message_truesize(void)
{
    static const struct wire probe; /* zeros: the size is what counts */
    int sv[2], queued = 0;

    if (measured_truesize > 0)
        return measured_truesize;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        return -1;
    /* SIOCOUTQ is the send end's sk_wmem_alloc: after one message, its truesize. */
    if (send(sv[0], &probe, sizeof probe, MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof probe)
        ioctl(sv[0], SIOCOUTQ, &queued);
    close(sv[0]);
    close(sv[1]);
    if (queued <= 0) {
        errno = EIO;
        return -1;
    }
    measured_truesize = queued;
    return measured_truesize;
}

/* Messages a send buffer of `sndbuf` bytes admits: sock_alloc_send_pskb() lets a send
 * through while sk_wmem_alloc < sk_sndbuf, so the last one may go over. */
static unsigned capacity_of(int sndbuf, long truesize)
{
    return (unsigned)((sndbuf + truesize - 1) / truesize);
}

/* Sizes one end's SO_SNDBUF for `capacity` messages; returns what it admits. */
static int set_capacity(int fd, unsigned capacity, long truesize, unsigned *granted)
{
    /* The kernel doubles the value it is given (the doubled figure is what it
     * charges against) and caps the request at net.core.wmem_max. */
    int want = (int)(capacity * truesize / 2), got;
    socklen_t len = sizeof got;

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) == -1 ||
        getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len) == -1)
        return -1;
    *granted = capacity_of(got, truesize);
    if (*granted < capacity) {
        errno = ENOBUFS;
        return -1;
    }
    return 0;
}

/* ---- ports and rights ------------------------------------------------------------------- */

static struct mb_port *port_new(int fd, unsigned capacity)
{
    struct mb_port *port = calloc(1, sizeof *port);

    if (port == NULL)
        return NULL;
    port->fd = fd;
    port->capacity = capacity;
    port->save_limit = MB_SAVE_LIMIT;
    return port;
}

struct mb_port *mb_port_create(unsigned capacity, mb_send_t *send)
{
    long truesize = mb_message_truesize();
    unsigned granted;
    struct mb_port *port;
    int sv[2], saved_errno;

    if (capacity < 1 || capacity > MB_CAPACITY_MAX) {
        errno = EINVAL;
        return NULL;
    }
    if (truesize < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        return NULL;
    /* The send end's budget is the port's bound.  The receive end never sends; it
     * gets the same size only so that mb_port_adopt() can read the capacity back. */
    if (set_capacity(sv[1], capacity, truesize, &granted) == 0 &&
        set_capacity(sv[0], capacity, truesize, &granted) == 0 &&
        (port = port_new(sv[0], granted)) != NULL) {
        send->fd = sv[1];
        return port;
    }
    saved_errno = errno;
    close(sv[0]);
    close(sv[1]);
    errno = saved_errno;
    return NULL;
}

static void drop_saved(struct mb_port *port)
{
    while (port->head != NULL) {
        struct saved *s = port->head;

        port->head = s->next;
        mb_msg_release(&s->msg);
        free(s);
    }
    port->tail = NULL;
    port->nsaved = 0;
}

void mb_port_destroy(struct mb_port *port)
{
    if (port == NULL)
        return;
    drop_saved(port);
    close(port->fd);
    free(port);
}

unsigned mb_port_capacity(const struct mb_port *port)
{
    return port->capacity;
}

long mb_port_queued(const struct mb_port *port)
{
    int bytes;

    /* For SOCK_SEQPACKET, SIOCINQ sums the lengths of every queued skb
     * (unix_inq_len()), and every module message is MB_WIRE_SIZE long. */
    if (ioctl(port->fd, SIOCINQ, &bytes) == -1)
        return -1;
    return bytes / MB_WIRE_SIZE + (long)port->nsaved;
}

int mb_port_fd(const struct mb_port *port)
{
    return port->fd;
}

int mb_port_into_fd(struct mb_port *port)
{
    int fd = port->fd;

    if (port->nsaved > 0) {
        errno = EBUSY;
        return -1;
    }
    free(port);
    return fd;
}

struct mb_port *mb_port_adopt(int fd)
{
    long truesize = mb_message_truesize();
    int sndbuf, type;
    socklen_t len = sizeof type;

    if (truesize < 0)
        return NULL;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
        return NULL;
    if (type != SOCK_SEQPACKET) {
        errno = EINVAL;
        return NULL;
    }
    len = sizeof sndbuf;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == -1)
        return NULL;
    return port_new(fd, capacity_of(sndbuf, truesize));
}

void mb_port_set_save_limit(struct mb_port *port, unsigned limit)
{
    if (limit >= 1 && limit <= 1000000)
        port->save_limit = limit;
}

int mb_send_copy(mb_send_t right, mb_send_t *copy)
{
    int fd = fcntl(right.fd, F_DUPFD_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    copy->fd = fd;
    return 0;
}

void mb_send_release(mb_send_t *right)
{
    if (right->fd >= 0)
        close(right->fd);
    right->fd = -1;
}

bool mb_send_is_dead(mb_send_t right)
{
    struct pollfd p = {.fd = right.fd, .events = 0};

    /* unix_dgram_poll(): POLLHUP once the peer's release set SHUTDOWN_MASK on us. */
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLNVAL)) != 0;
}

long mb_send_queued(mb_send_t right)
{
    long truesize = mb_message_truesize();
    int bytes;

    if (truesize < 0 || ioctl(right.fd, SIOCOUTQ, &bytes) == -1)
        return -1;
    return bytes / truesize;
}

/* ---- messages ----------------------------------------------------------------------------- */

int mb_msg_init(struct mb_msg *m, uint32_t type, uint32_t id, const void *data, size_t len)
{
    if (len > MB_MAX_PAYLOAD) {
        errno = EINVAL;
        return -1;
    }
    memset(m, 0, offsetof(struct mb_msg, payload));
    m->type = type;
    m->id = id;
    m->len = (uint32_t)len;
    m->reply = MB_NO_RIGHT;
    if (len > 0)
        memcpy(m->payload, data, len);
    return 0;
}

int mb_msg_text(struct mb_msg *m, uint32_t type, uint32_t id, const char *text)
{
    return mb_msg_init(m, type, id, text, strlen(text) + 1);
}

int mb_msg_add_right(struct mb_msg *m, int fd)
{
    if (fd < 0 || m->nrights >= MB_MAX_RIGHTS) {
        errno = EINVAL;
        return -1;
    }
    m->rights[m->nrights++] = fd;
    return 0;
}

void mb_msg_release(struct mb_msg *m)
{
    for (uint32_t i = 0; i < m->nrights && i < MB_MAX_RIGHTS; i++)
        if (m->rights[i] >= 0)
            close(m->rights[i]);
    m->nrights = 0;
    mb_send_release(&m->reply);
}

/* ---- sending ----------------------------------------------------------------------------------
 */

/* One sendmsg() that never blocks: the record, and the rights in one SCM_RIGHTS. */
static ssize_t send_record(int fd, const struct mb_msg *m)
{
    struct wire w = {.magic = MB_MAGIC, .type = m->type, .id = m->id};
    union { /* aligned for struct cmsghdr, as CMSG_FIRSTHDR() expects */
        char buf[CMSG_SPACE(sizeof(int) * MB_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = &w, .iov_len = sizeof w};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    int fds[MB_MAX_FDS], nfds = 0;

    w.len = (uint16_t)m->len;
    w.nrights = (uint8_t)m->nrights;
    memcpy(w.payload, m->payload, m->len);
    for (uint32_t i = 0; i < m->nrights; i++)
        fds[nfds++] = m->rights[i];
    if (m->reply.fd >= 0) {
        fds[nfds++] = m->reply.fd;
        w.flags |= MB_FLAG_REPLY;
    }
    if (nfds > 0) {
        struct cmsghdr *c;

        memset(&control, 0, sizeof control);
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    /* MSG_NOSIGNAL: a dead name is EPIPE, not the death of the sender. */
    return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int mb_send(mb_send_t to, const struct mb_msg *m, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);

    if (to.fd < 0 || m->len > MB_MAX_PAYLOAD || m->nrights > MB_MAX_RIGHTS) {
        errno = EINVAL;
        return -1;
    }
    for (;;) {
        short revents = 0;
        int ready;

        if (send_record(to.fd, m) == (ssize_t)MB_WIRE_SIZE)
            return 0;
        /* ECONNRESET: the receiver died with messages unread (unix_release_sock()
         * sets sk_err, which the next send reports once).  A dead name all the same. */
        if (errno == ECONNRESET || errno == ENOTCONN)
            errno = EPIPE;
        if (errno != EAGAIN)
            return -1;
        if (timeout_ms == 0)
            return -1; /* EAGAIN: full */
        /* Full: wait for room.  POLLOUT comes back when the queue is down to a
         * quarter of the budget (unix_writable()); POLLHUP if the receiver dies. */
        ready = wait_for(to.fd, POLLOUT, deadline, &revents);
        if (ready == -1)
            return -1;
        if (ready == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

/* ---- receiving
 * ------------------------------------------------------------------------------------ */

static void close_fds(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* One recvmsg() that never blocks.  1 message, 0 end-of-file, -1 error. */
static int receive_record(int fd, struct mb_msg *m)
{
    struct wire w;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MB_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = &w, .iov_len = sizeof w};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    int fds[MB_MAX_FDS], nfds = 0, nwant;
    ssize_t n;

    /* MSG_CMSG_CLOEXEC: rights received are close-on-exec, as the port's own ends. */
    n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n == -1)
        return -1;
    if (n == 0 && !(mh.msg_flags & MSG_TRUNC))
        return 0; /* no module message is empty: this is end-of-file */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

            /* The buffer holds MB_MAX_FDS: the kernel closes any more (MSG_CTRUNC). */
            if (k > MB_MAX_FDS - nfds)
                k = MB_MAX_FDS - nfds;
            memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
            nfds += k;
        }
    }
    nwant = w.nrights + ((w.flags & MB_FLAG_REPLY) ? 1 : 0);
    if (n != (ssize_t)MB_WIRE_SIZE || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
        w.magic != MB_MAGIC || w.len > MB_MAX_PAYLOAD || w.nrights > MB_MAX_RIGHTS ||
        nfds != nwant) {
        close_fds(fds, nfds); /* a malformed record's descriptors must not leak */
        errno = EPROTO;
        return -1;
    }
    m->type = w.type;
    m->id = w.id;
    m->len = w.len;
    m->nrights = w.nrights;
    memcpy(m->payload, w.payload, w.len);
    for (int i = 0; i < MB_MAX_RIGHTS; i++)
        m->rights[i] = i < (int)w.nrights ? fds[i] : -1;
    m->reply.fd = (w.flags & MB_FLAG_REPLY) ? fds[nfds - 1] : -1;
    return 1;
}

/* Receives from the kernel queue only, waiting until the deadline. */
static int receive_kernel(struct mb_port *port, struct mb_msg *m, uint64_t deadline)
{
    for (;;) {
        short revents = 0;
        int r = receive_record(port->fd, m), ready;

        if (r >= 0 || errno != EAGAIN)
            return r;
        if (deadline != UINT64_MAX && now_ns() >= deadline) {
            errno = deadline == 0 ? EAGAIN : ETIMEDOUT;
            return -1;
        }
        ready = wait_for(port->fd, POLLIN, deadline, &revents);
        if (ready == -1)
            return -1;
        if (ready == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

/* The deadline of a receive: 0 stands for "never wait" (EAGAIN, not ETIMEDOUT). */
static uint64_t receive_deadline(int timeout_ms)
{
    return timeout_ms == 0 ? 0 : deadline_of(timeout_ms);
}

static void unlink_saved(struct mb_port *port, struct saved *prev, struct saved *s)
{
    if (prev == NULL)
        port->head = s->next;
    else
        prev->next = s->next;
    if (port->tail == s)
        port->tail = prev;
    port->nsaved--;
}

int mb_receive(struct mb_port *port, struct mb_msg *m, int timeout_ms)
{
    struct saved *s = port->head;

    if (s != NULL) { /* kept messages are older than anything in the kernel queue */
        unlink_saved(port, NULL, s);
        *m = s->msg;
        free(s);
        return 1;
    }
    return receive_kernel(port, m, receive_deadline(timeout_ms));
}

int mb_receive_match(struct mb_port *port, bool (*match)(const struct mb_msg *m, void *arg),
                     void *arg, struct mb_msg *m, int timeout_ms)
{
    uint64_t deadline = receive_deadline(timeout_ms);
    struct saved *prev = NULL;

    for (struct saved *s = port->head; s != NULL; prev = s, s = s->next) {
        if (match(&s->msg, arg)) {
            unlink_saved(port, prev, s);
            *m = s->msg;
            free(s);
            return 1;
        }
    }
    for (;;) {
        struct saved *s;
        int r;

        if (port->nsaved >= port->save_limit) {
            errno = ENOBUFS;
            return -1;
        }
        r = receive_kernel(port, m, deadline);
        if (r <= 0)
            return r;
        if (match(m, arg))
            return 1;
        if ((s = malloc(sizeof *s)) == NULL) {
            int saved_errno = errno;

            mb_msg_release(m); /* cannot keep it: lost, but its rights are not leaked */
            errno = saved_errno;
            return -1;
        }
        s->next = NULL;
        s->msg = *m;
        if (port->tail == NULL)
            port->head = s;
        else
            port->tail->next = s;
        port->tail = s;
        port->nsaved++;
    }
}

static bool type_is(const struct mb_msg *m, void *arg)
{
    return m->type == *(const uint32_t *)arg;
}

int mb_receive_type(struct mb_port *port, uint32_t type, struct mb_msg *m, int timeout_ms)
{
    return mb_receive_match(port, type_is, &type, m, timeout_ms);
}

/* ---- request and reply
 * ------------------------------------------------------------------------------- */

int mb_call(mb_send_t server, struct mb_msg *m, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);
    struct mb_port *reply_port;
    mb_send_t reply_right;
    int r, saved_errno;

    /* Capacity 1 (rounded up by the kernel's minimum): one answer is expected. */
    if ((reply_port = mb_port_create(1, &reply_right)) == NULL)
        return -1;
    m->reply = reply_right;
    r = mb_send(server, m, remaining_ms(deadline));
    /* Moved, not copied: holding it would keep the reply port from ever seeing "no
     * senders", so a server that dies would leave the caller waiting for ever. */
    mb_send_release(&m->reply);
    if (r == 0) {
        r = mb_receive(reply_port, m, timeout_ms < 0 ? MB_FOREVER : remaining_ms(deadline));
        if (r == 0) {
            errno = ECONNRESET; /* no senders: the reply right died unanswered */
            r = -1;
        } else if (r == 1) {
            r = 0;
        } else if (errno == EAGAIN) {
            errno = ETIMEDOUT; /* the deadline ran out just as the send returned */
        }
    }
    saved_errno = errno;
    mb_port_destroy(reply_port);
    errno = saved_errno;
    return r;
}

int mb_reply(struct mb_msg *request, struct mb_msg *answer, int timeout_ms)
{
    struct mb_msg echo;
    int r;

    if (request->reply.fd < 0) {
        errno = EINVAL;
        return -1;
    }
    answer->id = request->id;
    if (answer->reply.fd == request->reply.fd) {
        /* Answering with the request itself: its reply right is the address, not part
         * of the answer, so it must not travel back inside it. */
        echo = *answer;
        echo.reply = MB_NO_RIGHT;
        answer = &echo;
    }
    r = mb_send(request->reply, answer, timeout_ms);
    /* Kept after EAGAIN, ETIMEDOUT or EINTR, so the server may try again. */
    if (r == 0 || errno == EPIPE) {
        int saved_errno = errno;

        mb_send_release(&request->reply);
        errno = saved_errno;
    }
    return r;
}

/* ---- port sets
 * ------------------------------------------------------------------------------------------ */

struct member {
    struct mb_port *port; /* a receive right, or NULL for a watched send right */
    mb_send_t name;
    int priority;
    void *cookie;
    uint64_t last_served; /* the set's turn counter when it was last served */
};

struct mb_set {
    int epfd;
    struct member **members;
    size_t n, cap;
    uint64_t turn;
};

struct mb_set *mb_set_create(void)
{
    struct mb_set *set = calloc(1, sizeof *set);

    if (set == NULL)
        return NULL;
    if ((set->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
        free(set);
        return NULL;
    }
    return set;
}

void mb_set_destroy(struct mb_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++)
        free(set->members[i]);
    free(set->members);
    close(set->epfd);
    free(set);
}

static struct member *find_member(const struct mb_set *set, const struct mb_port *port, int fd,
                                  size_t *index)
{
    for (size_t i = 0; i < set->n; i++) {
        struct member *mb = set->members[i];

        if (port != NULL ? mb->port == port : (mb->port == NULL && mb->name.fd == fd)) {
            *index = i;
            return mb;
        }
    }
    return NULL;
}

static int add_member(struct mb_set *set, struct member *proto, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events};
    struct member *mb;
    size_t index;

    if (find_member(set, proto->port, fd, &index) != NULL) {
        errno = EEXIST;
        return -1;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap == 0 ? 8 : set->cap * 2;
        struct member **grown = realloc(set->members, cap * sizeof *grown);

        if (grown == NULL)
            return -1;
        set->members = grown;
        set->cap = cap;
    }
    if ((mb = malloc(sizeof *mb)) == NULL)
        return -1;
    *mb = *proto;
    ev.data.ptr = mb;
    if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        free(mb);
        return -1;
    }
    set->members[set->n++] = mb;
    return 0;
}

int mb_set_add(struct mb_set *set, struct mb_port *port, int priority, void *cookie)
{
    struct member proto = {
        .port = port, .name = MB_NO_RIGHT, .priority = priority, .cookie = cookie};

    /* EPOLLIN covers both a message and end-of-file (RCV_SHUTDOWN sets it too). */
    return add_member(set, &proto, port->fd, EPOLLIN);
}

int mb_set_watch(struct mb_set *set, mb_send_t name, int priority, void *cookie)
{
    struct member proto = {.port = NULL, .name = name, .priority = priority, .cookie = cookie};

    /* No events asked for: epoll always reports EPOLLHUP and EPOLLERR, and a send
     * end never has anything to read in this design. */
    return add_member(set, &proto, name.fd, 0);
}

static int remove_member(struct mb_set *set, const struct mb_port *port, int fd)
{
    size_t index;
    struct member *mb = find_member(set, port, fd, &index);

    if (mb == NULL) {
        errno = ENOENT;
        return -1;
    }
    /* A descriptor closed already has left the epoll set by itself (if it was the
     * last reference to the file); that is not an error here. */
    if (epoll_ctl(set->epfd, EPOLL_CTL_DEL, port != NULL ? port->fd : fd, NULL) == -1 &&
        errno != EBADF && errno != ENOENT)
        return -1;
    free(mb);
    set->members[index] = set->members[--set->n];
    return 0;
}

int mb_set_remove(struct mb_set *set, struct mb_port *port)
{
    return remove_member(set, port, -1);
}

int mb_set_unwatch(struct mb_set *set, mb_send_t name)
{
    return remove_member(set, NULL, name.fd);
}

size_t mb_set_size(const struct mb_set *set)
{
    return set->n;
}

/* Whether `mb` should be served before `best`: a higher priority, or the same one and
 * served longer ago (so ports of equal priority take turns). */
static bool better(const struct member *mb, const struct member *best)
{
    return best == NULL || mb->priority > best->priority ||
           (mb->priority == best->priority && mb->last_served < best->last_served);
}

/* The best candidate: a member epoll found ready, or a port holding kept messages
 * (ready without the kernel knowing). */
static struct member *pick(struct mb_set *set, const struct epoll_event *ready, int nready)
{
    struct member *best = NULL;

    for (int i = 0; i < nready; i++)
        if (better(ready[i].data.ptr, best))
            best = ready[i].data.ptr;
    for (size_t i = 0; i < set->n; i++) {
        struct member *mb = set->members[i];

        if (mb->port != NULL && mb->port->nsaved > 0 && better(mb, best))
            best = mb;
    }
    if (best != NULL)
        best->last_served = ++set->turn;
    return best;
}

static bool any_saved(const struct mb_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->members[i]->port != NULL && set->members[i]->port->nsaved > 0)
            return true;
    return false;
}

int mb_set_receive(struct mb_set *set, struct mb_msg *m, struct mb_event *ev, int timeout_ms)
{
    uint64_t deadline = deadline_of(timeout_ms);

    for (;;) {
        struct epoll_event ready[32];
        struct member *mb;
        int nready, r;

        if (set->n == 0) {
            errno = ENOENT;
            return -1;
        }
        nready = epoll_wait(set->epfd, ready, 32, any_saved(set) ? 0 : remaining_ms(deadline));
        if (nready == -1)
            return -1;
        if ((mb = pick(set, ready, nready)) == NULL) {
            errno = timeout_ms == 0 ? EAGAIN : ETIMEDOUT;
            return -1;
        }
        *ev = (struct mb_event){.port = mb->port, .name = mb->name, .cookie = mb->cookie};
        if (mb->port == NULL) { /* a watched send right hung up: a dead name */
            ev->kind = MB_EV_DEAD_NAME;
            remove_member(set, NULL, mb->name.fd);
            return 1;
        }
        r = mb_receive(mb->port, m, 0);
        if (r == 1) {
            ev->kind = MB_EV_MESSAGE;
            return 1;
        }
        if (r == 0) { /* after its last message: end-of-file, once */
            ev->kind = MB_EV_NO_SENDERS;
            remove_member(set, ev->port, -1);
            return 1;
        }
        if (errno != EAGAIN)
            return -1;
        /* EAGAIN: someone else took it; wait again, unless time is up. */
        if (remaining_ms(deadline) == 0) {
            errno = timeout_ms == 0 ? EAGAIN : ETIMEDOUT;
            return -1;
        }
    }
}

/* ---- bootstrap names
 * ------------------------------------------------------------------------------------- */

#define MB_BOOTSTRAP_TYPE 0x424f4f54u /* "BOOT" */

static int unix_address(const char *path, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof addr->sun_path) {
        errno = path[0] == '\0' ? EINVAL : ENAMETOOLONG;
        return -1;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

int mb_bootstrap_listen(const char *path)
{
    struct sockaddr_un addr;
    mode_t old_mask;
    int fd, r, saved_errno;

    if (unix_address(path, &addr) == -1)
        return -1;
    if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    /* bind() creates the socket file with mode 0777 & ~umask: 0600 needs umask 0177. */
    old_mask = umask(0177);
    r = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    saved_errno = errno;
    umask(old_mask);
    if (r == -1 || listen(fd, 16) == -1) {
        saved_errno = r == -1 ? saved_errno : errno;
        if (r == 0)
            unlink(path); /* bound by us a moment ago */
        close(fd);
        errno = saved_errno;
        return -1;
    }
    return fd;
}

int mb_bootstrap_serve(int listen_fd, mb_send_t right, int timeout_ms)
{
    struct mb_msg m;
    mb_send_t conn;
    short revents = 0;
    int ready, r, saved_errno;

    ready = wait_for(listen_fd, POLLIN, deadline_of(timeout_ms), &revents);
    if (ready <= 0) {
        if (ready == 0)
            errno = timeout_ms == 0 ? EAGAIN : ETIMEDOUT;
        return -1;
    }
    if ((conn.fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) == -1)
        return -1;
    mb_msg_init(&m, MB_BOOTSTRAP_TYPE, 0, NULL, 0);
    mb_msg_add_right(&m, right.fd);
    /* A fresh connection has room for one message: this never waits. */
    r = mb_send(conn, &m, 0);
    saved_errno = errno;
    mb_send_release(&conn);
    errno = saved_errno;
    return r;
}

int mb_bootstrap_lookup(const char *path, mb_send_t *right, int timeout_ms)
{
    struct sockaddr_un addr;
    struct mb_port conn = {.save_limit = MB_SAVE_LIMIT};
    struct mb_msg m;
    int r, saved_errno;

    if (unix_address(path, &addr) == -1)
        return -1;
    if ((conn.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
        return -1;
    if (connect(conn.fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        saved_errno = errno;
        close(conn.fd);
        errno = saved_errno;
        return -1;
    }
    r = mb_receive(&conn, &m, timeout_ms);
    saved_errno = errno;
    close(conn.fd);
    if (r == 1 && (m.type != MB_BOOTSTRAP_TYPE || m.nrights != 1)) {
        mb_msg_release(&m);
        r = 0;
    }
    if (r != 1) {
        errno = r == 0 ? EPROTO : saved_errno;
        return -1;
    }
    right->fd = m.rights[0];
    return 0;
}
