/* advanced_file_ipc.c - two unrelated processes exchange records through a mapped file
 *
 * The reader creates a file and maps it MAP_SHARED; the writer opens the same path and maps it
 * too: both address spaces now hold the same page-cache pages.  The writer fills the next
 * 64-byte record, then publishes it with a release store to the header's `published` count, the
 * commit point; the reader polls the count with acquire loads and never sees a record before its
 * bytes.  Polling every millisecond is the simple choice (a futex on the count would let the
 * reader sleep: FUTEX_WAIT works on shared file mappings).  One writer at a time.
 * Guide part: theory (mapped files as IPC).
 * Run: ./advanced_file_ipc        or, in two terminals:
 *      ./advanced_file_ipc --reader /tmp/ipc.$USER
 *      ./advanced_file_ipc --writer /tmp/ipc.$USER
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--reader FILE | --writer FILE] [--count N]    (N from 1 to 1000)";

#define CAPACITY 1000

struct record {
    uint32_t seq;  /* 1, 2, 3...; 0 never appears in a published record */
    uint32_t last; /* 1 in the writer's final record */
    char text[56];
};

struct channel {
    _Atomic uint32_t published; /* records the reader may look at */
    uint32_t pad[15];           /* the count alone in its cache line */
    struct record records[CAPACITY];
};

static struct channel *map_channel(int fd)
{
    struct channel *ch = mmap(NULL, sizeof *ch, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (ch == MAP_FAILED)
        die_errno("mmap");
    close(fd); /* the mapping keeps the file */
    return ch;
}

static struct channel *create_channel(const char *path)
{
    sigset_t saved;
    int fd;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if (ftruncate(fd, sizeof(struct channel)) == -1)
        die_errno("ftruncate %s", path);
    return map_channel(fd);
}

static struct channel *open_channel(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

    if (fd == -1)
        die_errno("open %s (start the reader first)", path);
    if (fstat(fd, &st) == -1)
        die_errno("fstat %s", path);
    if (!S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(struct channel)) {
        close(fd);
        die("%s: not a channel file of %zu bytes", path, sizeof(struct channel));
    }
    return map_channel(fd);
}

static void run_writer(struct channel *ch, long count)
{
    uint32_t next = atomic_load_explicit(&ch->published, memory_order_acquire);

    if (next + (uint32_t)count > CAPACITY)
        die("the channel holds %u records already: no room for %ld more", next, count);
    for (long i = 1; i <= count; i++) {
        struct record *r = &ch->records[next];

        r->seq = next + 1;
        r->last = i == count;
        snprintf(r->text, sizeof r->text, "record %u from writer %d", next + 1, (int)getpid());
        printf("[writer] publishing record %u\n", next + 1);
        /* Release: the record's bytes are visible before the count that covers them. */
        atomic_store_explicit(&ch->published, ++next, memory_order_release);
        sleep_ms(5);
    }
    munmap(ch, sizeof *ch);
}

/* Returns the number of records read, each checked: whole and in order. */
static uint32_t run_reader(struct channel *ch)
{
    uint32_t seen = 0;

    for (;;) {
        uint32_t published = atomic_load_explicit(&ch->published, memory_order_acquire);

        for (; seen < published; seen++) {
            const struct record *r = &ch->records[seen];

            if (r->seq != seen + 1)
                die("record %u holds sequence number %u: published before written", seen + 1,
                    r->seq);
            printf("[reader] got \"%s\"%s\n", r->text, r->last ? " (the last)" : "");
            if (r->last)
                return seen + 1;
        }
        sleep_ms(1);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"reader", required_argument, NULL, 'r'},
        {"writer", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *reader_path = NULL, *writer_path = NULL;
    char dir[4096], path[4200];
    long count = 10;
    pid_t child;
    int c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if ((c == 'r' && reader_path != NULL) || (c == 'w' && writer_path != NULL))
            die_usage(usage, "%s given twice: one process, one file",
                      c == 'r' ? "--reader" : "--writer");
        else if (c == 'r')
            reader_path = optarg;
        else if (c == 'w')
            writer_path = optarg;
        else if (c == 'n')
            count = cli_long(optarg, 1, CAPACITY, "--count", usage);
    cli_no_operands(argc, argv, usage);
    if (reader_path != NULL && writer_path != NULL)
        die_usage(usage, "--reader and --writer are two processes: give one");
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if (reader_path != NULL) {
        struct channel *ch = create_channel(reader_path);

        printf("[reader] created %s; waiting for a writer (Ctrl-C stops)\n", reader_path);
        printf("[reader] %u records, all whole and in order\n", run_reader(ch));
        return 0;
    }
    if (writer_path != NULL) {
        run_writer(open_channel(writer_path), count);
        return 0;
    }

    make_temp_dir(dir, sizeof dir, "advanced_file_ipc");
    snprintf(path, sizeof path, "%s/channel", dir);
    struct channel *ch = create_channel(path);
    printf("[reader] created %s (%zu bytes); a writer process opens it by name\n", path,
           sizeof *ch);
    child = fork_registered(NULL); /* a stopped parent stops it first */
    if (child == 0) {
        munmap(ch, sizeof *ch); /* the writer maps the file on its own, like a stranger */
        run_writer(open_channel(path), count);
        exit(0);
    }
    printf("[reader] %u records, all whole and in order\n", run_reader(ch));
    reap_child(child, "reader");
    munmap(ch, sizeof *ch);
    return 0;
}
