/* ring.c - the SPSC byte ring of ring.h. */
#include "ring.h"

#include <errno.h>
#include <string.h>

size_t ring_mapping_size(size_t capacity)
{
    return RING_DATA_OFFSET + capacity;
}

int ring_init(void *mem, size_t capacity)
{
    struct ring_shared *r = mem;

    if (capacity < 64 || capacity > ((size_t)1 << 30) || (capacity & (capacity - 1)) != 0) {
        errno = EINVAL;
        return -1;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->capacity = capacity;
    r->magic = RING_MAGIC;
    return 0;
}

static int check_ring(const struct ring_shared *r)
{
    if (r->magic != RING_MAGIC || r->capacity == 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int ring_producer_open(struct ring_producer *p, void *mem)
{
    p->ring = mem;
    if (check_ring(p->ring) == -1)
        return -1;
    p->data = (unsigned char *)mem + RING_DATA_OFFSET;
    /* Our own index needs no ordering; the other side's is read with acquire. */
    p->head = atomic_load_explicit(&p->ring->head, memory_order_relaxed);
    p->cached_tail = atomic_load_explicit(&p->ring->tail, memory_order_acquire);
    return 0;
}

int ring_consumer_open(struct ring_consumer *c, void *mem)
{
    c->ring = mem;
    if (check_ring(c->ring) == -1)
        return -1;
    c->data = (unsigned char *)mem + RING_DATA_OFFSET;
    c->tail = atomic_load_explicit(&c->ring->tail, memory_order_relaxed);
    c->cached_head = atomic_load_explicit(&c->ring->head, memory_order_acquire);
    return 0;
}

size_t ring_write_reserve(struct ring_producer *p, unsigned char **where)
{
    uint64_t cap = p->ring->capacity;
    uint64_t free_bytes = cap - (p->head - p->cached_tail);
    uint64_t pos, to_end;

    if (free_bytes == 0) {
        /* Only now look at the consumer's line: it may have moved on. */
        p->cached_tail = atomic_load_explicit(&p->ring->tail, memory_order_acquire);
        free_bytes = cap - (p->head - p->cached_tail);
        if (free_bytes == 0)
            return 0;
    }
    pos = p->head & (cap - 1);
    to_end = cap - pos;
    *where = p->data + pos;
    return (size_t)(free_bytes < to_end ? free_bytes : to_end);
}

void ring_write_commit(struct ring_producer *p, size_t n)
{
    p->head += n;
    /* release: the bytes written above are visible before the new head is */
    atomic_store_explicit(&p->ring->head, p->head, memory_order_release);
}

size_t ring_read_peek(struct ring_consumer *c, const unsigned char **where)
{
    uint64_t cap = c->ring->capacity;
    uint64_t avail = c->cached_head - c->tail;
    uint64_t pos, to_end;

    if (avail == 0) {
        c->cached_head = atomic_load_explicit(&c->ring->head, memory_order_acquire);
        avail = c->cached_head - c->tail;
        if (avail == 0)
            return 0;
    }
    pos = c->tail & (cap - 1);
    to_end = cap - pos;
    *where = c->data + pos;
    return (size_t)(avail < to_end ? avail : to_end);
}

void ring_read_release(struct ring_consumer *c, size_t n)
{
    c->tail += n;
    /* release: our reads of those bytes are done before the producer may overwrite them */
    atomic_store_explicit(&c->ring->tail, c->tail, memory_order_release);
}

size_t ring_write(struct ring_producer *p, const void *buf, size_t n)
{
    const unsigned char *src = buf;
    size_t done = 0;

    while (done < n) {
        unsigned char *where;
        size_t room = ring_write_reserve(p, &where);

        if (room == 0)
            break;
        if (room > n - done)
            room = n - done;
        memcpy(where, src + done, room);
        done += room;
        p->head += room; /* published once, below: one release store per call */
    }
    if (done > 0)
        atomic_store_explicit(&p->ring->head, p->head, memory_order_release);
    return done;
}

size_t ring_read(struct ring_consumer *c, void *buf, size_t n)
{
    unsigned char *dst = buf;
    size_t done = 0;

    while (done < n) {
        const unsigned char *where;
        size_t avail = ring_read_peek(c, &where);

        if (avail == 0)
            break;
        if (avail > n - done)
            avail = n - done;
        memcpy(dst + done, where, avail);
        done += avail;
        c->tail += avail;
    }
    if (done > 0)
        atomic_store_explicit(&c->ring->tail, c->tail, memory_order_release);
    return done;
}

size_t ring_used(struct ring_consumer *c)
{
    uint64_t head = atomic_load_explicit(&c->ring->head, memory_order_acquire);

    return (size_t)(head - c->tail);
}
