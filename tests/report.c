/* report.c - growing strings for the reports of the harness. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void append(char **s, const char *fmt, ...)
{
    size_t old = *s != NULL ? strlen(*s) : 0;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *s = realloc(*s, old + (size_t)n + 1);
    if (*s == NULL) {
        perror("examples: out of memory");
        exit(1);
    }
    va_start(ap, fmt);
    vsnprintf(*s + old, (size_t)n + 1, fmt, ap);
    va_end(ap);
}

void append_stream(char **s, const char *name, const char *text)
{
    size_t len = strlen(text);

    append(s, "    --- %s%s ---\n", name, len > MAX_SHOWN_OUTPUT ? " (first part)" : "");
    append(s, "%.*s%s", MAX_SHOWN_OUTPUT, text,
           len > 0 && text[len > MAX_SHOWN_OUTPUT ? MAX_SHOWN_OUTPUT - 1 : len - 1] != '\n' ? "\n"
                                                                                          : "");
}
