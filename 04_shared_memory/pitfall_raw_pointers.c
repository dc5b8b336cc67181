/* pitfall_raw_pointers.c - a pointer stored in shared memory means nothing in another process
 *
 * A pointer is an address in the address space of the process that made it.  Two processes
 * that map the same object by name usually get it at different addresses (fork() is the
 * exception: the child inherits the parent's layout, which hides the bug in tests).  So a
 * linked list built with pointers is garbage in the reader: its `next` points into the
 * writer's address space.  --fixed stores offsets from the start of the mapping instead, which
 * mean the same thing wherever the object is mapped.
 * Guide part: pitfall (pointers in shared memory).
 * Run: ./pitfall_raw_pointers [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define ARENA_SIZE (64 * 1024)
#define MOVE_BY ((size_t)256 << 20) /* where the reader asks for its mapping: 256 MiB away */

struct node {
    struct node *next;  /* the broken link: an address in the writer */
    size_t next_offset; /* the fixed link: bytes from the arena's start, 0 = end */
    char name[24];
};

struct arena {
    size_t used;
    struct node *head;
    size_t head_offset;
};

static void *arena_alloc(struct arena *a, size_t size)
{
    void *p = (char *)a + a->used;

    a->used += (size + 15) & ~(size_t)15;
    return p;
}

static size_t offset_of(const struct arena *a, const void *p)
{
    return (size_t)((const char *)p - (const char *)a);
}

/* Builds "alpha -> beta -> gamma" with both kinds of link, newest first. */
static void build_list(struct arena *a)
{
    static const char *const names[] = {"gamma", "beta", "alpha"};

    a->used = sizeof *a;
    for (int i = 0; i < 3; i++) {
        struct node *n = arena_alloc(a, sizeof *n);

        snprintf(n->name, sizeof n->name, "%s", names[i]);
        n->next = a->head;
        n->next_offset = a->head_offset;
        a->head = n;
        a->head_offset = offset_of(a, n);
    }
}

static struct arena *map_arena(int fd, void *hint)
{
    struct arena *a = mmap(hint, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (a == MAP_FAILED)
        die_errno("mmap");
    return a;
}

/* Says what following `p` would do here, without doing it. */
static void judge_pointer(const struct arena *a, const void *p)
{
    unsigned char vec;
    void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);

    if ((const char *)p >= (const char *)a && (const char *)p < (const char *)a + ARENA_SIZE) {
        printf("[reader] it lies inside this mapping (same address by luck)\n");
    } else if (mincore(page, 4096, &vec) == -1 && errno == ENOMEM) {
        printf("[reader] GARBAGE POINTER: nothing is mapped at %p here; following it would "
               "be SIGSEGV\n",
               p);
    } else {
        printf("[reader] GARBAGE POINTER: %p is some other memory of this process; following it "
               "would read nonsense\n",
               p);
    }
}

static void walk_offsets(const struct arena *a)
{
    size_t off = a->head_offset;

    while (off != 0) {
        const struct node *n = (const void *)((const char *)a + off);

        printf("[reader] node at offset %zu (address %p here): \"%s\"\n", off, (const void *)n,
               n->name);
        off = n->next_offset;
    }
    printf("[reader] the whole list, found through offsets\n");
}

static noreturn void run_reader(const char *name, struct arena *inherited, bool fixed)
{
    struct arena *a;
    int fd;

    /* Become like an unrelated process: drop the inherited mapping, map again by name. */
    munmap(inherited, ARENA_SIZE);
    fd = shm_open(name, O_RDWR, 0);
    if (fd == -1)
        die_errno("shm_open %s", name);
    a = map_arena(fd, (void *)((uintptr_t)inherited + MOVE_BY));
    close(fd);
    printf("[reader] mapped %s at %p (the writer has it at %p)\n", name, (void *)a,
           (void *)inherited);
    if (fixed) {
        walk_offsets(a);
    } else {
        printf("[reader] head pointer read from shared memory: %p\n", (void *)a->head);
        judge_pointer(a, a->head);
    }
    munmap(a, ARENA_SIZE);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct arena *a;
    char name[64];
    bool fixed;
    pid_t reader;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(name, sizeof name, "/pitfall_raw_pointers.%d", (int)getpid());
    fd = shm_create_registered(name, ARENA_SIZE); /* the offsets are the lesson, not this */
    a = map_arena(fd, NULL);
    close(fd);
    build_list(a);
    printf("[writer] built alpha -> beta -> gamma in %s mapped at %p; head %s %p (offset %zu)\n",
           name, (void *)a, fixed ? "at" : "pointer", (void *)a->head, a->head_offset);

    reader = fork_or_die();
    if (reader == 0)
        run_reader(name, a, fixed);
    reap_child(reader, "writer");
    munmap(a, ARENA_SIZE);
    return 0; /* exit() unlinks the name */
}
