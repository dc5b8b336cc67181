/* expect.c - reads NAME.expect files (format: tests/README.md). */
#define _GNU_SOURCE
#include "expect.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 10.0
#define MAX_COPIES 8
#define MAX_DATA_BYTES (256u << 20) /* generated input: far above any pipe, below RAM */

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

/* Grows an array of `count` elements of `size` bytes by one zeroed element
 * and returns it. */
static void *grow(void *arrayp, size_t *count, size_t size)
{
    void **array = arrayp;
    char *elem;

    *array = xrealloc(*array, (*count + 1) * size);
    elem = (char *)*array + *count * size;
    memset(elem, 0, size);
    (*count)++;
    return elem;
}

struct expect_case *expect_add_case(struct expectation *exp, const char *label, char *const argv[],
                                    int exit_status)
{
    struct expect_case *c = grow(&exp->cases, &exp->ncases, sizeof *c);
    size_t n = 0;

    c->label = xstrdup(label);
    while (argv[n] != NULL)
        n++;
    c->argv = xrealloc(NULL, (n + 1) * sizeof *c->argv);
    for (size_t i = 0; i < n; i++)
        c->argv[i] = xstrdup(argv[i]);
    c->argv[n] = NULL;
    c->exit_status = exit_status;
    c->timeout_s = DEFAULT_TIMEOUT_S;
    c->copies = 1;
    return c;
}

static int compile_re(regex_t *re, const char *regex)
{
    return regcomp(re, regex, REG_EXTENDED | REG_NOSUB) == 0 ? 0 : -1;
}

static int compile(struct pattern *p, enum stream s, bool negated, const char *regex)
{
    p->stream = s;
    p->negated = negated;
    p->count = -1;
    if (compile_re(&p->re, regex) == -1)
        return -1;
    p->source = xstrdup(regex);
    return 0;
}

int expect_add_pattern(struct expect_case *c, enum stream s, bool negated, const char *regex)
{
    struct pattern p;

    if (compile(&p, s, negated, regex) == -1)
        return -1;
    *(struct pattern *)grow(&c->patterns, &c->npatterns, sizeof p) = p;
    return 0;
}

