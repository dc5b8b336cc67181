/* solution_quick.c - a "solution" that says whether it runs under valgrind, for the harness's
 * own test of --quick (test_harness.c).  Valgrind preloads its vgpreload_*.so into the
 * program it runs, so LD_PRELOAD tells.  Its .expect holds only under --valgrind --quick: the
 * demo and the stop path under valgrind, the checker input natively.
 *
 * usage: solution_quick [-h] [--input | --wait]
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "usage: solution_quick [-h] [--input | --wait]\n";

int main(int argc, char *argv[])
{
    const char *preload = getenv("LD_PRELOAD");
    bool valgrind = preload != NULL && strstr(preload, "vgpreload") != NULL;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return fputs(usage, stdout) == EOF;
    if (argc > 2 ||
        (argc == 2 && strcmp(argv[1], "--input") != 0 && strcmp(argv[1], "--wait") != 0)) {
        fprintf(stderr, "solution_quick: unknown option %s\n%s", argv[1], usage);
        return 2;
    }
    printf("[quick] %s\n", valgrind ? "under valgrind" : "natively");
    if (argc == 2 && strcmp(argv[1], "--wait") == 0) {
        printf("[quick] waiting for SIGTERM\n");
        fflush(stdout);
        for (;;)
            pause(); /* dies of SIGTERM */
    }
    return 0;
}
