/* expect.c - reads NAME.expect files (format: tests/README.md). */
#define _GNU_SOURCE
#include "expect.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TIMEOUT_S 10.0

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        perror("realloc");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    return strcpy(xrealloc(NULL, strlen(s) + 1), s);
}

struct expect_case *expect_add_case(struct expectation *exp, const char *label,
                                    char *const argv[], int exit_status)
{
    struct expect_case *c;
    size_t n = 0;

    exp->cases = xrealloc(exp->cases, (exp->ncases + 1) * sizeof *exp->cases);
    c = &exp->cases[exp->ncases++];
    memset(c, 0, sizeof *c);
    c->label = xstrdup(label);
    while (argv[n] != NULL)
        n++;
    c->argv = xrealloc(NULL, (n + 1) * sizeof *c->argv);
    for (size_t i = 0; i < n; i++)
        c->argv[i] = xstrdup(argv[i]);
    c->argv[n] = NULL;
    c->exit_status = exit_status;
    c->timeout_s = DEFAULT_TIMEOUT_S;
    return c;
}

static int compile(struct pattern *p, enum stream s, bool negated, const char *regex)
{
    p->stream = s;
    p->negated = negated;
    p->source = xstrdup(regex);
    if (regcomp(&p->re, regex, REG_EXTENDED | REG_NOSUB) != 0) {
        free(p->source);
        return -1;
    }
    return 0;
}

int expect_add_pattern(struct expect_case *c, enum stream s, bool negated, const char *regex)
{
    c->patterns = xrealloc(c->patterns, (c->npatterns + 1) * sizeof *c->patterns);
    if (compile(&c->patterns[c->npatterns], s, negated, regex) == -1)
        return -1;
    c->npatterns++;
    return 0;
}

/* Splits at spaces; 'single quotes' keep spaces and are removed.  Returns a
 * NULL-terminated array of strings, or NULL on an unclosed quote. */
