/* sibling.c - the sibling program paths of sibling.h. */
#define _GNU_SOURCE
#include "sibling.h"

#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *sibling_path(const char *program)
{
    char *dir, *path;

    if (strchr(program_invocation_name, '/') == NULL)
        die("run me by a path (./%s): %s is the program beside me", program_invocation_short_name,
            program);
    if ((dir = realpath(program_invocation_name, NULL)) == NULL)
        die_errno("resolve %s", program_invocation_name);
    *strrchr(dir, '/') = '\0';
    if (asprintf(&path, "%s/%s", dir, program) == -1)
        die_errno("asprintf");
    free(dir);
    if (access(path, X_OK) == -1)
        die_errno("%s (make builds it with this program)", path);
    return path;
}
