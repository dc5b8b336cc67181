/* advanced_mp_semlock.c - Python multiprocessing's SemLock: a named semaphore unlinked at birth
 *
 * Real-world pattern: CPython's multiprocessing.Semaphore, BoundedSemaphore and Lock are a
 * SemLock (Modules/_multiprocessing/semaphore.c): sem_open(name, O_CREAT | O_EXCL, 0600)
 * under a random "/mp-..." name (a new name is tried on EEXIST), and with the "fork" start
 * method sem_unlink() at once: the children inherit the mapping through fork(), no one
 * else needs the name, and nothing can be left in /dev/shm even by a crash.  A waiting
 * acquire() retries sem_wait after EINTR once signal handlers have run; release() of a
 * bounded semaphore refuses, through sem_getvalue(), to go above its maximum.  Here a
 * BoundedSemaphore(2) limits six worker processes to two at a time.  Left out: timeouts,
 * the recursive-lock owner count, the "spawn" start method (the name is then kept and the
 * resource_tracker process unlinks it), Windows.
 * Guide part: real-world (CPython multiprocessing, SemLock).
 * Run: ./advanced_mp_semlock [--workers N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_VALUE 2
#define MAX_WORKERS 16

static const char usage[] = "[--workers N]    (N from 1 to 16)";

struct counters {
    atomic_int inside, most_inside;
};

/* SemLock's creation: a fresh random name until O_EXCL succeeds, then unlink at once. */
static sem_t *create_semlock(char *name, size_t size, unsigned value)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    struct stat st;
    char path[80];

    for (int attempt = 0; attempt < 100; attempt++) {
        sigset_t saved;
        sem_t *sem;
        int slot;

        snprintf(name, size, "/mp-%d-%08x", (int)getpid(), (unsigned)rand_r(&seed));
        stop_signals_hold(&saved); /* a Ctrl-C before the unlink would leave the name */
        sem = sem_open(name, O_CREAT | O_EXCL, 0600, value);
        if (sem == SEM_FAILED && errno == EEXIST) {
            stop_signals_release(&saved);
            continue;
        }
        if (sem == SEM_FAILED)
            die_errno("sem_open %s", name);
        if ((slot = cleanup_add_sem(name)) == -1)
            die_errno("cleanup_add_sem");
        stop_signals_release(&saved);
        printf("[parent] sem_open(%s, O_CREAT | O_EXCL, 0600, %u)\n", name, value);
        snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
        printf("[parent] %s exists: %s\n", path, stat(path, &st) == 0 ? "yes" : "no");
        if (sem_unlink(name) == -1)
            die_errno("sem_unlink %s", name);
        cleanup_forget(slot);
        printf("[parent] sem_unlink at once (fork start method); %s exists: %s\n", path,
               stat(path, &st) == 0 ? "yes" : "no");
        return sem;
    }
    die("no free semaphore name after 100 tries");
}

static void acquire(sem_t *sem)
{
    while (sem_wait(sem) == -1) /* CPython runs the signal handlers, then retries */
        if (errno != EINTR)
            die_errno("sem_wait");
}

/* A BoundedSemaphore's release: an error instead of a value above the maximum. */
static bool release(sem_t *sem)
{
    int value;

    if (sem_getvalue(sem, &value) == -1)
        die_errno("sem_getvalue");
    if (value >= MAX_VALUE)
        return false; /* "semaphore or lock released too many times" */
    if (sem_post(sem) == -1)
        die_errno("sem_post");
    return true;
}

static noreturn void worker(sem_t *sem, struct counters *c)
{
    int now, most;

    acquire(sem);
    now = atomic_fetch_add(&c->inside, 1) + 1;
    most = atomic_load(&c->most_inside);
    while (now > most && !atomic_compare_exchange_weak(&c->most_inside, &most, now))
        ;
    sleep_ms(30); /* the work the semaphore limits */
    atomic_fetch_sub(&c->inside, 1);
    if (!release(sem))
        die("release refused");
    sem_close(sem);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pid_t pids[MAX_WORKERS];
    struct counters *c;
    long workers = 6;
    char name[64];
    sem_t *sem;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "w:h", longopts, usage)) != -1)
        workers = cli_long(optarg, 1, MAX_WORKERS, "--workers", usage);
    cli_no_operands(argc, argv, usage);

    c = mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        die_errno("mmap");
    sem = create_semlock(name, sizeof name, MAX_VALUE);
    printf("[parent] BoundedSemaphore(%d) shared by %ld forked workers, nameless now\n", MAX_VALUE,
           workers);
    for (int i = 0; i < workers; i++)
        if ((pids[i] = fork_or_die()) == 0)
            worker(sem, c);
    for (int i = 0; i < workers; i++)
        if (reap_child(pids[i], "parent") != 0)
            die("a worker failed");
    printf("[parent] most workers inside at once: %d (the bound is %d)\n",
           atomic_load(&c->most_inside), MAX_VALUE);
    printf("[parent] one release() too many: %s\n",
           release(sem) ? "accepted (wrong)" : "refused: released too many times");
    if (atomic_load(&c->most_inside) > MAX_VALUE)
        die("the semaphore let too many in");
    if (sem_close(sem) == -1)
        die_errno("sem_close");
    munmap(c, sizeof *c);
    return 0;
}
