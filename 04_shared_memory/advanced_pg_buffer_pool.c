/* advanced_pg_buffer_pool.c - PostgreSQL's shared buffer pool: pages, a mapping table, pins
 *
 * Real-world pattern: PostgreSQL (src/backend/storage/buffer/: bufmgr.c, buf_table.c,
 * freelist.c and their README).  Every backend process maps one shared segment holding fixed
 * 8 KiB page slots, a descriptor per slot, and a hash table from page tag to slot split into
 * partitions, each under its own lock (pg_buf_table.c, as PostgreSQL keeps it in
 * buf_table.c).  A descriptor's refcount, usage count and header-lock
 * bit share one atomic word, so a pin is one compare-and-swap.  A miss takes a victim by the
 * clock sweep: skip pinned slots, decrement usage counts, take the first at 0.  Left out: the
 * I/O-in-progress wait, dirty pages and writes, ring strategies, LWLock queues (pthread
 * rwlocks here).
 * Guide part: real-world (shared memory caches in databases).
 * Run: ./advanced_pg_buffer_pool [--backends N] [--reads N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "pg_buf_table.h"
#include "proc.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--backends N] [--reads N]    (backends 1-8, reads 100-1000000)";

#define NBUFFERS 16
#define NBLOCKS 64 /* the "relation" is bigger than the pool: misses and evictions */
#define PAGE_SIZE 8192
#define PINNED_BLOCK 7 /* backend 1 keeps this one pinned all the time */

/* The state word, as in buf_internals.h: refcount low, usage count above, a lock bit. */
#define REFCOUNT_ONE 1u
#define REFCOUNT_MASK 0x3ffffu
#define USAGE_ONE (1u << 18)
#define USAGE_MASK (0xfu << 18)
#define MAX_USAGE 5 /* BM_MAX_USAGE_COUNT */
#define HDR_LOCKED (1u << 22)
#define NO_TAG BUF_TABLE_NO_TAG

struct buffer_desc {
    alignas(64) atomic_uint state;
    int tag; /* the block held; changed only with the header lock and no other pin */
};

struct pool {
    struct buffer_desc desc[NBUFFERS];
    struct buf_table table;  /* block -> buffer, partitioned (pg_buf_table.c) */
    atomic_uint next_victim; /* the clock hand */
    atomic_ulong hits, misses, evictions, pinned_skips;
    alignas(4096) unsigned char pages[NBUFFERS][PAGE_SIZE];
};

static struct pool *pool;

/* WaitBufHdrUnlocked: the state word once no one holds the header lock. */
static unsigned wait_unlocked(struct buffer_desc *d, unsigned old)
{
    while (old & HDR_LOCKED) {
        sched_yield();
        old = atomic_load(&d->state);
    }
    return old;
}

/* LockBufHdr: set the lock bit by CAS once it is clear; returns the locked word. */
static unsigned lock_header(struct buffer_desc *d)
{
    unsigned old = atomic_load(&d->state);

    do
        old = wait_unlocked(d, old);
    while (!atomic_compare_exchange_weak(&d->state, &old, old | HDR_LOCKED));
    return old | HDR_LOCKED;
}

static void unlock_header(struct buffer_desc *d, unsigned state)
{
    atomic_store(&d->state, state & ~HDR_LOCKED); /* one store: new counts and unlock */
}

/* PinBuffer: +1 refcount and +1 usage (up to MAX_USAGE) in one CAS, if not header-locked. */
static void pin(struct buffer_desc *d)
{
    unsigned old = atomic_load(&d->state), new;

    do {
        old = wait_unlocked(d, old);
        new = old + REFCOUNT_ONE;
        if ((old & USAGE_MASK) < MAX_USAGE * USAGE_ONE)
            new += USAGE_ONE;
    } while (!atomic_compare_exchange_weak(&d->state, &old, new));
}

/* UnpinBuffer.  Not a plain atomic subtract: a header-lock holder writes the whole word back
 * when it unlocks and would undo it.  Without the lock, only a CAS that sees it clear. */
static void unpin(struct buffer_desc *d)
{
    unsigned old = atomic_load(&d->state);

    do
        old = wait_unlocked(d, old);
    while (!atomic_compare_exchange_weak(&d->state, &old, old - REFCOUNT_ONE));
}

/* StrategyGetBuffer's clock sweep: returns a slot pinned by us, header unlocked. */
static int clock_sweep(void)
{
    for (;;) {
        int b = (int)(atomic_fetch_add(&pool->next_victim, 1) % NBUFFERS);
        struct buffer_desc *d = &pool->desc[b];
        unsigned st = lock_header(d);

        if ((st & REFCOUNT_MASK) != 0) {
            atomic_fetch_add(&pool->pinned_skips, 1);
            unlock_header(d, st);
        } else if ((st & USAGE_MASK) != 0) {
            unlock_header(d, st - USAGE_ONE); /* a second chance, one tick less */
        } else {
            unlock_header(d, st + REFCOUNT_ONE);
            return b;
        }
    }
}

/* The relation "on disk": byte i of a block follows from the block's number. */
static unsigned char block_byte(int block, int i)
{
    return (unsigned char)(block * 31 + i);
}

