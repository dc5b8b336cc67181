/* advanced_dining_philosophers.c - deadlock-free philosophers: two forks in ONE semop
 *
 * Five philosophers sit at a round table with one fork between each pair; each needs both
 * neighbouring forks to eat.  Taking the left fork and then the right one deadlocks as soon
 * as all five hold their left fork.  System V semop() applies an array of operations
 * ATOMICALLY: all of them or none, sleeping until all can be done at once.  So a
 * philosopher asks for both forks in one call and never holds one while waiting for the
 * other: no hold-and-wait, no deadlock, and no need for a global order.  The forks are a set
 * of five semaphores; SEM_UNDO returns them should a philosopher die.  A shared table of
 * who is eating checks that neighbours never eat at the same time.
 * Guide part: theory (classical problems: dining philosophers; semop atomicity).
 * Run: ./advanced_dining_philosophers [--philosophers N] [--meals N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <unistd.h>

#define MAX_PHILOSOPHERS 16

static const char usage[] =
    "[--philosophers N] [--meals N]    (philosophers 2 to 16, meals 1 to 100000)";

struct table {
    atomic_int eating[MAX_PHILOSOPHERS];
    atomic_int neighbour_clashes;
};

static int create_forks(int n)
{
    unsigned short ones[MAX_PHILOSOPHERS];

    for (int i = 0; i < n; i++)
        ones[i] = 1; /* every fork is on the table */
    return sysv_sem_create(n, ones);
}

/* Both forks of philosopher `i`, taken (delta -1) or put back (+1) in one atomic semop. */
static void both_forks(int semid, int i, int n, int delta)
{
    struct sembuf ops[2] = {
        {.sem_num = (unsigned short)i, .sem_op = (short)delta, .sem_flg = SEM_UNDO},
        {.sem_num = (unsigned short)((i + 1) % n), .sem_op = (short)delta, .sem_flg = SEM_UNDO},
    };

    while (semop(semid, ops, 2) == -1)
        if (errno != EINTR)
            die_errno("semop");
}

static noreturn void philosopher(int semid, struct table *t, int i, int n, long meals)
{
    int left = (i + n - 1) % n, right = (i + 1) % n;

    for (long m = 0; m < meals; m++) {
        both_forks(semid, i, n, -1);
        atomic_store(&t->eating[i], 1);
        if (atomic_load(&t->eating[left]) || atomic_load(&t->eating[right]))
            atomic_fetch_add(&t->neighbour_clashes, 1);
        atomic_store(&t->eating[i], 0);
        both_forks(semid, i, n, +1);
    }
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"philosophers", required_argument, NULL, 'p'},
        {"meals", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pid_t pids[MAX_PHILOSOPHERS], parent = getpid();
    long n = 5, meals = 20000;
    struct table *t;
    uint64_t start;
    int semid, c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "p:m:h", longopts, usage)) != -1) {
        if (c == 'p')
            n = cli_long(optarg, 2, MAX_PHILOSOPHERS, "--philosophers", usage);
        else
            meals = cli_long(optarg, 1, 100000, "--meals", usage);
    }
    cli_no_operands(argc, argv, usage);

    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        die_errno("mmap");
    semid = create_forks((int)n);
    printf("[table] %ld forks: System V set %d, every value 1\n", n, semid);
    printf("[table] %ld philosophers, %ld meals each; philosopher i takes forks i and i+1 "
           "in one semop\n",
           n, meals);
    start = now_ns();
    for (int i = 0; i < n; i++) {
        if ((pids[i] = fork_or_die()) == 0) {
            /* Removing the set (our cleanup) wakes a sleeper with EIDRM; this ends one
             * that is between two meals should the table die. */
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
                _exit(1);
            philosopher(semid, t, i, (int)n, meals);
        }
    }
    for (int i = 0; i < n; i++)
        if (reap_child(pids[i], "table") != 0)
            die("a philosopher failed");
    printf("[table] %ld meals eaten in %s: no deadlock\n", n * meals,
           fmt_duration((double)elapsed_ns(start)).s);
    printf("[table] neighbours eating at the same time: %d\n", atomic_load(&t->neighbour_clashes));
    if (atomic_load(&t->neighbour_clashes) != 0)
        die("two neighbours shared a fork");
    if (munmap(t, sizeof *t) == -1)
        die_errno("munmap");
    return 0;
}
