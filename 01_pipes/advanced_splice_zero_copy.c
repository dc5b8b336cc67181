/* advanced_splice_zero_copy.c - vmsplice and splice: moving pipe data without user copies
 *
 * The same stream goes from a producer thread through a pipe into a file two
 * ways: write()/read()/write() through a page-aligned user buffer (three
 * copies of every byte), and vmsplice() + splice() (the pipe's slots point at
 * the producer's own pages; splice() to a file still copies them into the
 * page cache).  That last copy is a floor no pipe trick removes, so the run
 * also times a plain write() of the same bytes into the file: the limit the
 * splice path approaches.  The file is checked against the source each time.
 * (tee(), which duplicates a pipe by page reference: advanced_tee_by_reference.)
 *
 * Guide part: kernel (zero-copy: fs/splice.c, pipe_buffer page references).
 * Run: ./advanced_splice_zero_copy [--size SIZE]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define RUNS 5
#define CHUNK (64 * 1024) /* one default pipe's worth per call */

static const char usage[] = "[--size SIZE]    (bytes moved per run, 64K to 1G, default 16M)";

enum path { COPY, SPLICE, DIRECT }; /* DIRECT: no pipe, write() straight into the file */

struct producer {
    enum path path;
    int write_fd;
    const char *src;
    size_t size;
};

static uint64_t checksum(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325u, w;
    size_t i = 0;

    /* FNV-1a over 8-byte words: order-sensitive and fast enough for valgrind. */
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3u;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static void *produce(void *arg)
{
    const struct producer *pr = arg;
    size_t done = 0;

    while (done < pr->size) {
        size_t len = pr->size - done < CHUNK ? pr->size - done : CHUNK;
        /* vmsplice() puts references to our pages into the pipe's slots instead of
         * copying them (iter_to_pipe() takes them with iov_iter_get_pages2()), so this
         * buffer must not change until the reader has consumed them.  It never changes
         * here; a producer that reuses a buffer must wait. */
        struct iovec iov = {.iov_base = (void *)(pr->src + done), .iov_len = len};
        ssize_t n = pr->path == SPLICE ? vmsplice(pr->write_fd, &iov, 1, 0)
                                       : write(pr->write_fd, iov.iov_base, len);

        if (n == -1 && errno != EINTR)
            die_errno(pr->path == SPLICE ? "vmsplice" : "write to pipe");
        done += n > 0 ? (size_t)n : 0;
    }
    close(pr->write_fd); /* the consumer's EOF */
    return NULL;
}

/* copy_buf: CHUNK bytes, page-aligned (a malloc() buffer 16 bytes past a page boundary
 * slows the kernel's copies: see pitfall_unaligned_buffer). */
static size_t consume(enum path path, int read_fd, int sink, char *copy_buf)
{
    size_t total = 0;
    ssize_t n;

    for (;;) {
        if (path == SPLICE) {
            /* iter_file_splice_write(): the slots' pages are copied into the page cache. */
            n = splice(read_fd, NULL, sink, NULL, 1 << 20, 0);
        } else {
            n = read(read_fd, copy_buf, CHUNK);
            if (n > 0 && write_full(sink, copy_buf, (size_t)n) == -1)
                die_errno("write to sink file");
        }
        if (n > 0)
            total += (size_t)n;
        else if (n == 0)
            return total;
        else if (errno != EINTR)
            die_errno(path == SPLICE ? "splice pipe to file" : "read from pipe");
    }
}

/* The floor: the same bytes written from memory straight into the file, one copy each. */
static void write_direct(const char *src, size_t size, int sink)
{
    for (size_t done = 0; done < size; done += CHUNK) {
        size_t len = size - done < CHUNK ? size - done : CHUNK;

        if (write_full(sink, src + done, len) == -1)
            die_errno("write to sink file");
    }
}

/* One timed transfer: producer thread -> fresh pipe -> sink file (or no pipe: DIRECT). */
static double transfer(enum path path, const char *src, size_t size, int sink, char *copy_buf)
{
    struct producer pr = {.path = path, .src = src, .size = size};
    pthread_t thread;
    uint64_t start;
    size_t moved;
    int fds[2], err;

    /* Overwrite in place: after the first run the file's pages are in the
     * page cache, so we time the data movement, not block allocation. */
    if (lseek(sink, 0, SEEK_SET) == -1)
        die_errno("rewind sink file");
    if (path == DIRECT) {
        start = now_ns();
        write_direct(src, size, sink);
        return (double)elapsed_ns(start);
    }
    if (pipe(fds) == -1)
        die_errno("pipe");
    pr.write_fd = fds[1];
    start = now_ns();
    if ((err = pthread_create(&thread, NULL, produce, &pr)) != 0)
        die_errnum(err, "pthread_create");
    moved = consume(path, fds[0], sink, copy_buf);
    if ((err = pthread_join(thread, NULL)) != 0)
        die_errnum(err, "pthread_join");
    if (moved != size)
        die("the sink got %zu bytes of %zu", moved, size);
    close(fds[0]);
    return (double)elapsed_ns(start);
}

/* The last run left the whole stream in the file: compare it with the source. */
static void check_sink(const char *what, int sink, const char *src, size_t size)
{
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, sink, 0);
    uint64_t got;

    if (map == MAP_FAILED)
        die_errno("mmap sink file");
    got = checksum(map, size);
    munmap(map, size);
    if (got != checksum(src, size))
        die("sink file after the %s runs: checksum MISMATCH, the data was damaged", what);
    printf("[sink] %s: %zu bytes in the file, checksum matches\n", what, size);
}

