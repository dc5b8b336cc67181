/* basic_posix_shm.c - POSIX shared memory: a name in /dev/shm, sized, mapped by two processes
 *
 * shm_open() creates (or opens) a named object; it starts with size 0, so the creator sizes it
 * with ftruncate() before anyone maps it.  mmap(MAP_SHARED) then gives each process its own view
 * of the same pages: a store by one is a load away for the other, with no system call per
 * message.  On Linux the name is a file in the tmpfs at /dev/shm; shm_unlink() removes the name,
 * and the pages live on until the last mapping goes.
 * Guide part: theory (POSIX shared memory: shm_open, ftruncate, mmap, shm_unlink).
 * Trace: openat ftruncate mmap munmap unlink clone wait4
 * Run: ./basic_posix_shm
 *      two terminals: ./basic_posix_shm --writer /demo     (creates /dev/shm/demo, waits)
 *                     ./basic_posix_shm --reader /demo     (prints the message, answers)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--writer NAME | --reader NAME]    (NAME like /demo: one leading '/')";

/* What the two processes share: the message and two flags that order it. */
struct board {
    atomic_uint written;  /* set by the writer after the text is complete */
    atomic_uint answered; /* set by the reader after it has read the text */
    pid_t writer_pid;
    pid_t reader_pid;
    char text[200];
};

#define WAIT_LIMIT_MS 5000 /* a reader gives up on a writer that never writes */

static void check_name(const char *name)
{
    if (name[0] != '/' || name[1] == '\0' || strchr(name + 1, '/') != NULL || strlen(name) > 200)
        die_usage(usage,
                  "'%s' is not a shared memory name: one '/', then 1 to 199 characters "
                  "without '/'",
                  name);
}

static struct board *map_board(int fd, int prot)
{
    void *addr = mmap(NULL, sizeof(struct board), prot, MAP_SHARED, fd, 0);

    if (addr == MAP_FAILED)
        die_errno("mmap");
    close(fd); /* the mapping keeps the object; the descriptor is no longer needed */
    return addr;
}

/* The writer's side: create exclusively, size, map, write the message. */
static struct board *create_board(const char *role, const char *name, int *slot)
{
    sigset_t saved;
    struct stat st;
    int fd;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the name */
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -1)
        die_errno("shm_open %s", name);
    *slot = cleanup_add_shm(name);
    if (*slot == -1)
        die_errno("cleanup_add_shm %s", name);
    stop_signals_release(&saved);
    if (fstat(fd, &st) == -1)
        die_errno("fstat %s", name);
    printf("[%s] shm_open(\"%s\", O_CREAT|O_EXCL, 0600): size %lld bytes, /dev/shm%s\n", role, name,
           (long long)st.st_size, name);
    if (ftruncate(fd, sizeof(struct board)) == -1)
        die_errno("ftruncate %s", name);
    printf("[%s] ftruncate() to %zu bytes, the size of the shared struct\n", role,
           sizeof(struct board));
    return map_board(fd, PROT_READ | PROT_WRITE);
}

static void write_message(const char *role, struct board *b)
{
    b->writer_pid = getpid();
    snprintf(b->text, sizeof b->text, "hello from pid %d through shared memory", (int)getpid());
    /* release: every store above is visible to whoever sees written == 1 (acquire) */
    atomic_store_explicit(&b->written, 1, memory_order_release);
    printf("[%s] stored \"%s\" in the mapping\n", role, b->text);
}

/* The reader's side: it knows only the name, as an unrelated process does. */
static void run_reader(const char *name)
{
    struct board *b;
    int fd, waited = 0;

    fd = shm_open(name, O_RDWR, 0);
    if (fd == -1)
        die_errno("shm_open %s", name);
    b = map_board(fd, PROT_READ | PROT_WRITE);
    printf("[reader] opened %s by name and mapped it at %p\n", name, (void *)b);
    while (atomic_load_explicit(&b->written, memory_order_acquire) == 0) {
        if (waited >= WAIT_LIMIT_MS)
            die("no message in %s after %d ms", name, WAIT_LIMIT_MS);
        sleep_ms(10);
        waited += 10;
    }
    printf("[reader] read \"%s\" (writer pid %d)\n", b->text, (int)b->writer_pid);
    b->reader_pid = getpid();
    atomic_store_explicit(&b->answered, 1, memory_order_release);
    printf("[reader] answered by setting a flag; no system call carried the data\n");
    munmap(b, sizeof *b);
}

static void wait_for_answer(const char *role, struct board *b)
{
    while (atomic_load_explicit(&b->answered, memory_order_acquire) == 0)
        sleep_ms(10); /* the two-terminal writer waits until Ctrl-C */
    printf("[%s] the reader (pid %d) answered\n", role, (int)b->reader_pid);
}

/* Shows what /dev/shm holds under the name, or that it is gone. */
static void show_dev_shm(const char *name)
{
    char path[256];
    struct stat st;

    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (stat(path, &st) == 0)
        printf("[parent] %s exists: mode %03o, %lld bytes\n", path, (unsigned)st.st_mode & 0777,
               (long long)st.st_size);
    else if (errno == ENOENT)
        printf("[parent] %s is gone\n", path);
    else
        printf("[parent] stat %s: %s (not a Linux /dev/shm?)\n", path, strerror(errno));
}

static void demo(void)
{
    char name[64];
    struct board *b;
    pid_t reader;
    int slot;

    snprintf(name, sizeof name, "/basic_posix_shm.%d", (int)getpid());
    b = create_board("parent", name, &slot);
    write_message("parent", b);
    show_dev_shm(name);

    printf("[parent] starting a reader process that knows only the name\n");
    reader = fork_or_die();
    if (reader == 0) {
        /* Drop what fork() inherited: from here on the child knows only the name. */
        munmap(b, sizeof *b);
        run_reader(name);
        exit(0);
    }
    reap_child(reader, "parent");
    wait_for_answer("parent", b);

    if (shm_unlink(name) == -1)
        die_errno("shm_unlink %s", name);
    cleanup_forget(slot); /* removed by hand: nothing left for the registry */
    printf("[parent] shm_unlink(\"%s\"): the name is removed\n", name);
    show_dev_shm(name);
    printf("[parent] the pages live while mapped: the text still reads \"%s\"\n", b->text);
    munmap(b, sizeof *b);
    printf("[parent] munmap(): the last mapping is gone, so are the pages\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"writer", required_argument, NULL, 'w'},
        {"reader", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL;
    struct board *b;
    int c, side = 0, slot;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (side != 0)
            die_usage(usage, "give only one of --writer and --reader");
        side = c;
        name = optarg;
    }
    cli_no_operands(argc, argv, usage);

    if (side == 0) {
        demo();
        return 0;
    }
    check_name(name);
    if (side == 'r') {
        run_reader(name);
        return 0;
    }
    b = create_board("writer", name, &slot);
    write_message("writer", b);
    printf("[writer] waiting for a reader: ./basic_posix_shm --reader %s (Ctrl-C stops)\n", name);
    wait_for_answer("writer", b);
    munmap(b, sizeof *b);
    return 0; /* exit() unlinks the name through the cleanup registry */
}
