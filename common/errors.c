/* errors.c - one error idiom: "prog: message[: strerror]" on stderr. */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *prog_name(void)
{
    return program_invocation_short_name; /* glibc: basename of argv[0] */
}

/* Builds the whole message first so it reaches stderr in one write and
 * cannot interleave with another process's message. */
PRINTF_LIKE(2, 0)
static void report(int errnum, const char *fmt, va_list ap)
{
    char msg[1024];
    int len = snprintf(msg, sizeof msg, "%s: ", prog_name());

    len += vsnprintf(msg + len, sizeof msg - (size_t)len, fmt, ap);
    if (errnum != 0 && (size_t)len < sizeof msg)
        len += snprintf(msg + len, sizeof msg - (size_t)len, ": %s", strerror(errnum));
    if ((size_t)len >= sizeof msg - 1)
        len = (int)sizeof msg - 2;
    msg[len] = '\n';
    fflush(stdout); /* keep the narration before the error */
    (void)write_full(2, msg, (size_t)len + 1);
}

noreturn void die_errno(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    report(saved, fmt, ap);
    va_end(ap);
    exit(1);
}

noreturn void die_errnum(int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(errnum, fmt, ap);
    va_end(ap);
    exit(1);
}

noreturn void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
    exit(1);
}

void warn_errno(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    report(saved, fmt, ap);
    va_end(ap);
    errno = saved;
}

void warn_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(0, fmt, ap);
    va_end(ap);
}
