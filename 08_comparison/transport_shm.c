/* transport_shm.c - shared memory: one 64 KiB slot per direction woken by POSIX semaphores
 * (shm-sem) or by a futex (shm-futex in POSIX shared memory, file-futex in a MAP_SHARED
 * mapping of a file), and a busy-polling ring (shm-spin-ring).
 *
 * The slot transports carry n bytes as 64 KiB chunks, one message at a time per direction:
 * the sender waits until the slot is empty, copies in, marks it full and wakes the reader.
 * The ring is a byte stream: a 64 KiB single-producer single-consumer ring per direction,
 * C11 acquire/release on its two indices, and no system call at all unless the two sides
 * share one CPU, where it calls sched_yield() in its wait loop instead of burning the time
 * slice the other side needs.  It is the only transport here that spins, and says so.
 */
#define _GNU_SOURCE
#include "transport_impl.h"
#include "cleanup.h"
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void slot_put(struct slot_channel *ch, const unsigned char *p, size_t len)
{
    memcpy(ch->data, p, len);
    ch->len = (uint32_t)len;
}

int slot_take(const struct slot_channel *ch, unsigned char *p, size_t len)
{
    if (ch->len != len) {
        errno = EPROTO;
        return -1;
    }
    memcpy(p, ch->data, len);
    return 0;
}

static int init_slots(struct transport *t)
{
    struct slot_region *r = t->region;

    t->chunk = SLOT_CHUNK;
    for (int dir = 0; dir < 2; dir++) {
        struct slot_channel *ch = &r->dir[dir];

        atomic_init(&ch->full, 0);
        if (sem_init(&ch->filled, 1, 0) == -1 || sem_init(&ch->emptied, 1, 1) == -1)
            return -1;
    }
    return 0;
}

/* Maps fd (closed here) as t->region, the slot region of both directions. */
static int map_slots(struct transport *t, int fd)
{
    void *p = MAP_FAILED;

    if (ftruncate(fd, sizeof(struct slot_region)) == 0)
        p = mmap(NULL, sizeof(struct slot_region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return -1;
    t->region = p;
    t->region_size = sizeof(struct slot_region);
    return init_slots(t);
}

/* POSIX shared memory: a name with the pid, O_EXCL, 0600, registered, unlinked at once. */
static int open_posix_shm(struct transport *t)
{
    char name[64];
    sigset_t saved;
    int fd, slot, rc;

    snprintf(name, sizeof name, "/ipc_bench.%ld.%u", (long)getpid(), transport_open_count());
    stop_signals_hold(&saved);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    slot = fd == -1 ? -1 : cleanup_add_shm(name);
    stop_signals_release(&saved);
    if (fd == -1)
        return -1;
    shm_unlink(name); /* the descriptor, then the mapping, keeps the memory */
    cleanup_forget(slot);
    rc = map_slots(t, fd);
    return rc;
}

/* A regular file in a private mkdtemp directory: O_EXCL, 0600, registered, unlinked once
 * mapped.  The pages are the file's page cache, so a futex on them is keyed by the inode and
 * offset (get_futex_key() in kernel/futex/core.c sets key->shared.i_seq and .pgoff), as
 * for any futex in a MAP_SHARED mapping. */
static int open_file_mapping(struct transport *t)
{
    char dir[256], path[300];
    sigset_t saved;
    int dir_slot, path_slot = -1, fd, rc = -1;

    if (transport_private_dir(dir, sizeof dir, &dir_slot) == -1)
        return -1;
    snprintf(path, sizeof path, "%s/region", dir);
    stop_signals_hold(&saved);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd != -1)
        path_slot = cleanup_add_path(path);
    stop_signals_release(&saved);
    if (fd != -1) {
        unlink(path); /* the descriptor, then the mapping, keeps the file */
        cleanup_forget(path_slot);
        rc = map_slots(t, fd);
    }
    transport_private_dir_remove(dir, dir_slot);
    return rc;
}

static int sem_wait_peer(struct transport *t, sem_t *sem)
{
    for (;;) {
        struct timespec deadline = transport_one_second(CLOCK_MONOTONIC);

        if (sem_clockwait(sem, CLOCK_MONOTONIC, &deadline) == 0)
            return 0;
        if (errno == ETIMEDOUT && transport_peer_gone(t)) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != ETIMEDOUT && errno != EINTR)
            return -1;
    }
}

static int sem_send(struct transport *t, const unsigned char *p, size_t len)
{
    struct slot_channel *ch = &((struct slot_region *)t->region)->dir[t->side];

    if (sem_wait_peer(t, &ch->emptied) == -1)
        return -1;
    slot_put(ch, p, len);
    return sem_post(&ch->filled);
}

static int sem_recv(struct transport *t, unsigned char *p, size_t len)
{
    struct slot_channel *ch = &((struct slot_region *)t->region)->dir[1 - t->side];

    if (sem_wait_peer(t, &ch->filled) == -1 || slot_take(ch, p, len) == -1)
        return -1;
    return sem_post(&ch->emptied);
}

/* Sleeps while *word == busy (FUTEX_WAIT compares and sleeps in one step, so a wake between
 * the check and the sleep is not lost).  Not FUTEX_PRIVATE: the word is in shared memory. */
