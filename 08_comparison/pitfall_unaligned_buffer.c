/* pitfall_unaligned_buffer.c - a benchmark buffer 16 bytes past a page boundary
 *
 * A pipe's writer copies each page of data from the caller's buffer into a fresh pipe page,
 * at offset 0 (copy_page_from_iter() in anon_pipe_write(), fs/pipe.c).  From a buffer that
 * starts 16 bytes past a page boundary every one of those copies reads two source pages at an
 * address no cache line starts at; what that costs depends on the CPU's copy routine, and on
 * one of this project's machines it halved pipe throughput.  A benchmark that allocates with
 * plain malloc() measures this by accident.  Broken: the measured stream writes from page + 16;
 * --fixed: from a page-aligned buffer.  Both set it against a page-aligned reference stream.
 * Guide part: pitfall (benchmarking: buffers).
 * Run: ./pitfall_unaligned_buffer [--fixed] [--mib N]
 */
#define _GNU_SOURCE
#include "cleanup.h"
#include "common.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE 4096
#define CHUNK (64u << 10) /* every write and read: 64 KiB, lmbench's XFERSIZE */
#define PASSES 5          /* per buffer, alternating, so a load change hits both alike */

static const char usage[] = "[--fixed] [--mib N]";

/* The reader: takes `bytes` per pass into a page-aligned buffer, then answers one byte. */
static noreturn void reader(int data, int ack, uint64_t bytes)
{
    unsigned char *buf = aligned_alloc(PAGE, CHUNK);
    char done = 'k';

    if (buf == NULL)
        die_errno("[reader] allocating");
    for (int pass = 0; pass < 2 * PASSES; pass++) {
        for (uint64_t got = 0; got < bytes; got += CHUNK) /* bytes: whole MiB, whole chunks */
            if (read_full(data, buf, CHUNK) != CHUNK)
                die_errno("[reader] reading pass %d", pass);
        if (write(ack, &done, 1) != 1)
            die_errno("[reader] acknowledging pass %d", pass);
    }
    free(buf);
    close(data);
    close(ack);
    exit(0);
}

/* One pass: `bytes` in 64 KiB writes from `src`, timed until the reader says it has them. */
static double pass_mbps(int data, int ack, const unsigned char *src, uint64_t bytes)
{
    uint64_t t0 = now_ns();
    char done;

    for (uint64_t sent = 0; sent < bytes; sent += CHUNK)
        if (write_full(data, src, CHUNK) == -1)
            die_errno("[writer] writing");
    if (read(ack, &done, 1) != 1)
        die_errno("[writer] waiting for the reader");
    return (double)bytes * 1000.0 / (double)elapsed_ns(t0);
}

static double median(double *v, size_t n)
{
    struct stats st;

    stats_compute(v, n, &st);
    return st.p50;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"fixed", no_argument, NULL, 'f'},
                                             {"mib", required_argument, NULL, 'm'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bool fixed = false;
    uint64_t bytes = 16u << 20;
    int opt, data[2], ack[2], slot, cpus[1];
    unsigned char *pages, *measured;
    double aligned_mbps[PASSES], measured_mbps[PASSES];
    pid_t pid;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            fixed = true;
        else
            bytes = (uint64_t)cli_long(optarg, 1, 1024, "--mib", usage) << 20;
    }
    cli_no_operands(argc, argv, usage);
    /* Two chunks and a page: the reference at the start, the measured one a chunk later. */
    pages = aligned_alloc(PAGE, 2 * CHUNK + PAGE);
    if (pages == NULL)
        die_errno("allocating the buffers");
    memset(pages, 0x5a, 2 * CHUNK + PAGE); /* faulted in and warm before any clock runs */
    measured = pages + CHUNK + (fixed ? 0 : 16);
    if (fixed)
        printf("[writer] the measured buffer starts on a page boundary (address %% 4096 = %lu)\n",
               (unsigned long)((uintptr_t)measured % PAGE));
    else
        printf("[writer] the measured buffer starts 16 bytes past a page boundary (address %% "
               "4096 = %lu), as malloc() may hand out\n",
               (unsigned long)((uintptr_t)measured % PAGE));
    /* One CPU for both: the placement of lmbench's bw_pipe under taskset -c 0. */
    if (allowed_cpus(cpus, 1) == 1 && pin_to_cpu(cpus[0]) == 0)
        printf("[writer] writer and reader pinned to CPU %d; %d passes of %s per buffer, "
               "alternating, in 64 KiB writes\n",
               cpus[0], PASSES, fmt_bytes(bytes).s);
    else
        printf("[writer] NOT pinned (pinning failed); %d passes of %s per buffer\n", PASSES,
               fmt_bytes(bytes).s);
    if (pipe2(data, O_CLOEXEC) == -1 || pipe2(ack, O_CLOEXEC) == -1)
        die_errno("pipe");
    pid = fork_registered(&slot);
    if (pid == 0) {
        close(data[1]);
        close(ack[0]);
        free(pages);
        reader(data[0], ack[1], bytes);
    }
    close(data[0]);
    close(ack[1]);
    for (int p = 0; p < PASSES; p++) {
        aligned_mbps[p] = pass_mbps(data[1], ack[0], pages, bytes);
        measured_mbps[p] = pass_mbps(data[1], ack[0], measured, bytes);
    }
    close(data[1]);
    close(ack[0]);
    reap_child(pid, "writer");
    cleanup_forget(slot);
    free(pages);
    printf("[writer] page-aligned reference: median %.0f MB/s\n", median(aligned_mbps, PASSES));
    printf("[writer] measured buffer (page + %d): median %.0f MB/s\n", fixed ? 0 : 16,
           median(measured_mbps, PASSES));
    printf("[writer] measured / reference = %.2f (1.00: the buffer costs nothing; on one of "
           "this project's machines page + 16 gave 0.5)\n",
           median(measured_mbps, PASSES) / median(aligned_mbps, PASSES));
    if (!fixed)
        printf("[writer] a benchmark that does not align its buffers reports this ratio as the "
               "mechanism's speed; --fixed aligns the measured buffer\n");
    return 0;
}
