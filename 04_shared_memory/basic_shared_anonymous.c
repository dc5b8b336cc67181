/* basic_shared_anonymous.c - MAP_SHARED|MAP_ANONYMOUS before fork() against MAP_PRIVATE
 *
 * The simplest shared memory has no name at all: an anonymous mapping made with MAP_SHARED
 * before fork() is the same pages in parent and child, so the child's stores are the parent's.
 * The same mapping made with MAP_PRIVATE (like every ordinary variable, heap and stack) is
 * copied on the first write after fork(): each process then has its own page.
 * Guide part: theory (anonymous shared mappings between related processes).
 * Run: ./basic_shared_anonymous
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "";

struct note {
    long value;
    char text[56];
};

static int ordinary_global = 1; /* private too: fork() copies it on write */

static struct note *map_note(int sharing, const char *what)
{
    struct note *n = mmap(NULL, sizeof *n, PROT_READ | PROT_WRITE, sharing | MAP_ANONYMOUS, -1, 0);

    if (n == MAP_FAILED)
        die_errno("mmap %s", what);
    n->value = 1;
    snprintf(n->text, sizeof n->text, "set by the parent");
    return n;
}

static void show(const char *role, const char *what, const struct note *n)
{
    printf("[%s] %-28s value %ld, text \"%s\"\n", role, what, n->value, n->text);
}

int main(int argc, char *argv[])
{
    struct note *shared, *private;
    pid_t child;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    shared = map_note(MAP_SHARED, "MAP_SHARED|MAP_ANONYMOUS");
    private = map_note(MAP_PRIVATE, "MAP_PRIVATE|MAP_ANONYMOUS");
    printf("[parent] mapped two anonymous pages before fork(): one MAP_SHARED, one MAP_PRIVATE\n");
    show("parent", "MAP_SHARED page:", shared);
    show("parent", "MAP_PRIVATE page:", private);

    printf("[parent] forking; the child writes 42 into both pages and into a global\n");
    child = fork_or_die();
    if (child == 0) {
        shared->value = 42;
        snprintf(shared->text, sizeof shared->text, "written by the child");
        private->value = 42; /* this store copies the page: the child's own copy */
        snprintf(private->text, sizeof private->text, "written by the child");
        ordinary_global = 42;
        show("child", "MAP_SHARED page:", shared);
        show("child", "MAP_PRIVATE page:", private);
        printf("[child] ordinary global: %d\n", ordinary_global);
        munmap(shared, sizeof *shared);
        munmap(private, sizeof *private);
        exit(0);
    }
    reap_child(child, "parent"); /* after this, every store of the child is done */

    show("parent", "MAP_SHARED page:", shared);
    show("parent", "MAP_PRIVATE page:", private);
    printf("[parent] ordinary global: %d\n", ordinary_global);
    printf("[parent] %s\n", shared->value == 42 && private->value == 1 && ordinary_global == 1
                                ? "only the MAP_SHARED page carried the child's stores back"
                                : "unexpected: the pages did not behave as described");
    munmap(shared, sizeof *shared);
    munmap(private, sizeof *private);
    return 0;
}
