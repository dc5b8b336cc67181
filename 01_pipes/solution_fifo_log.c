/* solution_fifo_log.c - a FIFO log collector whose writers' records never interleave
 *
 * Many writers append fixed-size records to one FIFO; the collector checks that each arrives
 * whole and in its writer's order.  The key is PIPE_BUF: a write() of at most PIPE_BUF bytes
 * to a pipe or FIFO is atomic, so records sent with one write() each interleave only as
 * wholes.  --collector - (stdin) and --writer PATH let a grader test each side alone.
 * Guide part: exercise 3 (intermediate: a FIFO log collector).
 * Run: ./solution_fifo_log [--writers N] [--records M] [--size BYTES]
 *      two terminals: ./solution_fifo_log --collector PATH [--size BYTES]
 *                     ./solution_fifo_log --writer PATH [--id I] [--records M] [--size BYTES]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "[--writers N] [--records M] [--size BYTES] | --collector PATH|- [--size BYTES]\n"
    "       | --writer PATH [--id I] [--records M] [--size BYTES]\n"
    "    (N and I 1..64, M 1..10000, BYTES 32..4096)";

enum { MAX_WRITERS = 64, MIN_SIZE = 32 }; /* 32 holds "writer=64 seq=999999999 \n" */

struct collector {
    struct {
        bool listed; /* in the report */
        long records, last_seq, out_of_order;
    } w[MAX_WRITERS + 1]; /* by writer id, 1..64 */
    long writers, records, torn, out_of_order;
    size_t size;
};

/* "writer=<id> seq=<seq> " padded with the writer's letter to size - 1 bytes, then '\n'. */
static void format_record(char *rec, long id, long seq, size_t size)
{
    int len = snprintf(rec, size, "writer=%ld seq=%ld ", id, seq);

    memset(rec + len, 'a' + (int)(id % 26), size - 1 - (size_t)len);
    rec[size - 1] = '\n';
}

/* Whether a piece of `len` bytes is byte for byte the record its header names, at the
 * agreed size.  Formatting the record again rejects "writer=01", "+1", " 1" and the like. */
static bool whole_record(const struct collector *c, const char *piece, size_t len, long *id,
                         long *seq)
{
    char copy[PIPE_BUF + 1], want[PIPE_BUF];

    if (len != c->size)
        return false;
    memcpy(copy, piece, len);
    copy[len] = '\0';
    if (sscanf(copy, "writer=%2ld seq=%9ld ", id, seq) != 2 || *id < 1 || *id > MAX_WRITERS ||
        *seq < 1)
        return false;
    format_record(want, *id, *seq, len);
    return memcmp(copy, want, len) == 0;
}

/* One piece of the stream, its '\n' included (the last one may lack it). */
static void check_piece(struct collector *c, const char *piece, size_t len)
{
    long id, seq;

    if (!whole_record(c, piece, len, &id, &seq)) {
        if (c->torn++ == 0) /* the first one, for whoever debugs the writers */
            warn_msg("torn record (%zu bytes), starting \"%.*s\"", len, (int)(len < 32 ? len : 32),
                     piece); /* at least 32 bytes are kept */
        return;
    }
    if (seq != c->w[id].last_seq + 1) {
        c->w[id].out_of_order++;
        c->out_of_order++;
    }
    c->writers += !c->w[id].listed;
    c->w[id].listed = true;
    c->w[id].last_seq = seq;
    c->w[id].records++;
    c->records++;
}

/* SIGINT, SIGTERM in the demo: stop_signal (cleanup.h) says which came. */
static void on_stop(int sig)
{
    stop_signal = sig;
}

/* Reads until EOF and cuts the stream after each '\n': read() keeps no record
 * boundaries, a record may span two reads.  Only the first `size` bytes of a
 * piece are kept: a longer one is torn anyway. */
static void collect(struct collector *c, int fd)
{
    static char buf[64 * 1024], piece[PIPE_BUF];
    size_t len = 0; /* of the piece so far */
    ssize_t n;

    /* A stop signal that comes just before a read() cannot leave it waiting for
     * long: while writers live, data or EOF is on its way. */
    while (stop_signal == 0) {
        if ((n = read(fd, buf, sizeof buf)) == 0)
            break;
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read FIFO");
        for (const char *p = buf, *end = buf + n; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t take = (size_t)((nl != NULL ? nl + 1 : end) - p);

            if (len < c->size)
                memcpy(piece + len, p, take < c->size - len ? take : c->size - len);
            len += take;
            p += take;
            if (nl != NULL) {
                check_piece(c, piece, len);
                len = 0;
            }
        }
    }
    if (len > 0) /* the last piece, without its '\n' */
        check_piece(c, piece, len);
}

