/* solution_kv_store.c - exercise 4: a key-value store in a mapped file that survives kill -9
 *
 * The worked answer to exercise 4 of the chapter README: a header page (magic, `committed`:
 * the valid bytes of the log) and an append-only log.  A set writes its record past the
 * committed end, then publishes it with one aligned 8-byte release store to `committed`: a
 * process killed at any point leaves the old or the new value, so every record is whole or
 * absent.  `crash` dies of SIGKILL between the two (the checker's fault injection).  Power
 * loss is another matter: that needs msync before and after the commit store.
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_kv_store [FILE set KEY VALUE | FILE get KEY | FILE count | FILE fill N | ...]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "[FILE set KEY VALUE | FILE crash KEY VALUE | FILE get KEY | FILE count | FILE fill N]";

#define MAGIC "MMAPKV1\n"
#define HEADER_SIZE 4096
#define INITIAL_SIZE 65536
#define MAX_KEY 255
#define MAX_VALUE 4095

struct header {
    char magic[8];
    _Atomic uint64_t committed; /* bytes of valid log after the header page */
};

struct record {
    uint32_t key_len, value_len; /* then the key, the value, zeros up to a multiple of 8 */
};

struct store {
    int fd;
    size_t size;
    unsigned char *base;
};

static struct header *header_of(const struct store *s)
{
    return (struct header *)s->base;
}

static size_t record_size(size_t key_len, size_t value_len)
{
    return (sizeof(struct record) + key_len + value_len + 7) & ~(size_t)7;
}

static void map_store(struct store *s, size_t size)
{
    s->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (s->base == MAP_FAILED)
        die_errno("mmap");
    s->size = size;
}

static void open_store(struct store *s, const char *path, bool create)
{
    struct stat st;

    /* A FIFO is refused at once, never waited on; a new store is made 0600. */
    s->fd = open_regular(path, O_RDWR | (create ? O_CREAT : 0), &st);
    if (s->fd == -1 && errno == EINVAL)
        die("%s: not a regular file", path);
    if (s->fd == -1)
        die_errno("open %s", path);
    if (st.st_size == 0 && create) {
        if (ftruncate(s->fd, INITIAL_SIZE) == -1)
            die_errno("ftruncate %s", path);
        st.st_size = INITIAL_SIZE;
    }
    if (st.st_size < HEADER_SIZE) {
        close(s->fd);
        die("%s: not a kv store", path);
    }
    map_store(s, (size_t)st.st_size);
    /* The magic goes in last: a creation killed before it leaves a zero header, which the
     * next writer takes as a new store. */
    if (create && memcmp(header_of(s)->magic, "\0\0\0\0\0\0\0\0", 8) == 0 &&
        atomic_load(&header_of(s)->committed) == 0)
        memcpy(header_of(s)->magic, MAGIC, 8);
    if (memcmp(header_of(s)->magic, MAGIC, 8) != 0 ||
        HEADER_SIZE + atomic_load(&header_of(s)->committed) > s->size) {
        close(s->fd);
        die("%s: not a kv store", path);
    }
}

/* Unmaps and closes; returns `status`, so a command can end with it. */
static int close_store(struct store *s, int status)
{
    munmap(s->base, s->size);
    close(s->fd);
    return status;
}

/* Writes the record past the committed end (growing the file if needed); returns its size. */
static size_t write_record(struct store *s, const char *key, const char *value)
{
    size_t key_len = strlen(key), value_len = strlen(value), size = s->size;
    size_t need = record_size(key_len, value_len);
    uint64_t end = HEADER_SIZE + atomic_load(&header_of(s)->committed);
    struct record rec = {(uint32_t)key_len, (uint32_t)value_len};

    while (end + need > size)
        size *= 2;
    if (size != s->size) {
        if (ftruncate(s->fd, (off_t)size) == -1)
            die_errno("ftruncate");
        if (munmap(s->base, s->size) == -1)
            die_errno("munmap");
        map_store(s, size);
    }
    memset(s->base + end, 0, need); /* the padding, and whatever a killed set left */
    memcpy(s->base + end, &rec, sizeof rec);
    memcpy(s->base + end + sizeof rec, key, key_len);
    memcpy(s->base + end + sizeof rec + key_len, value, value_len);
    return need;
}

static void commit(struct store *s, size_t record_bytes)
{
    uint64_t committed = atomic_load_explicit(&header_of(s)->committed, memory_order_relaxed);

    /* Release: the record's bytes are in place before anyone can see the new length. */
    atomic_store_explicit(&header_of(s)->committed, committed + record_bytes, memory_order_release);
}

/* Calls visit for every committed record, oldest first. */
static void walk(const struct store *s, void (*visit)(const struct record *, const char *, void *),
                 void *arg)
{
    uint64_t committed = atomic_load_explicit(&header_of(s)->committed, memory_order_acquire);
    const unsigned char *p = s->base + HEADER_SIZE, *end = p + committed;

    while (p < end) {
        struct record rec;

        memcpy(&rec, p, sizeof rec);
        if (rec.key_len == 0 || rec.key_len > MAX_KEY || rec.value_len > MAX_VALUE ||
            p + record_size(rec.key_len, rec.value_len) > end) {
            close(s->fd);
            die("the log is corrupt at offset %td", p - s->base);
        }
        visit(&rec, (const char *)p + sizeof rec, arg);
        p += record_size(rec.key_len, rec.value_len);
    }
}

