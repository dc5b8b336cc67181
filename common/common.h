/* common.h - the small helper library every example program links.
 *
 * Everything here is what a program needs but is *not* the lesson: one error
 * idiom, command-line parsing, clocks and human-readable numbers, statistics
 * for the benchmarks, full-transfer I/O and a registry that removes the IPC
 * objects a program created, even when it is interrupted by SIGINT/SIGTERM.
 *
 * Each section below is implemented in the .c file named in its heading.
 */
#ifndef IPC_COMMON_H
#define IPC_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <sys/types.h>

#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

/* Short text returned by value, usable inline: printf("%s", fmt_bytes(n).s). */
struct human { char s[40]; };

/* ---- errors.c: one error idiom ------------------------------------------
 * Messages go to stderr as "prog: message" (prog is the program's base
 * name).  Exit status: 1 for a failing system call or other fatal error,
 * 2 for a command-line (usage) error.  die*() run exit(), so atexit
 * handlers, including the cleanup registry below, still run.
 */
const char *prog_name(void);
noreturn void die_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);  /* "...: strerror(errno)", exit 1 */
noreturn void die_errnum(int errnum, const char *fmt, ...) PRINTF_LIKE(2, 3); /* for pthread_* style codes */
noreturn void die(const char *fmt, ...) PRINTF_LIKE(1, 2);        /* no errno, exit 1 */
void warn_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);          /* like die_errno, returns */
void warn_msg(const char *fmt, ...) PRINTF_LIKE(1, 2);            /* like die, returns */

/* ---- proc.c: child processes -----------------------------------------------
 * fork_or_die() flushes stdio first (else the child inherits unwritten
 * output and prints it a second time) and dies if fork() fails.
 * reap_child() waits for `pid` (retrying after EINTR), prints
 * "[role] reaped child PID: exit status N" (or "killed by signal ...") and
 * returns the wait status. */
pid_t fork_or_die(void);
int reap_child(pid_t pid, const char *role);
/* Started with descriptor 0, 1 or 2 closed (`prog <&-`), pipe() or open()
 * would hand out that number, and a later dup2() onto stdin or stdout would
 * clobber or close it: the classic pipeline and daemon hazard.  This fills
 * any such gap with /dev/null; call it first thing in main(). */
void ensure_std_fds(void);
/* A waitpid() status in words: "exit status 3" or "killed by signal 13 (SIGPIPE)". */
struct human fmt_wait_status(int wstatus);

/* ---- cli.c: the command line ---------------------------------------------
 * `usage` is the part after the program name, e.g. "[--fixed]".
 * die_usage prints "prog: message" and "usage: prog <usage>" to stderr and
 * exits 2; show_help prints the usage line to stdout and exits 0.
 */
noreturn void die_usage(const char *usage, const char *fmt, ...) PRINTF_LIKE(2, 3);
noreturn void show_help(const char *usage);

/* getopt_long() plus the cases every program handles the same way: -h and
 * --help call show_help(); an unknown option or a missing argument calls
 * die_usage().  Returns the option character, or -1 when options end.
 * Pass a `longopts` that includes {"help", no_argument, NULL, 'h'}. */
int cli_getopt(int argc, char *argv[], const char *shortopts,
               const struct option *longopts, const char *usage);
/* die_usage() if any operand is left after the options. */
void cli_no_operands(int argc, char *argv[], const char *usage);
/* The whole command line of a program that takes no options: [-h|--help]. */
void cli_no_options(int argc, char *argv[], const char *usage);
/* The whole command line of a pitfall program: [--fixed] [-h|--help].
 * Returns true when --fixed was given. */
bool cli_pitfall_fixed(int argc, char *argv[], const char *usage);

/* Strict number parsing: the whole string must be a number in [min, max].
 * Return 0 and store the value, or -1 with errno = EINVAL (not a number,
 * empty, trailing junk, a sign where none is allowed) or ERANGE (overflow
 * or outside [min, max]).  Leading white space and '+' are rejected. */
int parse_long(const char *s, long min, long max, long *out);
/* A size: digits with an optional binary unit suffix K, M, G or T
 * (case-insensitive, optionally followed by "B" or "iB"): "64K" = 65536.
 * Negative sizes are always rejected. */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* The same, dying with a usage error that names `what` on bad input. */
long cli_long(const char *s, long min, long max, const char *what, const char *usage);
uint64_t cli_size(const char *s, uint64_t min, uint64_t max, const char *what,
                  const char *usage);

/* ---- timing.c: clocks and human-readable numbers --------------------------
 * Formatters return a small struct so the text can be used inline:
 *     printf("%s\n", fmt_bytes(65536).s);        prints "64 KiB"
 * The text lives until the end of the full expression that contains it.
 */
uint64_t now_ns(void);                         /* CLOCK_MONOTONIC, nanoseconds */
uint64_t elapsed_ns(uint64_t since_ns);        /* now_ns() - since_ns */
double ns_to_s(uint64_t ns);
void sleep_ms(unsigned ms);                    /* sleeps the whole time despite signals */
struct human fmt_duration(double ns);          /* "812 ns", "1.5 µs", "2.3 ms", "1.25 s" */
struct human fmt_bytes(uint64_t bytes);        /* "512 B", "64 KiB", "1.5 MiB" */
struct human fmt_rate(uint64_t bytes, uint64_t ns); /* "2.3 GiB/s" */

/* ---- stats.c: statistics over a sample array -------------------------------
 * stats_compute() sorts `samples` in place.  stddev is the sample standard
 * deviation (divides by n - 1; 0 when n == 1).  Percentiles interpolate
 * linearly between the two nearest ranks: for p in [0, 100] the rank is
 * h = (n - 1) * p / 100 and the value sorted[floor h] + (h - floor h) *
 * (sorted[floor h + 1] - sorted[floor h])  (Hyndman & Fan type 7, the
 * default of NumPy and spreadsheets).  Returns -1 with errno = EINVAL when
 * n == 0. */
struct stats {
    size_t n;
    double min, max, mean, stddev;
    double p50, p90, p99, p999;
};
int stats_compute(double *samples, size_t n, struct stats *out);
double percentile_sorted(const double *sorted, size_t n, double p);

/* ---- io.c: full transfers --------------------------------------------------
 * Both retry after EINTR and continue after a short transfer.
 * read_full returns the number of bytes read: n, or fewer only when EOF came
 * first (0 means EOF before any byte).  write_full returns n.  Both return
 * -1 with errno set on an error; bytes already moved are then lost to the
 * caller, as with a plain write. */
ssize_t read_full(int fd, void *buf, size_t n);
ssize_t write_full(int fd, const void *buf, size_t n);
/* write_full of a NUL-terminated string. */
ssize_t write_str(int fd, const char *s);

/* ---- cleanup.c: remove what the program created ---------------------------
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
void cleanup_forget(int slot);
void cleanup_run(void);                        /* remove everything now (async-signal-safe) */

/* The directory for temporary files: $TMPDIR, or /tmp. */
const char *tmp_dir(void);
/* mkdtemp() a fresh 0700 directory "<tmp_dir>/<prefix>.XXXXXX" into buf and
 * register it for removal; dies on failure. */
void make_temp_dir(char *buf, size_t size, const char *prefix);

#endif
