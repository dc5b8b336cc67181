/* pitfall_private_not_shared.c - MAP_PRIVATE where sharing was meant: the writes stay home
 *
 * Two processes map the same file to exchange a status word.  With MAP_PRIVATE (a common
 * copy-paste from code that only reads) each store gives the writer a private copy of the
 * page (copy-on-write), so the reader polls its own mapping and the file in vain: neither
 * ever changes.  No call fails and no signal comes; the bug is silence.  The reader here
 * gives up after 300 ms.  --fixed maps with MAP_SHARED, and the reader sees the status at
 * once, in its mapping and in the file.
 * Guide part: pitfall (MAP_PRIVATE is copy-on-write, not shared).
 * Run: ./pitfall_private_not_shared [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define READY 0x600d

static atomic_int *map_status(int fd, int flags)
{
    atomic_int *status = mmap(NULL, sizeof *status, PROT_READ | PROT_WRITE, flags, fd, 0);

    if (status == MAP_FAILED)
        die_errno("mmap");
    return status;
}

/* The writer maps the file on its own, as an unrelated process would. */
static void run_writer(int fd, int flags)
{
    atomic_int *status = map_status(fd, flags);

    printf("[writer] storing status 0x%x in my mapping\n", READY);
    atomic_store(status, READY);
    printf("[writer] stored; my own view reads 0x%x\n", atomic_load(status));
    munmap(status, sizeof *status);
}

int main(int argc, char *argv[])
{
    char path[4096];
    const char *kind;
    atomic_int *status;
    int fd, flags, seen = 0, in_file = 0;
    sigset_t saved;
    bool fixed;
    pid_t child;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0);         /* narration in order, even into a pipe */
    flags = fixed ? MAP_SHARED : MAP_PRIVATE; /* THE FIX: MAP_SHARED */
    kind = fixed ? "MAP_SHARED" : "MAP_PRIVATE";

    snprintf(path, sizeof path, "%s/pitfall_private_not_shared.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (ftruncate(fd, sizeof *status) == -1)
        die_errno("ftruncate");
    status = map_status(fd, flags);
    printf("[reader] both sides map %s with %s; status now 0x%x\n", path, kind,
           atomic_load(status));

    child = fork_registered(NULL); /* a stopped parent stops it first */
    if (child == 0) {
        run_writer(fd, flags);
        close(fd);
        exit(0);
    }
    for (int waited = 0; waited < 300 && seen != READY; waited += 10) {
        sleep_ms(10);
        seen = atomic_load(status);
    }
    reap_child(child, "reader");
    if (pread(fd, &in_file, sizeof in_file, 0) != (ssize_t)sizeof in_file)
        die_errno("pread");
    if (seen == READY)
        printf("[reader] my mapping shows status 0x%x: the writer's store arrived\n", seen);
    else
        printf("[reader] after 300 ms my mapping still shows 0x%x: the store never arrived\n",
               seen);
    printf("[reader] the file holds 0x%x\n", in_file);
    munmap(status, sizeof *status);
    close(fd);
    return 0;
}
