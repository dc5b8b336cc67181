/* solution_elapsed.c - run a command, and say what it cost: wall time and CPU time
 *
 * Exercise 5 (beginner): the two numbers every benchmark of this chapter prints.  The wall
 * time is read on CLOCK_MONOTONIC around fork, exec and wait (never on the wall clock, which
 * can jump: pitfall_wall_clock); the CPU time is what the kernel charged to the child, user
 * and system apart, returned by wait4() (the rusage of the waiting process itself would be
 * nearly zero).  The child's exit status is passed on, 128 + N for a signal, as shells do.
 * Ctrl-C is the command's to take (ignored here while it runs, as time(1) does); a SIGTERM
 * to this program alone ends the command first, so nothing is left running.
 * Guide part: exercise 5 (beginner).
 * Run: ./solution_elapsed     ./solution_elapsed sleep 0.2     ./solution_elapsed sh -c 'exit 3'
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
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
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    struct rusage ru;
    uint64_t start;
    sigset_t keyboard, saved;
    int status, slot;
    pid_t child;

    /* "+": stop at the first operand, so that the command's own options stay its own. */
    while (cli_getopt(argc, argv, "+h", longopts, usage) != -1)
        ;
    args = optind == argc ? demo : argv + optind; /* alone, it times a short sleep */
    command = args[0];

    /* Ctrl-C and Ctrl-\ held until ignored below: one that comes just after the fork then
     * waits, in the child too, which unblocks them before exec and so takes it. */
    sigemptyset(&keyboard);
    sigaddset(&keyboard, SIGINT);
    sigaddset(&keyboard, SIGQUIT);
    sigprocmask(SIG_BLOCK, &keyboard, &saved);
    start = now_ns();
    child = fork_registered(&slot); /* registered before a SIGTERM can come */
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &saved, NULL);
        execvp(command, args);
        warn_errno("cannot run %s", command);
        _exit(127); /* as a shell does for a command it cannot run */
    }
    /* Ctrl-C and Ctrl-\ reach the whole process group: they are the command's to take, and
     * this program stays to report what they did (time(1) and system() do the same).  A
     * SIGTERM or SIGHUP to this program alone: the registry ends the command and reaps it
     * first, then the signal is re-raised. */
    sigemptyset(&ignore.sa_mask);
    if (sigaction(SIGINT, &ignore, NULL) == -1 || sigaction(SIGQUIT, &ignore, NULL) == -1)
        die_errno("sigaction");
    sigprocmask(SIG_SETMASK, &saved, NULL); /* one that waited is dropped: it is ignored */
    while (wait4(child, &status, 0, &ru) == -1)
        if (errno != EINTR)
            die_errno("wait4");
    cleanup_forget(slot);
    printf("[elapsed] %s: wall %.3f s, user %.3f s, system %.3f s\n", command,
           ns_to_s(elapsed_ns(start)), seconds(ru.ru_utime), seconds(ru.ru_stime));
    if (WIFSIGNALED(status)) {
        printf("[elapsed] %s: killed by signal %d\n", command, WTERMSIG(status));
        return 128 + WTERMSIG(status);
    }
    printf("[elapsed] %s: exit status %d\n", command, WEXITSTATUS(status));
    return WEXITSTATUS(status);
}
