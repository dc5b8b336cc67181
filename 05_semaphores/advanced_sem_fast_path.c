/* advanced_sem_fast_path.c - what an uncontended wait and post cost: user space or the kernel
 *
 * Performance: a POSIX semaphore's sem_wait/sem_post pair with nobody waiting is two
 * atomic instructions on a word in memory and never enters the kernel; a System V semop
 * pair is always two system calls, whatever the value.  Both are timed here beside the
 * two limits they approach: one atomic compare-and-swap pair (the floor of any user-space
 * lock) and one trivial system call, getppid (the floor of anything the kernel does).
 * Each figure is the median of 5 runs of N pairs after a warm-up run, in one thread pinned
 * to the CPU it started on; strace confirms that the POSIX pairs make no system call.
 * Guide part: kernel (performance: the futex fast path against System V).
 * Run: ./advanced_sem_fast_path [--pairs N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "cleanup.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RUNS 5

static const char usage[] = "[--pairs N]    (N from 1000 to 10000000, default 100000)";

enum way { CAS_PAIR, POSIX_PAIR, SYSV_PAIR, GETPPID, NWAYS };
static const char *const way_name[NWAYS] = {
    "atomic CAS pair (user-space floor)",
    "sem_wait + sem_post (POSIX)",
    "semop -1 + semop +1 (System V)",
    "getppid, one call (system-call floor)",
};

static atomic_uint word = 1;
static sem_t posix_sem;
static int semid;

static void one_pair(enum way w)
{
    struct sembuf down = {.sem_num = 0, .sem_op = -1, .sem_flg = 0};
    struct sembuf up = {.sem_num = 0, .sem_op = 1, .sem_flg = 0};
    unsigned expected = 1;

    switch (w) {
    case CAS_PAIR:
        atomic_compare_exchange_strong(&word, &expected, 0);
        expected = 0;
        atomic_compare_exchange_strong(&word, &expected, 1);
        break;
    case POSIX_PAIR:
        if (sem_wait(&posix_sem) == -1 || sem_post(&posix_sem) == -1)
            die_errno("sem_wait/sem_post");
        break;
    case SYSV_PAIR:
        if (semop(semid, &down, 1) == -1 || semop(semid, &up, 1) == -1)
            die_errno("semop");
        break;
    default: syscall(SYS_getppid);
    }
}

/* Median nanoseconds per pair over RUNS runs of `pairs`, after one warm-up run. */
static double time_way(enum way w, long pairs)
{
    double samples[RUNS];
    struct stats st;

    for (int r = -1; r < RUNS; r++) {
        uint64_t start = now_ns();

        for (long i = 0; i < pairs; i++)
            one_pair(w);
        if (r >= 0)
            samples[r] = (double)elapsed_ns(start) / (double)pairs;
    }
    stats_compute(samples, RUNS, &st);
    return st.p50;
}

static int pin_to_current_cpu(void)
{
    int cpu = sched_getcpu();

    return cpu >= 0 && pin_to_cpu(cpu) == 0 ? cpu : -1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"pairs", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double ns[NWAYS];
    long pairs = 100000;
    int c, cpu;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        pairs = cli_long(optarg, 1000, 10000000, "--pairs", usage);
    cli_no_operands(argc, argv, usage);

    if (sem_init(&posix_sem, 0, 1) == -1)
        die_errno("sem_init");
    semid = sysv_sem_create(1, (const unsigned short[]){1}); /* one semaphore, value 1 */

    cpu = pin_to_current_cpu();
    if (cpu >= 0)
        printf("[main] one thread, pinned to CPU %d; %ld pairs per run, median of %d runs after a "
               "warm-up\n",
               cpu, pairs, RUNS);
    else
        printf("[main] one thread, not pinned; %ld pairs per run, median of %d runs\n", pairs,
               RUNS);
    for (int w = 0; w < NWAYS; w++) {
        ns[w] = time_way((enum way)w, pairs);
        printf("[main] %-36s %8.1f ns per pair\n", way_name[w], ns[w]);
    }
    printf("[main] POSIX is %.1fx the atomic floor: no system call while nobody waits\n",
           ns[POSIX_PAIR] / ns[CAS_PAIR]);
    printf("[main] System V is %.1fx two getppid calls: two system calls every time\n",
           ns[SYSV_PAIR] / (2 * ns[GETPPID]));
    if (sem_destroy(&posix_sem) == -1)
        die_errno("sem_destroy");
    return 0;
}
