/* proc.h - child processes: fork without doubled output, reap with a report. */
#ifndef IPC_PROC_H
#define IPC_PROC_H

#include "common.h"

/* ---- proc.c --------------------------------------------------------------
 * fork_or_die() flushes stdio first (else the child inherits unwritten
 * output and prints it a second time); returns 0 in the child, the child's
 * pid in the parent, and dies if fork() fails. */
pid_t fork_or_die(void);
/* Waits for `pid` (retrying after EINTR), prints "[role] reaped child PID:
 * exit status N" (or "killed by signal ...") and returns the wait status;
 * dies if waitpid() fails. */
int reap_child(pid_t pid, const char *role);
/* A waitpid() status in words: "exit status 3" or "killed by signal 13 (SIGPIPE)". */
struct human fmt_wait_status(int wstatus);
/* Reaps child `pid` like reap_child() but without a word; returns the wait
 * status; dies if waitpid() fails. */
int reap_quietly(pid_t pid);
/* The CPUs this process may run on (sched_getaffinity: a container or
 * `taskset` may allow fewer than the machine has), in increasing order, into
 * cpus[]; returns how many were stored (at most max), or -1 with errno. */
int allowed_cpus(int *cpus, int max);
/* Pins the calling thread, and what it forks or creates later, to `cpu`, so a
 * timing says "same core" or "across cores" for sure.  Returns 0, or -1 with
 * errno (EINVAL: not a CPU this process may use). */
int pin_to_cpu(int cpu);
/* Started with descriptor 0, 1 or 2 closed (`prog <&-`), pipe() or open()
 * would hand out that number, and a later dup2() onto stdin or stdout would
 * clobber or close it: the classic pipeline and daemon hazard.  This fills
 * any such gap with /dev/null; dies if /dev/null cannot be opened.  The
 * command-line helpers of common.h call it, so programs need not. */
void ensure_std_fds(void);

#endif
