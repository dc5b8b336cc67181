/* advanced_guard_pages.c - a PROT_NONE guard page, and a SIGSEGV handler that reports and recovers
 *
 * Thread stacks and many allocators put a page with no access after a buffer: an overrun then
 * faults at once (SIGSEGV, si_code SEGV_ACCERR: mapped but not accessible) instead of silently
 * overwriting the neighbour; memory not mapped at all gives SEGV_MAPERR.  The handler, on an
 * alternate signal stack (as a stack overflow needs), records si_addr and leaves with
 * siglongjmp: returning would retry the same store for ever.  main narrates after the jump.
 * Guide part: kernel (protection, guard pages).
 * Run: ./advanced_guard_pages
 */
#define _GNU_SOURCE
#include "common.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "";

static sigjmp_buf recover;
static void *volatile fault_addr;
static volatile sig_atomic_t fault_code;

static void on_sigsegv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    fault_addr = info->si_addr;
    fault_code = info->si_code;
    siglongjmp(recover, 1);
}

static void install_handler(void)
{
    static char alt_stack[64 * 1024];
    stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack};
    struct sigaction sa;

    if (sigaltstack(&ss, NULL) == -1)
        die_errno("sigaltstack");
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) == -1)
        die_errno("sigaction SIGSEGV");
}

static const char *code_name(int code)
{
    return code == SEGV_ACCERR ? "SEGV_ACCERR" : code == SEGV_MAPERR ? "SEGV_MAPERR" : "other";
}

/* Writes `count` bytes from `start`; returns how many went in before a fault. */
static size_t fill(volatile char *start, size_t count)
{
    static volatile size_t written; /* survives the siglongjmp */

    written = 0;
    if (sigsetjmp(recover, 1) == 0) {
        for (size_t i = 0; i < count; i++) {
            start[i] = 'x';
            written = i + 1;
        }
    }
    return written;
}

int main(int argc, char *argv[])
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), wrote;
    char *region, *buffer, *guard;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    install_handler();

    /* Two pages: the buffer, then its guard. */
    region = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        die_errno("mmap");
    buffer = region;
    guard = region + page;
    if (mprotect(guard, page, PROT_NONE) == -1)
        die_errno("mprotect PROT_NONE");
    printf("[main] buffer %p, %zu bytes; guard page (PROT_NONE) at %p\n", (void *)buffer, page,
           (void *)guard);

    printf("[main] writing %zu bytes into the buffer: exactly its size\n", page);
    wrote = fill(buffer, page);
    printf("[main] %zu bytes written, no fault\n", wrote);

    printf("[main] writing %zu bytes: 100 past the end\n", page + 100);
    fault_addr = NULL;
    wrote = fill(buffer, page + 100);
    printf("[main] SIGSEGV (%s) at %p after %zu bytes: %s\n", code_name(fault_code), fault_addr,
           wrote, fault_addr == guard ? "the first byte of the guard page" : "elsewhere");

    if (munmap(guard, page) == -1)
        die_errno("munmap");
    printf("[main] guard unmapped; writing past the end again\n");
    wrote = fill(buffer, page + 100);
    printf("[main] SIGSEGV (%s) at %p after %zu bytes: nothing is mapped there now\n",
           code_name(fault_code), fault_addr, wrote);
    printf("[main] recovered each time with siglongjmp; the process goes on\n");
    munmap(buffer, page);
    return 0;
}
