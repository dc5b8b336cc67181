/* basic_mmap_private.c - MAP_PRIVATE: writes are copy-on-write, seen by no one else
 *
 * A MAP_PRIVATE mapping starts out sharing the file's page-cache pages.  A store to a page read
 * before (so mapped read-only, as here) faults, and the kernel gives this process its own copy
 * (mm/memory.c: do_wp_page -> wp_page_copy; a store to a page never touched is do_cow_fault).
 * From then on the store changes only the copy: read() of the file and a second process that
 * maps it MAP_SHARED still see the old bytes.  The program counts the store's minor faults
 * with getrusage() and checks both other views.
 * Guide part: theory (private mappings, copy-on-write).
 * Run: ./basic_mmap_private
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "";

static const char original[] = "original file contents\n";

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

/* Another process maps the same file MAP_SHARED and prints what it finds. */
static void run_other_mapper(int fd, size_t length)
{
    char *view = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);

    if (view == MAP_FAILED)
        die_errno("mmap in the child");
    printf("[other] my MAP_SHARED view: %.*s", (int)length, view);
    munmap(view, length);
}

int main(int argc, char *argv[])
{
    size_t length = sizeof original - 1;
    char path[4096], buf[sizeof original], *copy;
    long faults_before, faults_after;
    sigset_t saved;
    pid_t child;
    int fd;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(path, sizeof path, "%s/basic_mmap_private.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, original, length) == -1)
        die_errno("write %s", path);
    printf("[main] %s holds: %s", path, original);

    copy = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (copy == MAP_FAILED)
        die_errno("mmap MAP_PRIVATE");
    printf("[main] mapped MAP_PRIVATE, PROT_READ|PROT_WRITE; first byte read: '%c'\n", copy[0]);

    faults_before = minor_faults();
    memcpy(copy, "PRIVATE", 7);
    faults_after = minor_faults();
    printf("[main] stored \"PRIVATE\" at the start: %ld minor fault(s), the copy-on-write\n",
           faults_after - faults_before);
    printf("[main] my private view: %.*s", (int)length, copy);

    if (pread(fd, buf, length, 0) != (ssize_t)length)
        die_errno("pread");
    printf("[read] the file itself: %.*s", (int)length, buf);

    child = fork_registered(NULL); /* a stopped parent stops it first */
    if (child == 0) {
        run_other_mapper(fd, length);
        close(fd);
        exit(0);
    }
    reap_child(child, "main");
    if (msync(copy, length, MS_SYNC) == -1) /* a no-op for private pages: nothing to write */
        die_errno("msync");
    if (pread(fd, buf, length, 0) != (ssize_t)length)
        die_errno("pread");
    printf("[read] after msync(MS_SYNC) too: %.*s", (int)length, buf);
    printf("[main] the write stayed in my copy: MAP_PRIVATE never reaches the file\n");
    munmap(copy, length);
    close(fd);
    return 0;
}
