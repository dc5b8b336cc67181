/* mailbox.h - ports, rights and messages in the manner of Mach, built on Linux primitives.
 *
 * Linux has no mailbox system call; this module builds one out of AF_UNIX sockets:
 *
 *   port          a SOCK_SEQPACKET socket pair.  One end is the RECEIVE RIGHT: a
 *                 struct mb_port, held by one owner, the only place messages come out.
 *                 The other end is the port's SEND end.
 *   send right    a descriptor of the send end (mb_send_t).  Copying a right is dup();
 *                 moving it to another process is SCM_RIGHTS inside a message.  Every
 *                 send right of a port is the same kernel socket, so they share its
 *                 queue, its order and its capacity.
 *   message       one fixed-size record on the wire (MB_WIRE_SIZE bytes: a header and
 *                 up to MB_MAX_PAYLOAD bytes of payload), plus up to MB_MAX_RIGHTS
 *                 descriptors and an optional reply right, carried with SCM_RIGHTS.
 *   port set      an epoll instance watching several receive rights (and send rights,
 *                 for dead names): one wait, the ready port named in the event.
 *   dead name     the receive right is gone: a send fails with EPIPE, a watched send
 *                 right shows POLLHUP.  Nothing can ever be delivered on it again.
 *   no senders    every send right is closed, in every process and in every message
 *                 still in flight: the receive right reads end-of-file once its queue
 *                 is drained.  Nobody can ever send on it again.
 *
 * What the kernel gives, and this module therefore promises (Linux-specific: POSIX
 * defines SOCK_SEQPACKET but not SCM_RIGHTS semantics, socket buffer accounting or
 * epoll):
 *
 *   ORDER      Messages sent through one send right by one thread arrive in the order
 *              sent.  Messages of several senders interleave, each whole, in the order
 *              the kernel queued them (unix_dgram_sendmsg() appends with
 *              skb_queue_tail()).  There is one FIFO per port and nothing reorders it,
 *              except mb_receive_match(), which takes a later message first and keeps
 *              the skipped ones, in order, for the next receive.
 *   ATOMICITY  A message is one skb: it is queued whole or not at all, and received
 *              whole, rights included, or not at all.  A record that is not a module
 *              message (wrong size or header) is dropped, its descriptors closed, and
 *              the receive fails with EPROTO.  No message is ever empty: a zero-length
 *              SOCK_SEQPACKET record reads as 0, the same as end-of-file.
 *   CAPACITY   Bounded, and counted in messages.  The kernel bounds a port by the
 *              BYTES its send end may have in flight: every queued skb is charged its
 *              truesize (data plus struct sk_buff overhead, 768 bytes for one 192-byte
 *              record on this machine) against the send end's SO_SNDBUF, and
 *              sock_alloc_send_pskb() lets a send through while the total is below
 *              it.  Because every message has the same wire size, every message costs
 *              the same truesize, so the module measures it once (one probe message,
 *              read back with SIOCOUTQ) and sets SO_SNDBUF to capacity x truesize:
 *              exactly `capacity` messages fit, whatever their payload.  The default
 *              budget, net.core.wmem_default (212992 bytes), would hold 278.
 *   FULL       A send to a full port waits (MB_FOREVER), waits at most timeout_ms and
 *              fails with ETIMEDOUT, or fails at once with EAGAIN (timeout 0): the
 *              sender sees the back-pressure.  A waiting sender wakes only when the
 *              queue has drained below a quarter of the budget (unix_writable() tests
 *              4 x wmem_alloc <= sndbuf), so senders resume in bursts, not one by one.
 *   DEAD PEER  Sending on a dead name fails with EPIPE (never SIGPIPE: MSG_NOSIGNAL);
 *              the kernel's first answer may be ECONNRESET when the receiver died with
 *              messages unread, and the module reports that as EPIPE too.  Receiving
 *              from a port with no senders returns 0 after the last queued message.
 *   PRIORITY   Not within a port: a SOCK_SEQPACKET queue is one FIFO, and reordering
 *              it would break ORDER.  Priorities are between ports: put an urgent port
 *              and a normal one in a port set with two priorities, and mb_set_receive()
 *              serves the highest-priority ready port first.
 *
 * Waiting: timeout_ms is MB_FOREVER (-1), 0 (never wait: EAGAIN) or a number of
 * milliseconds (ETIMEDOUT when it runs out).  A signal handler that runs during a wait
 * ends it with EINTR, so a loop can look at its stop flag.  Calls that fail return -1
 * with errno set and leave the message and the rights as they were.
 *
 * Threads: send rights may be used by any number of threads and processes at once.
 * A receive right, and a port set, belong to one thread at a time.
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    MB_WIRE_SIZE = 192, /* every message on the wire: header + payload */
    MB_HEADER_SIZE = 16,
    MB_MAX_PAYLOAD = MB_WIRE_SIZE - MB_HEADER_SIZE, /* 176 bytes */
    MB_MAX_RIGHTS = 4,      /* descriptors per message, besides the reply right */
    MB_CAPACITY_MAX = 4096, /* messages; the kernel may allow less (net.core.wmem_max) */
    MB_SAVE_LIMIT = 1024,   /* default bound of the selective-receive save queue */
};
#define MB_FOREVER (-1)

