/* pitfall_sysv_init_race.c - semget() then SETVAL is not atomic: the set is used before it is set
 *
 * A System V set is created by semget() and given its values by a later semctl(): two
 * calls, with a window between them.  A process that finds the set by its key in that
 * window uses it as it is; here it posts "work ready" (+1), and the creator's SETVAL then
 * overwrites the post: lost.  --fixed: the handshake of W. R. Stevens (UNP vol. 2, ch. 11):
 * the creator sets the value and then performs one semop(), which sets sem_otime; every
 * other process waits, after semget(), until IPC_STAT shows sem_otime != 0.  A fresh set's
 * sem_otime is 0, so it says "initialised" and nothing else does.
 * Guide part: pitfall (the System V initialisation race).
 * Run: ./pitfall_sysv_init_race [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void op(int semid, int delta)
{
    struct sembuf sop = {.sem_num = 0, .sem_op = (short)delta, .sem_flg = 0};

    if (semop(semid, &sop, 1) == -1)
        die_errno("semop %+d", delta);
}

static time_t otime(int semid)
{
    struct semid_ds ds;
    union semun arg = {.buf = &ds};

    if (semctl(semid, 0, IPC_STAT, arg) == -1)
        die_errno("semctl IPC_STAT");
    return ds.sem_otime;
}

/* The other process: finds the set by key, then posts one unit of work. */
static noreturn void run_user(key_t key, bool fixed)
{
    int semid = -1;

    for (int tries = 0; semid == -1 && tries < 1000; tries++) {
        semid = semget(key, 1, 0600); /* no IPC_CREAT: only find it */
        if (semid == -1 && errno != ENOENT)
            die_errno("semget");
        if (semid == -1)
            sleep_ms(2);
    }
    if (semid == -1)
        die("the set never appeared");
    printf("[user] found the set by its key; sem_otime = %ld\n", (long)otime(semid));
    if (fixed) {
        for (int tries = 0; otime(semid) == 0; tries++) { /* THE FIX */
            if (tries == 1000)
                die("the set was never initialised");
            sleep_ms(2);
        }
        printf("[user] sem_otime is set: the creator has initialised it\n");
    }
    printf("[user] semop(+1): one unit of work is ready\n");
    op(semid, +1);
    exit(0);
}

static int create(key_t key)
{
    sigset_t saved;
    int semid;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the set behind */
    semid = semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (semid == -1)
        die_errno("semget key 0x%08x", (unsigned)key);
    if (cleanup_add_sysv_sem(semid) == -1)
        die_errno("cleanup_add_sysv_sem");
    stop_signals_release(&saved);
    return semid;
}

int main(int argc, char *argv[])
{
    struct sembuf take = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
    struct timespec limit = {.tv_sec = 0, .tv_nsec = 300000000L};
    union semun zero = {.val = 0};
    key_t key;
    int semid;
    bool fixed;
    pid_t user;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    key = (key_t)(0x05000000 | (getpid() & 0xffffff)); /* a key of our own: from the pid */
    user = fork_or_die();
    if (user == 0)
        run_user(key, fixed);

    semid = create(key);
    printf("[creator] semget(key 0x%08x, IPC_CREAT | IPC_EXCL) = set %d; not yet initialised\n",
           (unsigned)key, semid);
    /* The window: preempted between the two calls.  It lasts here until the user has
     * posted (at most 2 s), or 100 ms when it waits for the handshake, so the race in the
     * broken run is certain, not a matter of luck. */
    for (int ms = 0; ms < (fixed ? 100 : 2000) && semctl(semid, 0, GETVAL) == 0; ms += 2)
        sleep_ms(2);
    printf("[creator] semctl(SETVAL, 0): the initial value\n");
    if (semctl(semid, 0, SETVAL, zero) == -1)
        die_errno("semctl SETVAL");
    if (fixed) {
        printf("[creator] semop(0) on the value 0: returns at once and sets sem_otime\n");
        op(semid, 0);
    }
    reap_child(user, "creator");

    printf("[creator] waiting at most 300 ms for the unit of work\n");
    if (semtimedop(semid, &take, 1, &limit) == 0) {
        printf("[creator] got the unit of work\n");
        if (!fixed)
            die("the race did not show this time");
        return 0;
    }
    if (errno != EAGAIN)
        die_errno("semtimedop");
    printf("[creator] timed out: the post came before SETVAL, which overwrote it\n");
    if (fixed)
        die("the handshake should have kept the post");
    return 0;
}