/* ---- words, numbers and escapes ------------------------------------------ */

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
                    argv[argc] = NULL;
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
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes \n \t \r \\ and \xNN into a malloc'd buffer; -1 on a bad escape. */
static int unescape(const char *text, char **out, size_t *outlen)
{
    char *buf = xrealloc(NULL, strlen(text) + 1);
    size_t len = 0;

    for (const char *p = text; *p != '\0'; p++) {
        if (*p != '\\') {
            buf[len++] = *p;
            continue;
        }
        p++;
        if (*p == 'n' || *p == 't' || *p == 'r' || *p == '\\') {
            buf[len++] = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : '\\';
        } else if (*p == 'x' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0) {
            buf[len++] = (char)(hex_digit(p[1]) * 16 + hex_digit(p[2]));
            p += 2;
        } else {
            free(buf);
            return -1;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* A whole non-negative number with an optional K/M/G binary suffix. */
static int parse_count(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        v <<= 10;
        end++;
        break;
    case 'M':
        v <<= 20;
        end++;
        break;
    case 'G':
        v <<= 30;
        end++;
        break;
    default: break;
    }
    if (*end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_signal(const char *s, int *signo)
{
    const char *name = strncmp(s, "SIG", 3) == 0 ? s + 3 : s;

    for (int sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);

        if (abbrev != NULL && strcmp(abbrev, name) == 0) {
            *signo = sig;
            return 0;
        }
    }
    return -1;
}

/* The next space-separated word of *s (advanced past it), or NULL. */
static char *next_word(char **s)
{
    char *word;

    while (**s == ' ')
        (*s)++;
    if (**s == '\0')
        return NULL;
    word = *s;
    while (**s != '\0' && **s != ' ')
        (*s)++;
    if (**s == ' ')
        *(*s)++ = '\0';
    return word;
}

/* ---- data: literal, file, pattern, repeated line ---------------------------- */

static struct piece *add_piece(struct data *d, enum piece_kind kind)
{
    struct piece *p = grow(&d->pieces, &d->npieces, sizeof *p);

    p->kind = kind;
    return p;
}

/* "text TEXT", "bytes N", "lines N TEXT" or "file PATH" (KIND given apart). */
static int parse_piece(struct data *d, const char *kind, char *arg, char *why, size_t whysize)
{
    uint64_t n;

    if (strcmp(kind, "text") == 0) {
        struct piece *p = add_piece(d, PIECE_TEXT);

        if (unescape(arg, &p->bytes, &p->len) == -1)
            return snprintf(why, whysize, "bad escape in '%s' (\\n \\t \\r \\\\ \\xNN)", arg), -1;
        return 0;
    }
    if (strcmp(kind, "file") == 0) {
        if (*arg == '\0')
            return snprintf(why, whysize, "file needs a path"), -1;
        add_piece(d, PIECE_FILE)->bytes = xstrdup(arg);
        return 0;
    }
    if (strcmp(kind, "bytes") == 0 || strcmp(kind, "lines") == 0) {
        char *count = next_word(&arg);
        struct piece *p;

        if (count == NULL || parse_count(count, MAX_DATA_BYTES, &n) == -1)
            return snprintf(why, whysize, "%s needs a count (K, M, G allowed) up to 256M", kind),
                   -1;
        if (kind[0] == 'b') {
            add_piece(d, PIECE_PATTERN)->count = n;
            return 0;
        }
        p = add_piece(d, PIECE_LINES);
        if (unescape(arg, &p->bytes, &p->len) == -1)
            return snprintf(why, whysize, "bad escape in '%s'", arg), -1;
        p->bytes = xrealloc(p->bytes, p->len + 2);
        p->bytes[p->len++] = '\n';
        p->bytes[p->len] = '\0';
        p->count = n;
        if (p->len * n > MAX_DATA_BYTES)
            return snprintf(why, whysize, "more than 256M of lines"), -1;
        return 0;
    }
    return snprintf(why, whysize, "unknown kind of data '%s' (text, bytes, lines, file)", kind), -1;
}

void pattern_fill(unsigned char *buf, size_t n)
{
    uint32_t x = 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (unsigned char)(x >> 11);
    }
}

static int read_file(const char *path, char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    ssize_t n = 0;

    if (fd == -1 || fstat(fd, &st) == -1 || st.st_size > (off_t)MAX_DATA_BYTES) {
        if (fd != -1)
            close(fd);
        return -1;
    }
    *buf = xrealloc(NULL, (size_t)st.st_size + 1);
    for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)n)
        if ((n = read(fd, *buf + *len, (size_t)st.st_size - *len)) <= 0)
            break;
    close(fd);
    return n < 0 ? -1 : 0;
}

char *data_bytes(const struct data *d, const char *dir, size_t *len, char *err, size_t errsize)
{
    char *buf = xrealloc(NULL, 1);

    *len = 0;
    for (size_t i = 0; i < d->npieces; i++) {
        const struct piece *p = &d->pieces[i];
        char path[4096], *file;
        size_t flen;

        switch (p->kind) {
        case PIECE_TEXT:
            buf = xrealloc(buf, *len + p->len + 1);
            memcpy(buf + *len, p->bytes, p->len);
            *len += p->len;
            break;
        case PIECE_LINES:
            buf = xrealloc(buf, *len + p->len * p->count + 1);
            for (uint64_t k = 0; k < p->count; k++, *len += p->len)
                memcpy(buf + *len, p->bytes, p->len);
            break;
        case PIECE_PATTERN:
            buf = xrealloc(buf, *len + p->count + 1);
            pattern_fill((unsigned char *)buf + *len, p->count);
            *len += p->count;
            break;
        case PIECE_FILE:
            snprintf(path, sizeof path, "%s/%s", p->bytes[0] == '/' ? "" : dir, p->bytes);
            if (read_file(path, &file, &flen) == -1) {
                snprintf(err, errsize, "cannot read %s: %s", path, strerror(errno));
                free(buf);
                return NULL;
            }
            buf = xrealloc(buf, *len + flen + 1);
            memcpy(buf + *len, file, flen);
            *len += flen;
            free(file);
            break;
        }
    }
    buf[*len] = '\0';
    return buf;
}

