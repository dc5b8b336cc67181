/* common.h - errors and the command line: what every example program includes.
 *
 * Everything in common/ is what a program needs but is *not* the lesson.  It
 * is split by topic, so a program's include lines say which helpers it uses:
 *     common.h   errors, the command line (this file; every program)
 *     proc.h     child processes          timing.h   clocks, readable numbers
 *     stats.h    statistics of samples    io.h       full reads and writes
 *     cleanup.h  removing created objects procfs.h   reading /proc
 * Each section below is implemented in the .c file named in its heading.
 */
#ifndef IPC_COMMON_H
#define IPC_COMMON_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h> /* programs narrate with printf() */
#include <stdnoreturn.h>
#include <sys/types.h>

#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))

/* Short text returned by value, usable inline: printf("%s", fmt_bytes(n).s). */
struct human {
    char s[40];
};

/* ---- errors.c: one error idiom ------------------------------------------
 * Messages go to stderr as "prog: message" (prog is the program's base
 * name).  Exit status: 1 for a failing system call or other fatal error,
 * 2 for a command-line (usage) error.  die*() run exit(), so atexit
 * handlers, including the cleanup registry of cleanup.h, still run.
 */
const char *prog_name(void); /* basename of argv[0] */
noreturn void die_errno(const char *fmt, ...)
    PRINTF_LIKE(1, 2); /* "...: strerror(errno)", exit 1 */
noreturn void die_errnum(int errnum, const char *fmt, ...)
    PRINTF_LIKE(2, 3);                                     /* for pthread_* style codes */
noreturn void die(const char *fmt, ...) PRINTF_LIKE(1, 2); /* no errno, exit 1 */
void warn_errno(const char *fmt, ...) PRINTF_LIKE(1, 2);   /* like die_errno, returns */
void warn_msg(const char *fmt, ...) PRINTF_LIKE(1, 2);     /* like die, returns */

/* ---- cli.c: the command line ---------------------------------------------
 * `usage` is the part after the program name, e.g. "[--fixed]".
 * die_usage prints "prog: message" and "usage: prog <usage>" to stderr and
 * exits 2; show_help prints the usage line to stdout and exits 0.
 *
 * Every program parses its command line first, with cli_getopt(),
 * cli_no_options() or cli_pitfall_fixed(), and the first call of any of them
 * also does two things for the whole process, so no program can forget them:
 *   - ensure_std_fds() (proc.h): started with descriptor 0, 1 or 2 closed,
 *     the program runs as if /dev/null were there.  So nothing may create a
 *     descriptor before the command line is parsed.
 *   - a check at exit that output was not lost: stdout is flushed, and if that
 *     or any earlier write to it failed (`prog >/dev/full`), "prog: write to
 *     stdout: reason" goes to stderr and the exit status becomes 1.  The
 *     cleanup registry still removes its objects first.  Only this process
 *     reports: a forked child that calls exit() does not report its parent's
 *     stdout a second time.
 */
noreturn void die_usage(const char *usage, const char *fmt, ...) PRINTF_LIKE(2, 3);
noreturn void show_help(const char *usage);

/* getopt_long() plus the cases every program handles the same way: -h and
 * --help call show_help(); an unknown option, a missing argument or an
 * argument given to an option that takes none ("--help=x") calls
 * die_usage(), naming the option as it was typed.  Returns the option
 * character, or -1 when options end.  Pass a `longopts` that includes
 * {"help", no_argument, NULL, 'h'}. */
int cli_getopt(int argc, char *argv[], const char *shortopts, const struct option *longopts,
               const char *usage);
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
 * Negative sizes are always rejected.  Returns as parse_long(). */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* The same, returning the value or dying with a usage error that names `what`. */
long cli_long(const char *s, long min, long max, const char *what, const char *usage);
uint64_t cli_size(const char *s, uint64_t min, uint64_t max, const char *what, const char *usage);

#endif
