/* ring.h - a lock-free single-producer single-consumer byte ring for shared memory.
 *
 * The chapter's one module: advanced_spsc_ring and solution_ring_tuning build on it, and
 * test_ring checks it (wrap-around, full, empty, every byte across processes).
 *
 * Layout (struct ring_shared, placed at the start of a shared mapping): the producer's index,
 * the consumer's index and the read-only capacity each sit on their own 64-byte cache line, so
 * a store by one side never invalidates the line the other side is polling for something
 * else; the data follows, page-aligned.  The indices count bytes for ever (64-bit, they do not
 * wrap in practice); position = index & (capacity - 1).
 *
 * Ordering: the producer copies bytes in, then publishes its index with a release store; the
 * consumer reads that index with an acquire load, so the bytes are visible to it before it
 * reads them.  The same pair in the other direction hands free space back.
 *
 * Cached indices: each side keeps, in its own private handle, the last value it read of the
 * other side's index, and reads the shared one again only when the cached one says full (or
 * empty).  That turns one cache-line transfer per operation into one per ring's worth.
 *
 * Exactly one producer and one consumer, in any two processes or threads that map it.
 */
#ifndef RING_H
#define RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_LINE 128
#define RING_DATA_OFFSET 4096 /* the data starts on the second page */

struct ring_shared {
    alignas(RING_LINE) atomic_uint_fast64_t head; /* bytes ever written: the producer's */
    alignas(RING_LINE) atomic_uint_fast64_t tail; /* bytes ever read: the consumer's */
    alignas(RING_LINE) uint64_t capacity;         /* a power of two; set once by ring_init */
    uint64_t magic;                               /* RING_MAGIC after ring_init */
};

#define RING_MAGIC 0x52494e4753505343ULL /* "RINGSPSC" */

/* The producer's private view: where it writes next and what it last saw of tail. */
struct ring_producer {
    struct ring_shared *ring;
    unsigned char *data;
    uint64_t head;
    uint64_t cached_tail;
};

/* The consumer's private view. */
struct ring_consumer {
    struct ring_shared *ring;
    unsigned char *data;
    uint64_t tail;
    uint64_t cached_head;
};

/* Bytes to map for a ring of `capacity` data bytes: the header page plus the data. */
size_t ring_mapping_size(size_t capacity);
/* Formats the ring at `mem` (page-aligned, ring_mapping_size(capacity) bytes).  Returns 0, or
 * -1 with errno = EINVAL if capacity is not a power of two from 64 bytes to 1 GiB. */
int ring_init(void *mem, size_t capacity);
/* Handles for the two sides of a formatted ring; -1 with errno = EINVAL if `mem` holds none. */
int ring_producer_open(struct ring_producer *p, void *mem);
int ring_consumer_open(struct ring_consumer *c, void *mem);

/* Zero-copy side.  reserve: the contiguous free bytes at the write position (up to the end of
 * the data area), *where set to them; 0 when full.  commit(n) publishes n of them (release).
 * peek: the contiguous readable bytes; release(n) hands n back. */
size_t ring_write_reserve(struct ring_producer *p, unsigned char **where);
void ring_write_commit(struct ring_producer *p, size_t n);
size_t ring_read_peek(struct ring_consumer *c, const unsigned char **where);
void ring_read_release(struct ring_consumer *c, size_t n);

/* Copying side: as many of the n bytes as fit (or are there), wrapping as needed; returns
 * the count, 0 when full (or empty).  Never blocks. */
size_t ring_write(struct ring_producer *p, const void *buf, size_t n);
size_t ring_read(struct ring_consumer *c, void *buf, size_t n);

/* Bytes readable now, as the consumer would see them (a snapshot). */
size_t ring_used(struct ring_consumer *c);

#endif