/* Up to `room` characters of text, escaped as an .expect file writes it. */
static void describe_text(const char *s, size_t len, char *buf, size_t size)
{
    size_t used = strlen(buf), room = 40;

    for (size_t i = 0; i < len && used + 8 < size; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (room-- == 0) {
            used += (size_t)snprintf(buf + used, size - used, "...");
            break;
        }
        if (ch == '\n' || ch == '\t' || ch == '\\')
            used += (size_t)snprintf(buf + used, size - used, "\\%c",
                                     ch == '\n'   ? 'n'
                                     : ch == '\t' ? 't'
                                                  : '\\');
        else if (ch < 0x20 || ch >= 0x7f)
            used += (size_t)snprintf(buf + used, size - used, "\\x%02x", ch);
        else
            used += (size_t)snprintf(buf + used, size - used, "%c", ch);
    }
}

static void describe_piece(const struct piece *p, char *buf, size_t size)
{
    size_t used = strlen(buf);

    switch (p->kind) {
    case PIECE_TEXT:
        snprintf(buf + used, size - used, "'");
        describe_text(p->bytes, p->len, buf, size);
        used = strlen(buf);
        snprintf(buf + used, size - used, "'");
        break;
    case PIECE_LINES:
        snprintf(buf + used, size - used, "%llu x '", (unsigned long long)p->count);
        describe_text(p->bytes, p->len, buf, size);
        used = strlen(buf);
        snprintf(buf + used, size - used, "'");
        break;
    case PIECE_PATTERN:
        snprintf(buf + used, size - used, "%llu pattern bytes", (unsigned long long)p->count);
        break;
    case PIECE_FILE: snprintf(buf + used, size - used, "file %s", p->bytes); break;
    }
}

void data_describe(const struct data *d, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < d->npieces; i++) {
        if (i > 0)
            snprintf(buf + strlen(buf), size - strlen(buf), " + ");
        describe_piece(&d->pieces[i], buf, size);
    }
    if (d->npieces == 0)
        snprintf(buf, size, "''");
}

static void free_data(struct data *d)
{
    for (size_t i = 0; i < d->npieces; i++)
        free(d->pieces[i].bytes);
    free(d->pieces);
    memset(d, 0, sizeof *d);
}

/* ---- the directives ---------------------------------------------------------- */

PRINTF_FORMAT(3, 4)
static int refuse(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
    return -1;
}

struct parse {
    struct expectation *exp;
    struct expect_case *cur;
    int lineno;
    char *why;
    size_t whysize;
};

static int do_run(struct parse *ps, char *value)
{
    char **argv = split_args(value);

    if (argv == NULL)
        return refuse(ps->why, ps->whysize, "unclosed quote");
    ps->cur = expect_add_case(ps->exp, *value != '\0' ? value : "(no arguments)", argv, 0);
    ps->cur->line = ps->lineno;
    free_argv(argv);
    return 0;
}

static int do_exit(struct parse *ps, char *value)
{
    uint64_t n;
    int signo;

    if (parse_signal(value, &signo) == 0 && !isdigit((unsigned char)*value)) {
        ps->cur->exit_by_signal = true;
        ps->cur->exit_status = signo;
        return 0;
    }
    if (parse_count(value, 255, &n) == -1 || !isdigit((unsigned char)value[strlen(value) - 1]))
        return refuse(ps->why, ps->whysize, "bad number '%s' (0-255, or a signal name)", value);
    ps->cur->exit_by_signal = false;
    ps->cur->exit_status = (int)n;
    return 0;
}

static int do_timeout(struct parse *ps, char *value)
{
    char *end;
    double v = strtod(value, &end);

    if (*value == '\0' || *end != '\0' || v <= 0 || v > 1000)
        return refuse(ps->why, ps->whysize, "bad number '%s'", value);
    ps->cur->timeout_s = v;
    return 0;
}

