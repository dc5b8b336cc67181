/* cleanup.h - remove what the program created, at exit and on stop signals. */
#ifndef IPC_CLEANUP_H
#define IPC_CLEANUP_H

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
int cleanup_add_path(const char *path);        /* unlink(): file, FIFO, socket */
int cleanup_add_dir(const char *path);         /* rmdir(): remove its entries first */
int cleanup_add_shm(const char *name);         /* POSIX shm name, "/name" */
int cleanup_add_sem(const char *name);         /* POSIX named semaphore */
int cleanup_add_mq(const char *name);          /* POSIX message queue */
int cleanup_add_sysv_shm(int shmid);
int cleanup_add_sysv_msg(int msqid);
int cleanup_add_sysv_sem(int semid);
void cleanup_forget(int slot);                 /* a slot out of range is ignored */
void cleanup_run(void);                        /* remove everything now (async-signal-safe) */

/* The directory for temporary files: $TMPDIR, or /tmp. */
const char *tmp_dir(void);
/* mkdtemp() a fresh 0700 directory "<tmp_dir>/<prefix>.XXXXXX" into buf and
 * register it for removal; dies on failure. */
void make_temp_dir(char *buf, size_t size, const char *prefix);

#endif
