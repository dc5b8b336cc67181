/* advanced_offset_pointers.c - a search tree in shared memory, linked by offsets
 *
 * A data structure that two processes share must not hold addresses: each process maps the
 * object wherever its own address space has room.  Here every link is an offset from the
 * start of the mapping (0 meaning none), turned into an address only in the process that
 * follows it, so the same tree is walked and extended from two mappings at two addresses.
 * Nodes come from a bump allocator inside the object, and a process-shared mutex keeps the
 * inserts of the two processes apart.  (Boost.Interprocess's offset_ptr is the same idea.)
 * Guide part: advanced (data structures in shared memory: position-independent links).
 * Run: ./advanced_offset_pointers
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "";

#define ARENA_SIZE (256 * 1024)

typedef uint64_t shm_off; /* bytes from the arena's start; 0 is the null link */

struct tree_node {
    shm_off left, right;
    char word[32];
};

struct arena {
    pthread_mutex_t lock;
    shm_off root;
    shm_off next_free; /* bump allocator: nodes are never freed in this demo */
};

/* The one place an offset becomes an address. */
static void *at(struct arena *a, shm_off off)
{
    return off == 0 ? NULL : (char *)a + off;
}

static shm_off alloc_node(struct arena *a)
{
    shm_off off = a->next_free;

    if (off + sizeof(struct tree_node) > ARENA_SIZE)
        die("the arena is full");
    a->next_free += sizeof(struct tree_node);
    return off;
}

static void insert(struct arena *a, const char *word, const char *role)
{
    shm_off *link, node_off;
    struct tree_node *n;
    int err = pthread_mutex_lock(&a->lock);

    if (err != 0)
        die_errnum(err, "pthread_mutex_lock");
    link = &a->root;
    while (*link != 0) {
        struct tree_node *cur = at(a, *link);

        link = strcmp(word, cur->word) < 0 ? &cur->left : &cur->right;
    }
    node_off = alloc_node(a);
    n = at(a, node_off);
    snprintf(n->word, sizeof n->word, "%s", word);
    n->left = n->right = 0;
    *link = node_off; /* linked last: the node is complete before it is reachable */
    pthread_mutex_unlock(&a->lock);
    printf("[%s] inserted \"%s\" at offset %llu (address %p in this process)\n", role, word,
           (unsigned long long)node_off, (void *)n);
}

static void print_in_order(struct arena *a, shm_off off, char *out, size_t size)
{
    struct tree_node *n = at(a, off);

    if (n == NULL)
        return;
    print_in_order(a, n->left, out, size);
    strncat(out, " ", size - strlen(out) - 1);
    strncat(out, n->word, size - strlen(out) - 1);
    print_in_order(a, n->right, out, size);
}

static void show_tree(struct arena *a, const char *role)
{
    char words[512] = "";

    pthread_mutex_lock(&a->lock);
    print_in_order(a, a->root, words, sizeof words);
    pthread_mutex_unlock(&a->lock);
    printf("[%s] in order:%s\n", role, words);
}

static struct arena *map_arena(int fd, void *hint)
{
    struct arena *a = mmap(hint, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (a == MAP_FAILED)
        die_errno("mmap");
    return a;
}

static struct arena *create_arena(const char *name)
{
    pthread_mutexattr_t attr;
    struct arena *a;
    int fd;

    fd = shm_create_registered(name, ARENA_SIZE); /* the offsets are the lesson, not this */
    a = map_arena(fd, NULL);
    close(fd);
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&a->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    a->next_free = 64; /* offset 0 must never be a node: it is the null link */
    return a;
}

/* The second process: maps by name at an address of its own choosing, 1 GiB away. */
static noreturn void run_second(const char *name, struct arena *inherited)
{
    static const char *const words[] = {"banana", "cherry"};
    struct arena *a;
    int fd;

    munmap(inherited, ARENA_SIZE);
    fd = shm_open(name, O_RDWR, 0);
    if (fd == -1)
        die_errno("shm_open %s", name);
    a = map_arena(fd, (void *)((uintptr_t)inherited + ((uintptr_t)1 << 30)));
    close(fd);
    printf("[second] mapped %s at %p, %s the first process's %p\n", name, (void *)a,
           a == inherited ? "the same address as" : "not", (void *)inherited);
    show_tree(a, "second");
    for (int i = 0; i < 2; i++)
        insert(a, words[i], "second");
    munmap(a, ARENA_SIZE);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const char *const words[] = {"pear", "apple", "fig"};
    struct arena *a;
    char name[64];
    pid_t second;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(name, sizeof name, "/advanced_offset_pointers.%d", (int)getpid());
    a = create_arena(name);
    printf("[first] created %s, mapped at %p; links are offsets from there\n", name, (void *)a);
    for (int i = 0; i < 3; i++)
        insert(a, words[i], "first");

    second = fork_or_die();
    if (second == 0)
        run_second(name, a);
    reap_child(second, "first");
    show_tree(a, "first");
    printf("[first] offset %llu is the root in both processes; only the addresses differ\n",
           (unsigned long long)a->root);
    pthread_mutex_destroy(&a->lock);
    munmap(a, ARENA_SIZE);
    return 0;
}