struct lookup {
    const char *key;
    const char *value; /* the newest value seen so far, or NULL */
    size_t value_len;
    unsigned long records;
};

static void find_newest(const struct record *rec, const char *data, void *arg)
{
    struct lookup *l = arg;

    l->records++;
    if (l->key != NULL && rec->key_len == strlen(l->key) &&
        memcmp(data, l->key, rec->key_len) == 0) {
        l->value = data + rec->key_len;
        l->value_len = rec->value_len;
    }
}

static void check_text(const char *what, const char *text, size_t min, size_t max)
{
    size_t len = strlen(text);

    if (len < min || len > max)
        die_usage(usage, "%s must be %zu to %zu bytes long", what, min, max);
    if (strchr(text, '\n') != NULL)
        die_usage(usage, "%s must not hold a newline", what);
}

static int do_set(struct store *s, const char *key, const char *value, bool crash)
{
    size_t bytes = write_record(s, key, value); /* past the committed end: not seen yet */

    if (crash) {
        printf("[crash] record written, not committed: dying of SIGKILL\n");
        fflush(stdout);
        close(s->fd);   /* the mapping keeps the file; a killed process closes nothing */
        raise(SIGKILL); /* the fault injection: a kill between record and commit */
    }
    commit(s, bytes);
    printf("ok\n");
    return 0;
}

static int do_get(const struct store *s, const char *key)
{
    struct lookup l = {.key = key};

    walk(s, find_newest, &l);
    if (l.value == NULL) {
        warn_msg("%s: not found", key);
        return 1;
    }
    printf("%.*s\n", (int)l.value_len, l.value);
    return 0;
}

static int do_fill(struct store *s, long n)
{
    char key[32], value[32];

    for (long i = 1; i <= n; i++) {
        snprintf(key, sizeof key, "k%ld", i);
        snprintf(value, sizeof value, "v%ld", i);
        commit(s, write_record(s, key, value));
        /* Line-buffered: a killer may watch for it.  Stdout failed: stop (the exit reports it). */
        if (printf("committed %ld\n", i) < 0)
            return 1;
    }
    return 0;
}

/* The demonstration: a store in $TMPDIR, two sets of one key, a get, a count. */
static int demo(void)
{
    char dir[4096], path[4200];
    struct store s;

    /* A fresh 0700 directory; the store's name is registered before open_store creates it. */
    make_temp_dir(dir, sizeof dir, "kv_store");
    snprintf(path, sizeof path, "%s/demo.kv", dir);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path");
    printf("[demo] a new store in %s\n", path);
    open_store(&s, path, true);
    printf("[demo] set color=red, then color=blue: the newer record wins\n");
    commit(&s, write_record(&s, "color", "red"));
    commit(&s, write_record(&s, "color", "blue"));
    printf("[demo] get color: ");
    do_get(&s, "color");
    printf("[demo] 2 records, %llu bytes of log committed\n",
           (unsigned long long)atomic_load(&header_of(&s)->committed));
    return close_store(&s, 0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct lookup l = {.key = NULL};
    const char *command;
    struct store s;
    int operands;

    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        continue;                     /* -h and errors are handled inside */
    setvbuf(stdout, NULL, _IOLBF, 0); /* a killed fill has printed what it committed */
    operands = argc - optind;
    if (operands == 0)
        return demo();
    command = operands >= 2 ? argv[optind + 1] : "";
    if ((strcmp(command, "set") == 0 || strcmp(command, "crash") == 0) && operands == 4) {
        /* Checked before the file is opened: a usage error creates nothing. */
        check_text("KEY", argv[optind + 2], 1, MAX_KEY);
        check_text("VALUE", argv[optind + 3], 0, MAX_VALUE);
        open_store(&s, argv[optind], true);
        return close_store(&s, do_set(&s, argv[optind + 2], argv[optind + 3], command[0] == 'c'));
    }
    if (strcmp(command, "fill") == 0 && operands == 3) {
        long n = cli_long(argv[optind + 2], 1, 10000000, "N", usage);

        open_store(&s, argv[optind], true);
        return close_store(&s, do_fill(&s, n));
    }
    if (strcmp(command, "get") == 0 && operands == 3) {
        check_text("KEY", argv[optind + 2], 1, MAX_KEY); /* a usage error, not "not found" */
        open_store(&s, argv[optind], false);
        return close_store(&s, do_get(&s, argv[optind + 2]));
    }
    if (strcmp(command, "count") == 0 && operands == 2) {
        open_store(&s, argv[optind], false);
        walk(&s, find_newest, &l);
        printf("records=%lu\n", l.records);
        return close_store(&s, 0);
    }
    die_usage(usage, "unknown command or wrong number of operands");
}