static char **split_args(const char *s)
{
    char **argv = xrealloc(NULL, sizeof *argv);
    size_t argc = 0;

    for (;;) {
        char *word = xrealloc(NULL, strlen(s) + 1);
        size_t len = 0;

        while (*s == ' ')
            s++;
        if (*s == '\0') {
            free(word);
            break;
        }
        while (*s != '\0' && *s != ' ') {
            if (*s == '\'') {
                const char *close = strchr(s + 1, '\'');

                if (close == NULL) {
                    free(word);
                    for (size_t i = 0; i < argc; i++)
                        free(argv[i]);
                    free(argv);
                    return NULL;
                }
                memcpy(word + len, s + 1, (size_t)(close - s - 1));
                len += (size_t)(close - s - 1);
                s = close + 1;
            } else {
                word[len++] = *s++;
            }
        }
        word[len] = '\0';
        argv = xrealloc(argv, (argc + 2) * sizeof *argv);
        argv[argc++] = word;
    }
    argv[argc] = NULL;
    return argv;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* Appends TEXT with \n, \t and \\ turned into the characters they name. */
static void append_stdin(struct expect_case *c, const char *text)
{
    size_t len = strlen(text);

    c->stdin_text = xrealloc(c->stdin_text, c->stdin_len + len + 1);
    for (const char *p = text; *p != '\0'; p++) {
        char ch = *p;

        if (ch == '\\' && (p[1] == 'n' || p[1] == 't' || p[1] == '\\')) {
            p++;
            ch = *p == 'n' ? '\n' : *p == 't' ? '\t' : '\\';
        }
        c->stdin_text[c->stdin_len++] = ch;
    }
    c->stdin_text[c->stdin_len] = '\0';
}

PRINTF_FORMAT(4, 5)
static int fail(char *err, size_t errsize, FILE *fp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
    if (fp != NULL)
        fclose(fp);
    return -1;
}

static char *trim(char *s)
{
    char *end = s + strlen(s);

    while (isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* One "key: value" line applied to the current case. */
static int apply(struct expectation *exp, struct expect_case **cur, const char *key,
                 const char *value, int lineno, char *why, size_t whysize)
{
    static const struct { const char *key; enum stream s; bool neg; } kinds[] = {
        {"out", STDOUT_STREAM, false}, {"no-out", STDOUT_STREAM, true},
        {"err", STDERR_STREAM, false}, {"no-err", STDERR_STREAM, true},
    };

    if (strcmp(key, "run") == 0) {
        char **argv = split_args(value);

        if (argv == NULL)
            return snprintf(why, whysize, "unclosed quote"), -1;
        *cur = expect_add_case(exp, *value != '\0' ? value : "(no arguments)", argv, 0);
        (*cur)->line = lineno;
        free_argv(argv);
        return 0;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(key, kinds[i].key) == 0) {
            if (expect_add_pattern(*cur, kinds[i].s, kinds[i].neg, value) == -1)
                return snprintf(why, whysize, "bad regex '%s'", value), -1;
            return 0;
        }
    if (strcmp(key, "symptom") == 0) {
        if (exp->ncases != 1)
            return snprintf(why, whysize, "symptom: belongs before the first run:"), -1;
        exp->symptoms = xrealloc(exp->symptoms, (exp->nsymptoms + 1) * sizeof *exp->symptoms);
        if (compile(&exp->symptoms[exp->nsymptoms], STDOUT_STREAM, false, value) == -1)
            return snprintf(why, whysize, "bad regex '%s'", value), -1;
        exp->nsymptoms++;
        return 0;
    }
    if (strcmp(key, "stdin") == 0) {
        append_stdin(*cur, value);
        return 0;
    }
    if (strcmp(key, "exit") == 0 || strcmp(key, "timeout") == 0) {
        char *end;
        double v = strtod(value, &end);

        if (*value == '\0' || *end != '\0' || v < 0 || v > 1000)
            return snprintf(why, whysize, "bad number '%s'", value), -1;
        if (key[0] == 'e')
            (*cur)->exit_status = (int)v;
        else
            (*cur)->timeout_s = v;
        return 0;
    }
    return snprintf(why, whysize, "unknown directive '%s'", key), -1;
}

int expect_load(const char *path, struct expectation *exp, char *err, size_t errsize)
{
    char *no_args[] = {NULL};
    struct expect_case *cur;
    char line[4096], why[256];
    FILE *fp = fopen(path, "r");
    int lineno = 0;

    memset(exp, 0, sizeof *exp);
    if (fp == NULL)
        return fail(err, errsize, NULL, "%s: cannot open: %s (every program needs one)", path,
                    strerror(errno));
    cur = expect_add_case(exp, "(no arguments)", no_args, 0);
    cur->is_demo = true;
    while (fgets(line, sizeof line, fp) != NULL) {
        char *s = trim(line), *colon;

        lineno++;
        if (*s == '\0' || *s == '#')
            continue;
        colon = strchr(s, ':');
        if (colon == NULL)
            return fail(err, errsize, fp, "%s:%d: expected 'key: value'", path, lineno);
        *colon = '\0';
        if (apply(exp, &cur, trim(s), trim(colon + 1), lineno, why, sizeof why) == -1)
            return fail(err, errsize, fp, "%s:%d: %s", path, lineno, why);
    }
    fclose(fp);
    return 0;
}

static void free_patterns(struct pattern *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        regfree(&p[i].re);
        free(p[i].source);
    }
    free(p);
}

void expect_free(struct expectation *exp)
{
    for (size_t i = 0; i < exp->ncases; i++) {
        struct expect_case *c = &exp->cases[i];

        free(c->label);
        free_argv(c->argv);
        free(c->stdin_text);
        free_patterns(c->patterns, c->npatterns);
    }
    free(exp->cases);
    free_patterns(exp->symptoms, exp->nsymptoms);
    memset(exp, 0, sizeof *exp);
}

bool any_line_matches(const regex_t *re, const char *text)
{
    const char *line = text;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        char *copy = strndup(line, len);
        bool hit = regexec(re, copy, 0, NULL, 0) == 0;

        free(copy);
        if (hit)
            return true;
        line += len + (line[len] == '\n');
    }
    return false;
}