/* Samples every 256th byte and the last: enough to catch a page of another block. */
static bool page_ok(const unsigned char *page, int block)
{
    for (int i = 0; i < PAGE_SIZE; i += 256)
        if (page[i] != block_byte(block, i))
            return false;
    return page[PAGE_SIZE - 1] == block_byte(block, PAGE_SIZE - 1);
}

/* ReadBuffer: returns the slot holding `block`, pinned. */
static int read_buffer(int block)
{
    struct buf_partition *p = buf_table_partition(&pool->table, block);

    for (;;) {
        int b;

        pthread_rwlock_rdlock(&p->lock); /* a hit pins under the shared partition lock */
        b = buf_table_lookup(p, block);
        if (b >= 0) {
            pin(&pool->desc[b]);
            pthread_rwlock_unlock(&p->lock);
            atomic_fetch_add(&pool->hits, 1);
            return b;
        }
        pthread_rwlock_unlock(&p->lock);

        b = clock_sweep();
        struct buffer_desc *d = &pool->desc[b];
        struct buf_partition *old =
            d->tag == NO_TAG ? p : buf_table_partition(&pool->table, d->tag);

        buf_table_lock_two(old,
                           p); /* the page is loaded under them: PG waits on BM_IO_IN_PROGRESS */
        unsigned st = lock_header(d);
        if ((st & REFCOUNT_MASK) != REFCOUNT_ONE || buf_table_lookup(p, block) >= 0) {
            /* Someone pinned our victim, or loaded the block first: start again. */
            unlock_header(d, st);
            buf_table_unlock_two(old, p);
            unpin(d);
            continue;
        }
        if (d->tag != NO_TAG) {
            buf_table_delete(old, d->tag);
            atomic_fetch_add(&pool->evictions, 1);
        }
        d->tag = block;
        for (int i = 0; i < PAGE_SIZE; i++) /* "reads the block from disk" */
            pool->pages[b][i] = block_byte(block, i);
        if (buf_table_insert(p, block, b) == -1)
            die("buffer mapping partition full"); /* cannot be: NBUFFERS entries at most */
        unlock_header(d, (st & ~USAGE_MASK) | USAGE_ONE);
        buf_table_unlock_two(old, p);
        atomic_fetch_add(&pool->misses, 1);
        return b;
    }
}

static void init_pool(void)
{
    int err;

    pool = mmap(NULL, sizeof *pool, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pool == MAP_FAILED)
        die_errno("mmap");
    err = buf_table_init(&pool->table);
    if (err != 0)
        die("buf_table_init: %s", strerror(err));
    for (int b = 0; b < NBUFFERS; b++)
        pool->desc[b].tag = NO_TAG;
}

/* A backend: random page reads; checks each page it is handed, then unpins it. */
static noreturn void run_backend(int id, long reads)
{
    unsigned seed = (unsigned)id * 7919u + 1;
    int held = -1, bad = 0;

    if (id == 1) {
        held = read_buffer(PINNED_BLOCK);
        printf("[backend 1] pinned block %d in buffer %d and keeps it pinned\n", PINNED_BLOCK,
               held);
    }
    for (long i = 0; i < reads; i++) {
        int block = (int)(rand_r(&seed) % NBLOCKS);
        int b = read_buffer(block);

        bad += pool->desc[b].tag != block || !page_ok(pool->pages[b], block);
        unpin(&pool->desc[b]);
    }
    if (held >= 0) {
        printf("[backend 1] after %ld reads buffer %d still holds block %d: %s\n", reads, held,
               PINNED_BLOCK,
               pool->desc[held].tag == PINNED_BLOCK ? "a pinned page is never evicted"
                                                    : "EVICTED WHILE PINNED");
        unpin(&pool->desc[held]);
    }
    printf("[backend %d] %ld reads, %d wrong pages\n", id, reads, bad);
    exit(bad == 0 ? 0 : 1);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"backends", required_argument, NULL, 'b'},
        {"reads", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long backends = 3, reads = 20000;
    pid_t pids[8];
    int opt, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'b')
            backends = cli_long(optarg, 1, 8, "--backends", usage);
        else
            reads = cli_long(optarg, 100, 1000000, "--reads", usage);
    }
    cli_no_operands(argc, argv, usage);

    init_pool();
    printf("[postmaster] shared pool: %d buffers of %d KiB, %d partitions of the mapping "
           "table, a relation of %d blocks\n",
           NBUFFERS, PAGE_SIZE / 1024, BUF_TABLE_PARTITIONS, NBLOCKS);
    for (long i = 0; i < backends; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0)
            run_backend((int)i + 1, reads);
    }
    for (long i = 0; i < backends; i++)
        failed += reap_child(pids[i], "postmaster") != 0;
    printf("[postmaster] %lu hits, %lu misses, %lu evictions; the clock hand passed pinned "
           "buffers %lu times\n",
           atomic_load(&pool->hits), atomic_load(&pool->misses), atomic_load(&pool->evictions),
           atomic_load(&pool->pinned_skips));
    for (int b = 0; b < NBUFFERS; b++)
        failed += (atomic_load(&pool->desc[b].state) & REFCOUNT_MASK) != 0;
    printf("[postmaster] %s\n",
           failed == 0 ? "every page checked, every pin released" : "SOMETHING WENT WRONG");
    munmap(pool, sizeof *pool);
    return failed == 0 ? 0 : 1;
}
