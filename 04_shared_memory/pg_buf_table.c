/* pg_buf_table.c - the partitioned buffer mapping table of pg_buf_table.h. */
#define _GNU_SOURCE
#include "pg_buf_table.h"

int buf_table_init(struct buf_table *t)
{
    pthread_rwlockattr_t attr;
    int err = pthread_rwlockattr_init(&attr);

    if (err == 0)
        err = pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    for (int i = 0; err == 0 && i < BUF_TABLE_PARTITIONS; i++) {
        err = pthread_rwlock_init(&t->part[i].lock, &attr);
        for (int j = 0; j < BUF_TABLE_SLOTS; j++)
            t->part[i].tag[j] = BUF_TABLE_NO_TAG;
    }
    pthread_rwlockattr_destroy(&attr);
    return err;
}

struct buf_partition *buf_table_partition(struct buf_table *t, int tag)
{
    return &t->part[(unsigned)tag * 2654435761u % BUF_TABLE_PARTITIONS];
}

int buf_table_lookup(const struct buf_partition *p, int tag)
{
    for (int i = 0; i < BUF_TABLE_SLOTS; i++)
        if (p->tag[i] == tag)
            return p->buf[i];
    return -1;
}

int buf_table_insert(struct buf_partition *p, int tag, int buf)
{
    for (int i = 0; i < BUF_TABLE_SLOTS; i++) {
        if (p->tag[i] == BUF_TABLE_NO_TAG) {
            p->tag[i] = tag;
            p->buf[i] = buf;
            return 0;
        }
    }
    return -1;
}

void buf_table_delete(struct buf_partition *p, int tag)
{
    for (int i = 0; i < BUF_TABLE_SLOTS; i++)
        if (p->tag[i] == tag)
            p->tag[i] = BUF_TABLE_NO_TAG;
}

void buf_table_lock_two(struct buf_partition *a, struct buf_partition *b)
{
    if (a > b) {
        struct buf_partition *t = a;

        a = b;
        b = t;
    }
    pthread_rwlock_wrlock(&a->lock);
    if (b != a)
        pthread_rwlock_wrlock(&b->lock);
}

void buf_table_unlock_two(struct buf_partition *a, struct buf_partition *b)
{
    pthread_rwlock_unlock(&a->lock);
    if (b != a)
        pthread_rwlock_unlock(&b->lock);
}
