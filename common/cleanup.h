/* cleanup.h - remove what the program created, at exit and on stop signals. */
#ifndef IPC_CLEANUP_H
#define IPC_CLEANUP_H

#include <mqueue.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

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
 * errno = ENOSPC (128 entries at once) or ENAMETOOLONG. */
int cleanup_add_path(const char *path); /* unlink(): file, FIFO, socket */
int cleanup_add_dir(const char *path);  /* rmdir(): remove its entries first */
int cleanup_add_shm(const char *name);  /* POSIX shm name, "/name" */
int cleanup_add_sem(const char *name);  /* POSIX named semaphore */
int cleanup_add_mq(const char *name);   /* POSIX message queue */
int cleanup_add_sysv_shm(int shmid);
int cleanup_add_sysv_msg(int msqid);
int cleanup_add_sysv_sem(int semid);
/* A child process `pid`: if it still runs when the registry runs, it is sent
 * SIGTERM and reaped before the entries registered earlier are removed (so
 * it no longer uses them).  One the program has reaped itself is skipped:
 * waitpid(pid, WNOHANG) comes first, and ECHILD means "not ours any more",
 * so a reused pid is never signalled.  A child that ignores SIGTERM (or is
 * stopped) gets SIGKILL two seconds later. */
int cleanup_add_child(pid_t pid);
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

/* Create and register in one step, with the stop signals held across the two
 * (as above), for programs where the object is scaffolding, not the lesson.
 * Each creates exclusively with mode 0600 and dies (die_errno) on failure,
 * leaving nothing behind.  POSIX names are "/name"; a FIFO takes a path. */
int shm_create_registered(const char *name, size_t size);     /* O_RDWR, ftruncate'd; fd */
int sysv_sem_create(int nsems, const unsigned short *values); /* IPC_PRIVATE; SETALL to
                                                                 values (NULL: all 0); id */
int sysv_shm_create(size_t size);                             /* IPC_PRIVATE; id */
int sysv_msg_create(void);                                    /* IPC_PRIVATE; id */
/* oflag: O_RDONLY, O_WRONLY or O_RDWR, optionally | O_NONBLOCK (O_CREAT|O_EXCL
 * are added); maxmsg and msgsize as in struct mq_attr, or both 0 for the
 * system defaults (/proc/sys/fs/mqueue/msg_default and msgsize_default). */
mqd_t mq_create_registered(const char *name, int oflag, long maxmsg, long msgsize);
void mkfifo_registered(const char *path);
/* fork_or_die() with the child registered before a stop signal can come: 0 in
 * the child (mask restored, *slot = -1), else its pid, its slot in *slot (may
 * be NULL) for cleanup_forget().  A full registry: kills the child, then dies. */
pid_t fork_registered(int *slot);
/* A listening UNIX socket at the file-system path `path`: socket(AF_UNIX, type)
 * (type may carry SOCK_NONBLOCK and SOCK_CLOEXEC), bind() with the stop signals
 * held until the socket file is registered, then listen(backlog).  Unlike the
 * helpers above it does not die: it returns the descriptor, or -1 with errno
 * (ENAMETOOLONG or EINVAL for the path, as unix_address() in io.h; EADDRINUSE
 * if anything exists at `path`; what socket, bind, the registry or listen gave)
 * and then leaves nothing behind: no descriptor, no socket file, no entry. */
int unix_listener_registered(const char *path, int type, int backlog);

/* ---- cleanup.c: stop signals as a flag, for event loops ---------------------
 * stop_signals_to_flag() installs a handler for SIGINT, SIGTERM and SIGHUP
 * that only stores the signal number in stop_signal, and BLOCKS the three in
 * the calling thread (threads created later inherit that).  *wait_mask gets
 * the mask to hand to ppoll, pselect, epoll_pwait or sigsuspend: the signals
 * are delivered only inside that wait, so one can never slip in between the
 * check of stop_signal and the call that would then sleep through it:
 *     while (!stop_signal) { n = ppoll(fds, nfds, NULL, &wait_mask); ... }
 *     stop_exit();
 * A blocking call outside the wait is never interrupted by them.
 * stop_exit() does nothing while stop_signal is 0; otherwise it flushes
 * stdio, runs the registry (cleanup_run), restores the default action and
 * re-raises stop_signal, so the exit status tells what happened. */
extern volatile sig_atomic_t stop_signal;
void stop_signals_to_flag(sigset_t *wait_mask);
void stop_exit(void);

/* The directory for temporary files: $TMPDIR, or /tmp. */
const char *tmp_dir(void);
/* mkdtemp() a fresh 0700 directory "<tmp_dir>/<prefix>.XXXXXX" into buf and
 * register it for removal; dies on failure. */
void make_temp_dir(char *buf, size_t size, const char *prefix);

#endif