static int do_count_pattern(struct parse *ps, enum stream s, char *value)
{
    char *count = next_word(&value);
    uint64_t n;
    struct pattern p;

    if (count == NULL || parse_count(count, 1u << 30, &n) == -1 || *value == '\0')
        return refuse(ps->why, ps->whysize, "expected 'N REGEX'");
    if (compile(&p, s, false, value) == -1)
        return refuse(ps->why, ps->whysize, "bad regex '%s'", value);
    p.count = (long)n;
    *(struct pattern *)grow(&ps->cur->patterns, &ps->cur->npatterns, sizeof p) = p;
    return 0;
}

static int do_exact(struct parse *ps, enum stream s, char *value)
{
    struct expect_case *c = ps->cur;
    char *line;
    size_t len;

    if (unescape(value, &line, &len) == -1)
        return refuse(ps->why, ps->whysize, "bad escape in '%s'", value);
    c->exact[s] = xrealloc(c->exact[s], c->exact_len[s] + len + 2);
    memcpy(c->exact[s] + c->exact_len[s], line, len);
    c->exact_len[s] += len;
    c->exact[s][c->exact_len[s]++] = '\n';
    c->exact[s][c->exact_len[s]] = '\0';
    free(line);
    return 0;
}

static int do_same(struct parse *ps, enum stream s, char *value)
{
    if (strcmp(value, "stdin") == 0)
        ps->cur->same_as_stdin[s] = true;
    else if (*value != '\0')
        ps->cur->same_as[s] = xstrdup(value);
    else
        return refuse(ps->why, ps->whysize, "expected 'stdin' or a file of the chapter");
    return 0;
}

static int do_stdin(struct parse *ps, const char *kind, char *value)
{
    ps->cur->has_stdin = true;
    return parse_piece(&ps->cur->stdin_data, kind, value, ps->why, ps->whysize);
}

/* "BYTES MS": two numbers, for stdin-pace: and stdout-slow:. */
static int parse_pace(struct parse *ps, char *value, unsigned *bytes, unsigned *ms)
{
    char *b = next_word(&value), *m = next_word(&value);
    uint64_t nb, nm;

    if (b == NULL || m == NULL || *value != '\0' || parse_count(b, 1u << 24, &nb) == -1 ||
        nb == 0 || parse_count(m, 10000, &nm) == -1)
        return refuse(ps->why, ps->whysize, "expected 'BYTES MS' (BYTES >= 1, MS <= 10000)");
    *bytes = (unsigned)nb;
    *ms = (unsigned)nm;
    return 0;
}

static int parse_mode(const char *s, int *mode)
{
    char *end;
    long v = strtol(s, &end, 8);

    if (*s == '\0' || *end != '\0' || v < 0 || v > 07777)
        return -1;
    *mode = (int)v;
    return 0;
}

/* given: NAME [mode=OCTAL] text TEXT | bytes N | lines N TEXT | file PATH | fifo | dir */
static int do_given(struct parse *ps, char *value)
{
    char *name = next_word(&value), *kind = next_word(&value);
    struct given *g;
    int mode = -1;

    if (kind != NULL && strncmp(kind, "mode=", 5) == 0) {
        if (parse_mode(kind + 5, &mode) == -1)
            return refuse(ps->why, ps->whysize, "bad mode '%s'", kind + 5);
        kind = next_word(&value);
    }
    if (name == NULL || kind == NULL || strchr(name, '/') != NULL)
        return refuse(ps->why, ps->whysize, "expected 'NAME [mode=OCTAL] KIND ...' (a plain name)");
    g = grow(&ps->cur->givens, &ps->cur->ngivens, sizeof *g);
    g->name = xstrdup(name);
    if (strcmp(kind, "fifo") == 0 || strcmp(kind, "dir") == 0) {
        g->kind = kind[0] == 'f' ? GIVEN_FIFO : GIVEN_DIR;
        g->mode = (mode_t)(mode >= 0 ? mode : kind[0] == 'f' ? 0600 : 0700);
        return *value == '\0' ? 0 : refuse(ps->why, ps->whysize, "%s takes nothing more", kind);
    }
    g->kind = GIVEN_FILE;
    g->mode = (mode_t)(mode >= 0 ? mode : 0644);
    return parse_piece(&g->content, kind, value, ps->why, ps->whysize);
}

