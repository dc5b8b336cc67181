/* pitfall_unnamed_not_shared.c - sem_init(pshared = 1) on memory that is not shared
 *
 * pshared = 1 only promises that the semaphore MAY be shared; it does not make the memory
 * it lies in shared.  A sem_t in a global or on the heap is copied by fork(): the child
 * posts its own copy, and the parent's stays 0 for ever.  Nothing fails: every call
 * returns 0.  Here the parent waits 300 ms for three posts that never come.
 * --fixed: the sem_t lies in a MAP_SHARED page (shm_open + mmap would do as well), so
 * both processes operate on the same word and the posts arrive.
 * Guide part: pitfall (where an unnamed semaphore must live).
 * Run: ./pitfall_unnamed_not_shared [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define POSTS 3

static const char usage[] = "[--fixed]";

static sem_t private_sem; /* THE BUG: ordinary memory, copied by fork() */

static sem_t *place_semaphore(bool fixed)
{
    sem_t *sem;

    if (!fixed) {
        printf("[parent] sem_init(pshared = 1) on a global variable (private memory)\n");
        return &private_sem;
    }
    sem = mmap(NULL, sizeof *sem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sem == MAP_FAILED)
        die_errno("mmap");
    printf("[parent] sem_init(pshared = 1) in a MAP_SHARED page\n");
    return sem;
}

static struct timespec deadline_in_ms(long ms)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
        die_errno("clock_gettime");
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    return ts;
}

int main(int argc, char *argv[])
{
    struct timespec deadline;
    int received = 0, value;
    bool fixed;
    sem_t *sem;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    sem = place_semaphore(fixed);
    if (sem_init(sem, 1, 0) == -1)
        die_errno("sem_init");
    child = fork_or_die();
    if (child == 0) {
        for (int i = 0; i < POSTS; i++)
            if (sem_post(sem) == -1)
                die_errno("sem_post");
        if (sem_getvalue(sem, &value) == -1)
            die_errno("sem_getvalue");
        printf("[child] posted %d times; sem_getvalue in the child: %d\n", POSTS, value);
        exit(0);
    }
    reap_child(child, "parent");

    printf("[parent] waiting for %d posts, at most 300 ms in all\n", POSTS);
    deadline = deadline_in_ms(300);
    while (received < POSTS && sem_timedwait(sem, &deadline) == 0)
        received++;
    if (received < POSTS && errno != ETIMEDOUT)
        die_errno("sem_timedwait");
    printf("[parent] received %d of %d posts\n", received, POSTS);
    if (received == 0)
        printf("[parent] the child's posts went to its own copy of the semaphore\n");
    if (sem_destroy(sem) == -1)
        die_errno("sem_destroy");
    if (fixed && munmap(sem, sizeof *sem) == -1)
        die_errno("munmap");
    if (fixed != (received == POSTS))
        die("the demonstration did not behave as described");
    return 0;
}
