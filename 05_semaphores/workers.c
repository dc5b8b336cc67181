/* workers.c - the worker processes of workers.h. */
#define _GNU_SOURCE
#include "workers.h"

#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int workers_start(struct workers *w, int count, worker_fn *body, void *arg)
{
    int first = w->count;
    pid_t parent = getpid();

    if (count < 0 || count > WORKERS_MAX - first)
        die("%d more workers: at most %d in all", count, WORKERS_MAX);
    for (int i = 0; i < count; i++) {
        sigset_t saved;
        pid_t pid;

        /* Held across fork and registration: a stop signal in between would leave a worker
         * the registry does not know. */
        stop_signals_hold(&saved);
        pid = fork_or_die();
        if (pid == 0) {
            /* A worker just dies of a stop signal: it created nothing to remove, and a
             * handler of the parent's must not run in it. */
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            stop_signals_release(&saved);
            /* A worker asleep in a semaphore wait would outlive a parent killed meanwhile;
             * getppid() catches a parent that was gone before prctl(). */
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
                _exit(1);
            body(arg, i);
            exit(0);
        }
        w->pid[first + i] = pid;
        w->slot[first + i] = cleanup_add_child(pid);
        if (w->slot[first + i] == -1)
            die_errno("register worker %d", (int)pid);
        w->count++;
        stop_signals_release(&saved);
    }
    return first;
}

int workers_reap(struct workers *w, int first, int count, const char *role)
{
    int failed = 0;

    for (int i = first; i < first + count && i < w->count; i++) {
        int status;

        if (w->pid[i] == 0)
            continue;
        status = role != NULL ? reap_child(w->pid[i], role) : reap_quietly(w->pid[i]);
        /* Reaped: the registry would find ECHILD and skip it, but the entry is free again. */
        cleanup_forget(w->slot[i]);
        w->pid[i] = 0;
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    return failed;
}