/* A send right: a descriptor of a port's send end, or -1 for none. */
typedef struct {
    int fd;
} mb_send_t;
#define MB_NO_RIGHT ((mb_send_t){.fd = -1})

/* A message.  type and id are the application's: selective receive matches on type,
 * request/reply copies id.  rights[] are descriptors carried with the message: send
 * rights (their .fd), a receive right (mb_port_into_fd()), or any other descriptor (a
 * memfd for bulk data, as Mach sends out-of-line memory).  reply is a send right for
 * the answer, or MB_NO_RIGHT. */
struct mb_msg {
    uint32_t type;
    uint32_t id;
    uint32_t len;     /* bytes of payload used, at most MB_MAX_PAYLOAD */
    uint32_t nrights; /* entries of rights[] used */
    int rights[MB_MAX_RIGHTS];
    mb_send_t reply;
    unsigned char payload[MB_MAX_PAYLOAD];
};

/* ---- ports and rights ------------------------------------------------------------- */

struct mb_port;

/* A new port holding exactly `capacity` messages (1..MB_CAPACITY_MAX).  Returns the
 * receive right and stores the first send right in *send; both descriptors are
 * close-on-exec.  The kernel's smallest send buffer (SOCK_MIN_SNDBUF, 4608 bytes) holds
 * 6 messages here, so a smaller capacity is rounded up: mb_port_capacity() tells.  NULL
 * with errno: EINVAL (capacity out of range), ENOBUFS (net.core.wmem_max is too small
 * for it: without CAP_NET_ADMIN a socket cannot go above it), or the socket's error. */
struct mb_port *mb_port_create(unsigned capacity, mb_send_t *send);
/* Closes the receive right: every send right becomes a dead name, messages still
 * queued are discarded (their rights closed by the kernel), saved messages too.  NULL
 * is ignored. */
void mb_port_destroy(struct mb_port *port);
/* How many messages the port holds before a sender is refused. */
unsigned mb_port_capacity(const struct mb_port *port);
/* Messages waiting: in the kernel queue (SIOCINQ / MB_WIRE_SIZE) plus those kept by a
 * selective receive.  -1 with errno on error. */
long mb_port_queued(const struct mb_port *port);
/* The receive right's descriptor, for poll/epoll or a look at /proc; still owned by
 * the port. */
int mb_port_fd(const struct mb_port *port);
/* Moving a receive right: mb_port_into_fd() frees the port and returns its descriptor
 * (put it in rights[] and send it, then close it); the receiver wraps the descriptor
 * it gets with mb_port_adopt().  Saved messages must be gone (EBUSY otherwise).  The
 * capacity travels with the socket: both ends get the same SO_SNDBUF at creation. */
int mb_port_into_fd(struct mb_port *port);
struct mb_port *mb_port_adopt(int fd);
/* At most `limit` messages (1..1000000) kept by mb_receive_match(). */
void mb_port_set_save_limit(struct mb_port *port, unsigned limit);