/* file: NAME [absent] [same-as=stdin|FILE] [size=N] [mode=OCTAL] [type=f|p|d] */
static int do_file(struct parse *ps, char *value)
{
    char *name = next_word(&value), *w;
    struct file_check *f;

    if (name == NULL || strchr(name, '/') != NULL)
        return refuse(ps->why, ps->whysize, "expected 'NAME CHECK...' (a plain name)");
    f = grow(&ps->cur->files, &ps->cur->nfiles, sizeof *f);
    f->name = xstrdup(name);
    f->size = -1;
    f->mode = -1;
    f->line = ps->lineno;
    while ((w = next_word(&value)) != NULL) {
        uint64_t n;

        if (strcmp(w, "absent") == 0)
            f->absent = true;
        else if (strcmp(w, "same-as=stdin") == 0)
            f->same_as_stdin = true;
        else if (strncmp(w, "same-as=", 8) == 0 && w[8] != '\0')
            f->same_as = xstrdup(w + 8);
        else if (strncmp(w, "size=", 5) == 0 && parse_count(w + 5, UINT64_MAX >> 2, &n) == 0)
            f->size = (int64_t)n;
        else if (strncmp(w, "mode=", 5) == 0 && parse_mode(w + 5, &f->mode) == 0)
            ;
        else if (strncmp(w, "type=", 5) == 0 && strchr("fpd", w[5]) != NULL && w[5] != '\0' &&
                 w[6] == '\0')
            f->type = w[5];
        else
            return refuse(ps->why, ps->whysize,
                          "unknown file check '%s' (absent, same-as=, size=, mode=, type=)", w);
    }
    return 0;
}

/* signal: NAME [group] after MS | on REGEX */
static int do_signal(struct parse *ps, char *value)
{
    char *name = next_word(&value), *when = next_word(&value);
    struct signal_spec s = {0};
    uint64_t ms;

    if (name == NULL || parse_signal(name, &s.signo) == -1)
        return refuse(ps->why, ps->whysize, "expected a signal name such as TERM or SIGINT");
    if (when != NULL && strcmp(when, "group") == 0) {
        s.group = true;
        when = next_word(&value);
    }
    if (when != NULL && strcmp(when, "after") == 0 && parse_count(value, 600000, &ms) == 0) {
        s.after_ms = (unsigned)ms;
    } else if (when != NULL && strcmp(when, "on") == 0 && *value != '\0') {
        if (compile_re(&s.re, value) == -1)
            return refuse(ps->why, ps->whysize, "bad regex '%s'", value);
        s.on_output = true;
        s.source = xstrdup(value);
    } else {
        return refuse(ps->why, ps->whysize,
                      "expected 'NAME [group] after MS' or "
                      "'NAME [group] on REGEX'");
    }
    *(struct signal_spec *)grow(&ps->cur->signals, &ps->cur->nsignals, sizeof s) = s;
    return 0;
}

/* ">=N", "==N", "<=N" (after a prefix such as "ret"). */
static int parse_op(const char *s, enum count_op *op, long *n)
{
    uint64_t v;

    if (strncmp(s, ">=", 2) == 0)
        *op = AT_LEAST;
    else if (strncmp(s, "==", 2) == 0)
        *op = EXACTLY;
    else if (strncmp(s, "<=", 2) == 0)
        *op = AT_MOST;
    else
        return -1;
    if (parse_count(s + 2, 1ull << 40, &v) == -1)
        return -1;
    *n = (long)v;
    return 0;
}

/* True if an args~ regex holds a word like ">=1200": a count written after args~, which
 * would silently become part of the regex and match nothing. */
static bool count_after_args(const char *rest)
{
    static const char *const ops[] = {" >=", " ==", " <=", " ret==", " ret<="};

    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        const char *at = strstr(rest, ops[i]);

        if (at != NULL && isdigit((unsigned char)at[strlen(ops[i])]))
            return true;
    }
    return false;
}

