/* pitfall_crash_holding.c - a process dies holding a semaphore, and the others wait forever
 *
 * A semaphore used as a lock knows nothing of who took it: when the holder is killed
 * (SIGKILL, a crash, the OOM killer) the value stays 0 and every later taker sleeps for
 * ever.  Here a child takes the lock and is killed; the parent's timed attempt shows the
 * lock still held by no living process.  --fixed: the child takes it with SEM_UNDO, so the
 * kernel records the adjustment and reverses it when the process exits however it exits
 * (exit_sem() in ipc/sem.c); the parent gets the lock at once.  (POSIX semaphores have no
 * such undo: a robust pthread mutex, EOWNERDEAD, is their answer.)
 * Guide part: pitfall (a lock that outlives its holder).
 * Run: ./pitfall_crash_holding [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

static int create_lock(void)
{
    int semid;

    semid = sysv_sem_create(1, (const unsigned short[]){1}); /* one semaphore, value 1 */
    printf("[parent] lock = System V semaphore set %d, value 1 (free)\n", semid);
    return semid;
}

/* Takes the lock, waiting at most `ms`; returns false on timeout. */
static bool lock_within(int semid, long ms)
{
    struct sembuf take = {.sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO};
    struct timespec limit = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    if (semtimedop(semid, &take, 1, &limit) == 0)
        return true;
    if (errno != EAGAIN)
        die_errno("semtimedop");
    return false;
}

static noreturn void run_holder(int semid, bool fixed)
{
    struct sembuf take = {.sem_num = 0, .sem_op = -1, .sem_flg = fixed ? SEM_UNDO : 0};

    if (semop(semid, &take, 1) == -1)
        die_errno("semop");
    for (;;)
        pause(); /* "working" while holding the lock, until killed */
}

int main(int argc, char *argv[])
{
    bool fixed;
    int semid, value;
    pid_t holder;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    semid = create_lock();
    printf("[parent] the child takes the lock with semop(-1, %s)\n",
           fixed ? "SEM_UNDO" : "no flag");
    holder = fork_or_die();
    if (holder == 0)
        run_holder(semid, fixed);
    while ((value = semctl(semid, 0, GETVAL)) == 1)
        sleep_ms(5); /* until the child holds it: value 0 */
    if (value == -1)
        die_errno("semctl GETVAL");
    printf("[parent] the child %d holds the lock (value 0); killing it with SIGKILL\n",
           (int)holder);
    if (kill(holder, SIGKILL) == -1)
        die_errno("kill");
    reap_child(holder, "parent");

    value = semctl(semid, 0, GETVAL);
    if (value == -1)
        die_errno("semctl GETVAL");
    printf("[parent] after the holder's death the value is %d\n", value);
    printf("[parent] taking the lock, waiting at most 300 ms\n");
    if (!lock_within(semid, 300)) {
        printf("[parent] timed out: the lock is held by a process that no longer exists\n");
        printf("[parent] every later taker would sleep forever\n");
        if (fixed)
            die("SEM_UNDO should have given the lock back");
        return 0;
    }
    printf("[parent] got the lock: the kernel undid the dead holder's semop at its exit\n");
    if (!fixed)
        die("the lock came back without SEM_UNDO");
    return 0;
}
