/* pg_buf_table.h - the buffer mapping table of advanced_pg_buffer_pool, as PostgreSQL's
 * src/backend/storage/buffer/buf_table.c keeps it apart from the buffer manager.
 *
 * A hash table from a page's tag (here just a block number) to the buffer slot that holds
 * it, in shared memory, split into partitions chosen by the tag's hash, each under its own
 * process-shared rwlock: lookups of different partitions never meet, and a lookup takes its
 * partition shared.  Moving a buffer from one tag to another locks both partitions, the
 * lower-addressed first (PostgreSQL: the lower-numbered), so two misses cannot deadlock.
 * Left out: PostgreSQL's dynahash, its 128 partitions and the full BufferTag.
 * test_pg_buf_table checks it.
 */
#ifndef PG_BUF_TABLE_H
#define PG_BUF_TABLE_H

#include <pthread.h>

#define BUF_TABLE_PARTITIONS 4
#define BUF_TABLE_SLOTS 16 /* entries per partition, open addressing */
#define BUF_TABLE_NO_TAG (-1)

struct buf_partition {
    pthread_rwlock_t lock;
    int tag[BUF_TABLE_SLOTS]; /* BUF_TABLE_NO_TAG = empty */
    int buf[BUF_TABLE_SLOTS];
};

struct buf_table { /* place it in shared memory */
    struct buf_partition part[BUF_TABLE_PARTITIONS];
};

/* Empties the table and makes its locks process-shared: 0, or an error number. */
int buf_table_init(struct buf_table *t);
/* The partition that holds (or would hold) `tag`. */
struct buf_partition *buf_table_partition(struct buf_table *t, int tag);
/* BufTableLookup, under the partition's lock (shared is enough): the buffer, or -1. */
int buf_table_lookup(const struct buf_partition *p, int tag);
/* BufTableInsert / BufTableDelete, under the partition's lock held exclusively.  Insert
 * returns 0, or -1 when the partition is full; delete of an absent tag does nothing. */
int buf_table_insert(struct buf_partition *p, int tag, int buf);
void buf_table_delete(struct buf_partition *p, int tag);
/* Both partitions exclusively, in one global order (a and b may be the same one). */
void buf_table_lock_two(struct buf_partition *a, struct buf_partition *b);
void buf_table_unlock_two(struct buf_partition *a, struct buf_partition *b);

#endif
