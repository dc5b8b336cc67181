/* basic_fdleak.c - a demo that exits with a descriptor open, for the
 * harness's own test of valgrind --track-fds (test_harness.c).
 *
 * usage: basic_fdleak [-h]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char *argv[])
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return fputs("usage: basic_fdleak [-h]\n", stdout) == EOF;
    if (argc > 1) {
        fprintf(stderr, "basic_fdleak: unknown option %s\nusage: basic_fdleak [-h]\n", argv[1]);
        return 2;
    }
    if (open("/dev/null", O_RDONLY) == -1)
        return 1;
    printf("[fdleak] opened /dev/null and never closed it\n");
    return 0;
}
