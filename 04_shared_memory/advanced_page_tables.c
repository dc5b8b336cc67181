/* advanced_page_tables.c - the kernel's side of shared memory: faults, page tables, smaps
 *
 * mmap() only reserves addresses; the pages arrive one page fault at a time, on first touch,
 * and each process that maps the object fills its own page tables (the pages themselves are
 * shared, in the shmem page cache).  Shown here: minor faults from getrusage() while touching
 * a fresh shared mapping, MAP_POPULATE moving those faults into mmap() itself, a second process
 * faulting the same pages into its own tables (fault-around maps several per fault on reads),
 * Rss and Shared_* from /proc/self/smaps, and the System V limits shmmax, shmall and shmmni.
 * Guide part: kernel (page faults, page tables and the TLB behind shared memory).
 * Run: ./advanced_page_tables [--size SIZE]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "[--size SIZE]    (SIZE from 1M to 1G)";

static long page_size;

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

/* One store (or load) per page: the first touch of each page is what faults. */
static unsigned long touch(unsigned char *p, size_t size, bool write)
{
    unsigned long sum = 0;

    for (size_t off = 0; off < size; off += (size_t)page_size) {
        if (write)
            p[off] = (unsigned char)off;
        else
            sum += ((volatile unsigned char *)p)[off];
    }
    return sum;
}

static void *map(size_t size, int extra_flags)
{
    void *p =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | extra_flags, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

/* The smaps fields of the mapping that holds `p`, those a reader should look at. */
static void show_smaps(const char *role, const void *p)
{
    static const char *const keys[] = {"Rss", "Pss", "Shared_Dirty", "Private_Dirty"};
    long kib[4];

    for (int k = 0; k < 4; k++) {
        if ((kib[k] = smaps_field_kib(p, keys[k])) != -1)
            continue;
        if (errno == ENOENT)
            printf("[%s] smaps: no mapping holds %p (under valgrind, say, the layout differs)\n",
                   role, p);
        else
            printf("[%s] /proc/self/smaps: not readable here\n", role);
        return;
    }
    printf("[%s] smaps of the mapping: Rss %ld kB, Pss %ld kB, Shared_Dirty %ld kB, "
           "Private_Dirty %ld kB\n",
           role, kib[0], kib[1], kib[2], kib[3]);
}

/* shmmax and shmall default to ULONG_MAX - 2^24, more than sysctl_long() takes: read them as
 * unsigned numbers here. */
static void show_limit(const char *name, const char *meaning)
{
    char path[64];
    unsigned long long v;
    FILE *f;

    snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
    f = fopen(path, "r");
    if (f == NULL || fscanf(f, "%llu", &v) != 1) {
        printf("[parent] kernel.%s: not readable here\n", name);
    } else {
        printf("[parent] kernel.%-6s = %llu%s: %s\n", name, v,
               v >= 0xfffffffffeffffffULL ? " (ULONG_MAX - 2^24, no real limit)" : "", meaning);
    }
    if (f != NULL)
        fclose(f);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t size = 16 << 20, pages;
    unsigned char *p, *q;
    long before;
    pid_t child;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        size = cli_size(optarg, 1 << 20, 1 << 30, "--size", usage);
    cli_no_operands(argc, argv, usage);
    page_size = sysconf(_SC_PAGESIZE);
    pages = size / (size_t)page_size;

    printf("[parent] page size %ld bytes; a %s shared anonymous mapping is %zu pages\n", page_size,
           fmt_bytes(size).s, pages);
    before = minor_faults();
    p = map(size, 0);
    printf("[parent] mmap(): %ld minor faults: addresses reserved, no page yet\n",
           minor_faults() - before);
    show_smaps("parent", p);
    before = minor_faults();
    touch(p, size, true);
    printf("[parent] first store to each page: %ld minor faults for %zu pages\n",
           minor_faults() - before, pages);
    before = minor_faults();
    touch(p, size, true);
    printf("[parent] second store to each page: %ld minor faults: the page tables have them\n",
           minor_faults() - before);
    show_smaps("parent", p);

    before = minor_faults();
    q = map(size, MAP_POPULATE);
    printf("[parent] mmap(MAP_POPULATE) of another %s: %ld minor faults inside mmap()\n",
           fmt_bytes(size).s, minor_faults() - before);
    before = minor_faults();
    touch(q, size, true);
    printf("[parent] then first store to each page: %ld minor faults\n", minor_faults() - before);
    munmap(q, size);

    printf("[parent] forking: the child inherits the mapping but fork() copies no shared page "
           "table entries (they are refilled on demand)\n");
    child = fork_or_die();
    if (child == 0) {
        before = minor_faults();
        touch(p, size, false);
        printf("[child] first load from each page: %ld minor faults for %zu pages (fault-around "
               "maps neighbours already in the page cache)\n",
               minor_faults() - before, pages);
        show_smaps("child", p);
        munmap(p, size);
        exit(0);
    }
    reap_child(child, "parent");
    show_limit("shmmax", "largest System V segment, bytes");
    show_limit("shmall", "all System V segments together, pages");
    show_limit("shmmni", "most System V segments on the system");
    munmap(p, size);
    return 0;
}
