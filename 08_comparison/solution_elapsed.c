/* solution_elapsed.c - run a command, and say what it cost: wall time and CPU time
 *
 * Exercise 5 (beginner): the two numbers every benchmark of this chapter prints.  The wall
 * time is read on CLOCK_MONOTONIC around fork, exec and wait (never on the wall clock, which
 * can jump: pitfall_wall_clock); the CPU time is what the kernel charged to the child, user
 * and system apart, returned by wait4() (the rusage of the waiting process itself would be
 * nearly zero).  The child's exit status is passed on, 128 + N for a signal, as shells do.
 * Guide part: exercise 5 (beginner).
 * Run: ./solution_elapsed     ./solution_elapsed sleep 0.2     ./solution_elapsed sh -c 'exit 3'
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[COMMAND [ARGUMENT...]]   (options end at COMMAND; none: sleep 0.1)";

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static char *demo[] = {"sleep", "0.1", NULL};
    char **args;
    const char *command;
    struct rusage ru;
    uint64_t start;
    int status;
    pid_t child;

    /* "+": stop at the first operand, so that the command's own options stay its own. */
    while (cli_getopt(argc, argv, "+h", longopts, usage) != -1)
        ;
    args = optind == argc ? demo : argv + optind; /* alone, it times a short sleep */
    command = args[0];

    start = now_ns();
    child = fork_or_die();
    if (child == 0) {
        execvp(command, args);
        warn_errno("cannot run %s", command);
        _exit(127); /* as a shell does for a command it cannot run */
    }
    while (wait4(child, &status, 0, &ru) == -1)
        if (errno != EINTR)
            die_errno("wait4");
    printf("[elapsed] %s: wall %.3f s, user %.3f s, system %.3f s\n", command,
           ns_to_s(elapsed_ns(start)), seconds(ru.ru_utime), seconds(ru.ru_stime));
    if (WIFSIGNALED(status)) {
        printf("[elapsed] %s: killed by signal %d\n", command, WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    printf("[elapsed] %s: exit status %d\n", command, WEXITSTATUS(status));
    return WEXITSTATUS(status);
}
