/* solution_handoff_cost.c - exercise 5: the cost of one hand-off, four ways, as a table
 *
 * A hand-off is "one side posts, the other, asleep, wakes and goes on".  Two processes
 * pass a turn back and forth N times (a round = two hand-offs) through a pair of POSIX
 * semaphores in shared memory, a System V set of two, a pair of futex words, and two pipes
 * carrying one byte; each is warmed up, then timed five times, and the median round trip
 * halved is printed.  The floor beside them is one trivial system call (getppid), timed
 * in the same run: every hand-off costs at least two calls plus a switch.  Both sides are
 * pinned to ONE CPU, so a hand-off is a context switch there; across two CPUs it would
 * also include waking the other CPU, which on an idle virtual machine can cost 100 µs.
 * Guide part: exercise 5 (performance).
 * Run: ./solution_handoff_cost [--rounds N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUNS 5

static const char usage[] = "[--rounds N]    (N from 100 to 1000000, default 5000)";

enum mechanism { POSIX_SEM, SYSV_SEM, FUTEX, PIPE, NMECH };
static const char *const mech_name[NMECH] = {"posix-sem", "sysv-sem", "futex", "pipe"};

struct shared {
    sem_t posix[2];
    atomic_uint word[2]; /* futex words: 1 = your turn */
};

static struct shared *sh;
static int semid, pipes[2][2]; /* pipes[0]: parent to child, pipes[1]: child to parent */

static void give(enum mechanism m, int to)
{
    struct sembuf up = {.sem_num = (unsigned short)to, .sem_op = 1, .sem_flg = 0};

    switch (m) {
    case POSIX_SEM:
        if (sem_post(&sh->posix[to]) == -1)
            die_errno("sem_post");
        break;
    case SYSV_SEM:
        if (semop(semid, &up, 1) == -1)
            die_errno("semop");
        break;
    case FUTEX:
        atomic_store(&sh->word[to], 1);
        if (syscall(SYS_futex, &sh->word[to], FUTEX_WAKE, 1, NULL, NULL, 0) == -1)
            die_errno("futex FUTEX_WAKE");
        break;
    default:
        if (write(pipes[to == 0 ? 1 : 0][1], "t", 1) != 1)
            die_errno("write token");
    }
}

static void take(enum mechanism m, int me)
{
    struct sembuf down = {.sem_num = (unsigned short)me, .sem_op = -1, .sem_flg = 0};
    char token;

    switch (m) {
    case POSIX_SEM:
        while (sem_wait(&sh->posix[me]) == -1)
            if (errno != EINTR)
                die_errno("sem_wait");
        break;
    case SYSV_SEM:
        while (semop(semid, &down, 1) == -1)
            if (errno != EINTR)
                die_errno("semop");
        break;
    case FUTEX:
        while (atomic_exchange(&sh->word[me], 0) == 0)
            if (syscall(SYS_futex, &sh->word[me], FUTEX_WAIT, 0, NULL, NULL, 0) == -1 &&
                errno != EAGAIN && errno != EINTR)
                die_errno("futex FUTEX_WAIT");
        break;
    default:
        if (read(pipes[me == 0 ? 1 : 0][0], &token, 1) != 1)
            die_errno("read token");
    }
}

/* The child's side: echo every turn, for warm-up plus RUNS runs of each mechanism. */
static noreturn void echo_side(long rounds)
{
    for (int m = 0; m < NMECH; m++)
        for (long i = 0; i < rounds * (RUNS + 1); i++) {
            take((enum mechanism)m, 1);
            give((enum mechanism)m, 0);
        }
    close(pipes[0][0]);
    close(pipes[1][1]);
    exit(0);
}

static double time_rounds(enum mechanism m, long rounds)
{
    uint64_t start = now_ns();

    for (long i = 0; i < rounds; i++) {
        give(m, 1);
        take(m, 0);
    }
    return (double)elapsed_ns(start) / (double)rounds / 2; /* one way */
}

/* The floor, timed like the hand-offs: a warm-up run, then RUNS runs of N calls. */
static double floor_syscall(long calls)
{
    double samples[RUNS];
    struct stats st;

    for (int r = -1; r < RUNS; r++) {
        uint64_t start = now_ns();

        for (long i = 0; i < calls; i++)
            syscall(SYS_getppid);
        if (r >= 0)
            samples[r] = (double)elapsed_ns(start) / (double)calls;
    }
    stats_compute(samples, RUNS, &st);
    return st.p50;
}

/* Pins this process (and the child it will fork) to the first CPU it may use; returns
 * that CPU, or -1 if pinning failed. */
static int pin_first_cpu(void)
{
    int cpu;

    if (allowed_cpus(&cpu, 1) != 1 || pin_to_cpu(cpu) == -1)
        return -1;
    return cpu;
}

static void set_up(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(&sh->posix[0], 1, 0) == -1 || sem_init(&sh->posix[1], 1, 0) == -1)
        die_errno("sem_init");
    semid = sysv_sem_create(2, NULL); /* both at 0 */
    if (pipe(pipes[0]) == -1 || pipe(pipes[1]) == -1)
        die_errno("pipe");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"rounds", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long rounds = 5000;
    int cpu;
    int c, status;
    sigset_t saved;
    pid_t child;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        rounds = cli_long(optarg, 100, 1000000, "--rounds", usage);
    cli_no_operands(argc, argv, usage);
    if (argc == 1)
        printf("[main] %ld rounds per run, %d runs after a warm-up; one-way cost, median\n", rounds,
               RUNS);
    set_up();
    cpu = pin_first_cpu(); /* before fork: the child inherits the mask */
    fflush(stdout);
    stop_signals_hold(&saved); /* a stop signal before the registry knows the child waits */
    child = fork_or_die();
    if (child == 0) {
        stop_signals_release(&saved);
        close(pipes[0][1]); /* the child reads pipe 0 and writes pipe 1 */
        close(pipes[1][0]);
        echo_side(rounds);
    }
    if (cleanup_add_child(child) == -1) /* stopped: SIGTERM it, reap it, then die */
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(pipes[0][0]);
    close(pipes[1][1]);
    if (cpu >= 0)
        printf("cpus: both on CPU %d\n", cpu);
    else
        printf("cpus: not pinned\n");
    printf("getppid %.1f ns\n", floor_syscall(rounds));
    for (int m = 0; m < NMECH; m++) {
        double samples[RUNS];
        struct stats st;

        time_rounds((enum mechanism)m, rounds); /* warm-up */
        for (int r = 0; r < RUNS; r++)
            samples[r] = time_rounds((enum mechanism)m, rounds);
        stats_compute(samples, RUNS, &st);
        printf("%s %.1f ns\n", mech_name[m], st.p50);
    }
    status = reap_quietly(child);
    if (status != 0)
        die("the echo side failed: %s", fmt_wait_status(status).s);
    close(pipes[0][1]);
    close(pipes[1][0]);
    return 0;
}
