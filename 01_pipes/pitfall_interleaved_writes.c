/* pitfall_interleaved_writes.c - writes larger than PIPE_BUF tear and interleave
 *
 * POSIX makes a write() of at most PIPE_BUF bytes to a pipe atomic: its bytes
 * land side by side (Linux keeps any write of at most one page whole).  A bigger
 * write() is copied a page at a time as the reader makes room, and other
 * writers' pages slip in between.  Here writers send records
 * of one letter, four pipe capacities each, so every write() is split; the
 * reader counts records that mix letters.  --fixed sends PIPE_BUF-sized frames
 * with a header naming the writer: each frame is atomic, so no record tears.
 *
 * Guide part: pitfall (PIPE_BUF atomicity, pipe(7)).
 * Run: ./pitfall_interleaved_writes [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { WRITERS = 4, RECORDS = 4 };

/* One atomic write in --fixed: exactly PIPE_BUF bytes, header included. */
struct frame {
    uint32_t writer; /* 0..WRITERS-1, so the reader knows whose bytes */
    uint32_t seq;    /* this writer's frame counter: order check */
    uint32_t len;    /* bytes of data used */
    char data[PIPE_BUF - 3 * sizeof(uint32_t)];
};
_Static_assert(sizeof(struct frame) == PIPE_BUF, "a frame is one atomic write");

static bool all_bytes_are(const char *p, size_t n, char c)
{
    return n == 0 || (p[0] == c && memcmp(p, p + 1, n - 1) == 0);
}

/* Broken: the whole record in one write() call, which blocks until every
 * byte is in: it still returns `size`, but the bytes went in as pieces. */
static void write_records_whole(int fd, int w, char *rec, size_t size)
{
    for (int r = 0; r < RECORDS; r++)
        if (write(fd, rec, size) != (ssize_t)size)
            die_errno("[writer %c] write", 'A' + w);
    printf("[writer %c] wrote %d records of %s, one write() each\n", 'A' + w, RECORDS,
           fmt_bytes(size).s);
}

static void write_records_framed(int fd, int w, const char *rec, size_t size)
{
    struct frame f = {.writer = (uint32_t)w};
    int frames = 0;

    for (int r = 0; r < RECORDS; r++)
        for (size_t off = 0; off < size; off += f.len) {
            f.len = (uint32_t)(size - off < sizeof f.data ? size - off : sizeof f.data);
            memcpy(f.data, rec + off, f.len);
            if (write(fd, &f, sizeof f) != (ssize_t)sizeof f) /* == PIPE_BUF: atomic */
                die_errno("[writer %c] write", 'A' + w);
            f.seq++;
            frames++;
        }
    printf("[writer %c] wrote %d records of %s as %d frames of %d bytes, one write() each\n",
           'A' + w, RECORDS, fmt_bytes(size).s, frames, PIPE_BUF);
}

static noreturn void run_writer(int w, int fd, int gate, size_t size, bool fixed)
{
    char *rec = malloc(size), c;

    if (rec == NULL)
        die("out of memory");
    memset(rec, 'A' + w, size);
    /* A start barrier: read() returns 0 only when no write end of the gate is
     * left, i.e. once every writer has closed its inherited copy and the parent
     * its own after the last fork.  Then all race for the pipe; several are
     * usually blocked on it at once, which tears records (likely, not certain). */
    if (read(gate, &c, 1) == -1)
        die_errno("read gate");
    if (fixed)
        write_records_framed(fd, w, rec, size);
    else
        write_records_whole(fd, w, rec, size);
    free(rec);
    close(fd);
    close(gate);
    exit(0);
}

/* Reads the stream back in record-sized pieces: a piece holding more than
 * one letter is a record that another writer's bytes tore apart. */
static int count_torn_records(int fd, size_t size)
{
    char *buf = malloc(size);
    int torn = 0;

    if (buf == NULL)
        die("out of memory");
    for (int i = 0; i < WRITERS * RECORDS; i++) {
        if (read_full(fd, buf, size) != (ssize_t)size)
            die("[reader] the stream ended early");
        if (!all_bytes_are(buf, size, buf[0]) && ++torn == 1) {
            size_t run = 1;

            while (buf[run] == buf[0])
                run++;
            printf("[reader] record %d starts with %zu bytes of '%c', then '%c' follows\n", i, run,
                   buf[0], buf[run]);
        }
    }
    free(buf);
    return torn;
}

/* Reads frames: each must be whole (one writer's letter throughout) and the
 * next in its writer's sequence; a record with any bad frame is torn. */
static int count_torn_framed(int fd, size_t size)
{
    uint32_t next_seq[WRITERS] = {0};
    size_t got[WRITERS] = {0};
    bool bad[WRITERS] = {false};
    int torn = 0, records = 0;
    struct frame f;

    while (records < WRITERS * RECORDS) {
        if (read_full(fd, &f, sizeof f) != (ssize_t)sizeof f)
            die("[reader] the stream ended early");
        if (f.writer >= WRITERS || f.len > sizeof f.data)
            die("[reader] a frame with a garbled header: the stream is torn");
        if (f.seq != next_seq[f.writer]++ || !all_bytes_are(f.data, f.len, (char)('A' + f.writer)))
            bad[f.writer] = true;
        if ((got[f.writer] += f.len) == size) { /* that writer's record is complete */
            torn += bad[f.writer];
            records++;
            got[f.writer] = 0;
            bad[f.writer] = false;
        }
    }
    return torn;
}

int main(int argc, char *argv[])
{
    int fds[2], gate[2], capacity, torn;
    pid_t writers[WRITERS];
    size_t size;
    bool fixed;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(fds) == -1 || pipe(gate) == -1)
        die_errno("pipe");
    if ((capacity = fcntl(fds[1], F_GETPIPE_SZ)) == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    size = 4 * (size_t)capacity; /* no write() of this size can go in at once */
    printf("[parent] pipe capacity %s (F_GETPIPE_SZ), PIPE_BUF %d bytes; %d writers x %d "
           "records of %s\n",
           fmt_bytes((uint64_t)capacity).s, PIPE_BUF, WRITERS, RECORDS, fmt_bytes(size).s);
    for (int w = 0; w < WRITERS; w++) {
        if ((writers[w] = fork_or_die()) == 0) {
            close(fds[0]);
            close(gate[1]);
            run_writer(w, fds[1], gate[0], size, fixed);
        }
    }
    close(fds[1]); /* the writers hold the only write ends: EOF when done */
    close(gate[0]);
    close(gate[1]); /* open the gate */

    torn = fixed ? count_torn_framed(fds[0], size) : count_torn_records(fds[0], size);
    close(fds[0]);
    for (int w = 0; w < WRITERS; w++)
        if (waitpid(writers[w], NULL, 0) == -1)
            die_errno("waitpid");
    if (fixed) {
        printf("[reader] %d records torn: every write() was one %d-byte frame, atomic\n", torn,
               PIPE_BUF);
        return torn == 0 ? 0 : 1;
    }
    if (torn == 0)
        die("no record was torn this time; the interleaving is likely, not certain: run again");
    printf("[reader] %d records torn: writes larger than PIPE_BUF (%d) are not atomic\n", torn,
           PIPE_BUF);
    return 0;
}
