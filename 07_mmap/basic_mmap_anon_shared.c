/* basic_mmap_anon_shared.c - an anonymous shared mapping between a parent and its child
 *
 * mmap(MAP_SHARED | MAP_ANONYMOUS) gives zeroed memory with no file and no name; fork() keeps it
 * shared (the child maps the same pages, not copy-on-write copies): the simplest shared memory
 * between related processes (unrelated ones need a name: a file, shm_open, a memfd passed over a
 * socket).  The child fills an array of squares and publishes a count with a release store; the
 * parent reads them after the child exits.  Linux backs the pages with shmem (mm/shmem.c):
 * /proc/PID/maps names them "/dev/zero (deleted)".
 * Guide part: theory (anonymous shared mappings, fork).
 * Trace: mmap clone wait4 munmap
 * Run: ./basic_mmap_anon_shared [--count N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--count N]    (N from 1 to 100000, default 8)";

struct shared {
    atomic_long filled; /* how many entries of squares[] the child has written */
    long squares[];
};

static void run_child(struct shared *area, long count)
{
    for (long i = 0; i < count; i++)
        area->squares[i] = i * i;
    /* Release: the entries above are visible to anyone who reads this count. */
    atomic_store_explicit(&area->filled, count, memory_order_release);
    printf("[child] wrote %ld squares into the shared mapping\n", count);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long count = 8, filled, sum = 0;
    struct shared *area;
    size_t length;
    pid_t child;
    int c;

    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        if (c == 'n')
            count = cli_long(optarg, 1, 100000, "--count", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    length = sizeof(struct shared) + (size_t)count * sizeof(long);
    area = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        die_errno("mmap");
    printf("[parent] mapped %zu bytes MAP_SHARED|MAP_ANONYMOUS at %p; filled=%ld (zeroed)\n",
           length, (void *)area, atomic_load(&area->filled));

    child = fork_or_die();
    if (child == 0) {
        run_child(area, count);
        exit(0);
    }
    reap_child(child, "parent");
    filled = atomic_load_explicit(&area->filled, memory_order_acquire);
    if (filled != count)
        die("the child published %ld entries of %ld", filled, count);
    for (long i = 0; i < filled; i++)
        sum += area->squares[i];
    printf("[parent] the child's writes are in my memory too: filled=%ld, last=%ld, sum=%ld\n",
           filled, area->squares[filled - 1], sum);
    if (munmap(area, length) == -1)
        die_errno("munmap");
    return 0;
}