static int futex_wait_while(struct transport *t, atomic_uint *word, unsigned busy)
{
    while (atomic_load_explicit(word, memory_order_acquire) == busy) {
        struct timespec one_second = {.tv_sec = 1};

        if (syscall(SYS_futex, word, FUTEX_WAIT, busy, &one_second, NULL, 0) == -1) {
            if (errno == ETIMEDOUT && transport_peer_gone(t)) {
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

static int futex_send(struct transport *t, const unsigned char *p, size_t len)
{
    struct slot_channel *ch = &((struct slot_region *)t->region)->dir[t->side];

    if (futex_wait_while(t, &ch->full, 1) == -1)
        return -1;
    slot_put(ch, p, len);
    futex_set_and_wake(&ch->full, 1);
    return 0;
}

static int futex_recv(struct transport *t, unsigned char *p, size_t len)
{
    struct slot_channel *ch = &((struct slot_region *)t->region)->dir[1 - t->side];

    if (futex_wait_while(t, &ch->full, 0) == -1 || slot_take(ch, p, len) == -1)
        return -1;
    futex_set_and_wake(&ch->full, 0);
    return 0;
}

/* ---- shm-spin-ring ------------------------------------------------------------------------ */

#define RING_SIZE 65536 /* a power of two: head and tail run free, masked on use */

struct ring {
    alignas(64) atomic_size_t head; /* bytes ever written: the producer's */
    alignas(64) atomic_size_t tail; /* bytes ever read: the consumer's */
    alignas(PAGE) unsigned char data[RING_SIZE];
};

struct spin_region {
    alignas(64) atomic_int cpu[2]; /* the one CPU side s may run on, or -1; -2 until known */
    struct ring dir[2];
};

/* The one CPU this process may run on, or -1 when it may run on several. */
static int only_cpu(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) == -1 || CPU_COUNT(&set) != 1)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &set))
            return cpu;
    return -1;
}

static int open_spin_ring(struct transport *t)
{
    struct spin_region *r;

    if (transport_map_anon(t, sizeof *r) == -1)
        return -1;
    r = t->region;
    for (int s = 0; s < 2; s++) {
        atomic_init(&r->cpu[s], -2);
        atomic_init(&r->dir[s].head, 0);
        atomic_init(&r->dir[s].tail, 0);
    }
    return 0;
}

static void spin_take_side(struct transport *t)
{
    struct spin_region *r = t->region;

    atomic_store_explicit(&r->cpu[t->side], only_cpu(), memory_order_relaxed);
}

/* One turn of a wait loop.  Both sides pinned to one CPU (or the peer's CPU not yet known):
 * the awaited write cannot happen while this side runs, so yield the CPU at once.  Else
 * spin, with the CPU's pause hint, and yield every 1024 turns so that an unpinned peer that
 * shares the CPU gets it.  Every second, ask after the peer: a dead one never writes. */
struct spin_wait {
    unsigned turns;
    uint64_t since_ns;
};

static int spin_turn(struct transport *t, struct spin_wait *w)
{
    struct spin_region *r = t->region;
    int mine = atomic_load_explicit(&r->cpu[t->side], memory_order_relaxed);
    int theirs = atomic_load_explicit(&r->cpu[1 - t->side], memory_order_relaxed);

    if (theirs == -2 || (mine >= 0 && mine == theirs) || w->turns % 1024 == 1023)
        sched_yield();
#if defined(__x86_64__) || defined(__i386__)
    else
        __builtin_ia32_pause();
#endif
    if (++w->turns % 256 != 0)
        return 0;
    if (w->since_ns == 0)
        w->since_ns = now_ns();
    else if (elapsed_ns(w->since_ns) > 1000000000u) {
        if (transport_peer_gone(t)) {
            errno = ECONNRESET;
            return -1;
        }
        w->since_ns = now_ns();
    }
    return 0;
}

static int ring_send(struct transport *t, const unsigned char *p, size_t n)
{
    struct ring *ring = &((struct spin_region *)t->region)->dir[t->side];
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    struct spin_wait w = {0};

    while (n > 0) {
        /* acquire: the reader's tail store comes after it copied the bytes out. */
        size_t room = RING_SIZE - (head - atomic_load_explicit(&ring->tail, memory_order_acquire));
        size_t at = head & (RING_SIZE - 1), piece = RING_SIZE - at;

        if (room == 0) {
            if (spin_turn(t, &w) == -1)
                return -1;
            continue;
        }
        piece = piece < room ? piece : room;
        piece = piece < n ? piece : n;
        memcpy(ring->data + at, p, piece);
        head += piece;
        /* release: the bytes are in place before the reader can see the new head. */
        atomic_store_explicit(&ring->head, head, memory_order_release);
        p += piece;
        n -= piece;
    }
    return 0;
}

static int ring_recv(struct transport *t, unsigned char *p, size_t n)
{
    struct ring *ring = &((struct spin_region *)t->region)->dir[1 - t->side];
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    struct spin_wait w = {0};

    while (n > 0) {
        size_t ready = atomic_load_explicit(&ring->head, memory_order_acquire) - tail;
        size_t at = tail & (RING_SIZE - 1), piece = RING_SIZE - at;

        if (ready == 0) {
            if (spin_turn(t, &w) == -1)
                return -1;
            continue;
        }
        piece = piece < ready ? piece : ready;
        piece = piece < n ? piece : n;
        memcpy(p, ring->data + at, piece);
        tail += piece;
        atomic_store_explicit(&ring->tail, tail, memory_order_release);
        p += piece;
        n -= piece;
    }
    return 0;
}

const struct transport_ops shm_sem_ops = {"shm-sem", open_posix_shm, sem_send,
                                          sem_recv,  NULL,           NULL};
const struct transport_ops shm_futex_ops = {"shm-futex", open_posix_shm, futex_send,
                                            futex_recv,  NULL,           NULL};
const struct transport_ops file_futex_ops = {
    "file-futex", open_file_mapping, futex_send, futex_recv, NULL, NULL};
const struct transport_ops shm_spin_ring_ops = {"shm-spin-ring", open_spin_ring, ring_send,
                                                ring_recv,       spin_take_side, NULL};
