/* advanced_sem_undo.c - SEM_UNDO: the kernel gives back what an exiting process still holds
 *
 * Every semop() with SEM_UNDO adds the opposite of its sem_op to a per-process, per-
 * semaphore adjustment (semadj) that the kernel keeps; at exit, however the process ends,
 * exit_sem() (ipc/sem.c) applies it.  So a process killed while holding 2 of 5 licences
 * gives both back; one that took its licence WITHOUT SEM_UNDO keeps it for ever.  The
 * flag works both ways: posts made with SEM_UNDO are taken back at exit too, and where
 * that would drive the value below 0 (the posts were already consumed) Linux stops at 0
 * (POSIX leaves this case open).
 * Guide part: kernel (System V semaphores: SEM_UNDO and semadj).
 * Run: ./advanced_sem_undo
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
#include <unistd.h>

#define LICENCES 5

static const char usage[] = "";

static int semid;

static int value(void)
{
    int v = semctl(semid, 0, GETVAL);

    if (v == -1)
        die_errno("semctl GETVAL");
    return v;
}

static void op(int delta, short flags)
{
    struct sembuf sop = {.sem_num = 0, .sem_op = (short)delta, .sem_flg = flags};

    while (semop(semid, &sop, 1) == -1)
        if (errno != EINTR)
            die_errno("semop %+d", delta);
}

/* A child that applies `delta` and then either exits or waits to be killed. */
static pid_t start(int delta, short flags, bool stay)
{
    pid_t pid = fork_or_die();

    if (pid == 0) {
        op(delta, flags);
        while (stay)
            pause();
        exit(0);
    }
    return pid;
}

static void await_value(int expected)
{
    for (int ms = 0; value() != expected; ms++) {
        if (ms == 5000)
            die("the value never reached %d", expected);
        sleep_ms(1);
    }
}

static void kill_and_reap(pid_t pid)
{
    if (kill(pid, SIGKILL) == -1)
        die_errno("kill");
    reap_child(pid, "parent");
}

int main(int argc, char *argv[])
{
    pid_t a, b, c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    semid = sysv_sem_create(1, (const unsigned short[]){LICENCES}); /* one semaphore */
    printf("[parent] %d licences: System V set %d, value %d\n", LICENCES, semid, value());

    printf("[parent] child A takes 2 with SEM_UNDO, child B takes 1 without\n");
    a = start(-2, SEM_UNDO, true);
    b = start(-1, 0, true);
    await_value(LICENCES - 3);
    printf("[parent] value %d while they hold them; killing both with SIGKILL\n", value());
    kill_and_reap(a);
    kill_and_reap(b);
    printf("[parent] value %d: A's 2 came back (semadj +2), B's 1 is lost\n", value());

    printf("[parent] child C posts +3 with SEM_UNDO, then exits normally\n");
    c = start(+3, SEM_UNDO, false);
    reap_child(c, "parent");
    printf("[parent] value %d: the kernel took C's posts back at its exit (semadj -3)\n", value());

    printf("[parent] child D posts +2 with SEM_UNDO and waits; the parent takes all %d\n",
           LICENCES - 1 + 2);
    c = start(+2, SEM_UNDO, true);
    op(-(LICENCES - 1 + 2), 0);
    printf("[parent] value %d; killing D, whose semadj is -2\n", value());
    kill_and_reap(c);
    printf("[parent] value %d: the undo would go below 0, so Linux stops at 0\n", value());

    if (semctl(semid, 0, IPC_RMID) == -1)
        die_errno("semctl IPC_RMID");
    return 0;
}
