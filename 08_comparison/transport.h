/* transport.h - one interface over seventeen IPC mechanisms, for the benchmark of this chapter.
 *
 * A transport is opened in one process before fork(); after fork each process takes one of
 * the two sides (0 and 1) and the two exchange bytes in both directions: side 0 sends on
 * direction 0 and receives on direction 1, side 1 the reverse.  Every call blocks in the
 * kernel (a pipe read, a semaphore or futex wait, ...) except in "shm-spin-ring", which
 * busy-polls shared memory and says so in its name (it yields the CPU when both sides are
 * pinned to one).  "eventfd+shm" and "sigqueue+shm" are notify-only: the bytes go through
 * shared memory and the named mechanism only wakes the peer.  UDP's flow control (credits,
 * transport_msg.c) assumes the benchmark's use: the two sides never send at the same time.
 * "sigqueue+shm" blocks SIGRTMIN and SIGRTMIN+1 in the opening process (the child inherits
 * the mask) and installs a handler that does nothing for both; transport_close() in the
 * creator takes what is still pending and restores the mask, and leaves the handler.
 *
 * transport_send(buf, n) moves n bytes; transport_recv(buf, n) returns only when exactly n
 * bytes have arrived.  A mechanism with a maximum message size carries n bytes as
 * ceil(n / chunk) messages: every one of `chunk` bytes but the last (transport_chunk()).
 * The receiver checks each message's length against that rule, so a truncated, lost or
 * merged message is an error (EPROTO), never silently wrong data.
 *
 * Named objects (socket path, FIFOs, the mapped file, POSIX queues, POSIX shared memory) carry
 * the pid or live in a mkdtemp directory, are created exclusively with mode 0600 and
 * registered for cleanup, and are unlinked before
 * transport_open() returns: the open descriptors and mappings keep them alive, so nothing
 * named outlives the two processes.  The System V queue cannot be removed early (IPC_RMID
 * destroys it at once): it stays registered until the creator's transport_close().
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

struct transport;

/* The mechanisms, in the order of this list: "pipe", "fifo", "socketpair", "unix-stream",
 * "unix-dgram", "unix-seqpacket", "tcp", "udp", "posix-mq", "sysv-msg", "mailbox-port" (the
 * port of 03_mailboxes), "shm-sem", "shm-futex", "file-futex", "shm-spin-ring",
 * "eventfd+shm", "sigqueue+shm". */
extern const char *const transport_names[];
extern const size_t transport_count;

/* Creates both sides of mechanism `name` (one of transport_names).  Returns NULL with errno:
 * EINVAL for an unknown name, or what the failing system call set (nothing is left then). */
struct transport *transport_open(const char *name);
/* After fork, in each process: keep side `side` (0 or 1), close what belongs to the other.
 * `peer` is the other process, asked after when a wait lasts a second (see transport_recv). */
void transport_take_side(struct transport *t, int side, pid_t peer);
/* 0, or -1 with errno (EPIPE or ECONNRESET: the peer has gone). */
int transport_send(struct transport *t, const void *buf, size_t n);
/* 0 once n bytes are in buf, or -1 with errno: ECONNRESET when the peer closed or died
 * (shared memory, POSIX queues, UDP, the notify-only rows: noticed within a second; a System V
 * queue cannot notice),
 * EPROTO when a message had the wrong length. */
int transport_recv(struct transport *t, void *buf, size_t n);
/* The largest message the mechanism carries, 0 for a byte stream (no chunking). */
size_t transport_chunk(const struct transport *t);
const char *transport_name(const struct transport *t);
/* Closes this process's side (both, before take_side); the creating process also removes
 * what is still named (the System V queue) and frees the registry slot.  NULL is ignored. */
void transport_close(struct transport *t);

#endif
