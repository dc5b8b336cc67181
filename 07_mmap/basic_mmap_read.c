/* basic_mmap_read.c - a file mapped read-only and counted in place, against a read() loop
 *
 * mmap(PROT_READ, MAP_SHARED) makes the file's pages part of the address space: the program
 * walks them like an array, and no byte is copied into a buffer of its own.  The same counts
 * (lines, words, bytes, as wc gives them) come from a plain read() loop over the same file,
 * so the two ways can be compared line for line.  A file of 0 bytes cannot be mapped (mmap
 * with length 0 is EINVAL), and a pipe or a terminal cannot be mapped at all (ENODEV): both
 * are told apart before mmap is called.
 * Guide part: theory (mapping a file, reading it in place).
 * Run: ./basic_mmap_read [FILE]     (no FILE: a sample file made in $TMPDIR)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[FILE]";

static const char sample[] = "A mapping is a range of addresses\n"
                             "backed by a file's pages in the page cache.\n"
                             "Reading it faults them in, one page at a time.\n";

struct counts {
    unsigned long long lines, words, bytes;
    bool in_word; /* carried across read() chunks: a word may span two */
};

static void count_bytes(struct counts *c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            c->lines++;
        if (isspace(p[i])) {
            c->in_word = false;
        } else if (!c->in_word) {
            c->in_word = true;
            c->words++;
        }
    }
    c->bytes += n;
}

static struct counts count_mapped(int fd, off_t size)
{
    struct counts c = {0};
    unsigned char *data;

    if (size == 0) {
        printf("[mmap] the file is empty: nothing to map (mmap of length 0 is EINVAL)\n");
        return c;
    }
    data = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    printf("[mmap] mapped %lld bytes read-only at %p: counting in place\n", (long long)size,
           (void *)data);
    count_bytes(&c, data, (size_t)size);
    if (munmap(data, (size_t)size) == -1)
        die_errno("munmap");
    return c;
}

static struct counts count_read(int fd)
{
    static unsigned char buf[65536];
    struct counts c = {0};
    ssize_t n;

    /* pread from 0: the mapping did not move the file offset, but say so in code. */
    for (off_t off = 0; (n = pread(fd, buf, sizeof buf, off)) != 0; off += n) {
        if (n == -1)
            die_errno("pread");
        count_bytes(&c, buf, (size_t)n);
    }
    printf("[read] read the same file through a %zu-byte buffer: %llu bytes copied\n", sizeof buf,
           c.bytes);
    return c;
}

static int open_sample(char *path, size_t size)
{
    sigset_t saved;
    int fd;

    snprintf(path, size, "%s/basic_mmap_read.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, sample, strlen(sample)) == -1)
        die_errno("write %s", path);
    printf("[main] wrote a %zu-byte sample to %s\n", strlen(sample), path);
    return fd;
}

int main(int argc, char *argv[])
{
    struct counts by_map, by_read;
    char path[4096];
    struct stat st;
    int fd, c;

    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        continue; /* -h and errors are handled inside */
    if (argc - optind > 1)
        die_usage(usage, "too many operands");
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if (optind < argc) {
        snprintf(path, sizeof path, "%s", argv[optind]);
        /* O_NONBLOCK: a FIFO given by mistake must not block open() for a writer;
         * on a regular file the flag changes nothing. */
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd == -1)
            die_errno("open %s", path);
    } else {
        fd = open_sample(path, sizeof path);
    }
    if (fstat(fd, &st) == -1)
        die_errno("fstat %s", path);
    if (!S_ISREG(st.st_mode)) {
        close(fd); /* no descriptor left open at exit, on any path */
        die("%s: not a regular file: only files (and block devices) can be mapped", path);
    }

    by_map = count_mapped(fd, st.st_size);
    by_read = count_read(fd);
    close(fd);
    printf("[mmap] lines=%llu words=%llu bytes=%llu\n", by_map.lines, by_map.words, by_map.bytes);
    printf("[read] lines=%llu words=%llu bytes=%llu\n", by_read.lines, by_read.words,
           by_read.bytes);
    if (st.st_size == 0 && by_read.bytes > 0) {
        /* Not a change: a /proc file reports size 0 and makes its text at read(). */
        printf("[main] fstat said 0 bytes, read() gave %llu bytes: %s is made at read() time "
               "(/proc), with no pages to map\n",
               by_read.bytes, path);
        return 0;
    }
    if (memcmp(&by_map, &by_read, offsetof(struct counts, in_word)) != 0)
        die("the two counts differ: the file changed while it was read");
    printf("[main] same counts both ways: the mapping showed exactly the file's bytes\n");
    return 0;
}
