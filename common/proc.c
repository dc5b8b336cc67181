/* proc.c - child processes: fork without doubled output, reap with a report. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t fork_or_die(void)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == -1)
        die_errno("fork");
    return pid;
}

int reap_child(pid_t pid, const char *role)
{
    int status;

    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid %d", (int)pid);
    printf("[%s] reaped child %d: %s\n", role, (int)pid, fmt_wait_status(status).s);
    return status;
}

void ensure_std_fds(void)
{
    int fd;

    /* open() returns the lowest free number: the first one above 2 means
     * 0, 1 and 2 are all taken. */
    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= STDERR_FILENO)
        ;
    if (fd == -1)
        die_errno("open /dev/null");
    close(fd);
}

struct human fmt_wait_status(int wstatus)
{
    struct human h;

    if (WIFEXITED(wstatus))
        snprintf(h.s, sizeof h.s, "exit status %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(h.s, sizeof h.s, "killed by signal %d (SIG%s)", WTERMSIG(wstatus),
                 sigabbrev_np(WTERMSIG(wstatus)));
    else
        snprintf(h.s, sizeof h.s, "wait status %#x", (unsigned)wstatus);
    return h;
}
