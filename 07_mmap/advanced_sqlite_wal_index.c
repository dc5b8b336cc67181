/* advanced_sqlite_wal_index.c - SQLite's WAL index: a header kept twice in a shared -shm file
 *
 * Real-world pattern: SQLite's WAL mode (src/wal.c).  Every connection maps the "-shm" file
 * MAP_SHARED; it starts with the WAL-index header (WalIndexHdr: change counter, isInit, page
 * size, mxFrame, nPage, checksums aCksum) twice.  walIndexWriteHdr checksums the new header,
 * copies it to the second slot, a barrier, then the first; walIndexTryHdr copies the first, a
 * barrier, the second, and trusts them only if equal, isInit set, checksum right: else retry.
 * No lock for this.  Left out: the WAL file, the hash tables, the locking bytes, recovery.
 * Guide part: real-world (lock-free reads through a shared mapping).
 * Run: ./advanced_sqlite_wal_index [--updates N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--updates N]    (N from 1 to 10000000, default 200000)";

#define READERS 2

/* The 48-byte header, field for field as SQLite lays it out (machine byte order). */
struct wal_index_hdr {
    uint32_t version, unused, change;
    uint8_t is_init, big_end_cksum;
    uint16_t page_size;
    uint32_t max_frame, pages;
    uint32_t frame_cksum[2], salt[2];
    uint32_t cksum[2]; /* over everything above */
};

/* Two running sums over 32-bit word pairs, each feeding the other (the scheme of SQLite's
 * walChecksumBytes, native byte order). */
static void checksum(const struct wal_index_hdr *h, uint32_t out[2])
{
    uint32_t words[offsetof(struct wal_index_hdr, cksum) / 4], s1 = 0, s2 = 0;

    memcpy(words, h, sizeof words);
    for (size_t i = 0; i < sizeof words / 4; i += 2) {
        s1 += words[i] + s2;
        s2 += words[i + 1] + s1;
    }
    out[0] = s1;
    out[1] = s2;
}

static void write_header(volatile struct wal_index_hdr *slots, struct wal_index_hdr *h)
{
    h->is_init = 1;
    checksum(h, h->cksum);
    memcpy((void *)&slots[1], h, sizeof *h);
    atomic_thread_fence(memory_order_seq_cst); /* walShmBarrier() */
    memcpy((void *)&slots[0], h, sizeof *h);
}

/* 0: a header that can be trusted is in *h; 1: torn or unset, try again. */
static int try_header(volatile struct wal_index_hdr *slots, struct wal_index_hdr *h)
{
    struct wal_index_hdr second;
    uint32_t sum[2];

    memcpy(h, (void *)&slots[0], sizeof *h);
    atomic_thread_fence(memory_order_seq_cst);
    memcpy(&second, (void *)&slots[1], sizeof second);
    if (memcmp(h, &second, sizeof second) != 0 || !h->is_init)
        return 1;
    checksum(h, sum);
    return sum[0] != h->cksum[0] || sum[1] != h->cksum[1];
}

static void run_writer(volatile struct wal_index_hdr *slots, long updates)
{
    struct wal_index_hdr h = {.version = 3007000, .page_size = 4096};

    for (long i = 1; i <= updates; i++) {
        h.change++;
        h.max_frame = (uint32_t)i;
        h.pages = (uint32_t)(3 * i + 1); /* what a reader checks: pages = 3 * mxFrame + 1 */
        write_header(slots, &h);
    }
    printf("[writer] %ld commits published; last mxFrame=%ld\n", updates, updates);
}

static void run_reader(int id, volatile struct wal_index_hdr *slots, long updates)
{
    unsigned long trusted = 0, retries = 0;
    struct wal_index_hdr h = {0};

    do {
        if (try_header(slots, &h) != 0) {
            retries++;
            continue;
        }
        if (h.pages != 3 * h.max_frame + 1)
            die("[reader %d] a trusted header is inconsistent", id);
        trusted++;
    } while (h.max_frame < (uint32_t)updates);
    printf("[reader %d] %lu trusted headers, all consistent; %lu torn or unset reads retried\n", id,
           trusted, retries);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"updates", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    volatile struct wal_index_hdr *slots;
    pid_t children[READERS + 1];
    char dir[4096], path[4200];
    long updates = 200000;
    sigset_t saved;
    int fd, c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'n')
            updates = cli_long(optarg, 1, 10000000, "--updates", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    make_temp_dir(dir, sizeof dir, "advanced_sqlite_wal_index");
    snprintf(path, sizeof path, "%s/test.db-shm", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if (ftruncate(fd, 32768) == -1) /* SQLite grows -shm in 32 KiB regions */
        die_errno("ftruncate %s", path);
    slots = mmap(NULL, 32768, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (slots == MAP_FAILED)
        die_errno("mmap %s", path);
    close(fd);
    printf("[main] %s mapped; header slots at offsets 0 and %zu, %zu bytes each\n", path,
           sizeof *slots, sizeof *slots);

    for (int i = 0; i <= READERS; i++) {
        children[i] = fork_registered(NULL); /* a stopped parent stops it first */
        if (children[i] == 0) {
            if (i == 0)
                run_writer(slots, updates);
            else
                run_reader(i, slots, updates);
            exit(0);
        }
    }
    for (int i = 0; i <= READERS; i++)
        reap_child(children[i], "main");
    munmap((void *)slots, 32768);
    return 0;
}
