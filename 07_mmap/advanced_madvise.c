/* advanced_madvise.c - MADV_SEQUENTIAL, MADV_RANDOM, MADV_WILLNEED, MADV_DONTNEED, measured
 *
 * madvise() (mm/madvise.c) says how a range will be used.  SEQUENTIAL and RANDOM set VMA flags
 * (smaps VmFlags "sr"/"rr") that the file fault path reads: RANDOM turns readahead from storage
 * off, SEQUENTIAL reads ahead from the fault on; cached pages are mapped by fault-around either
 * way, so the fault counts stay equal.  WILLNEED starts reading the range into the page cache.
 * DONTNEED zaps this process's page-table entries: anonymous private memory comes back zeroed
 * (its data is gone), a shared file page from the page cache.  Measured: faults, mincore, smaps.
 * Guide part: kernel (advice to the pager).
 * Run: ./advanced_madvise
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "timing.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "";

#define FILE_SIZE (4 << 20)

static size_t page_size;

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

static size_t resident(void *addr, size_t length)
{
    static unsigned char vec[FILE_SIZE / 4096];
    size_t count = 0;

    if (mincore(addr, length, vec) == -1)
        die_errno("mincore");
    for (size_t i = 0; i < length / page_size; i++)
        count += vec[i] & 1;
    return count;
}

/* The VmFlags line of the VMA at addr, from smaps: "rd mr mw me sr" and so on. */
static void vm_flags(const void *addr, char *out, size_t size)
{
    FILE *smaps = fopen("/proc/self/smaps", "re");
    char line[512];
    unsigned long start, end;
    bool ours = false;

    if (smaps == NULL)
        die_errno("open /proc/self/smaps");
    snprintf(out, size, "?");
    while (fgets(line, sizeof line, smaps) != NULL) {
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
            ours = start == (unsigned long)addr;
        else if (ours && strncmp(line, "VmFlags:", 8) == 0)
            snprintf(out, size, "%.*s", (int)strcspn(line + 9, "\n"), line + 9);
    }
    fclose(smaps);
}

/* Maps the file, gives the advice, touches every page: prints the faults and the flags. */
static void touch_with_advice(int fd, int advice, const char *name)
{
    char *data = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0), flags[256];
    volatile char sink = 0;
    long before;

    if (data == MAP_FAILED)
        die_errno("mmap");
    if (madvise(data, FILE_SIZE, advice) == -1)
        die_errno("madvise %s", name);
    vm_flags(data, flags, sizeof flags);
    before = minor_faults();
    for (size_t off = 0; off < FILE_SIZE; off += page_size)
        sink ^= data[off];
    (void)sink;
    printf("[%s] %zu pages touched: %ld faults; VmFlags: %s\n", name, FILE_SIZE / page_size,
           minor_faults() - before, flags);
    munmap(data, FILE_SIZE);
}

static void willneed(int fd)
{
    char *data = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    size_t before;

    if (data == MAP_FAILED)
        die_errno("mmap");
    /* Drop the clean cached pages first, where the filesystem can (not tmpfs: memory only). */
    if (fdatasync(fd) == -1 || posix_fadvise(fd, 0, FILE_SIZE, POSIX_FADV_DONTNEED) != 0)
        die_errno("fdatasync/posix_fadvise");
    before = resident(data, FILE_SIZE);
    if (madvise(data, FILE_SIZE, MADV_WILLNEED) == -1)
        die_errno("madvise MADV_WILLNEED");
    sleep_ms(50); /* the readahead it starts is asynchronous */
    printf("[willneed] pages in the page cache: %zu before MADV_WILLNEED, %zu after%s\n", before,
           resident(data, FILE_SIZE),
           before == FILE_SIZE / page_size ? " (nothing could be dropped: tmpfs keeps them)" : "");
    munmap(data, FILE_SIZE);
}

static void dontneed(int fd)
{
    size_t length = 16 * page_size;
    char *anon = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    size_t after;

    if (anon == MAP_FAILED || shared == MAP_FAILED)
        die_errno("mmap");
    memset(anon, 0xab, length);
    shared[0] = 'X';
    printf("[dontneed] anonymous: %zu pages resident, first byte 0x%02x\n", resident(anon, length),
           (unsigned char)anon[0]);
    if (madvise(anon, length, MADV_DONTNEED) == -1 || madvise(shared, page_size, MADV_DONTNEED))
        die_errno("madvise MADV_DONTNEED");
    after = resident(anon, length); /* before the read below faults a page back in */
    printf("[dontneed] after MADV_DONTNEED: %zu resident; first byte now 0x%02x: zero-filled, the "
           "data is gone\n",
           after, (unsigned char)anon[0]);
    printf("[dontneed] a MAP_SHARED file page after it: '%c' again, from the page cache\n",
           shared[0]);
    munmap(anon, length);
    munmap(shared, page_size);
}

int main(int argc, char *argv[])
{
    static char chunk[1 << 20];
    char path[4096];
    sigset_t saved;
    int fd;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    page_size = (size_t)sysconf(_SC_PAGESIZE);

    snprintf(path, sizeof path, "%s/advanced_madvise.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    for (size_t off = 0; off < FILE_SIZE; off += sizeof chunk)
        if (write_full(fd, chunk, sizeof chunk) == -1)
            die_errno("write %s", path);
    printf("[main] %s: %d MiB, its pages in the page cache\n", path, FILE_SIZE >> 20);

    touch_with_advice(fd, MADV_NORMAL, "normal");
    touch_with_advice(fd, MADV_SEQUENTIAL, "sequential");
    touch_with_advice(fd, MADV_RANDOM, "random");
    printf("[main] equal counts: every page was cached, and fault-around maps cached neighbours "
           "whatever the advice; the advice changes readahead from storage\n");
    willneed(fd);
    dontneed(fd);
    close(fd);
    return 0;
}
