/* cleanup.h - remove what the program created, at exit and on stop signals. */
#ifndef IPC_CLEANUP_H
#define IPC_CLEANUP_H

#include <signal.h>
#include <stddef.h>

/* ---- cleanup.c: the registry -----------------------------------------------
 * Register each named object right after creating it.  At exit(), and on
 * SIGINT, SIGTERM, SIGHUP or SIGPIPE (while at their default action: a
 * program piped into `head` dies of SIGPIPE and must still clean up),
 * everything still registered is removed in reverse order, and a signal is
 * then re-raised so the exit status still tells what happened.  Removal uses
 * only async-signal-safe system calls.  Only the process that registered an
 * entry removes it: a forked child that calls exit() leaves its parent's
 * objects alone.  Each function returns a slot for cleanup_forget(), which
 * a program calls after it has removed the object itself, or -1 with
 * errno = ENOSPC/ENAMETOOLONG. */
int cleanup_add_path(const char *path); /* unlink(): file, FIFO, socket */
int cleanup_add_dir(const char *path);  /* rmdir(): remove its entries first */
int cleanup_add_shm(const char *name);  /* POSIX shm name, "/name" */
int cleanup_add_sem(const char *name);  /* POSIX named semaphore */
int cleanup_add_mq(const char *name);   /* POSIX message queue */
int cleanup_add_sysv_shm(int shmid);
int cleanup_add_sysv_msg(int msqid);
int cleanup_add_sysv_sem(int semid);
void cleanup_forget(int slot); /* a slot out of range is ignored */
void cleanup_run(void);        /* remove everything now (async-signal-safe) */

/* A stop signal that arrives between creating an object and registering it
 * would leave the object behind: hold the stop signals (the four above)
 * across the two steps.  One that comes meanwhile waits, and is delivered at
 * release, when the registry knows the object:
 *     stop_signals_hold(&saved);
 *     if (mkfifo(path, 0600) == -1 || cleanup_add_path(path) == -1) die_errno(...);
 *     stop_signals_release(&saved);
 * Dying in between is fine: exit() removes what is registered.  Only the
 * calling thread's mask changes: a threaded program blocks the stop signals
 * in its other threads too, or one of them may take the signal.  Neither
 * call can fail. */
void stop_signals_hold(sigset_t *saved);
void stop_signals_release(const sigset_t *saved);

/* The directory for temporary files: $TMPDIR, or /tmp. */
const char *tmp_dir(void);
/* mkdtemp() a fresh 0700 directory "<tmp_dir>/<prefix>.XXXXXX" into buf and
 * register it for removal; dies on failure. */
void make_temp_dir(char *buf, size_t size, const char *prefix);

#endif
