/* pitfall_lock_order.c - two processes take two locks in opposite orders and deadlock
 *
 * Process 1 takes lock A then lock B; process 2 takes B then A.  If each gets its first
 * lock before the other asks for it, each waits for the lock the other holds: neither can
 * go on, and without a timeout they would wait for ever.  Here every second lock is taken
 * with semtimedop() and a 500 ms limit, so the deadlock shows as two timeouts.
 * --fixed: one global order (always A before B) makes a cycle of waits impossible.
 * (For two locks System V can also take both in ONE semop: see
 * advanced_dining_philosophers.)
 * Guide part: pitfall (lock ordering and deadlock).
 * Run: ./pitfall_lock_order [--fixed]
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TIMED_OUT 3

/* Two locks, and a rendezvous counter that makes the unlucky interleaving certain. */
enum { LOCK_A, LOCK_B, NLOCKS, RENDEZVOUS = NLOCKS, NSEMS };

static const char usage[] = "[--fixed]";
static const char lock_name[NLOCKS] = {'A', 'B'};

/* Both locks free, and a rendezvous both processes pass once they hold their first lock. */
static int create_locks(void)
{
    static const unsigned short values[NSEMS] = {[LOCK_A] = 1, [LOCK_B] = 1, [RENDEZVOUS] = 2};

    return sysv_sem_create(NSEMS, values);
}

/* Takes one lock, waiting at most `ms` (0: no limit); SEM_UNDO frees it if we die. */
static bool take(int semid, int lock, long ms)
{
    struct sembuf op = {.sem_num = (unsigned short)lock, .sem_op = -1, .sem_flg = SEM_UNDO};
    struct timespec limit = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    if (semtimedop(semid, &op, 1, ms > 0 ? &limit : NULL) == 0)
        return true;
    if (errno != EAGAIN)
        die_errno("semtimedop");
    return false;
}

static void release(int semid, int lock)
{
    struct sembuf op = {.sem_num = (unsigned short)lock, .sem_op = +1, .sem_flg = SEM_UNDO};

    if (semop(semid, &op, 1) == -1)
        die_errno("semop");
}

/* Waits (at most 300 ms) until both processes hold their first lock: with one order the
 * other process cannot get there, and the limit lets this one go on. */
static void rendezvous(int semid)
{
    struct sembuf arrive = {.sem_num = RENDEZVOUS, .sem_op = -1, .sem_flg = 0};
    struct sembuf until_zero = {.sem_num = RENDEZVOUS, .sem_op = 0, .sem_flg = 0};
    struct timespec limit = {.tv_sec = 0, .tv_nsec = 300000000L};

    if (semop(semid, &arrive, 1) == -1)
        die_errno("semop");
    if (semtimedop(semid, &until_zero, 1, &limit) == -1 && errno != EAGAIN)
        die_errno("semtimedop");
}

static noreturn void worker(int id, int semid, int first, int second)
{
    if (!take(semid, first, 0))
        exit(1);
    printf("[process %d] holds lock %c; now asks for lock %c (at most 500 ms)\n", id,
           lock_name[first], lock_name[second]);
    rendezvous(semid);
    if (!take(semid, second, 500)) {
        printf("[process %d] timed out waiting for lock %c while holding %c\n", id,
               lock_name[second], lock_name[first]);
        exit(EXIT_TIMED_OUT);
    }
    printf("[process %d] holds both locks, works, releases them\n", id);
    release(semid, second);
    release(semid, first);
    exit(0);
}

int main(int argc, char *argv[])
{
    pid_t workers[2];
    int semid, timeouts = 0;
    bool fixed;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    semid = create_locks();
    printf("[parent] locks A and B: System V set %d; process 1 takes A then B\n", semid);
    printf("[parent] process 2 takes %s\n", fixed ? "A then B too (one global order)" : "B then A");
    workers[0] = fork_or_die();
    if (workers[0] == 0)
        worker(1, semid, LOCK_A, LOCK_B);
    workers[1] = fork_or_die();
    if (workers[1] == 0) {
        if (fixed)
            worker(2, semid, LOCK_A, LOCK_B); /* THE FIX */
        worker(2, semid, LOCK_B, LOCK_A);     /* THE BUG */
    }
    for (int i = 0; i < 2; i++) {
        int status = reap_child(workers[i], "parent");

        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_TIMED_OUT)
            timeouts++;
        else if (status != 0)
            die("a worker failed");
    }
    if (timeouts > 0)
        printf(
            "[parent] deadlock: %d process%s gave up; without a timeout both would wait forever\n",
            timeouts, timeouts == 1 ? "" : "es");
    else
        printf("[parent] both processes finished: no deadlock\n");
    if (fixed != (timeouts == 0))
        die("the demonstration did not behave as described");
    return 0;
}
