/* pitfall_eintr.c - sem_wait() interrupted by a signal, and code that carries on regardless
 *
 * A signal whose handler runs while a process sleeps in sem_wait() ends the wait with -1
 * and errno EINTR.  Code that ignores the return value goes on as if it held the
 * semaphore: two processes are inside the critical section at once.  Here the child holds
 * the lock for 300 ms while a 50 ms timer's handler (no SA_RESTART) interrupts the parent.
 * --fixed: retry while errno is EINTR, and check every other error.  (POSIX allows EINTR
 * whatever the flags; on Linux a handler WITH SA_RESTART restarts it, because the futex
 * wait with no timeout returns -ERESTARTSYS.  Never rely on that: semop() always fails.)
 * Guide part: pitfall (EINTR from a blocking wait).
 * Run: ./pitfall_eintr [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

struct shared {
    sem_t lock;
    atomic_int inside; /* how many processes are in the critical section now */
    atomic_int child_holds;
};

static volatile sig_atomic_t ticks;

static void on_alarm(int sig)
{
    (void)sig;
    ticks++;
}

/* Every 50 ms, SIGALRM with a handler installed without SA_RESTART, as signal() does on
 * some systems and sigaction() does by default. */
static void start_ticking(void)
{
    struct sigaction sa;
    struct itimerval every_50ms = {{0, 50000}, {0, 50000}};

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) == -1)
        die_errno("sigaction");
    if (setitimer(ITIMER_REAL, &every_50ms, NULL) == -1)
        die_errno("setitimer");
}

static void stop_ticking(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};

    if (setitimer(ITIMER_REAL, &off, NULL) == -1)
        die_errno("setitimer");
}

static void enter(struct shared *sh, const char *role)
{
    int now = atomic_fetch_add(&sh->inside, 1) + 1;

    printf("[%s] in the critical section (%d process%s inside)\n", role, now, now == 1 ? "" : "es");
}

static noreturn void run_child(struct shared *sh)
{
    if (sem_wait(&sh->lock) == -1)
        die_errno("sem_wait");
    enter(sh, "child");
    atomic_store(&sh->child_holds, 1);
    sleep_ms(300); /* a long critical section */
    atomic_fetch_sub(&sh->inside, 1);
    printf("[child] leaving, sem_post\n");
    if (sem_post(&sh->lock) == -1)
        die_errno("sem_post");
    exit(0);
}

static void take_lock(struct shared *sh, bool fixed)
{
    if (!fixed) {
        sem_wait(&sh->lock); /* THE BUG: the return value is ignored */
        return;
    }
    while (sem_wait(&sh->lock) == -1) { /* THE FIX */
        if (errno != EINTR)
            die_errno("sem_wait");
        printf("[parent] sem_wait: EINTR after a SIGALRM; waiting again\n");
    }
}

int main(int argc, char *argv[])
{
    struct shared *sh;
    bool fixed;
    int inside;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(&sh->lock, 1, 1) == -1)
        die_errno("sem_init");
    atomic_init(&sh->inside, 0);
    atomic_init(&sh->child_holds, 0);
    child = fork_or_die();
    if (child == 0)
        run_child(sh);
    while (atomic_load(&sh->child_holds) == 0)
        sleep_ms(1);

    printf("[parent] the child holds the lock; a 50 ms timer ticks; sem_wait(%s)\n",
           fixed ? "retried on EINTR" : "return value ignored");
    start_ticking();
    take_lock(sh, fixed);
    stop_ticking();
    inside = atomic_load(&sh->inside) + 1;
    enter(sh, "parent");
    if (inside > 1)
        printf("[parent] two processes inside at once: sem_wait returned EINTR, not the lock\n");
    atomic_fetch_sub(&sh->inside, 1);
    if (sem_post(&sh->lock) == -1)
        die_errno("sem_post");
    reap_child(child, "parent");
    if (sem_destroy(&sh->lock) == -1 || munmap(sh, sizeof *sh) == -1)
        die_errno("sem_destroy/munmap");
    if (fixed == (inside > 1))
        die("the demonstration did not behave as described");
    return 0;
}
