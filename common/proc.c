/* proc.c - child processes: fork without doubled output, reap with a report. */
#define _GNU_SOURCE
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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

int reap_quietly(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid %d", (int)pid);
    return status;
}

int allowed_cpus(int *cpus, int max)
{
    cpu_set_t set;
    int n = 0;

    if (sched_getaffinity(0, sizeof set, &set) == -1)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
        if (CPU_ISSET(cpu, &set))
            cpus[n++] = cpu;
    return n;
}

int pin_to_cpu(int cpu)
{
    cpu_set_t one;

    if (cpu < 0 || cpu >= CPU_SETSIZE) {
        errno = EINVAL;
        return -1;
    }
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    /* pid 0 is the calling thread (Linux affinity is per thread). */
    return sched_setaffinity(0, sizeof one, &one);
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
