/* advanced_sem_kernel_view.c - what the kernel keeps about semaphores, read from user space
 *
 * System V: the limits in /proc/sys/kernel/sem (SEMMSL semaphores per set, SEMMNS in all,
 * SEMOPM operations per semop, SEMMNI sets); per semaphore the kernel counts who sleeps
 * waiting for an increase (GETNCNT) or for zero (GETZCNT) and remembers the pid of the last
 * operation (GETPID); per set the time of the last semop (sem_otime) and of the last change
 * by semctl (sem_ctime); /proc/sysvipc/sem lists every set.  POSIX: there is no kernel
 * object at all; glibc's sem_t is a 64-bit word in shared memory, the value in its low 32
 * bits and the number of sleepers in the high 32, and a sleeper waits in FUTEX_WAIT on it.
 * Each side's waiters are shown with the kernel function they sleep in (/proc/PID/wchan).
 * Guide part: kernel (ipc/sem.c, kernel/futex/, wait queues).
 * Run: ./advanced_sem_kernel_view
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "";

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void show_limits(void)
{
    static const char *const what[4] = {
        "SEMMSL (semaphores per set)",
        "SEMMNS (semaphores in the whole system)",
        "SEMOPM (operations in one semop)",
        "SEMMNI (sets in the whole system)",
    };
    long v[4];
    FILE *f = fopen("/proc/sys/kernel/sem", "r");

    if (f == NULL)
        die_errno("open /proc/sys/kernel/sem");
    if (fscanf(f, "%ld %ld %ld %ld", &v[0], &v[1], &v[2], &v[3]) != 4)
        die("/proc/sys/kernel/sem: expected four numbers");
    fclose(f);
    for (int i = 0; i < 4; i++)
        printf("[kernel] /proc/sys/kernel/sem field %d: %ld = %s\n", i + 1, v[i], what[i]);
}

static void show_waiter(const char *role, pid_t pid)
{
    char wchan[64];

    if (proc_wchan(pid, wchan, sizeof wchan) == -1 || wchan[0] == '\0')
        strcpy(wchan, "(not shown)");
    printf("[kernel] %s %d: state %c, sleeping in %s\n", role, (int)pid, proc_state(pid), wchan);
}

static pid_t start_sleeper(int semid, short op)
{
    struct sembuf sop = {.sem_num = 0, .sem_op = op, .sem_flg = 0};
    pid_t parent = getpid(), pid = fork_or_die();

    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
            _exit(1);
        /* EIDRM when the parent removes the set: the way these sleepers end. */
        if (semop(semid, &sop, 1) == -1 && errno != EIDRM)
            die_errno("semop");
        exit(0);
    }
    return pid;
}

static void post_one(int semid)
{
    struct sembuf sop = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};

    if (semop(semid, &sop, 1) == -1)
        die_errno("semop");
}

static int counts(int semid, int cmd)
{
    int n = semctl(semid, 0, cmd);

    if (n == -1)
        die_errno("semctl");
    return n;
}

