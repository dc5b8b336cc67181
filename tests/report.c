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

/* Text as a report shows it: bytes that are not printable (or a
 * newline or tab) as \xNN, so that binary output cannot garble the
 * terminal. */
void append_stream(char **s, const char *name, const char *text, size_t len)
{
    size_t shown = len > MAX_SHOWN_OUTPUT ? MAX_SHOWN_OUTPUT : len;

    append(s, "    --- %s%s ---\n", name, len > shown ? " (first part)" : "");
    for (size_t i = 0; i < shown; i++) {
        unsigned char ch = (unsigned char)text[i];

        if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch < 0x7f))
            append(s, "%c", ch);
        else
            append(s, "\\x%02x", ch);
    }
    if (shown > 0 && text[shown - 1] != '\n')
        append(s, "\n");
}
