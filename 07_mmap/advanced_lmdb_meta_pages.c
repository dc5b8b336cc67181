/* advanced_lmdb_meta_pages.c - LMDB's commit: copy-on-write pages and two alternating meta pages
 *
 * Real-world pattern: LMDB (libraries/liblmdb/mdb.c).  Every process maps the file; pages 0, 1
 * are meta pages, the valid one has the higher txnid (mdb_env_pick_meta).  A writer copies the
 * pages it changes, then commits by writing meta page txnid & 1 (the older), txnid last
 * (mdb_env_write_meta): killed before that, it changes nothing.  Readers publish their txnid in
 * a reader table and read without a lock; a page is reused only when no snapshot reaches it.
 * Left out: the B+tree (one page of 64 counters), freelist, fsync order, file growth, mutex.
 * Guide part: real-world (MVCC through a shared mapping).
 * Run: ./advanced_lmdb_meta_pages [--txns N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--txns N]    (N from 1 to 1000000, default 5000)";

#define PAGE 4096
#define DATA_PAGES 8 /* pages 2 .. 9 */
#define READERS 2
#define COUNTERS 64
#define MAGIC 0xBEEFC0DEu /* LMDB's MDB_MAGIC */

/* LMDB's meta holds the txnid and the roots as separate fields and a reader copies them;
 * here one 8-byte word holds both (txnid << 8 | root page), so a reader can never pair one
 * commit's txnid with another commit's root, and the word's store is the commit. */
struct meta {
    uint32_t magic, unused;
    _Atomic uint64_t txn_root;
};

static uint64_t txnid_of(uint64_t txn_root)
{
    return txn_root >> 8;
}

static unsigned root_of(uint64_t txn_root)
{
    return (unsigned)(txn_root & 0xff);
}

struct reader_slot {
    _Atomic uint64_t txnid; /* the snapshot in use; 0: none */
};

struct db_file {
    union {
        struct meta m;
        char pad[PAGE];
    } meta[2];
    uint64_t pages[DATA_PAGES][PAGE / 8];
    struct reader_slot readers[READERS];
};

static const struct meta *pick_meta(struct db_file *db)
{
    uint64_t t0 = txnid_of(atomic_load(&db->meta[0].m.txn_root));
    uint64_t t1 = txnid_of(atomic_load(&db->meta[1].m.txn_root));

    return &db->meta[t0 < t1].m;
}

/* A page no meta points to and no reader's snapshot can reach: written by a txn older than
 * every reader's, and not one of the two roots. */
static int free_page(struct db_file *db, const uint64_t *written_by)
{
    uint64_t oldest = UINT64_MAX;

    for (int r = 0; r < READERS; r++) {
        uint64_t t = atomic_load(&db->readers[r].txnid);

        if (t != 0 && t < oldest)
            oldest = t;
    }
    for (int p = 0; p < DATA_PAGES; p++)
        if (p + 2 != (int)root_of(db->meta[0].m.txn_root) &&
            p + 2 != (int)root_of(db->meta[1].m.txn_root) && written_by[p] < oldest)
            return p;
    return -1;
}

static void commit_one(struct db_file *db, uint64_t *written_by)
{
    uint64_t current = atomic_load(&pick_meta(db)->txn_root), txnid = txnid_of(current) + 1;
    struct meta *target = &db->meta[txnid & 1].m;
    int page;

    while ((page = free_page(db, written_by)) == -1)
        sleep_ms(1); /* every spare page pinned by a reader (LMDB would grow the file) */
    /* Copy-on-write: the new snapshot goes to a page no one is reading. */
    memcpy(db->pages[page], db->pages[root_of(current) - 2], COUNTERS * 8);
    for (int i = 0; i < COUNTERS; i++)
        db->pages[page][i] = txnid;
    written_by[page] = txnid;
    target->magic = MAGIC;
    /* The commit.  Sequentially consistent, not just release: the writer's later look at the
     * reader table must not pass this store (x86 lets a load pass an earlier store), or a
     * reader that saw the old meta could be missed. */
    atomic_store(&target->txn_root, txnid << 8 | (uint64_t)(page + 2));
}

