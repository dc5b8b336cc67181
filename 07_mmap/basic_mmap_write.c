/* basic_mmap_write.c - a file changed in place through MAP_SHARED, msync, then read back
 *
 * With MAP_SHARED the mapping IS the file's page cache: a store into it changes the page that
 * every read() of the file returns, at once, on the same machine (Linux has one unified page
 * cache; POSIX only promises it after msync()).  msync(MS_SYNC) is what asks for the dirty
 * pages to be written to the storage and waits for it; it is needed for durability, not for
 * other readers to see the change.  The program upper-cases every word "mmap" of a file and
 * then reads the file with a plain read() to show the change.
 * Guide part: theory (shared file mappings, msync).
 * Run: ./basic_mmap_write
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "";

static const char text[] = "mmap maps a file; writes through mmap change the file.\n";

static int create_file(char *path, size_t size)
{
    sigset_t saved;
    int fd;

    snprintf(path, size, "%s/basic_mmap_write.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    return fd;
}

/* What read() returns now: the file as every other process sees it. */
static void show_file(int fd, const char *when)
{
    char buf[sizeof text];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);

    if (n == -1)
        die_errno("pread");
    printf("[read] %s: %.*s", when, (int)n, buf);
}

int main(int argc, char *argv[])
{
    size_t length = strlen(text), changed = 0;
    char path[4096], *data;
    int fd;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    fd = create_file(path, sizeof path);
    if (write_full(fd, text, length) == -1)
        die_errno("write %s", path);
    printf("[main] wrote %zu bytes to %s\n", length, path);
    show_file(fd, "before");

    /* PROT_WRITE with MAP_SHARED needs a descriptor open for reading AND writing. */
    data = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    printf("[main] mapped it MAP_SHARED, PROT_READ|PROT_WRITE at %p\n", (void *)data);

    for (char *p = data; (p = memmem(p, length - (size_t)(p - data), "mmap", 4)) != NULL; p += 4) {
        memcpy(p, "MMAP", 4);
        changed++;
    }
    printf("[main] stored \"MMAP\" over %zu words in the mapping (plain memory stores)\n", changed);
    show_file(fd, "after the stores, before msync");

    printf("[main] msync(MS_SYNC): write the dirty page to storage and wait\n");
    if (msync(data, length, MS_SYNC) == -1)
        die_errno("msync");
    if (munmap(data, length) == -1)
        die_errno("munmap");
    close(fd);

    /* A fresh open, as an unrelated process would do it. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        die_errno("open %s", path);
    show_file(fd, "after munmap, a new open");
    close(fd);
    printf("[main] the change is in the file: no write() was ever called for it\n");
    return 0;
}
