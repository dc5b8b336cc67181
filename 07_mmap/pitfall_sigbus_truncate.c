/* pitfall_sigbus_truncate.c - another process shrinks the mapped file: SIGBUS on the next touch
 *
 * A mapping keeps its length when the file under it shrinks.  A page of the mapping that now
 * lies wholly beyond the end of the file has nothing to map: the fault handler (filemap_fault
 * in mm/filemap.c, shmem_fault for tmpfs and memfd) returns VM_FAULT_SIGBUS and the process
 * gets SIGBUS with si_code BUS_ADRERR, not SIGSEGV.  Any process with write access can do it,
 * at any moment.  --fixed maps a memfd sealed with F_SEAL_SHRINK: the other process's
 * ftruncate() now fails with EPERM, and every page of the mapping stays backed.
 * Guide part: pitfall (the file is shared, so its size is too).
 * Run: ./pitfall_sigbus_truncate [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define PAGES 4

static sigjmp_buf after_fault;
static void *volatile fault_addr;
static volatile sig_atomic_t fault_code;

/* Only records and jumps out: printf is not async-signal-safe, main narrates. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    fault_addr = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(after_fault, 1);
}

static int make_file(char *path, size_t size)
{
    sigset_t saved;
    int fd;

    snprintf(path, size, "%s/pitfall_sigbus_truncate.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    printf("[main] a file %s, mapped by me and writable by another process\n", path);
    return fd;
}

static int make_sealed_memfd(void)
{
    int fd = memfd_create("pitfall_sigbus_truncate", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd == -1)
        die_errno("memfd_create");
    printf("[main] a memfd instead of a file: its size is mine to fix\n");
    return fd;
}

/* The other process: it opened the same object and shrinks it to one page. */
static void run_truncator(int fd, long page)
{
    printf("[truncator] ftruncate(fd, %ld): the object keeps only its first page\n", page);
    if (ftruncate(fd, page) == -1)
        printf("[truncator] ftruncate failed: %s\n",
               errno == EPERM ? "EPERM (the object is sealed against shrinking)" : strerror(errno));
    else
        printf("[truncator] done: the object is now %ld bytes\n", page);
}

int main(int argc, char *argv[])
{
    long page = sysconf(_SC_PAGESIZE);
    size_t length = (size_t)page * PAGES;
    struct sigaction sa;
    char path[4096];
    volatile char *data;
    bool fixed;
    pid_t child;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    fd = fixed ? make_sealed_memfd() : make_file(path, sizeof path);
    if (ftruncate(fd, (off_t)length) == -1)
        die_errno("ftruncate");
    if (fixed) {
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) == -1) /* THE FIX */
            die_errno("fcntl F_ADD_SEALS");
        printf("[main] sealed with F_SEAL_SHRINK | F_SEAL_SEAL: no one can make it smaller\n");
    }
    data = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    printf("[main] mapped %d pages (%zu bytes) MAP_SHARED at %p\n", PAGES, length, (void *)data);

    child = fork_registered(NULL); /* a stopped parent stops it first */
    if (child == 0) {
        run_truncator(fd, page);
        close(fd);
        exit(0);
    }
    reap_child(child, "main");
    close(fd);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) == -1)
        die_errno("sigaction SIGBUS");

    printf("[main] writing to the last page of my mapping (offset %zu)\n", length - 1);
    if (sigsetjmp(after_fault, 1) == 0) {
        data[length - 1] = 'x';
        printf("[main] the write worked: the page is still backed by the object\n");
    } else {
        printf("[main] SIGBUS at %p (si_code %s): that page now lies beyond the end of the "
               "file\n",
               fault_addr, fault_code == BUS_ADRERR ? "BUS_ADRERR" : "other");
    }
    if (munmap((void *)data, length) == -1)
        die_errno("munmap");
    return 0;
}
