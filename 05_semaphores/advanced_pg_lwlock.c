/* advanced_pg_lwlock.c - PostgreSQL's sleep: one semaphore per backend, posted by the releaser
 *
 * Real-world pattern: every PostgreSQL backend process owns ONE semaphore (PGPROC->sem, in
 * shared memory; unnamed POSIX semaphores on Linux, System V elsewhere) and every wait for
 * a lightweight lock (src/backend/storage/lmgr/lwlock.c) sleeps on it: the backend puts its
 * PGPROC on the lock's wait list, sets lwWaiting, and calls PGSemaphoreLock on its own
 * semaphore; the releaser takes waiters off the list, clears their lwWaiting and calls
 * PGSemaphoreUnlock on THEIR semaphores.  A backend woken while lwWaiting is still set was
 * woken for something else: it counts that "extra wait", sleeps again, and gives those
 * posts back afterwards so they are not lost.  Left out: shared mode, the atomic lock word
 * and its fast path, waking several waiters to retry (here the lock is handed to the first
 * waiter), wait events, interrupts.
 * Guide part: real-world (PostgreSQL LWLocks and PGSemaphore).
 * Run: ./advanced_pg_lwlock [--backends N] [--iterations N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_BACKENDS 8

static const char usage[] =
    "[--backends N] [--iterations N]    (backends 2 to 8, iterations 1 to 100000)";

struct pgproc {
    sem_t sem;              /* this backend's own semaphore, initial value 0 */
    atomic_bool lw_waiting; /* set while on a wait list; cleared by the waker */
    int next;               /* the next waiter on the list, -1 at its end */
    atomic_long sleeps, extra_waits;
};

struct lwlock {
    atomic_flag list_lock; /* guards held, head, tail (PostgreSQL: a flag bit in the lock) */
    bool held;
    int head, tail;
};

struct shmem {
    struct pgproc procs[MAX_BACKENDS];
    struct lwlock lock;
    sem_t start;  /* the postmaster opens it once every backend exists */
    long counter; /* protected by the lwlock */
};

static void wait_list_lock(struct lwlock *l)
{
    while (atomic_flag_test_and_set_explicit(&l->list_lock, memory_order_acquire))
        sched_yield(); /* held only for a few instructions: yield, do not sleep */
}

static void wait_list_unlock(struct lwlock *l)
{
    atomic_flag_clear_explicit(&l->list_lock, memory_order_release);
}

static void sem_lock(sem_t *s) /* PGSemaphoreLock */
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void sem_unlock(sem_t *s) /* PGSemaphoreUnlock */
{
    if (sem_post(s) == -1)
        die_errno("sem_post");
}

static void lwlock_acquire(struct shmem *sh, int me)
{
    struct lwlock *l = &sh->lock;
    struct pgproc *proc = &sh->procs[me];
    int extra_waits = 0;

    wait_list_lock(l);
    if (!l->held) {
        l->held = true;
        wait_list_unlock(l);
        return;
    }
    atomic_store(&proc->lw_waiting, true); /* queue ourselves, then sleep */
    proc->next = -1;
    if (l->tail == -1)
        l->head = me;
    else
        sh->procs[l->tail].next = me;
    l->tail = me;
    wait_list_unlock(l);

    atomic_fetch_add(&proc->sleeps, 1);
    for (;;) {
        sem_lock(&proc->sem);
        if (!atomic_load(&proc->lw_waiting))
            break;     /* the releaser took us off the list: the lock is ours */
        extra_waits++; /* a post meant for something else: absorb it for now */
    }
    atomic_fetch_add(&proc->extra_waits, extra_waits);
    while (extra_waits-- > 0)
        sem_unlock(&proc->sem); /* give the absorbed posts back */
}

static void lwlock_release(struct shmem *sh)
{
    struct lwlock *l = &sh->lock;
    int waiter;

    wait_list_lock(l);
    waiter = l->head;
    if (waiter == -1) {
        l->held = false;
        wait_list_unlock(l);
        return;
    }
    l->head = sh->procs[waiter].next; /* hand the lock to the first waiter */
    if (l->head == -1)
        l->tail = -1;
    wait_list_unlock(l);
    atomic_store(&sh->procs[waiter].lw_waiting, false);
    sem_unlock(&sh->procs[waiter].sem); /* wake it on ITS semaphore */
}

static noreturn void backend(struct shmem *sh, int me, long iterations)
{
    sem_lock(&sh->start);
    for (long i = 0; i < iterations; i++) {
        lwlock_acquire(sh, me);
        sh->counter++;
        if (i % 64 == 0)
            sched_yield(); /* now and then the holder loses the CPU inside the lock */
        lwlock_release(sh);
    }
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"backends", required_argument, NULL, 'b'},
        {"iterations", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pid_t pids[MAX_BACKENDS], parent = getpid();
    long backends = 4, iterations = 20000;
    struct shmem *sh;
    int c, value;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "b:n:h", longopts, usage)) != -1) {
        if (c == 'b')
            backends = cli_long(optarg, 2, MAX_BACKENDS, "--backends", usage);
        else
            iterations = cli_long(optarg, 1, 100000, "--iterations", usage);
    }
    cli_no_operands(argc, argv, usage);

    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die_errno("mmap");
    atomic_flag_clear(&sh->lock.list_lock);
    sh->lock.head = sh->lock.tail = -1;
    for (int i = 0; i < backends; i++)
        if (sem_init(&sh->procs[i].sem, 1, 0) == -1)
            die_errno("sem_init");
    if (sem_init(&sh->start, 1, 0) == -1)
        die_errno("sem_init");
    printf("[postmaster] %ld backends, one semaphore each (value 0) in shared memory\n", backends);
    printf("[postmaster] a stray post on backend 0's semaphore, as another wake-up would be\n");
    sem_unlock(&sh->procs[0].sem);

    for (int i = 0; i < backends; i++)
        if ((pids[i] = fork_or_die()) == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
                _exit(1);
            backend(sh, i, iterations);
        }
    for (int i = 0; i < backends; i++)
        sem_unlock(&sh->start);
    for (int i = 0; i < backends; i++)
        if (reap_child(pids[i], "postmaster") != 0)
            die("a backend failed");
    printf("[postmaster] counter = %ld (expected %ld)\n", sh->counter, backends * iterations);
    for (int i = 0; i < backends; i++) {
        if (sem_getvalue(&sh->procs[i].sem, &value) == -1)
            die_errno("sem_getvalue");
        printf(
            "[postmaster] backend %d slept %ld times, absorbed %ld extra posts; semaphore now %d\n",
            i, atomic_load(&sh->procs[i].sleeps), atomic_load(&sh->procs[i].extra_waits), value);
    }
    if (sh->counter != backends * iterations)
        die("the lightweight lock did not exclude");
    if (sem_getvalue(&sh->procs[0].sem, &value) == -1 || value != 1)
        die("the stray post on backend 0 was lost");
    printf("[postmaster] the stray post is still there: absorbed, then given back\n");
    for (int i = 0; i < backends; i++)
        sem_destroy(&sh->procs[i].sem);
    sem_destroy(&sh->start);
    munmap(sh, sizeof *sh);
    return 0;
}
