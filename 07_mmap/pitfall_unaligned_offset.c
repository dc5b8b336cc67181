/* pitfall_unaligned_offset.c - mmap() at an offset that is not a multiple of the page size
 *
 * To map a record in the middle of a file, the natural call passes the record's offset, but
 * mmap() maps whole pages: the offset must be a multiple of the page size (POSIX and Linux), or
 * the call fails with EINVAL (on x86-64 the mmap entry in arch/x86/kernel/sys_x86_64.c tests
 * off & ~PAGE_MASK before ksys_mmap_pgoff() gets a page number).  --fixed rounds the offset down
 * to a page boundary, maps from there with the length grown by the difference, and adds the
 * difference to the pointer it uses.
 * Guide part: pitfall (mappings are made of pages).
 * Run: ./pitfall_unaligned_offset [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define RECORD_OFFSET 5000
static const char record[] = "the record at offset 5000";

static int make_file(void)
{
    char path[4096], filler[RECORD_OFFSET];
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/pitfall_unaligned_offset.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    memset(filler, '.', sizeof filler);
    if (write_full(fd, filler, sizeof filler) == -1 ||
        write_full(fd, record, sizeof record - 1) == -1)
        die_errno("write %s", path);
    printf("[main] %s: \"%s\" stored at byte %d\n", path, record, RECORD_OFFSET);
    return fd;
}

int main(int argc, char *argv[])
{
    long page = sysconf(_SC_PAGESIZE);
    size_t length = sizeof record - 1;
    off_t offset = RECORD_OFFSET, map_offset;
    size_t delta;
    char *base;
    bool fixed;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    fd = make_file();
    printf("[main] the page size is %ld\n", page);
    /* THE FIX: map from the page boundary at or below the record, and step in. */
    map_offset = fixed ? offset & ~((off_t)page - 1) : offset;
    delta = (size_t)(offset - map_offset);
    printf("[main] mmap(length %zu, offset %lld)\n", length + delta, (long long)map_offset);
    base = mmap(NULL, length + delta, PROT_READ, MAP_SHARED, fd, map_offset);
    if (base == MAP_FAILED) {
        if (errno != EINVAL)
            die_errno("mmap");
        printf("[main] mmap failed with EINVAL: %lld is not a multiple of %ld\n", (long long)offset,
               page);
        close(fd);
        return 0;
    }
    printf("[main] mapped at %p; the record starts %zu bytes in\n", (void *)base, delta);
    printf("[main] read through the mapping: \"%.*s\"\n", (int)length, base + delta);
    if (munmap(base, length + delta) == -1) /* munmap takes the pointer mmap gave */
        die_errno("munmap");
    close(fd);
    return 0;
}