/* A second send right to the same port (F_DUPFD_CLOEXEC).  0, or -1 with errno. */
int mb_send_copy(mb_send_t right, mb_send_t *copy);
/* Closes a send right and sets it to MB_NO_RIGHT (no-op for MB_NO_RIGHT). */
void mb_send_release(mb_send_t *right);
/* True when the receive right is gone (the send end polls POLLHUP). */
bool mb_send_is_dead(mb_send_t right);
/* Messages queued in the port, from the sender's side: SIOCOUTQ (the truesize charged
 * to the send end) divided by the truesize of one message.  -1 with errno. */
long mb_send_queued(mb_send_t right);
/* The truesize the kernel charges for one message, measured on this kernel. */
long mb_message_truesize(void);

/* ---- messages ----------------------------------------------------------------------- */

/* Fills *m: type, id, the payload copied from data (len bytes), no rights, no reply.
 * Returns 0, or -1 with EINVAL when len > MB_MAX_PAYLOAD. */
int mb_msg_init(struct mb_msg *m, uint32_t type, uint32_t id, const void *data, size_t len);
/* The same with a NUL-terminated text as payload (NUL included). */
int mb_msg_text(struct mb_msg *m, uint32_t type, uint32_t id, const char *text);
/* Appends a descriptor to rights[] (the message refers to it; it is not copied until
 * sent).  -1 with EINVAL when full or fd < 0. */
int mb_msg_add_right(struct mb_msg *m, int fd);
/* Closes every descriptor a message holds (rights[] and reply): what the receiver of a
 * message does with rights it does not keep, and what a sender does to MOVE rather
 * than copy them (send, then release). */
void mb_msg_release(struct mb_msg *m);

/* ---- sending and receiving ------------------------------------------------------------ */

/* Queues *m on the port of `to`, with copies of its rights and reply right (the
 * sender's descriptors stay open: release them to move).  Waits while the port is
 * full, as timeout_ms says.  0, or -1 with errno: EAGAIN/ETIMEDOUT (full), EPIPE
 * (dead name), EINTR, EINVAL (bad message or right), ETOOMANYREFS (the sending user
 * has more descriptors in flight than its RLIMIT_NOFILE). */
int mb_send(mb_send_t to, const struct mb_msg *m, int timeout_ms);

/* Takes the oldest message: first any kept by a selective receive, then the kernel
 * queue.  The caller owns the descriptors it carries.  Returns 1 with *m filled, 0
 * when the port has no senders and nothing is queued (end-of-file: it will stay so),
 * or -1 with errno: EAGAIN/ETIMEDOUT (nothing came), EINTR, EPROTO (a record that was
 * not a module message was dropped). */
int mb_receive(struct mb_port *port, struct mb_msg *m, int timeout_ms);

/* Erlang's selective receive: the oldest message for which match(m, arg) is true.
 * Messages that do not match are taken out of the kernel queue and kept, in order,
 * for later receives; each call scans the kept ones first, so its cost grows with the
 * mailbox.  Returns 1, 0 (no senders: no match can ever come; kept messages stay), or
 * -1 with errno as mb_receive(), plus ENOBUFS: the save queue is at its limit and
 * nothing kept matches. */
int mb_receive_match(struct mb_port *port, bool (*match)(const struct mb_msg *m, void *arg),
                     void *arg, struct mb_msg *m, int timeout_ms);
/* The common case: the oldest message of this type. */
int mb_receive_type(struct mb_port *port, uint32_t type, struct mb_msg *m, int timeout_ms);

/* ---- request and reply ------------------------------------------------------------------ */

/* A remote procedure call, as mach_msg() with MACH_SEND_MSG|MACH_RCV_MSG: creates a
 * reply port, sends *m with a send right to it MOVED in m->reply (so the caller holds
 * none), and waits for the answer, which replaces *m.  timeout_ms bounds the whole
 * call.  0, or -1 with errno: EPIPE (the server's port is dead), ECONNRESET (the server
 * let go of the reply right without answering: it died, or dropped the request),
 * ETIMEDOUT, EINTR, or as mb_send().  A reply that comes after a timeout finds a dead
 * name: the server's mb_reply() fails with EPIPE. */
