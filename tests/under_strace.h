/* under_strace.h - a program run under strace, and the lines strace writes
 *
 * Shared by the harness (runner.c runs a case under strace, judge.c checks
 * its calls) and by tools/trace, which links under_strace.c directly: it
 * needs neither Check nor the rest of the harness.
 */
#ifndef UNDER_STRACE_H
#define UNDER_STRACE_H

#include <stdbool.h>
#include <stddef.h>

/* One finished call, as strace -y writes it: the pointers are into the line. */
struct strace_call {
    char name[64];    /* "write" */
    const char *args; /* after the '(' */
    size_t args_len;  /* up to, not including, the ')' before " = " */
    const char *ret;  /* after "= ": "12", "-1 ENOENT (...)", "?" */
    bool has_ret;     /* the result is a number ... */
    long ret_value;   /* ... this one */
};

/* "write(3<pipe:[12]>, "ab", 2) = 2" into c; false for a line that is not
 * a finished call (a signal, an exit, an unfinished or resumed call). */
bool parse_strace_call(const char *line, struct strace_call *c);

/* LeakSanitizer cannot run under ptrace: in the child about to exec a
 * program under strace, a sanitized program's leak check (only) is
 * turned off. */
void no_leak_check_under_ptrace(void);

#endif