static double median_time(enum path path, const char *src, size_t size, int sink, char *copy_buf)
{
    double samples[RUNS];
    struct stats st;

    /* Empty the file first, so this path's runs must write every byte; the first, untimed
     * run is the warm-up (it allocates the file's page cache pages). */
    if (ftruncate(sink, 0) == -1)
        die_errno("truncate sink file");
    transfer(path, src, size, sink, copy_buf);
    for (int i = 0; i < RUNS; i++)
        samples[i] = transfer(path, src, size, sink, copy_buf);
    stats_compute(samples, RUNS, &st);
    return st.p50;
}

/* On one CPU we time the cost of moving bytes; across two, each run also pays for
 * cross-CPU wake-ups, which on a small or virtual machine can outweigh the copies. */
static void pin_to_one_cpu(void)
{
    int cpu = sched_getcpu();

    if (pin_to_cpu(cpu) == 0) /* EINVAL for cpu -1 */
        printf(
            "[main] pinned to CPU %d: producer and consumer share it, so the timing is the copying\n",
            cpu);
    else
        printf("[main] could not pin to one CPU: timings include cross-CPU wake-ups\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t size = 16u << 20; /* ms-long runs: a steady median */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char dir[PATH_MAX], path[PATH_MAX + 32];
    double t_copy, t_splice, t_direct;
    char *src, *copy_buf;
    sigset_t saved;
    int c, sink;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "s:h", longopts, usage)) != -1)
        if (c == 's')
            size = cli_size(optarg, 64 * 1024, 1u << 30, "--size", usage);
    cli_no_operands(argc, argv, usage);

    /* Page-aligned, so vmsplice maps whole pages into the pipe's slots, and so the copy
     * path's buffer does not pay for a misaligned copy the splice path never makes. */
    src = aligned_alloc(page, (size + page - 1) / page * page);
    copy_buf = aligned_alloc(page, CHUNK);
    if (src == NULL || copy_buf == NULL)
        die_errno("allocate %zu bytes", size);
    for (size_t i = 0; i < size; i++)
        src[i] = (char)(i * 2654435761u >> 13);

    make_temp_dir(dir, sizeof dir, "advanced_splice_zero_copy");
    snprintf(path, sizeof path, "%s/sink.%d", dir, (int)getpid());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    sink = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (sink == -1)
        die_errno("create %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    pin_to_one_cpu();
    printf(
        "[main] moving %s per run from a producer thread through a pipe into a file, %d runs per path\n",
        fmt_bytes(size).s, RUNS);

    t_copy = median_time(COPY, src, size, sink, copy_buf);
    printf("[copy] write, read, write through a page-aligned %d KiB user buffer: %s (median): "
           "3 copies of each byte\n",
           CHUNK / 1024, fmt_rate(size, (uint64_t)t_copy).s);
    check_sink("read/write", sink, src, size);
    t_splice = median_time(SPLICE, src, size, sink, copy_buf);
    printf(
        "[splice] vmsplice into the pipe, splice to the file: %s (median): 1 copy, into the page cache\n",
        fmt_rate(size, (uint64_t)t_splice).s);
    check_sink("vmsplice+splice", sink, src, size);
    t_direct = median_time(DIRECT, src, size, sink, copy_buf);
    printf("[limit] write() of the same bytes straight into the file, no pipe: %s (median): "
           "the one copy into the page cache that splice cannot avoid\n",
           fmt_rate(size, (uint64_t)t_direct).s);
    check_sink("direct write", sink, src, size);
    printf("[main] throughput relative to the limit: splice path %.0f%%, copy path %.0f%% "
           "(splice / copy: %.2fx; varies with the machine and its load)\n",
           100 * t_direct / t_splice, 100 * t_direct / t_copy, t_copy / t_splice);
    printf("[main] three copies put the copy path near a third of the limit; what keeps the "
           "splice path below it is per-page work: references taken and dropped, slots "
           "handed from thread to thread\n");
    printf(
        "[vmsplice] without SPLICE_F_GIFT the pages stay the producer's: it must not touch them until"
        " they are consumed\n[vmsplice] SPLICE_F_GIFT gives them away for good (page-aligned, never"
        " touched again), but SPLICE_F_MOVE, which would use the gift, is a no-op since Linux 2.6.21\n");
    close(sink);
    free(copy_buf);
    free(src);
    return 0;
}
