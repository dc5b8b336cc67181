/* pitfall_unaligned_buffer.c - a malloc() buffer that starts 16 bytes past a page boundary
 *
 * glibc serves a large malloc() (from 128 KiB, M_MMAP_THRESHOLD) with mmap() and puts its
 * 16-byte chunk header first, so the buffer a program moves data through starts 16 bytes past
 * a page.  Every page the kernel copies between a pipe and that buffer then straddles two user
 * pages: how much that costs depends on the CPU's copy routine (this project's machines lost
 * half their pipe throughput; others lose little).  The program's own buffer is checked, and
 * the effect itself measured in the same run: aligned and misaligned runs interleaved, medians.
 * --fixed: the buffer comes from aligned_alloc(page size, ...).
 * Guide part: pitfall (performance: buffer alignment for data that moves through the kernel).
 * Run: ./pitfall_unaligned_buffer [--fixed] [--runs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "stats.h"
#include "timing.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (256 * 1024) /* above the mmap threshold, as a sweep's large buffers are */
#define ROUNDS 128         /* write-then-read rounds per timed run: 32 MiB */
#define MAX_RUNS 31

static const char usage[] = "[--fixed] [--runs N]    (N runs of each kind, 1 to 31, default 9)";

static size_t page_offset(const void *p, size_t page)
{
    return (uintptr_t)p % page;
}

/* One thread writes a chunk into the pipe and reads it back into the same buffer: two
 * kernel copies per byte and no scheduling in the timing.  Returns nanoseconds. */
static double one_run(int fds[2], char *buf)
{
    uint64_t start = now_ns();

    for (int i = 0; i < ROUNDS; i++) {
        if (write_full(fds[1], buf, CHUNK) == -1)
            die_errno("write to the pipe");
        if (read_full(fds[0], buf, CHUNK) != CHUNK)
            die_errno("read from the pipe");
    }
    return (double)elapsed_ns(start);
}

/* Aligned and misaligned runs take turns, so a machine that gets busier or calmer during
 * the measurement affects both alike. */
static double measure(int fds[2], char *aligned, char *misaligned, int runs)
{
    double a[MAX_RUNS], m[MAX_RUNS];
    struct stats sa, sm;

    one_run(fds, aligned); /* warm-up: page faults, caches */
    one_run(fds, misaligned);
    for (int i = 0; i < runs; i++) {
        a[i] = one_run(fds, aligned);
        m[i] = one_run(fds, misaligned);
    }
    stats_compute(a, (size_t)runs, &sa);
    stats_compute(m, (size_t)runs, &sm);
    printf("[measure] %d x %d KiB through a pipe and back, one thread, %d runs of each kind, "
           "interleaved, after a warm-up:\n",
           ROUNDS, CHUNK / 1024, runs);
    printf("[measure]   buffer on a page boundary:     %s (median)\n",
           fmt_rate((uint64_t)ROUNDS * CHUNK, (uint64_t)sa.p50).s);
    printf("[measure]   buffer 16 bytes past a page:   %s (median)\n",
           fmt_rate((uint64_t)ROUNDS * CHUNK, (uint64_t)sm.p50).s);
    return sa.p50 / sm.p50;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"runs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    bool fixed = false;
    long runs = 9;
    char *buf, *block;
    int c, fds[2];

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'f')
            fixed = true;
        else if (c == 'r')
            runs = cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
    }
    cli_no_operands(argc, argv, usage);

    /* The program's own buffer, allocated the two ways. */
    buf = fixed ? aligned_alloc(page, CHUNK) : malloc(CHUNK);
    if (buf == NULL)
        die_errno("allocate %d bytes", CHUNK);
    memset(buf, 'x', CHUNK);
    if (page_offset(buf, page) != 0)
        printf("[buffer] malloc(%d KiB) returned %p: %zu bytes past a page boundary (the "
               "allocator's chunk header comes first)\n",
               CHUNK / 1024, (void *)buf, page_offset(buf, page));
    else
        printf("[buffer] %s %d KiB returned %p: it starts on a page boundary\n",
               fixed ? "aligned_alloc() of" : "malloc() of", CHUNK / 1024, (void *)buf);

    /* The effect itself: the same copies with both kinds of buffer, in one run. */
    block = aligned_alloc(page, CHUNK + page);
    if (block == NULL)
        die_errno("allocate %zu bytes", CHUNK + page);
    memset(block, 'y', CHUNK + page);
    if (pipe(fds) == -1)
        die_errno("pipe");
    if (fcntl(fds[1], F_SETPIPE_SZ, CHUNK) == -1) /* a chunk fits: no reader needed */
        die_errno("fcntl F_SETPIPE_SZ %d (is /proc/sys/fs/pipe-max-size lower?)", CHUNK);
    double ratio = measure(fds, block, block + 16, (int)runs);
    printf("[measure] the misaligned buffer runs at %.2fx the speed of the aligned one on this "
           "machine (timings vary: compared here, never asserted)\n",
           ratio);
    printf("[buffer] this program moves its data through %s buffer\n",
           page_offset(buf, page) != 0 ? "the misaligned kind of" : "a page-aligned");
    close(fds[0]);
    close(fds[1]);
    free(block);
    bool misaligned = page_offset(buf, page) != 0;
    free(buf);
    if (!fixed && !misaligned)
        die("this libc's malloc() returned a page-aligned block: no symptom to show");
    return 0;
}
