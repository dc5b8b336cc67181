/* advanced_barrier.c - a reusable barrier for N processes, built from three semaphores
 *
 * A barrier holds every process until all N have arrived, then lets them all go.  One
 * turnstile is not enough to REUSE it: a fast process could race through the next round's
 * barrier before a slow one has left this one.  The two-phase design (Downey, "The Little
 * Book of Semaphores", 3.7): a mutex-guarded count; the last to arrive opens turnstile 1
 * by posting it N times; the last to leave phase 1 opens turnstile 2 the same way, and
 * everyone passes it before the next round can begin.  Each process writes its round
 * number and, after the barrier, checks that every other is in the same round or at most
 * one ahead: never behind, never two ahead.
 * Guide part: theory (classical problems: barriers).
 * Run: ./advanced_barrier [--processes N] [--rounds N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_PROCESSES 16

static const char usage[] =
    "[--processes N] [--rounds N]    (processes 2 to 16, rounds 1 to 10000)";

struct barrier {
    sem_t mutex;      /* 1: guards count */
    sem_t turnstile1; /* 0: opened for phase 1 by the last to arrive */
    sem_t turnstile2; /* 0: opened for phase 2 by the last to leave */
    int count, n;
    atomic_long round_of[MAX_PROCESSES];
    atomic_int out_of_step;
};

static void wait_sem(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void post_n(sem_t *s, int n)
{
    for (int i = 0; i < n; i++)
        if (sem_post(s) == -1)
            die_errno("sem_post");
}

static void barrier_wait(struct barrier *b)
{
    wait_sem(&b->mutex);
    if (++b->count == b->n)
        post_n(&b->turnstile1, b->n); /* the last one in lets all n through */
    if (sem_post(&b->mutex) == -1)
        die_errno("sem_post");
    wait_sem(&b->turnstile1);

    wait_sem(&b->mutex);
    if (--b->count == 0)
        post_n(&b->turnstile2, b->n); /* the last one out opens phase 2 */
    if (sem_post(&b->mutex) == -1)
        die_errno("sem_post");
    wait_sem(&b->turnstile2);
}

static noreturn void worker(struct barrier *b, int id, long rounds)
{
    for (long r = 1; r <= rounds; r++) {
        atomic_store(&b->round_of[id], r);
        if ((r + id) % 3 == 0)
            sleep_ms(1); /* some arrive late, a different one each round */
        barrier_wait(b);
        for (int j = 0; j < b->n; j++) {
            long theirs = atomic_load(&b->round_of[j]);

            if (theirs < r || theirs > r + 1)
                atomic_fetch_add(&b->out_of_step, 1);
        }
    }
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"processes", required_argument, NULL, 'p'},
        {"rounds", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pid_t pids[MAX_PROCESSES], parent = getpid();
    long n = 4, rounds = 50;
    struct barrier *b;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "p:r:h", longopts, usage)) != -1) {
        if (c == 'p')
            n = cli_long(optarg, 2, MAX_PROCESSES, "--processes", usage);
        else
            rounds = cli_long(optarg, 1, 10000, "--rounds", usage);
    }
    cli_no_operands(argc, argv, usage);

    b = mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(&b->mutex, 1, 1) == -1 || sem_init(&b->turnstile1, 1, 0) == -1 ||
        sem_init(&b->turnstile2, 1, 0) == -1)
        die_errno("sem_init");
    b->n = (int)n;
    printf("[parent] barrier for %ld processes in a MAP_SHARED page: mutex = 1, turnstiles = 0\n",
           n);
    printf("[parent] %ld rounds; after each, every process checks where the others are\n", rounds);
    for (int i = 0; i < n; i++)
        if ((pids[i] = fork_or_die()) == 0) {
            /* a process asleep at the barrier would outlive a parent killed meanwhile */
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
                _exit(1);
            worker(b, i, rounds);
        }
    for (int i = 0; i < n; i++)
        if (reap_child(pids[i], "parent") != 0)
            die("a worker failed");
    printf("[parent] all %ld processes passed %ld barriers; seen out of step: %d\n", n, rounds,
           atomic_load(&b->out_of_step));
    if (atomic_load(&b->out_of_step) != 0)
        die("a process ran ahead of or fell behind the others");
    if (sem_destroy(&b->mutex) == -1 || sem_destroy(&b->turnstile1) == -1 ||
        sem_destroy(&b->turnstile2) == -1 || munmap(b, sizeof *b) == -1)
        die_errno("sem_destroy/munmap");
    return 0;
}
