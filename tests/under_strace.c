/* under_strace.c - a program run under strace, and the lines strace writes
 * (under_strace.h says who shares it). */
#define _GNU_SOURCE
#include "under_strace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool parse_strace_call(const char *line, struct strace_call *c)
{
    size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
    const char *close = NULL;

    if (n == 0 || n >= sizeof c->name || line[n] != '(')
        return false;
    /* The last ")", spaces, "= " ends the arguments: strace pads short calls
     * to a column ("getpid()      = 42"). */
    for (const char *p = strchr(line, ')'); p != NULL; p = strchr(p + 1, ')')) {
        const char *q = p + 1 + strspn(p + 1, " ");

        if (q > p + 1 && q[0] == '=' && q[1] == ' ') {
            close = p;
            c->ret = q + 2;
        }
    }
    if (close == NULL)
        return false;
    memcpy(c->name, line, n);
    c->name[n] = '\0';
    c->args = line + n + 1;
    c->args_len = (size_t)(close - c->args);
    c->has_ret = c->ret[0] == '-' || (c->ret[0] >= '0' && c->ret[0] <= '9');
    c->ret_value = c->has_ret ? strtol(c->ret, NULL, 0) : 0;
    return true;
}

void no_leak_check_under_ptrace(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char options[1024];

    snprintf(options, sizeof options, "%s%sdetect_leaks=0", old != NULL ? old : "",
             old != NULL && old[0] != '\0' ? ":" : "");
    setenv("ASAN_OPTIONS", options, 1);
}
