/* workers.h - the forked producers and consumers of the bounded-buffer programs.
 *
 * The chapter's module: scaffolding shared by advanced_bounded_buffer and
 * solution_bounded_buffer.  It is not their lesson (the semaphores around the ring are): it only
 * starts the worker processes, makes sure none outlives the parent (PR_SET_PDEATHSIG when the
 * parent dies, the cleanup registry when it is stopped by a signal) and reaps them.  test_workers
 * checks it.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <sys/types.h>

#define WORKERS_MAX 32

struct workers {
    int count;
    pid_t pid[WORKERS_MAX]; /* 0 once reaped */
    int slot[WORKERS_MAX];  /* its cleanup registry entry */
};

typedef void worker_fn(void *arg, int index);

/* Forks `count` more workers.  Worker i of this call (0-based) runs body(arg, i), then exit(0).
 * Each one is registered with cleanup_add_child, the stop signals held across fork and
 * registration: a SIGINT or SIGTERM to the parent stops and reaps every worker still there
 * before the registry removes what was registered earlier (a semaphore set, say).  A worker
 * gets SIGKILL when the parent dies (Linux's PR_SET_PDEATHSIG).  Returns the index in w of the
 * first new worker; dies when fork fails or more than WORKERS_MAX are asked for.  In a worker,
 * SIGINT, SIGTERM and SIGHUP are back at their default action: it just dies of them. */
int workers_start(struct workers *w, int count, worker_fn *body, void *arg);

/* Reaps workers first .. first+count-1 of w, in that order, and forgets their registry
 * entries.  With a role, each reaped worker is narrated ("[role] reaped child PID: exit status
 * 0", reap_child in proc.h); NULL reaps quietly.  Returns how many did not exit with status 0. */
int workers_reap(struct workers *w, int first, int count, const char *role);

#endif
