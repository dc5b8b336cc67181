/* pitfall_no_msync.c - mapped writes are in the page cache, not on storage, until msync(MS_SYNC)
 *
 * A store through MAP_SHARED dirties a page-cache page: other processes see it at once, storage
 * only when writeback decides (vm.dirty_expire_centisecs); POSIX promises nothing without
 * msync().  On Linux MS_ASYNC does nothing since 2.6.19 (mm/msync.c) and MS_SYNC calls
 * vfs_fsync_range() and waits.  Measured from smaps (Shared_Dirty + Private_Dirty): broken, a
 * record is reported durable after MS_ASYNC; --fixed, only once MS_SYNC returns.  On tmpfs (the
 * tests' /tmp) there is no storage: the pages stay dirty even then, and it says so.
 * Guide part: pitfall (durability of mapped writes).
 * Run: ./pitfall_no_msync [--fixed] [--dir DIR]    (DIR on a disk filesystem shows writeback)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "procfs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

static const char usage[] = "[--fixed] [--dir DIR]";

#define PAGES 4
#define TMPFS_MAGIC_NUMBER 0x01021994 /* linux/magic.h TMPFS_MAGIC */

/* Dirty KiB of the mapping that holds `addr` (smaps: Shared_Dirty + Private_Dirty). */
static long dirty_kib(const void *addr)
{
    long shared = smaps_field_kib(addr, "Shared_Dirty");
    long private = smaps_field_kib(addr, "Private_Dirty");

    if (shared == -1 || private == -1)
        die_errno("read /proc/self/smaps");
    return shared + private;
}

static int make_file(const char *dir, bool *on_tmpfs)
{
    char path[4096];
    struct statfs fs;
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/pitfall_no_msync.XXXXXX", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (fstatfs(fd, &fs) == -1)
        die_errno("fstatfs");
    *on_tmpfs = fs.f_type == TMPFS_MAGIC_NUMBER;
    printf("[main] %s is on %s\n", path,
           *on_tmpfs ? "tmpfs: memory only, there is no storage to write back to"
                     : "a filesystem with storage behind it");
    return fd;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t length = (size_t)sysconf(_SC_PAGESIZE) * PAGES;
    const char *dir = tmp_dir();
    bool fixed = false, on_tmpfs;
    long expire;
    char *data;
    int fd, c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'f')
            fixed = true;
        else if (c == 'd' && optarg[0] == '\0')
            die_usage(usage, "--dir needs a directory"); /* "" would put the file in / */
        else if (c == 'd')
            dir = optarg;
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    fd = make_file(dir, &on_tmpfs);
    if (ftruncate(fd, (off_t)length) == -1)
        die_errno("ftruncate");
    data = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    memset(data, 'r', length);
    printf("[main] stored a %zu-byte record through MAP_SHARED: %ld KiB of the mapping dirty\n",
           length, dirty_kib(data));
    if (sysctl_long("vm/dirty_expire_centisecs", &expire) == 0)
        printf("[main] vm.dirty_expire_centisecs = %ld: writeback may wait %ld.%02ld s\n", expire,
               expire / 100, expire % 100);

    if (!fixed) {
        if (msync(data, length, MS_ASYNC) == -1)
            die_errno("msync MS_ASYNC");
        printf("[main] msync(MS_ASYNC) returned: a no-op on Linux; still %ld KiB dirty\n",
               dirty_kib(data));
        printf("[main] reporting the record durable without msync(MS_SYNC): a crash now "
               "may lose it\n");
    } else {
        printf("[main] msync(MS_SYNC): write the dirty pages and wait\n");
        if (msync(data, length, MS_SYNC) == -1) /* THE FIX: an error here is a lost write */
            die_errno("msync MS_SYNC");
        if (on_tmpfs)
            printf("[main] msync(MS_SYNC) returned 0; still %ld KiB dirty: tmpfs has nothing "
                   "to write them to\n",
                   dirty_kib(data));
        else
            printf("[main] msync(MS_SYNC) returned 0; %ld KiB dirty: written back\n",
                   dirty_kib(data));
        printf("[main] reporting the record durable after msync(MS_SYNC) returned 0\n");
    }
    munmap(data, length);
    return 0;
}
