/* pitfall_short_read.c - one read() is not one write(): a pipe is a byte stream
 *
 * A pipe keeps no message boundaries.  read() returns whatever is buffered, at most the
 * pipe's capacity, so a record larger than that always arrives in pieces, and small records
 * written quickly merge into one read.  The broken reader does one read() per record and
 * miscounts; --fixed puts a 4-byte length before every record and reads exactly that many
 * bytes with read_full(), so every record arrives whole whatever the chunking.
 * Guide part: pitfall (byte stream: short and merged reads, length-prefixed framing).
 * Run: ./pitfall_short_read [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORDS 3
#define SHOWN_READS 8 /* read sizes printed before "..." */

static const char usage[] = "[--fixed]";

/* Record r is `size` bytes of the letter 'A' + r, so a reader can check it. */
static noreturn void run_writer(int fd, size_t size, bool framed)
{
    char *rec = malloc(size);

    if (rec == NULL)
        die_errno("malloc");
    for (int r = 0; r < RECORDS; r++) {
        uint32_t len = (uint32_t)size;

        memset(rec, 'A' + r, size);
        if (framed && write_full(fd, &len, sizeof len) == -1)
            die_errno("write length");
        if (write_full(fd, rec, size) == -1)
            die_errno("write record");
        printf("[writer] record %d: %s%zu bytes written\n", r + 1, framed ? "4-byte length + " : "",
               size);
    }
    free(rec);
    close(fd);
    exit(0);
}

/* The bug: "each read() returns one record".  Returns how many reads came back short. */
static int naive_reader(int fd, char *buf, size_t size)
{
    size_t sizes[SHOWN_READS], total = 0;
    int reads = 0, short_reads = 0;
    ssize_t n;

    while ((n = read(fd, buf, size)) > 0) {
        if (reads < SHOWN_READS)
            sizes[reads] = (size_t)n;
        reads++;
        total += (size_t)n;
        if ((size_t)n < size) {
            short_reads++;
            if (reads <= RECORDS)
                printf("[reader] record %d is short: %zd of %zu bytes%s\n", reads, n, size,
                       buf[0] != buf[n - 1] ? ", and it mixes the bytes of two records" : "");
        }
    }
    if (n == -1)
        die_errno("read");
    printf("[reader] expected %d records, one read() each, got %d reads of sizes", RECORDS, reads);
    for (int i = 0; i < reads && i < SHOWN_READS; i++)
        printf(" %zu", sizes[i]);
    printf("%s (%zu bytes in all)\n", reads > SHOWN_READS ? " ..." : "", total);
    return short_reads;
}

/* The fix: read the length, then exactly that many bytes, looping over short reads. */
static int framed_reader(int fd, char *buf, size_t size)
{
    uint32_t len;
    int whole = 0;

    for (int r = 0; r < RECORDS; r++) {
        if (read_full(fd, &len, sizeof len) != (ssize_t)sizeof len || len > size)
            die("record %d: bad or missing length", r + 1);
        ssize_t n = read_full(fd, buf, len);
        if (n == -1)
            die_errno("read_full");
        bool intact = (size_t)n == len && buf[0] == 'A' + r && memcmp(buf, buf + 1, len - 1) == 0;
        printf("[reader] record %d: %zd of %u bytes, %s\n", r + 1, n, len,
               intact ? "whole and intact" : "DAMAGED");
        whole += intact;
    }
    printf("[reader] %d of %d records arrived whole\n", whole, RECORDS);
    return whole;
}

int main(int argc, char *argv[])
{
    bool fixed;
    int fds[2], result;
    pid_t writer;
    size_t size = 100 * 1024;
    char *buf;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(fds) == -1)
        die_errno("pipe");
    int capacity = fcntl(fds[0], F_GETPIPE_SZ);
    if (capacity == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    if ((size_t)capacity >= size) /* a raised default: keep records bigger than it */
        size = 2 * (size_t)capacity;
    printf("[parent] pipe capacity %s (F_GETPIPE_SZ); each record is %s, so no single read() "
           "can return a whole one\n",
           fmt_bytes((uint64_t)capacity).s, fmt_bytes(size).s);
    writer = fork_or_die();
    if (writer == 0) {
        close(fds[0]);
        run_writer(fds[1], size, fixed);
    }
    close(fds[1]);
    buf = malloc(size);
    if (buf == NULL)
        die_errno("malloc");
    result = fixed ? framed_reader(fds[0], buf, size) : naive_reader(fds[0], buf, size);
    free(buf);
    close(fds[0]);
    if (reap_child(writer, "parent") != 0)
        die("the writer failed");
    if (fixed && result != RECORDS)
        die("framing lost a record");
    if (!fixed && result == 0)
        die("every read() happened to return a whole record");
    return 0;
}
