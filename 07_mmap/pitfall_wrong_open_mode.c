/* pitfall_wrong_open_mode.c - a writable shared mapping of a file opened read-only: EACCES
 *
 * The access mode of the descriptor bounds the mapping.  PROT_WRITE with MAP_SHARED needs a
 * descriptor open for writing (mm/mmap.c: do_mmap refuses with EACCES when FMODE_WRITE is
 * missing), and every mapping needs one open for reading, so O_WRONLY fails too, even for
 * PROT_WRITE alone (pages are read in before they can be written).  MAP_PRIVATE with
 * PROT_WRITE does work on a read-only descriptor, since its writes never reach the file.
 * --fixed opens the file O_RDWR.
 * Guide part: pitfall (open mode and protection must agree).
 * Run: ./pitfall_wrong_open_mode [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define LENGTH 4096

/* Tries one mapping and says how it went; returns 0 when it worked. */
static int try_map(const char *path, int open_flags, const char *mode, int prot,
                   const char *prot_name)
{
    int fd = open(path, open_flags | O_CLOEXEC);
    void *data;

    if (fd == -1)
        die_errno("open %s", path);
    data = mmap(NULL, LENGTH, prot, MAP_SHARED, fd, 0);
    close(fd); /* the mapping, if any, holds its own reference to the file */
    if (data == MAP_FAILED) {
        if (errno != EACCES)
            die_errno("mmap");
        printf("[main] open %s, mmap %s MAP_SHARED: failed with EACCES\n", mode, prot_name);
        return -1;
    }
    printf("[main] open %s, mmap %s MAP_SHARED: mapped at %p\n", mode, prot_name, data);
    munmap(data, LENGTH);
    return 0;
}

int main(int argc, char *argv[])
{
    char path[4096];
    sigset_t saved;
    bool fixed;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(path, sizeof path, "%s/pitfall_wrong_open_mode.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (ftruncate(fd, LENGTH) == -1)
        die_errno("ftruncate");
    close(fd);
    printf("[main] %s: %d bytes, mode 0600, mine\n", path, LENGTH);

    if (fixed) {
        /* THE FIX: the descriptor may do everything the mapping will do. */
        try_map(path, O_RDWR, "O_RDWR", PROT_READ | PROT_WRITE, "PROT_READ|PROT_WRITE");
        try_map(path, O_RDWR, "O_RDWR", PROT_WRITE, "PROT_WRITE");
    } else {
        try_map(path, O_RDONLY, "O_RDONLY", PROT_READ | PROT_WRITE, "PROT_READ|PROT_WRITE");
        try_map(path, O_WRONLY, "O_WRONLY", PROT_WRITE, "PROT_WRITE");
    }
    return 0;
}
