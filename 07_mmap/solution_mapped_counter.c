/* solution_mapped_counter.c - exercise 3: a counter in a mapped file, exact under contention
 *
 * The worked answer to exercise 3 of the chapter README.  Unrelated processes share a 64-bit
 * counter, the first 8 bytes of a file each maps MAP_SHARED.  An atomic read-modify-write (lock
 * xadd on x86-64) keeps every increment when several add at once; `*counter += 1` is a load and
 * a store, and loses some.  A new file is created 0600 and sized with ftruncate; an existing one
 * is never truncated, so a count survives from run to run.  With no arguments it demonstrates
 * itself with four child processes adding at the same time.
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_mapped_counter [FILE N]    (two terminals: the same FILE in both)
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[FILE N]    (N from 1 to 100000000)";

#define DEMO_CHILDREN 4
#define DEMO_COUNT 100000

static _Atomic uint64_t *map_counter(const char *path)
{
    _Atomic uint64_t *counter;
    struct stat st;
    int fd;

    /* No O_TRUNC: the file may already hold a count.  A FIFO is refused at once (open_regular
     * never waits for a writer); a new file is made 0600. */
    fd = open_regular(path, O_RDWR | O_CREAT, &st);
    if (fd == -1 && errno == EINVAL)
        die("%s: not a regular file", path);
    if (fd == -1)
        die_errno("open %s", path);
    /* Growing to 8 bytes is safe if another process does it too: the new bytes are zero. */
    if (st.st_size < (off_t)sizeof *counter && ftruncate(fd, sizeof *counter) == -1)
        die_errno("ftruncate %s", path);
    counter = mmap(NULL, sizeof *counter, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (counter == MAP_FAILED)
        die_errno("mmap %s", path);
    close(fd);
    return counter;
}

/* Adds n, one atomic increment at a time; returns the value after the last one. */
static uint64_t add(_Atomic uint64_t *counter, long n)
{
    uint64_t last = 0;

    for (long i = 0; i < n; i++)
        last = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed) + 1;
    return last;
}

static void demo(void)
{
    char dir[4096], path[4200];
    _Atomic uint64_t *counter;
    pid_t children[DEMO_CHILDREN];

    make_temp_dir(dir, sizeof dir, "mapped_counter");
    snprintf(path, sizeof path, "%s/counter", dir);
    if (cleanup_add_path(path) == -1) /* registered first: removed before the directory */
        die_errno("cleanup_add_path");
    printf("[demo] %d processes each add %d to %s at the same time\n", DEMO_CHILDREN, DEMO_COUNT,
           path);
    for (int i = 0; i < DEMO_CHILDREN; i++) {
        children[i] = fork_registered(NULL); /* a stopped parent stops it first */
        if (children[i] == 0) {
            counter = map_counter(path);
            printf("[child %d] done: counter=%llu after my last increment\n", i + 1,
                   (unsigned long long)add(counter, DEMO_COUNT));
            exit(0);
        }
    }
    for (int i = 0; i < DEMO_CHILDREN; i++)
        reap_child(children[i], "demo");
    counter = map_counter(path);
    printf("[demo] the file holds %llu: every increment of every process is there\n",
           (unsigned long long)atomic_load(counter));
    munmap(counter, sizeof *counter);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    _Atomic uint64_t *counter;
    long n;

    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        continue;                     /* -h and errors are handled inside */
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if (argc == optind) {
        demo();
        return 0;
    }
    if (argc - optind != 2)
        die_usage(usage, "expected FILE and N");
    n = cli_long(argv[optind + 1], 1, 100000000, "N", usage);
    counter = map_counter(argv[optind]);
    printf("counter=%llu\n", (unsigned long long)add(counter, n));
    munmap(counter, sizeof *counter);
    return 0;
}