/* syscall: NAME [fd~REGEX] [>=N|==N|<=N] [ret==N|ret<=N] [args~REGEX to the end]
 * no-syscall: NAME [fd~REGEX] [args~REGEX] */
static int do_syscall(struct parse *ps, char *value, bool never)
{
    struct syscall_check s = {.op = AT_LEAST, .count = 1, .line = ps->lineno};
    char *text = xstrdup(value), *w;

    s.name = next_word(&value);
    if (s.name == NULL || !isalpha((unsigned char)s.name[0])) {
        free(text);
        return refuse(ps->why, ps->whysize, "expected a system call name");
    }
    s.name = xstrdup(s.name);
    s.text = text;
    if (never) {
        s.op = EXACTLY;
        s.count = 0;
    }
    while ((w = next_word(&value)) != NULL) {
        if (strncmp(w, "fd~", 3) == 0 && !s.has_fd_re && compile_re(&s.fd_re, w + 3) == 0) {
            s.has_fd_re = true;
        } else if (strncmp(w, "args~", 5) == 0 && !s.has_args_re) {
            char *rest = w + 5;

            if (*value != '\0') /* the rest of the line is the regex */
                rest[strlen(rest)] = ' ';
            value += strlen(value);
            if (count_after_args(rest) || compile_re(&s.args_re, rest) == -1)
                goto refused;
            s.has_args_re = true;
        } else if (!never && strncmp(w, "ret", 3) == 0 && !s.has_ret &&
                   parse_op(w + 3, &s.ret_op, &s.ret) == 0 && s.ret_op != AT_LEAST) {
            s.has_ret = true;
        } else if (!never && parse_op(w, &s.op, &s.count) == 0) {
            ;
        } else {
        refused:
            if (s.has_fd_re)
                regfree(&s.fd_re);
            if (s.has_args_re)
                regfree(&s.args_re);
            free(s.name);
            free(s.text);
            return refuse(ps->why, ps->whysize,
                          "cannot read '%s' (fd~REGEX, >=N, ==N, <=N, "
                          "ret==N, ret<=N, args~REGEX)",
                          w);
        }
    }
    *(struct syscall_check *)grow(&ps->cur->syscalls, &ps->cur->nsyscalls, sizeof s) = s;
    return 0;
}

static int do_requires(struct parse *ps, char *value)
{
    static const char *const known[] = {"mqueue", "cpus", "ipv6",   "command", "cap",
                                        "root",   "user", "strace", "native"};
    size_t len = strcspn(value, " ");

    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strlen(known[i]) == len && strncmp(value, known[i], len) == 0) {
            char **slot = grow(&ps->cur->requires, &ps->cur->nrequires, sizeof *slot);

            *slot = xstrdup(value);
            return 0;
        }
    return refuse(ps->why, ps->whysize,
                  "unknown requirement '%s' (mqueue, cpus N, ipv6, "
                  "command NAME, cap NAME, root, user, strace, native)",
                  value);
}

static int do_symptom(struct parse *ps, char *value)
{
    struct pattern p;

    if (ps->exp->ncases != 1)
        return refuse(ps->why, ps->whysize, "symptom: belongs before the first run:");
    if (compile(&p, STDOUT_STREAM, false, value) == -1)
        return refuse(ps->why, ps->whysize, "bad regex '%s'", value);
    *(struct pattern *)grow(&ps->exp->symptoms, &ps->exp->nsymptoms, sizeof p) = p;
    return 0;
}

static int do_simple(struct parse *ps, const char *key, char *value)
{
    struct expect_case *c = ps->cur;
    uint64_t n;

    if (strcmp(key, "name") == 0 || strcmp(key, "hint") == 0) {
        if (*value == '\0')
            return refuse(ps->why, ps->whysize, "%s: needs a text", key);
        char **slot = key[0] == 'n' ? &c->label : &c->hint;

        free(*slot);
        *slot = xstrdup(value);
        c->named |= key[0] == 'n';
        return 0;
    }
    if (strcmp(key, "copies") == 0) {
        if (parse_count(value, MAX_COPIES, &n) == -1 || n == 0)
            return refuse(ps->why, ps->whysize, "copies: 1 to %d", MAX_COPIES);
        c->copies = (unsigned)n;
        return 0;
    }
    if (strcmp(key, "light-args") == 0) {
        free_argv(c->light_argv);
        c->light_argv = split_args(value);
        return c->light_argv != NULL ? 0 : refuse(ps->why, ps->whysize, "unclosed quote");
    }
    return refuse(ps->why, ps->whysize, "unknown directive '%s'", key);
}

