/* solution_mmap_wc.c - exercise 1: wc over a mapped file
 *
 * The worked answer to exercise 1 of the chapter README: count the lines, words and bytes of
 * one file by mapping it read-only and walking the bytes in place, and print them in the
 * POSIX format of wc ("%d %d %d %s\n").  No read() of the file's data: the file is mapped.
 * The corners the statement names: an empty file (mmap of length 0 is EINVAL, so it is not
 * mapped), a FIFO or a directory (refused after fstat, without blocking in open), binary
 * bytes (unsigned char for isspace), a last line without a newline.
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_mmap_wc [FILE]    (no FILE: a 24-byte sample file of its own, as stated)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[FILE]";

static const char sample[] = "one two three\nfour five\n";

struct counts {
    unsigned long long lines, words, bytes;
};

static struct counts count(const unsigned char *data, size_t size)
{
    struct counts c = {0, 0, size};
    bool in_word = false;

    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n')
            c.lines++;
        if (isspace(data[i])) {
            in_word = false;
        } else if (!in_word) {
            in_word = true;
            c.words++;
        }
    }
    return c;
}

/* The demonstration the statement asks for: a sample file in $TMPDIR, removed at exit. */
static void write_sample(char *path, size_t size)
{
    sigset_t saved;
    int fd;

    snprintf(path, size, "%s/mmap_wc.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, sample, sizeof sample - 1) == -1)
        die_errno("write %s", path);
    close(fd);
    printf("[demo] no FILE given: counting a %zu-byte sample file\n", sizeof sample - 1);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct counts c = {0, 0, 0};
    char sample_path[4096];
    const char *path;
    struct stat st;
    void *data;
    int fd;

    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        continue; /* -h and errors are handled inside */
    if (argc - optind > 1)
        die_usage(usage, "at most one FILE");
    if (optind < argc) {
        path = argv[optind];
    } else {
        write_sample(sample_path, sizeof sample_path);
        path = sample_path;
    }

    /* open_regular: a FIFO is refused at once, never waited on; nothing stays open. */
    fd = open_regular(path, O_RDONLY, &st);
    if (fd == -1 && errno == EINVAL)
        die("%s: not a regular file", path);
    if (fd == -1)
        die_errno("open %s", path);

    if (st.st_size > 0) {
        data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (data == MAP_FAILED)
            die_errno("mmap %s", path);
        madvise(data, (size_t)st.st_size, MADV_SEQUENTIAL); /* a hint: its failure is harmless */
        c = count(data, (size_t)st.st_size);
        munmap(data, (size_t)st.st_size);
    }
    close(fd);
    printf("%llu %llu %llu %s\n", c.lines, c.words, c.bytes, path);
    return 0;
}