static void run_writer(struct db_file *db, long txns)
{
    uint64_t written_by[DATA_PAGES] = {0};

    written_by[root_of(db->meta[0].m.txn_root) - 2] = 1;
    for (long i = 0; i < txns; i++)
        commit_one(db, written_by);
    printf("[writer] %ld transactions committed, alternating meta pages 0 and 1\n", txns);
}

static void run_reader(struct db_file *db, int id, long txns)
{
    struct reader_slot *slot = &db->readers[id];
    unsigned long snapshots = 0;
    uint64_t t;

    do {
        uint64_t word;
        const uint64_t *table;

        /* Publish the txnid first, then check that it is still the newest: from then on the
         * writer will not reuse the pages of this snapshot.  (mdb_txn_renew0 loops the same
         * way on the last committed txnid that the lock file holds, ITS#7970, then takes
         * meta page txnid & 1; here the meta pages are read directly.) */
        do {
            word = atomic_load(&pick_meta(db)->txn_root);
            atomic_store(&slot->txnid, txnid_of(word));
        } while (atomic_load(&pick_meta(db)->txn_root) != word);
        t = txnid_of(word);
        table = db->pages[root_of(word) - 2];
        for (int i = 0; i < COUNTERS; i++)
            if (table[i] != t) {
                atomic_store(&slot->txnid, 0); /* a dead reader must not pin pages */
                die("[reader %d] snapshot %llu is torn", id + 1, (unsigned long long)t);
            }
        atomic_store(&slot->txnid, 0); /* end of the read transaction */
        snapshots++;
    } while (t < (uint64_t)txns + 1);
    printf("[reader %d] %lu snapshots read without a lock, each whole\n", id + 1, snapshots);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"txns", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pid_t children[READERS + 1], crasher;
    char dir[4096], path[4200];
    long txns = 5000;
    struct db_file *db;
    uint64_t newest;
    sigset_t saved;
    int fd, c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'n')
            txns = cli_long(optarg, 1, 1000000, "--txns", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    make_temp_dir(dir, sizeof dir, "advanced_lmdb_meta_pages");
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if (ftruncate(fd, sizeof *db) == -1)
        die_errno("ftruncate");
    db = mmap(NULL, sizeof *db, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (db == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    for (int i = 0; i < COUNTERS; i++)
        db->pages[0][i] = 1;
    db->meta[0].m.magic = MAGIC;
    atomic_store(&db->meta[0].m.txn_root, 1 << 8 | 2); /* txn 1, root page 2 */
    printf("[main] %s: meta pages 0 and 1, %d data pages; txn 1 in meta 0\n", path, DATA_PAGES);

    for (int i = 0; i <= READERS; i++) {     /* the readers first, the writer last */
        children[i] = fork_registered(NULL); /* a stopped parent stops it first */
        if (children[i] == 0) {
            if (i < READERS)
                run_reader(db, i, txns);
            else
                run_writer(db, txns);
            exit(0);
        }
    }
    for (int i = 0; i <= READERS; i++)
        reap_child(children[i], "main");

    printf("[main] a writer that dies of SIGKILL after its data page, before the meta page\n");
    crasher = fork_or_die(); /* not registered: it dies at once */
    if (crasher == 0) {
        uint64_t pinned[DATA_PAGES] = {0};
        int page = free_page(db, pinned);

        memset(db->pages[page], 0xff, sizeof db->pages[page]);
        raise(SIGKILL);
    }
    reap_child(crasher, "main");
    newest = atomic_load(&pick_meta(db)->txn_root);
    printf("[main] newest meta: page %d, txnid %llu, root page %u holding %llu: the crash "
           "changed nothing\n",
           pick_meta(db) == &db->meta[0].m ? 0 : 1, (unsigned long long)txnid_of(newest),
           root_of(newest), (unsigned long long)db->pages[root_of(newest) - 2][0]);
    munmap(db, sizeof *db);
    return 0;
}
