/* solution_fifo_log.c - a FIFO log collector whose writers' records never interleave
 *
 * Many writers append newline-terminated records to one FIFO; the collector
 * checks that each arrives whole and in its writer's order.  The key is
 * PIPE_BUF: a write() of at most PIPE_BUF bytes to a pipe or FIFO is atomic,
 * so records sent with one write() each interleave only as wholes.
 * Guide part: exercise 3 (intermediate: a FIFO log collector).
 * Run: ./solution_fifo_log [--writers N] [--records M] [--size BYTES]
 *      two terminals: ./solution_fifo_log --collector PATH [--size BYTES]
 *                     ./solution_fifo_log --writer PATH [--records M] [--size BYTES]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "[--writers N] [--records M] [--size BYTES] "
    "[--collector PATH | --writer PATH]    (N 1..64, M 1..10000, BYTES 32..4096)";

enum { MAX_WRITERS = 64, MIN_SIZE = 32 }; /* 32 holds "writer=64 seq=10000 \n" */

struct writer_stats {
    long id, records, last_seq, out_of_order;
};

struct collector {
    struct writer_stats w[MAX_WRITERS];
    long writers, records, torn, out_of_order;
    size_t size;
};

/* "writer=<id> seq=<seq> " padded with the writer's letter to size - 1
 * bytes, then '\n'.  False when the header alone does not fit. */
static bool format_record(char *rec, long id, long seq, size_t size)
{
    int len = snprintf(rec, size, "writer=%ld seq=%ld ", id, seq);

    if (len < 0 || (size_t)len >= size)
        return false;
    memset(rec + len, 'a' + (int)(id % 26), size - 1 - (size_t)len);
    rec[size - 1] = '\n';
    return true;
}

static noreturn void run_writer(const char *path, long id, long records, size_t size, int ready_fd)
{
    char rec[PIPE_BUF];
    int fd = open(path, O_WRONLY | O_NONBLOCK); /* no collector: ENXIO, no hang */

    if (fd == -1 || set_nonblocking(fd, false) == -1) /* then a full FIFO waits, no EAGAIN */
        die_errno("open %s (is a collector reading it?)", path);
    if (ready_fd >= 0)
        close(ready_fd); /* tells the demo's collector: this writer is in */
    for (long seq = 1; seq <= records && format_record(rec, id, seq, size); seq++)
        /* One write() per record, never write_full(): a retry loop could
         * split a record into two writes, and the atomicity would be lost. */
        if (write(fd, rec, size) != (ssize_t)size)
            die_errno("[writer %ld] write", id);
    printf("[writer %ld] wrote %ld records of %zu bytes, one write() each\n", id, records, size);
    close(fd); /* the collector sees EOF once the last writer has closed */
    exit(0);
}

static struct writer_stats *find_writer(struct collector *c, long id)
{
    for (long i = 0; i < c->writers; i++)
        if (c->w[i].id == id)
            return &c->w[i];
    if (c->writers == MAX_WRITERS)
        return NULL;
    c->w[c->writers] = (struct writer_stats){.id = id};
    return &c->w[c->writers++];
}

/* One line, '\n' included.  Whole means: byte for byte the record that
 * its header says writer <id> formatted, at the agreed size. */
static void check_record(struct collector *c, const char *line, size_t len)
{
    char copy[PIPE_BUF + 1], want[PIPE_BUF];
    struct writer_stats *w = NULL;
    long id, seq;

    if (len == c->size) {
        memcpy(copy, line, len);
        copy[len] = '\0';
        if (sscanf(copy, "writer=%ld seq=%ld", &id, &seq) == 2 &&
            format_record(want, id, seq, len) && memcmp(copy, want, len) == 0)
            w = find_writer(c, id);
    }
    if (w == NULL && c->torn++ == 0)
        printf("[collector] torn record: \"%.*s\"\n", (int)(len < 60 ? len - 1 : 60), line);
    if (w == NULL)
        return;
    if (seq != w->last_seq + 1)
        w->out_of_order++, c->out_of_order++;
    w->last_seq = seq;
    w->records++;
    c->records++;
}

/* Reads until EOF and splits the stream at newlines: read() does not keep
 * record boundaries, a record may span two reads. */
static void collect(struct collector *c, int fd)
{
    static char buf[64 * 1024];
    size_t have = 0;
    ssize_t n;

    while ((n = read(fd, buf + have, sizeof buf - have)) != 0) {
        char *start = buf, *nl;

        if (n == -1)
            die_errno("read FIFO");
        have += (size_t)n;
        while ((nl = memchr(start, '\n', (size_t)(buf + have - start))) != NULL) {
            check_record(c, start, (size_t)(nl - start) + 1);
            start = nl + 1;
        }
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
        if (have == sizeof buf) /* no newline in 64 KiB: garbage */
            c->torn++, have = 0;
    }
    c->torn += have > 0; /* a partial record at EOF */
}

