/* basic_posix_unnamed_sem.c - unnamed semaphores: sem_init between threads and between processes
 *
 * An unnamed semaphore is a sem_t placed in memory that every user can reach; sem_init()
 * sets its count and says who shares it.  pshared = 0: the threads of one process (any
 * memory of the process will do).  pshared = 1: processes, and then the sem_t MUST lie in
 * memory they really share (mmap MAP_SHARED, shm_open, System V shm): fork() alone copies
 * ordinary memory.  Here each kind guards a counter that two sides increment, and signals
 * "done"; sem_destroy() ends it when no one uses it any more.
 * Guide part: theory (POSIX unnamed semaphores, pshared).
 * Run: ./basic_posix_unnamed_sem [--increments N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--increments N]    (N from 1 to 10000000)";

/* What the two sides share: one semaphore used as a lock, one used as a signal. */
struct shared {
    sem_t lock; /* count 1: a binary semaphore, so one side at a time */
    sem_t done; /* count 0: each side posts it once when it has finished */
    long counter;
    long increments;
};

static void increment_many(struct shared *sh)
{
    for (long i = 0; i < sh->increments; i++) {
        if (sem_wait(&sh->lock) == -1)
            die_errno("sem_wait");
        sh->counter++; /* a read-modify-write: without the lock, updates are lost */
        if (sem_post(&sh->lock) == -1)
            die_errno("sem_post");
    }
    if (sem_post(&sh->done) == -1)
        die_errno("sem_post");
}

static void *thread_main(void *arg)
{
    increment_many(arg);
    return NULL;
}

static void init_shared(struct shared *sh, int pshared, long increments)
{
    if (sem_init(&sh->lock, pshared, 1) == -1 || sem_init(&sh->done, pshared, 0) == -1)
        die_errno("sem_init");
    sh->counter = 0;
    sh->increments = increments;
}

/* Waits for both sides' "done", checks the total, destroys the semaphores. */
static void collect(const char *role, struct shared *sh)
{
    for (int side = 0; side < 2; side++)
        if (sem_wait(&sh->done) == -1)
            die_errno("sem_wait");
    printf("[%s] both sides posted \"done\": counter = %ld (expected %ld)\n", role, sh->counter,
           2 * sh->increments);
    if (sh->counter != 2 * sh->increments)
        die("updates were lost: the lock did not hold");
    /* Only once no one can still be inside sem_wait or sem_post on them. */
    if (sem_destroy(&sh->lock) == -1 || sem_destroy(&sh->done) == -1)
        die_errno("sem_destroy");
}

static void between_threads(long increments)
{
    struct shared sh; /* ordinary stack memory: the threads share it anyway */
    pthread_t other;
    int err;

    printf("[main] sem_init(pshared = 0) on the stack: lock = 1, done = 0\n");
    init_shared(&sh, 0, increments);
    err = pthread_create(&other, NULL, thread_main, &sh);
    if (err != 0)
        die_errnum(err, "pthread_create");
    printf("[main] two threads each add 1 to the counter %ld times under the lock\n", increments);
    increment_many(&sh);
    collect("main", &sh);
    err = pthread_join(other, NULL);
    if (err != 0)
        die_errnum(err, "pthread_join");
}

static void between_processes(long increments)
{
    /* MAP_SHARED: parent and child see the same page after fork(), the sem_t included. */
    struct shared *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t child;

    if (sh == MAP_FAILED)
        die_errno("mmap");
    printf("[parent] sem_init(pshared = 1) in a MAP_SHARED page: lock = 1, done = 0\n");
    init_shared(sh, 1, increments);
    child = fork_or_die();
    if (child == 0) {
        increment_many(sh);
        munmap(sh, sizeof *sh);
        exit(0);
    }
    printf("[parent] parent and child %d each add 1 %ld times under the lock\n", (int)child,
           increments);
    increment_many(sh);
    collect("parent", sh);
    if (reap_child(child, "parent") != 0)
        die("the child failed");
    if (munmap(sh, sizeof *sh) == -1)
        die_errno("munmap");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"increments", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long increments = 100000;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        increments = cli_long(optarg, 1, 10000000, "--increments", usage);
    cli_no_operands(argc, argv, usage);

    between_threads(increments);
    between_processes(increments);
    return 0;
}
