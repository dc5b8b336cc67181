/* advanced_maps_kernel_view.c - the kernel's view of each mapping: /proc/self/maps and smaps
 *
 * Each mapping is a VMA (struct vm_area_struct, include/linux/mm_types.h): one maps line with
 * its range, 's' (shared) or 'p' (private), offset, device, inode and path; smaps adds Rss, Pss
 * (each page divided among its mappers) and Shared/Private Clean/Dirty ("Private": one mapper,
 * not MAP_PRIVATE).  Four kinds, 4 pages each: a file read MAP_SHARED, the file written
 * MAP_PRIVATE (copy-on-write), anonymous private, anonymous shared with a child (Pss halves);
 * then the number of VMAs against vm.max_map_count, the most a process may have.
 * Guide part: kernel (the kernel's view).
 * Run: ./advanced_maps_kernel_view
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "";

#define PAGES 4

static size_t page_size;

/* Counts the lines of /proc/self/maps (one per VMA); copies the one of the VMA that holds
 * `addr` (unless addr is NULL) to line, without its address range. */
static long scan_maps(const void *addr, char *line, size_t size)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    unsigned long start, end;
    char text[4352];
    long vmas = 0;

    if (maps == NULL)
        die_errno("open /proc/self/maps");
    snprintf(line, size, "(no VMA holds %p)\n", addr);
    while (fgets(text, sizeof text, maps) != NULL) {
        vmas++;
        if (addr != NULL && sscanf(text, "%lx-%lx ", &start, &end) == 2 &&
            start <= (unsigned long)addr && (unsigned long)addr < end)
            snprintf(line, size, "%s", strchr(text, ' ') + 1); /* perms offset dev inode path */
    }
    fclose(maps);
    return vmas;
}

/* Prints the maps line and the counters of the VMA that holds `addr`. */
static void show_vma(const char *kind, const void *addr)
{
    static const char *const fields[] = {"Rss",          "Pss",           "Shared_Clean",
                                         "Shared_Dirty", "Private_Clean", "Private_Dirty"};
    char line[4352];
    long kib;

    scan_maps(addr, line, sizeof line);
    printf("[%s] %s", kind, line);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if ((kib = smaps_field_kib(addr, fields[i])) == -1)
            die_errno("smaps %s", fields[i]);
        printf("[%s]     %s: %ld kB\n", kind, fields[i], kib);
    }
}

static char *map_or_die(int prot, int flags, int fd)
{
    char *p = mmap(NULL, PAGES * page_size, prot, flags, fd, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    return p;
}

/* The kernel merges adjacent anonymous VMAs of equal flags into one: a PROT_NONE page on
 * each side of ours keeps it a VMA of its own, so its counters are its own. */
static char *map_anon_private_alone(void)
{
    char *p = mmap(NULL, (PAGES + 2) * page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        die_errno("mmap");
    if (mprotect(p, page_size, PROT_NONE) == -1 ||
        mprotect(p + (PAGES + 1) * page_size, page_size, PROT_NONE) == -1)
        die_errno("mprotect");
    return p + page_size;
}

static void touch(volatile char *p, bool write)
{
    for (size_t i = 0; i < PAGES; i++)
        if (write)
            p[i * page_size] = 1;
        else
            (void)p[i * page_size];
}

static int make_file(void)
{
    static char data[PAGES * 4096];
    char path[4096];
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/advanced_maps_kernel_view.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, data, PAGES * page_size) == -1)
        die_errno("write %s", path);
    return fd;
}

/* A child maps the same anonymous shared pages (inherited), touches them, says so over the
 * socket, and waits for the parent to close its end. */
static pid_t share_with_child(volatile char *shared, int sv[2])
{
    char byte = 't';
    pid_t child;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        die_errno("socketpair");
    /* Registered: a parent stopped by a signal stops the child first, which would otherwise
     * find the socket reset and report an error after its parent is gone. */
    child = fork_registered(NULL);
    if (child == 0) {
        close(sv[0]);
        touch(shared, false);
        if (write(sv[1], &byte, 1) != 1 || read(sv[1], &byte, 1) == -1)
            die_errno("child: socket");
        close(sv[1]);
        exit(0);
    }
    close(sv[1]);
    if (read(sv[0], &byte, 1) != 1) /* the child has touched every page */
        die_errno("read from child");
    return child;
}

int main(int argc, char *argv[])
{
    char *file_shared, *file_private, *anon_private, *anon_shared;
    long max_maps, vmas;
    int fd, sv[2];
    char line[4352];
    pid_t child;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    page_size = (size_t)sysconf(_SC_PAGESIZE);

    fd = make_file();
    file_shared = map_or_die(PROT_READ, MAP_SHARED, fd);
    file_private = map_or_die(PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    close(fd);
    anon_private = map_anon_private_alone();
    anon_shared = map_or_die(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
    touch(file_shared, false);
    touch(file_private, true);
    touch(anon_private, true);
    touch(anon_shared, true);
    printf("[main] four kinds of mapping, %d pages each, every page touched\n", PAGES);

    show_vma("file shared, read", file_shared);
    printf("[note] smaps' Private means mapped by this process alone, not MAP_PRIVATE; Dirty "
           "counts page-cache pages not yet written back (the file was just written)\n");
    show_vma("file private, written", file_private);
    show_vma("anon private, written", anon_private);
    child = share_with_child(anon_shared, sv);
    show_vma("anon shared, 2 processes", anon_shared);
    close(sv[0]); /* the child's read() returns 0: it exits */
    reap_child(child, "main");

    vmas = scan_maps(NULL, line, sizeof line);
    if (sysctl_long("vm/max_map_count", &max_maps) == -1)
        die_errno("read vm.max_map_count");
    printf("[main] this process has %ld VMAs; vm.max_map_count = %ld (mmap fails with ENOMEM "
           "beyond it)\n",
           vmas, max_maps);
    return 0;
}
