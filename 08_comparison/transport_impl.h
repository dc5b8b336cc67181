/* transport_impl.h - what the transport_*.c files share: the transport itself, the one
 * table of operations, and the helpers every family uses.  Not for the programs: they see
 * transport.h only.
 *
 * A family file (transport_stream.c, transport_msg.c, transport_shm.c, transport_notify.c)
 * defines one `struct transport_ops` per mechanism; transport.c lists them in the order of
 * transport_names and does what is common: the chunk rule, the side taking, the closing.
 */
#ifndef TRANSPORT_IMPL_H
#define TRANSPORT_IMPL_H

#include "transport.h"

#include <mqueue.h>
#include <semaphore.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define PAGE 4096

struct transport;

struct transport_ops {
    const char *name;
    /* Makes both sides, sets t->chunk (0: a byte stream, send and recv get all n bytes). */
    int (*open)(struct transport *t);
    /* One chunk of at most t->chunk bytes (the whole n for a byte stream). */
    int (*send)(struct transport *t, const unsigned char *p, size_t len);
    int (*recv)(struct transport *t, unsigned char *p, size_t len);
    /* What this mechanism closes or removes beyond the generic fields; may be NULL. */
    void (*take_side)(struct transport *t);
    void (*close)(struct transport *t);
};

struct mb_port;

struct transport {
    const struct transport_ops *ops;
    int side; /* -1 until transport_take_side */
    pid_t creator, peer;
    int fd[2][2];            /* pipes, FIFOs: fd[dir][0] read end, fd[dir][1] write end */
    int efd[2][2];           /* eventfd+shm: efd[dir][0] "filled", efd[dir][1] "emptied" */
    int sock[2];             /* sockets: sock[side] */
    mqd_t mq[2];             /* POSIX queues: mq[dir] */
    int msqid;               /* System V: one queue, mtype dir + 1 */
    int msq_slot;            /* its registry slot */
    struct mb_port *port[2]; /* mailbox-port: the receive right of each direction */
    int right[2];            /* and its send right (an mb_send_t's descriptor) */
    size_t chunk;            /* 0 for a byte stream */
    void *bounce;            /* page-aligned scratch: headers, short chunks */
    void *region;            /* a shared mapping of region_size bytes */
    size_t region_size;
    /* Flow control and notification state, this process's own copy after fork. */
    uint64_t sent_bytes, sent_msgs, rcvd_bytes, rcvd_msgs; /* udp credits */
    bool may_send;                                         /* sigqueue+shm: slot known empty */
    bool mask_saved;
    sigset_t saved_mask; /* sigqueue+shm: the creator's mask before it blocked the signals */
};

/* The family tables, in transport_names order in transport.c. */
extern const struct transport_ops pipe_ops, fifo_ops, socketpair_ops, unix_stream_ops, tcp_ops;
extern const struct transport_ops unix_dgram_ops, unix_seqpacket_ops, udp_ops, posix_mq_ops,
    sysv_msg_ops, mailbox_port_ops;
extern const struct transport_ops shm_sem_ops, shm_futex_ops, file_futex_ops, shm_spin_ring_ops;
extern const struct transport_ops eventfd_shm_ops, sigqueue_shm_ops;

/* aligned_alloc of whole pages. */
void *transport_alloc_pages(size_t n);
/* True when t->peer has exited (a zombie child counts: waitid(WNOWAIT), then kill(0)). */
bool transport_peer_gone(const struct transport *t);
/* Now + one second on `clock`: the waits that have no end of file look at the peer each
 * second. */
struct timespec transport_one_second(clockid_t clock);
/* Waits until fd is readable: 0, or -1 with ECONNRESET when the peer is gone meanwhile. */
int transport_wait_readable(struct transport *t, int fd);
/* A fresh 0700 directory "<tmp_dir>/ipc_bench.<pid>.XXXXXX", registered for removal:
 * 0 with its registry slot in *slot, or -1.  transport_private_dir_remove() undoes it. */
int transport_private_dir(char *dir, size_t size, int *slot);
void transport_private_dir_remove(const char *dir, int slot);
/* n bytes of anonymous MAP_SHARED memory into t->region (shared with the child of a later
 * fork; nothing named).  0, or -1. */
int transport_map_anon(struct transport *t, size_t n);
/* A process-wide counter that tells apart the names of one process's transports. */
unsigned transport_open_count(void);

/* One direction of the single-slot shared-memory transports: shm-sem, shm-futex, file-futex,
 * and the notify-only eventfd+shm and sigqueue+shm (which use len and data only). */
#define SLOT_CHUNK 65536
struct slot_channel {
    alignas(64) atomic_uint full; /* futex word: 1 while data[] holds an unread message */
    sem_t filled, emptied;        /* the same two states for shm-sem */
    uint32_t len;
    alignas(PAGE) unsigned char data[SLOT_CHUNK];
};

struct slot_region {
    struct slot_channel dir[2];
};

/* The sender's half: len bytes into the slot.  The receiver's: 0 with len bytes out of it,
 * or -1 with EPROTO when the slot holds another length (a lost or merged message). */
void slot_put(struct slot_channel *ch, const unsigned char *p, size_t len);
int slot_take(const struct slot_channel *ch, unsigned char *p, size_t len);

#endif