/* One "key: value" line applied to the current case. */
static int apply(struct parse *ps, const char *key, char *value)
{
    static const struct {
        const char *key;
        enum stream s;
        bool neg;
    } kinds[] = {
        {"out", STDOUT_STREAM, false},
        {"no-out", STDOUT_STREAM, true},
        {"err", STDERR_STREAM, false},
        {"no-err", STDERR_STREAM, true},
    };
    enum stream s = strncmp(key, "err", 3) == 0 ? STDERR_STREAM : STDOUT_STREAM;

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(key, kinds[i].key) == 0)
            return expect_add_pattern(ps->cur, kinds[i].s, kinds[i].neg, value) == 0
                       ? 0
                       : refuse(ps->why, ps->whysize, "bad regex '%s'", value);
    if (strcmp(key, "run") == 0)
        return do_run(ps, value);
    if (strcmp(key, "exit") == 0)
        return do_exit(ps, value);
    if (strcmp(key, "timeout") == 0)
        return do_timeout(ps, value);
    if (strcmp(key, "out-count") == 0 || strcmp(key, "err-count") == 0)
        return do_count_pattern(ps, s, value);
    if (strcmp(key, "out-exact") == 0 || strcmp(key, "err-exact") == 0)
        return do_exact(ps, s, value);
    if (strcmp(key, "out-same") == 0 || strcmp(key, "err-same") == 0)
        return do_same(ps, s, value);
    if (strcmp(key, "stdin") == 0)
        return do_stdin(ps, "text", value);
    if (strcmp(key, "stdin-file") == 0)
        return do_stdin(ps, "file", value);
    if (strcmp(key, "stdin-bytes") == 0)
        return do_stdin(ps, "bytes", value);
    if (strcmp(key, "stdin-lines") == 0)
        return do_stdin(ps, "lines", value);
    if (strcmp(key, "stdin-pace") == 0)
        return parse_pace(ps, value, &ps->cur->pace_bytes, &ps->cur->pace_ms);
    if (strcmp(key, "stdout-slow") == 0) {
        ps->cur->stdout_pipe = true;
        return parse_pace(ps, value, &ps->cur->slow_bytes, &ps->cur->slow_ms);
    }
    if (strcmp(key, "given") == 0)
        return do_given(ps, value);
    if (strcmp(key, "file") == 0)
        return do_file(ps, value);
    if (strcmp(key, "signal") == 0)
        return do_signal(ps, value);
    if (strcmp(key, "syscall") == 0 || strcmp(key, "no-syscall") == 0)
        return do_syscall(ps, value, key[0] == 'n');
    if (strcmp(key, "requires") == 0)
        return do_requires(ps, value);
    if (strcmp(key, "symptom") == 0)
        return do_symptom(ps, value);
    return do_simple(ps, key, value);
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

/* A case without a name: is called by its arguments and, where it has
 * input, by that input, so that four "-" cases can be told apart. */
static void label_with_stdin(struct expect_case *c)
{
    char input[160], *label;

    if (c->named || !c->has_stdin)
        return;
    data_describe(&c->stdin_data, input, sizeof input);
    label = xrealloc(NULL, strlen(c->label) + strlen(input) + 8);
    sprintf(label, "%s <<< %s", c->label, input);
    free(c->label);
    c->label = label;
}

/* What cannot be judged line by line: a rule that spans directives. */
static int check_case(const struct expect_case *c, char *why, size_t whysize)
{
    if (c->pace_bytes > 0 && !c->has_stdin)
        return refuse(why, whysize, "stdin-pace: without any stdin");
    for (int s = 0; s < 2; s++)
        if (c->same_as_stdin[s] && !c->has_stdin)
            return refuse(why, whysize, "%s-same: stdin without any stdin", s ? "err" : "out");
    for (size_t i = 0; i < c->nfiles; i++)
        if (c->files[i].same_as_stdin && !c->has_stdin)
            return refuse(why, whysize, "file: same-as=stdin without any stdin");
    return 0;
}

