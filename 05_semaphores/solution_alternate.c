/* solution_alternate.c - exercise 1: two processes print strictly alternating lines
 *
 * Two POSIX semaphores in a MAP_SHARED page pass the turn back and forth: the parent
 * waits on `ping_turn` (starts at 1), prints, posts `pong_turn`; the child does the
 * mirror image.  Each line is one write(2), so the order on stdout is the order in which
 * the turns were taken, even when stdout is a pipe or a slow reader.  On SIGTERM or SIGINT
 * the registry stops and reaps the child, then the parent dies of the same signal.
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_alternate [N]      (N rounds, default 5: lines "ping 1" ... "pong 2N")
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[N]    (N from 1 to 1000000, default 5)";

struct turns {
    sem_t ping_turn, pong_turn;
};

static void take(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void give(sem_t *s)
{
    if (sem_post(s) == -1)
        die_errno("sem_post");
}

/* Prints lines first, first + 2, ... up to last, each after taking `mine`. */
static void play(sem_t *mine, sem_t *theirs, const char *word, long first, long last)
{
    char line[48];

    for (long i = first; i <= last; i += 2) {
        int len;

        take(mine);
        len = snprintf(line, sizeof line, "%s %ld\n", word, i);
        if (write_full(STDOUT_FILENO, line, (size_t)len) == -1)
            die_errno("write to stdout");
        give(theirs);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct turns *t;
    sigset_t saved;
    long rounds = 5;
    pid_t child;

    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        ;
    if (argc - optind > 1)
        die_usage(usage, "too many operands");
    if (argc - optind == 1)
        rounds = cli_long(argv[optind], 1, 1000000, "N", usage);
    else
        printf("[parent] no N given: 5 rounds, the parent prints ping, the child pong\n");
    fflush(stdout); /* before fork, and before the lines written with write(2) */

    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(&t->ping_turn, 1, 1) == -1 || sem_init(&t->pong_turn, 1, 0) == -1)
        die_errno("sem_init");
    stop_signals_hold(&saved); /* a stop signal before the registry knows the child waits */
    child = fork_or_die();
    if (child == 0) {
        stop_signals_release(&saved);
        play(&t->pong_turn, &t->ping_turn, "pong", 2, 2 * rounds);
        exit(0);
    }
    if (cleanup_add_child(child) == -1) /* stopped: SIGTERM it, reap it, then die */
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    play(&t->ping_turn, &t->pong_turn, "ping", 1, 2 * rounds - 1);
    take(&t->ping_turn); /* the child's last post: it has printed its last line */
    if (waitpid(child, NULL, 0) == -1)
        die_errno("waitpid");
    return 0;
}