static bool report(const struct collector *c, long expected)
{
    for (long id = 1; id <= MAX_WRITERS; id++)
        if (c->w[id].listed)
            printf("[collector] writer %ld: %ld records, %s\n", id, c->w[id].records,
                   c->w[id].out_of_order == 0 ? "in order" : "OUT OF ORDER");
    printf("[collector] %ld records from %ld writers, %ld torn, %ld out of order\n", c->records,
           c->writers, c->torn, c->out_of_order);
    return c->torn == 0 && c->out_of_order == 0 && (expected < 0 || c->records == expected);
}

static noreturn void run_writer(const char *path, long id, long records, size_t size, int ready)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK); /* no collector: ENXIO, not a hang */
    char rec[PIPE_BUF];

    if (fd == -1 && errno == ENXIO)
        die("%s: no collector is reading it (ENXIO)", path);
    if (fd == -1)
        die_errno("%s", path);
    if (must_be_fifo(fd, path) == -1) { /* never into a regular file */
        close(fd);
        die("%s: not a FIFO", path);
    }
    if (set_nonblocking(fd, false) == -1) /* now a full FIFO waits, no EAGAIN */
        die_errno("%s: fcntl", path);
    if (ready >= 0)
        close(ready); /* tells the collector: this writer is in */
    for (long seq = 1; seq <= records; seq++) {
        format_record(rec, id, seq, size);
        /* One write() per record, never a retry loop: a second write() for
         * the rest of a record could let another writer's record in between. */
        if (write(fd, rec, size) != (ssize_t)size)
            die_errno("%s: write", path);
    }
    close(fd); /* the collector sees EOF once the last writer has closed */
    exit(0);
}

static int run_collector(const char *path, size_t size)
{
    struct collector c = {.size = size};
    int fd = STDIN_FILENO;

    if (strcmp(path, "-") != 0) {
        mkfifo_registered(path);
        /* Waits for the first writer; Ctrl-C meanwhile removes the FIFO. */
        if ((fd = open(path, O_RDONLY)) == -1)
            die_errno("open %s", path);
    }
    collect(&c, fd);
    close(fd); /* stdin too: nothing else reads it */
    return report(&c, -1) ? 0 : 1;
}

static int run_demo(long writers, long records, size_t size)
{
    struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART */
    struct collector c = {.size = size};
    char dir[PATH_MAX], path[PATH_MAX + 16], byte;
    pid_t pids[MAX_WRITERS];
    int fd, ready[2];

    sigemptyset(&sa.sa_mask); /* ours, not the registry's: the writers must be reaped */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    make_temp_dir(dir, sizeof dir, "fifo_log");
    snprintf(path, sizeof path, "%s/log.fifo", dir);
    mkfifo_registered(path);
    /* Reader first, not waiting: then each writer's open() returns at once. */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1 || pipe(ready) == -1)
        die_errno("open %s", path);
    for (long i = 0; i < writers; i++) {
        c.w[i + 1].listed = true; /* a silent writer shows too */
        c.writers++;
        if ((pids[i] = fork_or_die()) == 0) {
            signal(SIGINT, SIG_DFL); /* a writer simply dies of Ctrl-C */
            signal(SIGTERM, SIG_DFL);
            close(fd);
            close(ready[0]);
            run_writer(path, i + 1, records, size, ready[1]);
        }
        /* At a stop, the registry stops and reaps it before the FIFO goes. */
        if (cleanup_add_child(pids[i]) == -1)
            die_errno("cleanup_add_child");
    }
    close(ready[1]);
    /* EOF here: every writer has the FIFO open.  Before that, a FIFO with no
     * writer would read as EOF while writers are still on their way. */
    while (read(ready[0], &byte, 1) == -1 && errno == EINTR && stop_signal == 0)
        ;
    close(ready[0]);
    if (set_nonblocking(fd, false) == -1) /* now an empty FIFO waits, no EAGAIN */
        die_errno("fcntl %s", path);
    collect(&c, fd);
    close(fd);
    /* SIGINT or SIGTERM: stop the writers, remove the FIFO, die of the signal.  The FIFO's
     * read end is closed already: a writer that missed SIGTERM gets SIGPIPE. */
    stop_exit();
    for (long i = 0; i < writers; i++)
        reap_quietly(pids[i]);
    return report(&c, writers * records) ? 0 : 1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"writers", required_argument, NULL, 'n'}, {"records", required_argument, NULL, 'm'},
        {"size", required_argument, NULL, 's'},    {"collector", required_argument, NULL, 'C'},
        {"writer", required_argument, NULL, 'W'},  {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *collector = NULL, *writer = NULL;
    long writers = 4, records = 100, id = 1;
    size_t size = 200;
    uint64_t v;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* the report in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:m:s:C:W:i:h", longopts, usage)) != -1)
        switch (c) {
        case 'n': writers = cli_long(optarg, 1, MAX_WRITERS, "--writers", usage); break;
        case 'm': records = cli_long(optarg, 1, 10000, "--records", usage); break;
        case 'i': id = cli_long(optarg, 1, MAX_WRITERS, "--id", usage); break;
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
        run_writer(writer, id, records, size, -1);
    if (collector != NULL)
        return run_collector(collector, size);
    return run_demo(writers, records, size);
}