int expect_load(const char *path, struct expectation *exp, char *err, size_t errsize)
{
    char *no_args[] = {NULL};
    char line[8192], why[512];
    struct parse ps = {.exp = exp, .why = why, .whysize = sizeof why};
    FILE *fp;

    memset(exp, 0, sizeof *exp);
    fp = fopen(path, "r");
    if (fp == NULL)
        return fail(err, errsize, NULL, "%s: cannot open: %s (every program needs one)", path,
                    strerror(errno));
    ps.cur = expect_add_case(exp, "(no arguments)", no_args, 0);
    ps.cur->is_demo = true;
    while (fgets(line, sizeof line, fp) != NULL) {
        char *s = trim(line), *colon;

        ps.lineno++;
        if (*s == '\0' || *s == '#')
            continue;
        colon = strchr(s, ':');
        if (colon == NULL)
            return fail(err, errsize, fp, "%s:%d: expected 'key: value'", path, ps.lineno);
        *colon = '\0';
        if (apply(&ps, trim(s), trim(colon + 1)) == -1)
            return fail(err, errsize, fp, "%s:%d: %s", path, ps.lineno, why);
    }
    fclose(fp);
    for (size_t i = 0; i < exp->ncases; i++) {
        if (check_case(&exp->cases[i], why, sizeof why) == -1)
            return fail(err, errsize, NULL, "%s:%d: %s", path, exp->cases[i].line, why);
        label_with_stdin(&exp->cases[i]);
    }
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

static void free_case(struct expect_case *c)
{
    free(c->label);
    free(c->hint);
    free_argv(c->argv);
    free_argv(c->light_argv);
    free_data(&c->stdin_data);
    free_patterns(c->patterns, c->npatterns);
    for (int s = 0; s < 2; s++) {
        free(c->exact[s]);
        free(c->same_as[s]);
    }
    for (size_t i = 0; i < c->ngivens; i++) {
        free(c->givens[i].name);
        free_data(&c->givens[i].content);
    }
    free(c->givens);
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].name);
        free(c->files[i].same_as);
    }
    free(c->files);
    for (size_t i = 0; i < c->nsignals; i++)
        if (c->signals[i].on_output) {
            regfree(&c->signals[i].re);
            free(c->signals[i].source);
        }
    free(c->signals);
    for (size_t i = 0; i < c->nsyscalls; i++) {
        struct syscall_check *s = &c->syscalls[i];

        if (s->has_fd_re)
            regfree(&s->fd_re);
        if (s->has_args_re)
            regfree(&s->args_re);
        free(s->name);
        free(s->text);
    }
    free(c->syscalls);
    for (size_t i = 0; i < c->nrequires; i++)
        free(c->requires[i]);
    free(c->requires);
}

void expect_free(struct expectation *exp)
{
    for (size_t i = 0; i < exp->ncases; i++)
        free_case(&exp->cases[i]);
    free(exp->cases);
    free_patterns(exp->symptoms, exp->nsymptoms);
    memset(exp, 0, sizeof *exp);
}

/* How many lines of text (each without its '\n') match re; with
 * stop_at_first, 0 or 1. */
static size_t each_line(const regex_t *re, const char *text, bool stop_at_first)
{
    size_t hits = 0;
    const char *line = text;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        char *copy = strndup(line, len);

        if (copy == NULL) {
            perror("strndup");
            exit(1);
        }
        if (regexec(re, copy, 0, NULL, 0) == 0)
            hits++;
        free(copy);
        if (hits > 0 && stop_at_first)
            break;
        line += len + (line[len] == '\n');
    }
    return hits;
}

bool any_line_matches(const regex_t *re, const char *text)
{
    return each_line(re, text, true) > 0;
}

size_t count_matching_lines(const regex_t *re, const char *text)
{
    return each_line(re, text, false);
}
