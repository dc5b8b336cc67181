/* solution_shared_counter.c - exercise 1: N processes, one counter, a process-shared mutex
 *
 * The worked answer to exercise 1 of the README: the counter and a PTHREAD_PROCESS_SHARED
 * mutex live in an anonymous shared mapping made before fork(), so there is no name to
 * remove; every increment takes the mutex, so no update is lost, and the parent checks the
 * total.  A SIGTERM or SIGINT (to the parent or its whole group) stops the children, reaps
 * them, and then kills the parent with that same signal: nothing outlives the run.
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_shared_counter [--procs N] [--increments M]
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--procs N] [--increments M]    (N 1-64, M 1-10000000)";

struct shared {
    pthread_mutex_t lock;
    long counter;
};

static pid_t pids[64];
static long nprocs;

/* Async-signal-safe: kill, waitpid, signal and raise only. */
static void on_stop(int sig)
{
    for (long p = 0; p < nprocs; p++)
        kill(pids[p], SIGTERM);
    for (long p = 0; p < nprocs; p++)
        while (waitpid(pids[p], NULL, 0) == -1 && errno == EINTR)
            ;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void increment(struct shared *s, long increments)
{
    /* Each child narrates nothing: the one result line is the parent's. */
    for (long i = 0; i < increments; i++) {
        int err = pthread_mutex_lock(&s->lock);

        if (err != 0)
            die_errnum(err, "pthread_mutex_lock");
        s->counter++;
        pthread_mutex_unlock(&s->lock);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"procs", required_argument, NULL, 'p'},
        {"increments", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long procs = 4, increments = 100000, failed = 0;
    pthread_mutexattr_t attr;
    struct sigaction sa;
    sigset_t stops, saved;
    struct shared *s;
    int opt, err;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'p')
            procs = cli_long(optarg, 1, 64, "--procs", usage);
        else
            increments = cli_long(optarg, 1, 10000000, "--increments", usage);
    }
    cli_no_operands(argc, argv, usage);

    s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        die_errno("mmap");
    pthread_mutexattr_init(&attr);
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutex_init(&s->lock, &attr);
    if (err != 0)
        die_errnum(err, "process-shared mutex");
    pthread_mutexattr_destroy(&attr);

    /* Stop signals wait until every child exists and the handler knows them all. */
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, &saved);
    fflush(stdout);
    for (long p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] == -1)
            die_errno("fork");
        if (pids[p] == 0) {
            sigprocmask(SIG_SETMASK, &saved, NULL); /* a child dies of them at once */
            increment(s, increments);
            _exit(0);
        }
        nprocs = p + 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigfillset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigprocmask(SIG_SETMASK, &saved, NULL);
    for (long p = 0; p < procs; p++) {
        int status;

        while (waitpid(pids[p], &status, 0) == -1)
            if (errno != EINTR)
                die_errno("waitpid");
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (failed != 0)
        die("%ld incrementing process(es) failed", failed);
    printf("[parent] %ld processes added 1 each %ld times under the mutex\n", procs, increments);
    printf("total %ld expected %ld\n", s->counter, procs * increments);
    return s->counter == procs * increments ? 0 : 1;
}