int mb_call(mb_send_t server, struct mb_msg *m, int timeout_ms);
/* Answers a request: sends *answer on request->reply with answer->id = request->id,
 * then releases request->reply (a reply right answers once).  The answer may be the
 * request itself (an echo): its reply right is then not sent back inside it.  0, or -1 with errno:
 * EINVAL (no reply right), EPIPE (the caller is gone or gave up), or as mb_send(). */
int mb_reply(struct mb_msg *request, struct mb_msg *answer, int timeout_ms);

/* ---- port sets ----------------------------------------------------------------------------- */

struct mb_set;

enum mb_event_kind {
    MB_EV_MESSAGE,    /* a message from ev->port, in *m */
    MB_EV_NO_SENDERS, /* ev->port has no senders left; it has left the set */
    MB_EV_DEAD_NAME,  /* ev->name's receive right is gone; the watch has left the set */
};
struct mb_event {
    enum mb_event_kind kind;
    struct mb_port *port; /* MESSAGE, NO_SENDERS */
    mb_send_t name;       /* DEAD_NAME */
    void *cookie;         /* as given when added */
};

/* An empty set (an epoll instance, close-on-exec).  NULL with errno. */
struct mb_set *mb_set_create(void);
/* Frees the set; the ports and rights in it are the caller's and stay open. */
void mb_set_destroy(struct mb_set *set);
/* Adds a receive right.  Among ready ports, mb_set_receive() serves the highest
 * priority first; ports of equal priority take turns (the one served longest ago first).
 * 0, or -1 with errno (EEXIST: already there). */
int mb_set_add(struct mb_set *set, struct mb_port *port, int priority, void *cookie);
/* Requests a dead-name notification for a send right (Mach's
 * MACH_NOTIFY_DEAD_NAME): an MB_EV_DEAD_NAME event when its receive right goes.
 * Remove it before releasing the right. */
int mb_set_watch(struct mb_set *set, mb_send_t name, int priority, void *cookie);
/* Takes a port or a watched right out of the set.  0, or -1 with ENOENT. */
int mb_set_remove(struct mb_set *set, struct mb_port *port);
int mb_set_unwatch(struct mb_set *set, mb_send_t name);
/* Members still in the set. */
size_t mb_set_size(const struct mb_set *set);
/* Waits for the next event of any member.  A notification (no senders, dead name) is
 * delivered once, after every message queued before it, and removes its member from
 * the set.  Returns 1 with *ev (and *m for a message) filled, or -1 with errno:
 * EAGAIN/ETIMEDOUT, EINTR, ENOENT (the set is empty: nothing can ever come), EPROTO. */
int mb_set_receive(struct mb_set *set, struct mb_msg *m, struct mb_event *ev, int timeout_ms);

/* ---- bootstrap names: how an unrelated process gets its first send right ------------------- */

/* A Mach task starts with a send right to its bootstrap server, which hands out the
 * rights of named services.  Here a process gets its first right by connecting to a
 * SOCK_SEQPACKET socket bound at a path: the server answers each connection with one
 * message carrying a copy of a send right, then closes it.
 *
 * mb_bootstrap_listen() binds `path` with mode 0600 (bind() refuses a path that exists:
 * EADDRINUSE, so two servers never share one) and listens; the caller registers the
 * path for removal.  Returns the listening descriptor (close-on-exec), or -1.
 * mb_bootstrap_serve() accepts one connection (waiting as timeout_ms says) and hands
 * it a copy of `right`.  0, or -1 with errno (EAGAIN/ETIMEDOUT: nobody came).
 * mb_bootstrap_lookup() connects to `path` and stores the right it is given in *right.
 * 0, or -1 with errno: ENOENT or ECONNREFUSED (no server there), ENOTSOCK, ETIMEDOUT,
 * EPROTO (what answered is not a bootstrap server). */
int mb_bootstrap_listen(const char *path);
int mb_bootstrap_serve(int listen_fd, mb_send_t right, int timeout_ms);
int mb_bootstrap_lookup(const char *path, mb_send_t *right, int timeout_ms);

#endif
