/* expect.h - the expectation of one example program, read from NAME.expect.
 * The format is described in tests/README.md.
 */
#ifndef EXPECT_H
#define EXPECT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#define PRINTF_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))

enum stream { STDOUT_STREAM, STDERR_STREAM };

struct pattern {
    enum stream stream;
    bool negated;               /* no-out:/no-err: no line may match */
    char *source;
    regex_t re;
};

struct expect_case {
    char *label;                /* the arguments as written, or "(no arguments)" */
    char **argv;                /* arguments only, NULL-terminated */
    char *stdin_text;           /* NULL: /dev/null */
    size_t stdin_len;
    int exit_status;
    double timeout_s;
    struct pattern *patterns;
    size_t npatterns;
    bool is_demo;               /* the no-argument demonstration */
    int line;                   /* of its run: line in the file; 0 if implied */
};

struct expectation {
    struct expect_case *cases;  /* cases[0] is always the no-argument demo */
    size_t ncases;
    struct pattern *symptoms;
    size_t nsymptoms;
};

/* Reads and compiles PATH.  On error returns -1 and writes a message
 * naming the file and line into err.  Call expect_free() either way. */
int expect_load(const char *path, struct expectation *exp, char *err, size_t errsize);
/* Appends a case with these arguments (a copy is made; argv ends in NULL). */
struct expect_case *expect_add_case(struct expectation *exp, const char *label,
                                    char *const argv[], int exit_status);
/* Adds a compiled pattern to a case; returns -1 if the regex is invalid. */
int expect_add_pattern(struct expect_case *c, enum stream s, bool negated, const char *regex);
void expect_free(struct expectation *exp);
/* True if some line of text (NUL-terminated) matches re. */
bool any_line_matches(const regex_t *re, const char *text);

#endif
