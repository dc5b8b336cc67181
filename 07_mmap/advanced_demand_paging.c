/* advanced_demand_paging.c - page faults counted while pages are touched; MAP_POPULATE; mincore
 *
 * mmap() only reserves addresses: each page gets its page-table entry at its first touch, in a
 * page fault (mm/memory.c: do_anonymous_page() for anonymous memory, do_read_fault() for a file
 * page), counted by getrusage(): minor if the page is in memory, major if it waits for I/O.
 * MAP_POPULATE takes the faults inside mmap().  mincore() shows the page cache holding pages not
 * yet mapped; a read fault on one maps its aligned 64 KiB window, up to 16 pages (fault-around).
 * On tmpfs (the tests' $TMPDIR) pages are always in memory: no major faults, as it says.
 * Guide part: kernel (demand paging).
 * Run: ./advanced_demand_paging [--mib N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "[--mib N]    (N from 1 to 256, default 16)";

static size_t page_size;
static long major_total; /* every major fault seen, for the last line */

struct faults {
    long minor, major;
};

static struct faults faults_now(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return (struct faults){ru.ru_minflt, ru.ru_majflt};
}

static size_t resident_pages(void *addr, size_t length)
{
    static unsigned char vec[256 << 20 >> 12]; /* one byte a page, for up to 256 MiB */
    size_t pages = length / page_size, resident = 0;

    if (mincore(addr, length, vec) == -1)
        die_errno("mincore");
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    return resident;
}

/* Reads one byte of every page; returns the faults it took. */
static struct faults touch(volatile const char *data, size_t length)
{
    struct faults before = faults_now(), after;
    char sink = 0;

    for (size_t off = 0; off < length; off += page_size)
        sink ^= data[off];
    (void)sink;
    after = faults_now();
    return (struct faults){after.minor - before.minor, after.major - before.major};
}

static void show(const char *role, const char *what, struct faults f)
{
    printf("[%s] %s: %ld minor, %ld major fault(s)\n", role, what, f.minor, f.major);
    major_total += f.major;
}

static void anonymous(size_t length, bool populate)
{
    const char *role = populate ? "populate" : "anon";
    struct faults before = faults_now(), in_mmap;
    char *data = mmap(NULL, length, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

    if (data == MAP_FAILED)
        die_errno("mmap");
    in_mmap = faults_now();
    in_mmap.minor -= before.minor;
    in_mmap.major -= before.major;
    /* A populated region already has its pages; the plain one gets 4 KiB pages, whatever the
     * THP setting, so the count does not depend on the machine. */
    if (!populate && madvise(data, length, MADV_NOHUGEPAGE) == -1)
        die_errno("madvise MADV_NOHUGEPAGE");
    printf("[%s] mapped %zu pages %s; resident now: %zu\n", role, length / page_size,
           populate ? "with MAP_POPULATE" : "(MADV_NOHUGEPAGE)", resident_pages(data, length));
    if (populate)
        show(role, "inside mmap()", in_mmap);
    show(role, "touching every page", touch(data, length));
    printf("[%s] resident after: %zu\n", role, resident_pages(data, length));
    munmap(data, length);
}

static void file_backed(size_t length)
{
    static char chunk[1 << 20];
    char path[4096], *data;
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/advanced_demand_paging.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    /* Written with write(): its pages are in the page cache, and in no page table yet. */
    for (size_t off = 0; off < length; off += sizeof chunk)
        if (write_full(fd, chunk, sizeof chunk) == -1)
            die_errno("write %s", path);
    data = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    printf("[file] mapped %zu pages of %s; in the page cache already: %zu\n", length / page_size,
           path, resident_pages(data, length));
    show("file", "touching every page", touch(data, length));
    printf("[file] fewer faults than pages: each fault also mapped cached neighbours "
           "(fault-around)\n");
    munmap(data, length);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"mib", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long mib = 16;
    int c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'm')
            mib = cli_long(optarg, 1, 256, "--mib", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    page_size = (size_t)sysconf(_SC_PAGESIZE);

    anonymous((size_t)mib << 20, false);
    anonymous((size_t)mib << 20, true);
    file_backed((size_t)mib << 20);
    if (major_total == 0)
        printf("[main] no major faults: every page was in memory (a tmpfs file is memory; a "
               "file on disk that is not cached would fault majorly)\n");
    else
        printf("[main] %ld major fault(s): some page had to be read from storage\n", major_total);
    return 0;
}
