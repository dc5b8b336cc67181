/* pitfall_no_ftruncate.c - mapping a new shared memory object before sizing it: SIGBUS
 *
 * A new shm_open() object has size 0, and mmap() of it still succeeds: the mapping's length is
 * only a range of addresses.  The first store beyond the object's end (here: its very first
 * byte) finds no page to fault in, and the kernel sends SIGBUS (si_code BUS_ADRERR), not
 * SIGSEGV.  The same happens when another process shrinks a file you have mapped.  --fixed
 * sizes the object with ftruncate() before mapping it.
 * Guide part: pitfall (a mapping larger than its object).
 * Run: ./pitfall_no_ftruncate [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define MAP_LENGTH 4096

static sigjmp_buf after_fault;
static void *volatile fault_addr;
static volatile sig_atomic_t fault_code;

/* Catching SIGBUS only to report it: the store is never retried. */
static void on_sigbus(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    fault_addr = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(after_fault, 1);
}

static int create_object(const char *name)
{
    sigset_t saved;
    int fd;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the name */
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -1)
        die_errno("shm_open %s", name);
    if (cleanup_add_shm(name) == -1)
        die_errno("cleanup_add_shm %s", name);
    stop_signals_release(&saved);
    return fd;
}

static void report_size(int fd)
{
    struct stat st;

    if (fstat(fd, &st) == -1)
        die_errno("fstat");
    printf("[main] the object is %lld bytes long\n", (long long)st.st_size);
}

int main(int argc, char *argv[])
{
    struct sigaction sa;
    char name[64], *page;
    bool fixed;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(name, sizeof name, "/pitfall_no_ftruncate.%d", (int)getpid());
    fd = create_object(name);
    printf("[main] shm_open(\"%s\", O_CREAT|O_EXCL): a new object\n", name);
    if (fixed) {
        if (ftruncate(fd, MAP_LENGTH) == -1) /* THE FIX: size it before anyone maps it */
            die_errno("ftruncate");
        printf("[main] ftruncate(fd, %d) first\n", MAP_LENGTH);
    }
    report_size(fd);
    page = mmap(NULL, MAP_LENGTH, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (page == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    printf("[main] mmap() of %d bytes succeeded at %p\n", MAP_LENGTH, (void *)page);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL) == -1)
        die_errno("sigaction SIGBUS");

    printf("[main] storing one byte at the start of the mapping\n");
    if (sigsetjmp(after_fault, 1) == 0) {
        page[0] = 'x';
        printf("[main] the store worked: the page exists because the object covers it\n");
    } else {
        printf("[main] SIGBUS at %p (si_code %s): no page of the object backs that address\n",
               fault_addr, fault_code == BUS_ADRERR ? "BUS_ADRERR" : "other");
    }
    munmap(page, MAP_LENGTH);
    return 0; /* exit() unlinks the name through the cleanup registry */
}
