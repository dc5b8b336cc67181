/* transport.c - the core of transport.h: the one table of mechanisms, the chunk rule, the
 * sides, the closing, and the helpers the families share (transport_impl.h).
 *
 * The mechanisms themselves live by family: transport_stream.c (byte streams: pipe, FIFO,
 * socketpair, UNIX stream, TCP), transport_msg.c (messages: UNIX datagram and seqpacket,
 * UDP, POSIX and System V queues, the 03_mailboxes port), transport_shm.c (shared memory
 * with semaphores, futexes or a spinning ring) and transport_notify.c (shared memory woken
 * by an eventfd or a queued signal).
 */
#define _GNU_SOURCE
#include "transport_impl.h"
#include "cleanup.h"
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct transport_ops *const table[] = {
    &pipe_ops,           &fifo_ops,        &socketpair_ops, &unix_stream_ops, &unix_dgram_ops,
    &unix_seqpacket_ops, &tcp_ops,         &udp_ops,        &posix_mq_ops,    &sysv_msg_ops,
    &mailbox_port_ops,   &shm_sem_ops,     &shm_futex_ops,  &file_futex_ops,  &shm_spin_ring_ops,
    &eventfd_shm_ops,    &sigqueue_shm_ops};

/* The same order as table[] (a unit test checks each name against its transport). */
const char *const transport_names[] = {
    "pipe",      "fifo",       "socketpair",    "unix-stream", "unix-dgram",   "unix-seqpacket",
    "tcp",       "udp",        "posix-mq",      "sysv-msg",    "mailbox-port", "shm-sem",
    "shm-futex", "file-futex", "shm-spin-ring", "eventfd+shm", "sigqueue+shm"};
const size_t transport_count = sizeof transport_names / sizeof transport_names[0];

_Static_assert(sizeof table / sizeof table[0] == sizeof transport_names / sizeof transport_names[0],
               "one table entry per name");

static unsigned open_count;

unsigned transport_open_count(void)
{
    return open_count;
}

void *transport_alloc_pages(size_t n)
{
    return aligned_alloc(PAGE, (n + PAGE - 1) / PAGE * PAGE);
}

/* A child that has died stays a zombie until reaped, and kill(pid, 0) still succeeds on a
 * zombie: ask waitid() first, with WNOWAIT so the caller can still reap it.  A peer that is
 * not our child (side 1 asking after its parent) is asked with kill(). */
bool transport_peer_gone(const struct transport *t)
{
    siginfo_t info = {0};

    if (t->peer <= 0)
        return false;
    if (waitid(P_PID, (id_t)t->peer, &info, WEXITED | WNOHANG | WNOWAIT) == 0)
        return info.si_pid == t->peer;
    return kill(t->peer, 0) == -1 && errno == ESRCH;
}

struct timespec transport_one_second(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += 1;
    return ts;
}

int transport_wait_readable(struct transport *t, int fd)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, 1000);

        if (ready == 1)
            return 0;
        if (ready == -1 && errno != EINTR)
            return -1;
        if (ready == 0 && transport_peer_gone(t)) {
            errno = ECONNRESET;
            return -1;
        }
    }
}

int transport_private_dir(char *dir, size_t size, int *slot)
{
    sigset_t saved;

    snprintf(dir, size, "%s/ipc_bench.%ld.XXXXXX", tmp_dir(), (long)getpid());
    stop_signals_hold(&saved);
    if (mkdtemp(dir) == NULL) {
        stop_signals_release(&saved);
        return -1;
    }
    *slot = cleanup_add_dir(dir);
    stop_signals_release(&saved);
    return 0;
}

void transport_private_dir_remove(const char *dir, int slot)
{
    int saved_errno = errno;

    rmdir(dir);
    cleanup_forget(slot);
    errno = saved_errno;
}

int transport_map_anon(struct transport *t, size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -1;
    t->region = p;
    t->region_size = n;
    return 0;
}

struct transport *transport_open(const char *name)
{
    struct transport *t;
    size_t k = 0;

    while (k < transport_count && strcmp(name, transport_names[k]) != 0)
        k++;
    if (k == transport_count) {
        errno = EINVAL;
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    *t = (struct transport){.ops = table[k],
                            .side = -1,
                            .creator = getpid(),
                            .fd = {{-1, -1}, {-1, -1}},
                            .efd = {{-1, -1}, {-1, -1}},
                            .sock = {-1, -1},
                            .mq = {(mqd_t)-1, (mqd_t)-1},
                            .msqid = -1,
                            .msq_slot = -1,
                            .right = {-1, -1}};
    open_count++;
    if (t->ops->open(t) == -1) {
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
    if (t->ops->take_side != NULL)
        t->ops->take_side(t);
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

    if (t->chunk == 0)
        return t->ops->send(t, p, n);
    for (size_t i = 0; i < chunk_count(t, n); i++)
        if (t->ops->send(t, p + i * t->chunk, chunk_len(t, n, i)) == -1)
            return -1;
    return 0;
}

int transport_recv(struct transport *t, void *buf, size_t n)
{
    unsigned char *p = buf;

    if (t->chunk == 0)
        return t->ops->recv(t, p, n);
    for (size_t i = 0; i < chunk_count(t, n); i++)
        if (t->ops->recv(t, p + i * t->chunk, chunk_len(t, n, i)) == -1)
            return -1;
    return 0;
}

size_t transport_chunk(const struct transport *t)
{
    return t->chunk;
}

const char *transport_name(const struct transport *t)
{
    return t->ops->name;
}

void transport_close(struct transport *t)
{
    if (t == NULL)
        return;
    if (t->ops->close != NULL)
        t->ops->close(t);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            close_fd(&t->fd[i][j]);
            close_fd(&t->efd[i][j]);
        }
        close_fd(&t->sock[i]);
        if (t->mq[i] != (mqd_t)-1)
            mq_close(t->mq[i]);
    }
    if (t->region != NULL)
        munmap(t->region, t->region_size);
    free(t->bounce);
    free(t);
}