static void sysv_side(void)
{
    union semun arg = {.val = 1};
    struct semid_ds ds;
    pid_t takers[2], zero_waiter;
    sigset_t saved;
    int semid;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the set behind */
    if ((semid = semget(IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("semget");
    if (cleanup_add_sysv_sem(semid) == -1)
        die_errno("cleanup_add_sysv_sem");
    stop_signals_release(&saved);
    arg.buf = &ds;
    if (semctl(semid, 0, IPC_STAT, arg) == -1)
        die_errno("semctl IPC_STAT");
    printf("[sysv] new set %d: sem_otime = %ld (no semop yet), sem_ctime set\n", semid,
           (long)ds.sem_otime);
    arg.val = 1;
    if (semctl(semid, 0, SETVAL, arg) == -1)
        die_errno("semctl SETVAL");
    printf("[sysv] value 1; two children take 2 each (sleep), one waits for zero (sleeps)\n");
    takers[0] = start_sleeper(semid, -2);
    takers[1] = start_sleeper(semid, -2);
    zero_waiter = start_sleeper(semid, 0);
    for (int ms = 0; counts(semid, GETNCNT) < 2 || counts(semid, GETZCNT) < 1; ms++) {
        if (ms == 5000)
            die("the sleepers never went to sleep");
        sleep_ms(1);
    }
    printf("[sysv] GETNCNT = %d (waiting for an increase), GETZCNT = %d (waiting for 0)\n",
           counts(semid, GETNCNT), counts(semid, GETZCNT));
    printf("[sysv] GETPID = %s: on Linux semctl(SETVAL) records its caller too\n",
           counts(semid, GETPID) == getpid() ? "the parent" : "another process");
    show_waiter("taker", takers[0]);
    show_waiter("zero waiter", zero_waiter);

    printf("[sysv] the parent posts +1: value 2, one taker gets its 2, value 0 wakes the "
           "zero waiter\n");
    post_one(semid);
    reap_child(zero_waiter, "sysv");
    while (counts(semid, GETNCNT) != 1)
        sleep_ms(1);
    arg.buf = &ds;
    if (semctl(semid, 0, IPC_STAT, arg) == -1)
        die_errno("semctl IPC_STAT");
    printf("[sysv] GETNCNT = %d, GETZCNT = %d, GETPID = %s, sem_otime = %s\n",
           counts(semid, GETNCNT), counts(semid, GETZCNT),
           counts(semid, GETPID) == getpid() ? "the parent" : "a taker",
           ds.sem_otime != 0 ? "set (a semop succeeded)" : "0");
    if (semctl(semid, 0, IPC_RMID) == -1)
        die_errno("semctl IPC_RMID");
    printf("[sysv] IPC_RMID: every sleeper wakes with EIDRM\n");
    reap_child(takers[0], "sysv");
    reap_child(takers[1], "sysv");
}

/* The POSIX side: no kernel object, only a word in shared memory and a futex sleeper. */
static void posix_side(void)
{
    sem_t *sem = mmap(NULL, sizeof *sem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    uint32_t *word = (uint32_t *)(void *)sem; /* glibc's layout on 64-bit machines */
    pid_t parent = getpid(), waiter;

    if (sem == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(sem, 1, 2) == -1)
        die_errno("sem_init");
    printf("[posix] sem_init(value 2): sizeof(sem_t) = %zu; low word %" PRIu32
           " (value), high word %" PRIu32 " (sleepers)\n",
           sizeof *sem, word[0], word[1]);
    waiter = fork_or_die();
    if (waiter == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
            _exit(1);
        for (int i = 0; i < 3; i++)
            while (sem_wait(sem) == -1)
                if (errno != EINTR)
                    die_errno("sem_wait");
        exit(0);
    }
    for (int ms = 0; __atomic_load_n(&word[1], __ATOMIC_SEQ_CST) == 0; ms++) {
        if (ms == 5000)
            die("the waiter never went to sleep");
        sleep_ms(1);
    }
    sleep_ms(20); /* from "counted as a sleeper" into the futex call itself */
    printf("[posix] a child took 2 and waits for a third: low word %" PRIu32 ", high word %" PRIu32
           "\n",
           __atomic_load_n(&word[0], __ATOMIC_SEQ_CST),
           __atomic_load_n(&word[1], __ATOMIC_SEQ_CST));
    show_waiter("sem_wait caller", waiter);
    if (sem_post(sem) == -1)
        die_errno("sem_post");
    reap_child(waiter, "posix");
    printf("[posix] after sem_post and its wake-up: low word %" PRIu32 ", high word %" PRIu32 "\n",
           word[0], word[1]);
    if (sem_destroy(sem) == -1 || munmap(sem, sizeof *sem) == -1)
        die_errno("sem_destroy/munmap");
}

int main(int argc, char *argv[])
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);
    show_limits();
    sysv_side();
    posix_side();
    return 0;
}
