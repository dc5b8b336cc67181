/* procfs.h - what the kernel tells about a process, and its tunables, from /proc.
 *
 * Linux only.  These return what they read and print nothing: a program
 * decides how to narrate it, or that an unreadable value is not fatal.
 */
#ifndef IPC_PROCFS_H
#define IPC_PROCFS_H

#include <stddef.h>
#include <sys/types.h>

/* ---- procfs.c --------------------------------------------------------------
 * The state letter of process `pid` from /proc/PID/stat: 'R' running, 'S'
 * asleep (interruptible), 'D' uninterruptible, 'T' stopped, 't' traced,
 * 'Z' zombie...  Returns the letter, or -1 with errno (ENOENT: no such
 * process). */
int proc_state(pid_t pid);
/* The kernel function process `pid` sleeps in, from /proc/PID/wchan, into
 * buf: "anon_pipe_read", say, or "" when the kernel shows none (it prints
 * "0" for a process that is not asleep, and for one the caller may not
 * ptrace, such as another user's).  Returns 0, or -1 with errno. */
int proc_wchan(pid_t pid, char *buf, size_t size);
/* The flags of descriptor `fd` of process `pid`, from /proc/PID/fdinfo/FD:
 * the file status flags F_GETFL would give that process (O_ACCMODE bits,
 * O_NONBLOCK...), plus O_CLOEXEC when the descriptor has it.  Returns them,
 * or -1 with errno (ENOENT: no such process or descriptor). */
int proc_fd_flags(pid_t pid, int fd);
/* The number in /proc/sys/NAME, e.g. sysctl_long("fs/pipe-max-size", &v).
 * Returns 0 and stores it, or -1 with errno (ENOENT: no such setting on this
 * kernel; EINVAL or ERANGE: it holds no single number that fits a long). */
int sysctl_long(const char *name, long *value);
/* Peak resident set size of this process in KiB (VmHWM in /proc/self/status);
 * -1 with errno if unreadable. */
long peak_rss_kib(void);
/* Waits until process `pid` sleeps in a kernel function whose name starts
 * with `prefix` (proc_wchan), polling every millisecond, for at most
 * timeout_ms.  Returns 0, or -1 with errno = ETIMEDOUT, or ENOENT when there
 * is no such process. */
int proc_wait_wchan(pid_t pid, const char *prefix, int timeout_ms);
/* A "kB" field of this process's mapping (VMA) that contains `addr`, from
 * /proc/self/smaps: smaps_field_kib(p, "Rss"), "Pss", "Private_Dirty",
 * "AnonHugePages"...  Returns the number of KiB, or -1 with errno: ENOENT when
 * no mapping contains addr or its entry has no such field, else what opening
 * /proc/self/smaps gave. */
long smaps_field_kib(const void *addr, const char *field);

#endif