static bool report(const struct collector *c, long expected)
{
    for (long i = 0; i < c->writers; i++)
        printf("[collector] writer %ld: %ld records, %s\n", c->w[i].id, c->w[i].records,
               c->w[i].out_of_order == 0 ? "in order" : "OUT OF ORDER");
    printf("[collector] %ld records from %ld writers, %ld torn, %ld out of order\n", c->records,
           c->writers, c->torn, c->out_of_order);
    if (expected >= 0 && c->records != expected)
        printf("[collector] expected %ld records: some are missing\n", expected);
    return c->torn == 0 && c->out_of_order == 0 && (expected < 0 || c->records == expected);
}

static void make_fifo(const char *path)
{
    sigset_t saved;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the FIFO */
    if (mkfifo(path, 0600) == -1)
        die_errno("mkfifo %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
}

/* Two terminals: a plain open() waits for the first writer (Ctrl-C removes
 * the FIFO through the cleanup registry); EOF comes when the last one leaves. */
static int run_collector(const char *path, size_t size)
{
    struct collector c = {.size = size};
    int fd;

    make_fifo(path);
    printf("[collector] waiting for writers on %s (records of %zu bytes)\n", path, size);
    if ((fd = open(path, O_RDONLY)) == -1)
        die_errno("open %s", path);
    collect(&c, fd);
    close(fd);
    return report(&c, -1) ? 0 : 1;
}

static int run_demo(long writers, long records, size_t size)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], byte;
    struct collector c = {.size = size};
    pid_t pids[MAX_WRITERS];
    int fd, ready[2];

    make_temp_dir(dir, sizeof dir, "fifo_log");
    snprintf(path, sizeof path, "%s/log.fifo", dir);
    make_fifo(path);
    /* Reader first, not waiting: then each writer's open() returns at once. */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1 || pipe(ready) == -1)
        die_errno("open %s", path);
    printf("[collector] reading %s: %ld writers x %ld records of %zu bytes\n", path, writers,
           records, size);
    for (long i = 0; i < writers; i++) {
        c.w[c.writers++] = (struct writer_stats){.id = i + 1}; /* a silent writer shows too */
        if ((pids[i] = fork_or_die()) == 0) {
            close(fd);
            close(ready[0]);
            run_writer(path, i + 1, records, size, ready[1]);
        }
    }
    close(ready[1]);
    /* EOF here: every writer has the FIFO open.  Before that, a FIFO with no
     * writer would read as EOF while writers are still on their way. */
    if (read(ready[0], &byte, 1) != 0 || set_nonblocking(fd, false) == -1)
        die_errno("wait for the writers");
    close(ready[0]);
    collect(&c, fd);
    close(fd);
    for (long i = 0; i < writers; i++)
        if (waitpid(pids[i], NULL, 0) == -1)
            die_errno("waitpid");
    return report(&c, writers * records) ? 0 : 1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"writers", required_argument, NULL, 'n'},
        {"records", required_argument, NULL, 'm'},
        {"size", required_argument, NULL, 's'},
        {"collector", required_argument, NULL, 'C'},
        {"writer", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *collector = NULL, *writer = NULL;
    long writers = 4, records = 100;
    size_t size = 200;
    uint64_t v;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:m:s:C:W:h", longopts, usage)) != -1)
        switch (c) {
        case 'n': writers = cli_long(optarg, 1, MAX_WRITERS, "--writers", usage); break;
        case 'm': records = cli_long(optarg, 1, 10000, "--records", usage); break;
        case 's': /* above PIPE_BUF gets its own message: the reason matters */
            if (parse_size(optarg, 0, UINT64_MAX, &v) == 0 && v > PIPE_BUF)
                die_usage(usage,
                          "--size %s is above PIPE_BUF (%d): a larger write() is not "
                          "atomic, records could interleave",
                          optarg, PIPE_BUF);
            size = (size_t)cli_size(optarg, MIN_SIZE, PIPE_BUF, "--size", usage);
            break;
        case 'C': collector = optarg; break;
        case 'W': writer = optarg; break;
        }
    cli_no_operands(argc, argv, usage);
    if (collector != NULL && writer != NULL)
        die_usage(usage, "--collector and --writer exclude each other");

    if (writer != NULL)
        run_writer(writer, (long)getpid(), records, size, -1);
    if (collector != NULL)
        return run_collector(collector, size);
    return run_demo(writers, records, size);
}
