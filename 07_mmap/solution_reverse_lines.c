/* solution_reverse_lines.c - exercise 2: reverse a file's lines in place through a mapping
 *
 * The worked answer to exercise 2 of the chapter README.  The file is mapped MAP_SHARED and
 * rearranged where it lies, with no second buffer and no write(): reverse all its bytes
 * (leaving a final '\n' where it is), then reverse each line back, so "a\nb\nc\n" becomes
 * "c\nb\na\n" and "a\nb" becomes "b\na".  The file keeps its inode, size and mode: a program
 * that writes a new file and renames it over the old one does not do what is asked.
 * msync(MS_SYNC) before exit, so the result is on storage when the program says so.
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_reverse_lines [FILE]    (no FILE: a 3-line sample file of its own)
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
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[FILE]";

static const char sample[] = "first\nsecond\nthird\n";

static void reverse_bytes(char *begin, char *end)
{
    while (begin < end - 1) {
        char byte = *begin;

        *begin++ = *--end;
        *end = byte;
    }
}

/* Reverses the order of the lines of data[0..size) in place; returns how many lines. */
static size_t reverse_lines(char *data, size_t size)
{
    bool ends_with_newline = size > 0 && data[size - 1] == '\n';
    size_t body = ends_with_newline ? size - 1 : size; /* a final '\n' stays last */
    size_t newlines = ends_with_newline ? 1 : 0;
    char *line = data, *newline;

    reverse_bytes(data, data + body);
    while ((newline = memchr(line, '\n', body - (size_t)(line - data))) != NULL) {
        reverse_bytes(line, newline);
        line = newline + 1;
        newlines++;
    }
    reverse_bytes(line, data + body);
    /* Every '\n' ends a line, and so does the end of a file that lacks a final one. */
    return newlines + (size > 0 && !ends_with_newline ? 1 : 0);
}

static void write_sample(char *path, size_t size)
{
    sigset_t saved;
    int fd;

    snprintf(path, size, "%s/reverse_lines.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, sample, sizeof sample - 1) == -1)
        die_errno("write %s", path);
    close(fd);
    printf("[demo] no FILE given: reversing a sample file: first, second, third\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char sample_path[4096], *data;
    const char *path;
    size_t lines = 0;
    struct stat st;
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
    fd = open_regular(path, O_RDWR, &st);
    if (fd == -1 && errno == EINVAL)
        die("%s: not a regular file", path);
    if (fd == -1)
        die_errno("open %s", path);
    if (st.st_size > 0) {
        data = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (data == MAP_FAILED)
            die_errno("mmap %s", path);
        lines = reverse_lines(data, (size_t)st.st_size);
        if (msync(data, (size_t)st.st_size, MS_SYNC) == -1)
            die_errno("msync %s", path);
        munmap(data, (size_t)st.st_size);
    }
    close(fd);
    printf("reversed %zu lines\n", lines);
    if (path == sample_path)
        printf("[demo] the file now reads: third, second, first\n");
    return 0;
}
