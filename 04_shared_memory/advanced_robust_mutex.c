/* advanced_robust_mutex.c - a process-shared robust mutex: its owner dies, the next one repairs
 *
 * A mutex in shared memory is only a word the processes agree on; if its owner dies holding
 * it, an ordinary mutex stays locked for ever and every other process hangs.  A robust mutex
 * (PTHREAD_MUTEX_ROBUST, POSIX 2008) is on a list the kernel walks when a thread dies (the
 * robust futex list, set_robust_list(2)): it marks the word FUTEX_OWNER_DIED and wakes a
 * waiter, whose lock then returns EOWNERDEAD.  That process holds the mutex, repairs the data
 * and calls pthread_mutex_consistent(); unlocking without it makes the mutex unusable for good
 * (ENOTRECOVERABLE).  A process-shared condition variable works beside it.
 * Guide part: advanced (process-shared synchronisation that survives a crash).
 * Run: ./advanced_robust_mutex
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "";

#define TOTAL 100

/* Two accounts whose sum is TOTAL except in the middle of a transfer, which the journal
 * (`pending`) records first, so a survivor knows how to finish or undo it. */
struct bank {
    pthread_mutex_t lock;
    pthread_cond_t repaired_cond;
    pthread_mutex_t second_lock; /* for the ENOTRECOVERABLE ending */
    int a, b;
    int pending; /* amount being moved from a to b, 0 when none */
    int repaired;
    atomic_int waiting; /* the waiter is in (or about to enter) pthread_cond_wait */
};

static void check(int err, const char *what)
{
    if (err != 0)
        die_errnum(err, "%s", what);
}

static void init_robust_mutex(pthread_mutex_t *m)
{
    pthread_mutexattr_t attr;

    check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
    check(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED), "setpshared");
    check(pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST), "setrobust");
    check(pthread_mutex_init(m, &attr), "pthread_mutex_init");
    pthread_mutexattr_destroy(&attr);
}

static struct bank *make_bank(void)
{
    struct bank *bank =
        mmap(NULL, sizeof *bank, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_condattr_t cattr;

    if (bank == MAP_FAILED)
        die_errno("mmap");
    init_robust_mutex(&bank->lock);
    init_robust_mutex(&bank->second_lock);
    check(pthread_condattr_init(&cattr), "pthread_condattr_init");
    check(pthread_condattr_setpshared(&cattr, PTHREAD_PROCESS_SHARED), "condattr_setpshared");
    check(pthread_cond_init(&bank->repaired_cond, &cattr), "pthread_cond_init");
    pthread_condattr_destroy(&cattr);
    bank->a = TOTAL;
    return bank;
}

/* Locks, and if the previous owner died, says so: the caller must repair. */
static bool lock_bank(pthread_mutex_t *m, const char *role)
{
    int err = pthread_mutex_lock(m);

    if (err == EOWNERDEAD) {
        printf("[%s] pthread_mutex_lock: EOWNERDEAD: we hold it, the data may be half-done\n",
               role);
        return true;
    }
    check(err, "pthread_mutex_lock");
    return false;
}

/* Waits for the repair on the condition variable, like any other process would. */
static noreturn void run_waiter(struct bank *bank)
{
    bool owner_died = lock_bank(&bank->lock, "waiter");

    if (owner_died)
        pthread_mutex_consistent(&bank->lock); /* only reached if it died later than planned */
    atomic_store(&bank->waiting, 1);
    printf("[waiter] waiting on the condition variable for a repaired bank\n");
    while (!bank->repaired) {
        int err = pthread_cond_wait(&bank->repaired_cond, &bank->lock);

        if (err == EOWNERDEAD) /* re-acquired from a dead owner: it is ours to repair */
            pthread_mutex_consistent(&bank->lock);
        else
            check(err, "pthread_cond_wait");
    }
    printf("[waiter] woken: a=%d b=%d, sum %d\n", bank->a, bank->b, bank->a + bank->b);
    pthread_mutex_unlock(&bank->lock);
    exit(0);
}

/* Starts a transfer of 50 and dies in the middle of it, holding the lock. */
static noreturn void run_owner(struct bank *bank, int report_fd)
{
    lock_bank(&bank->lock, "owner");
    bank->pending = 50; /* the journal first, then the two halves */
    bank->a -= 50;
    printf("[owner] holding the lock, a=%d b=%d mid-transfer: now killed by SIGKILL\n", bank->a,
           bank->b);
    if (write_full(report_fd, "h", 1) != 1)
        die_errno("write");
    close(report_fd); /* the one thing tidied up; valgrind reports open descriptors at death */
    raise(SIGKILL);   /* no unlock, no atexit: as a crash */
    exit(1);
}

static void repair(struct bank *bank)
{
    printf("[parent] found a=%d b=%d (sum %d, should be %d), journal says %d in flight\n", bank->a,
           bank->b, bank->a + bank->b, TOTAL, bank->pending);
    if (bank->pending != 0 && bank->a + bank->b != TOTAL) {
        bank->b += bank->pending; /* finish the transfer the journal describes */
        bank->pending = 0;
    }
    printf("[parent] repaired: finished the transfer, a=%d b=%d\n", bank->a, bank->b);
    check(pthread_mutex_consistent(&bank->lock), "pthread_mutex_consistent");
    printf("[parent] pthread_mutex_consistent(): the mutex is normal again\n");
}

/* The other ending: an owner dies, the next one unlocks without repairing. */
static void show_not_recoverable(struct bank *bank)
{
    pid_t child = fork_or_die();
    int err;

    if (child == 0) {
        lock_bank(&bank->second_lock, "child");
        _exit(0); /* exits holding it: the kernel marks it owner-dead */
    }
    reap_child(child, "parent");
    if (!lock_bank(&bank->second_lock, "parent"))
        die("expected EOWNERDEAD on the second mutex");
    printf("[parent] unlocking it WITHOUT pthread_mutex_consistent()\n");
    pthread_mutex_unlock(&bank->second_lock);
    err = pthread_mutex_lock(&bank->second_lock);
    printf("[parent] the next pthread_mutex_lock: %s: nobody can ever lock it again\n",
           err == ENOTRECOVERABLE ? "ENOTRECOVERABLE" : strerror(err));
}

int main(int argc, char *argv[])
{
    struct bank *bank;
    pid_t waiter, owner;
    int fds[2];
    char byte;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    bank = make_bank();
    printf("[parent] robust, process-shared mutex and condition variable in shared memory; "
           "a=%d b=%d\n",
           bank->a, bank->b);

    waiter = fork_or_die();
    if (waiter == 0)
        run_waiter(bank);
    while (atomic_load(&bank->waiting) == 0)
        sched_yield(); /* set under the lock; cond_wait releases it soon after */

    if (pipe(fds) == -1)
        die_errno("pipe");
    owner = fork_or_die();
    if (owner == 0) {
        close(fds[0]);
        run_owner(bank, fds[1]);
    }
    close(fds[1]);
    if (read_full(fds[0], &byte, 1) != 1)
        die("the owner died before it took the lock");
    close(fds[0]);
    reap_child(owner, "parent");

    if (lock_bank(&bank->lock, "parent"))
        repair(bank);
    bank->repaired = 1;
    pthread_cond_broadcast(&bank->repaired_cond);
    pthread_mutex_unlock(&bank->lock);
    reap_child(waiter, "parent");

    show_not_recoverable(bank);
    munmap(bank, sizeof *bank);
    return 0;
}
