/* cli.c - the command line: usage errors, help, options and numbers, and what
 * the first command-line call sets up for the whole program. */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t started_pid; /* the process that parsed the command line */

/* Why writing to stdout failed, 0 if it did not, -1 if the reason is lost.
 * A failed write() makes glibc drop the buffered text and keep only the
 * error flag, so when fflush() has nothing left to write, the descriptor is
 * asked again in ways that cannot add a byte to the output. */
static int stdout_error(void)
{
    struct pollfd out = {.fd = STDOUT_FILENO, .events = POLLOUT};

    if (fflush(stdout) == EOF)
        return errno;
    if (!ferror(stdout))
        return 0;
    if (write(STDOUT_FILENO, "", 0) == -1) /* /dev/full, a read-only descriptor */
        return errno;
    if (poll(&out, 1, 0) == 1 && (out.revents & POLLERR))
        return EPIPE; /* a pipe whose reader has gone */
    return -1;
}

/* Registered by the first command-line call, as a rule before any other
 * atexit() handler, so it runs last: after the cleanup registry's. */
static void check_stdout_at_exit(void)
{
    int err;

    if (getpid() != started_pid || (err = stdout_error()) == 0)
        return;
    errno = err;
    if (err > 0)
        warn_errno("write to stdout");
    else
        warn_msg("write to stdout failed");
    /* exit() must not be called again from an atexit handler.  _exit() skips
     * what is left of exit(), so do its work here: a registry set up before
     * the command line was parsed has not run yet, other streams are unflushed. */
    cleanup_run();
    fflush(NULL);
    _exit(1);
}

/* Once per program, from the first command-line call: see common.h. */
static void start_program(void)
{
    if (started_pid != 0)
        return;
    ensure_std_fds();
    started_pid = getpid();
    if (atexit(check_stdout_at_exit) != 0)
        die("atexit: cannot register the check of stdout");
}

/* The name of the long option that `arg`, "--name=value", gave a value it
 * does not take (getopt_long stored its `val` in optopt), else NULL. */
static const char *valueless_long(const char *arg, const struct option *longopts, int val)
{
    const char *eq = strchr(arg, '=');

    if (strncmp(arg, "--", 2) != 0 || eq == NULL)
        return NULL;
    for (const struct option *o = longopts; o->name != NULL; o++)
        if (o->val == val && o->has_arg == no_argument &&
            strncmp(o->name, arg + 2, (size_t)(eq - arg - 2)) == 0)
            return o->name;
    return NULL;
}

noreturn void die_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s: ", prog_name());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s %s\n", prog_name(), usage);
    exit(2);
}

noreturn void show_help(const char *usage)
{
    printf("usage: %s %s\n", prog_name(), usage);
    exit(0);
}

int cli_getopt(int argc, char *argv[], const char *shortopts, const struct option *longopts,
               const char *usage)
{
    const char *name;
    char optstring[64];
    int c;

    start_program();
    /* A ':' first (after a '+' that stops at the first operand, if any)
     * makes getopt report a missing argument as ':' and stay silent: the
     * message below is ours. */
    if (shortopts[0] == '+')
        snprintf(optstring, sizeof optstring, "+:%s", shortopts + 1);
    else
        snprintf(optstring, sizeof optstring, ":%s", shortopts);
    opterr = 0;
    c = getopt_long(argc, argv, optstring, longopts, NULL);
    switch (c) {
    case 'h': show_help(usage);
    case ':': die_usage(usage, "option '%s' needs a value", argv[optind - 1]);
    case '?': /* optopt: an unknown short option, or a long one given a value */
        if (optopt != 0 && (name = valueless_long(argv[optind - 1], longopts, optopt)) != NULL)
            die_usage(usage, "option '--%s' doesn't allow an argument", name);
        if (optopt != 0)
            die_usage(usage, "unknown option '-%c'", optopt);
        die_usage(usage, "unknown option '%s'", argv[optind - 1]);
    default: return c;
    }
}

void cli_no_operands(int argc, char *argv[], const char *usage)
{
    if (optind < argc)
        die_usage(usage, "unexpected argument '%s'", argv[optind]);
}

void cli_no_options(int argc, char *argv[], const char *usage)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        ;
    cli_no_operands(argc, argv, usage);
}

bool cli_pitfall_fixed(int argc, char *argv[], const char *usage)
{
    static const struct option longopts[] = {
        {"fixed", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool fixed = false;
    int c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'f')
            fixed = true;
    cli_no_operands(argc, argv, usage);
    return fixed;
}

int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    /* strtol would accept " 12", "+12" and "", and stop quietly at "12abc". */
    if (s == NULL ||
        !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1])))) {
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

/* The multiplier for a unit suffix, or 0 when the suffix is not one. */
static uint64_t unit_multiplier(const char *suffix)
{
    static const char units[] = "KMGT";
    const char *u;
    uint64_t mult = 1;

    if (*suffix == '\0')
        return 1;
    u = strchr(units, toupper((unsigned char)*suffix));
    if (u == NULL)
        return 0;
    for (const char *p = units; p <= u; p++)
        mult *= 1024;
    suffix++;
    if (strcmp(suffix, "") == 0 || strcmp(suffix, "B") == 0 || strcmp(suffix, "iB") == 0)
        return mult;
    return 0;
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    uint64_t mult;
    char *end;

    if (s == NULL || !isdigit((unsigned char)s[0])) { /* rejects "-1", "" */
        errno = EINVAL;
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    mult = unit_multiplier(end);
    if (mult == 0) {
        errno = EINVAL;
        return -1;
    }
    if (errno == ERANGE || v > UINT64_MAX / mult || v * mult < min || v * mult > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v * mult;
    return 0;
}

long cli_long(const char *s, long min, long max, const char *what, const char *usage)
{
    long v;

    if (parse_long(s, min, max, &v) == -1)
        die_usage(usage, "%s must be an integer from %ld to %ld, not '%s'", what, min, max, s);
    return v;
}

uint64_t cli_size(const char *s, uint64_t min, uint64_t max, const char *what, const char *usage)
{
    uint64_t v;

    if (parse_size(s, min, max, &v) == -1)
        die_usage(usage, "%s must be a size from %s to %s (suffix K, M, G), not '%s'", what,
                  fmt_bytes(min).s, fmt_bytes(max).s, s);
    return v;
}
