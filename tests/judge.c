/* judge.c - what happened, against what the case expects.
 *
 * Every shortfall is appended to one string, "; "-separated, so that a
 * failing case reports all that is wrong with it at once, each in words
 * that say what to look at.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "under_strace.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* "copy 2 of 3: " where a case runs several copies, else "". */
static const char *which(const struct outcome *o, unsigned i)
{
    static char buf[32];

    if (o->ninstances == 1)
        return "";
    snprintf(buf, sizeof buf, "copy %u of %u: ", i + 1, o->ninstances);
    return buf;
}

static void judge_status(const struct expect_case *c, const struct outcome *o, unsigned i,
                         char **why)
{
    int st = o->inst[i].status;
    char expected[64];

    if (c->exit_by_signal)
        snprintf(expected, sizeof expected, "to be killed by SIG%s", sigabbrev_np(c->exit_status));
    else
        snprintf(expected, sizeof expected, "exit status %d", c->exit_status);
    if (o->hung) {
        append(why, "%shung: killed after %.1f s (expected %s); ", which(o, i),
               c->timeout_s * opt.timeout_scale, expected);
    } else if (WIFSIGNALED(st)) {
        if (!c->exit_by_signal || WTERMSIG(st) != c->exit_status)
            append(why, "%skilled by signal %d (SIG%s), expected %s; ", which(o, i), WTERMSIG(st),
                   sigabbrev_np(WTERMSIG(st)), expected);
    } else if (WEXITSTATUS(st) == 99 && opt.valgrind && !c->usage_only) {
        append(why, "%svalgrind reported errors (its log is below); ", which(o, i));
    } else if (c->exit_by_signal || WEXITSTATUS(st) != c->exit_status) {
        append(why, "%sexit status %d, expected %s; ", which(o, i), WEXITSTATUS(st), expected);
    }
}

static void judge_patterns(const struct expect_case *c, const struct outcome *o, unsigned i,
                           char **why)
{
    for (size_t k = 0; k < c->npatterns; k++) {
        const struct pattern *p = &c->patterns[k];
        const char *text = p->stream == STDOUT_STREAM ? o->inst[i].out : o->inst[i].err;
        const char *stream = p->stream == STDOUT_STREAM ? "stdout" : "stderr";

        if (p->count >= 0) {
            size_t n = count_matching_lines(&p->re, text);

            if ((long)n != p->count)
                append(why, "%s%s has %zu line(s) matching /%s/, expected exactly %ld; ",
                       which(o, i), stream, n, p->source, p->count);
        } else if (any_line_matches(&p->re, text) == p->negated) {
            append(why, "%s%s has %s line matching /%s/; ", which(o, i), stream,
                   p->negated ? "a" : "no", p->source);
        }
    }
}

/* Where two byte strings first differ, in words a student can act on. */
static void describe_difference(const char *got, size_t got_len, const char *want, size_t want_len,
                                char **why)
{
    size_t at = 0, line = 1;

    while (at < got_len && at < want_len && got[at] == want[at])
        line += got[at++] == '\n';
    if (at == got_len && at == want_len)
        return;
    if (at == got_len)
        append(why, "%zu bytes where %zu were expected: the output stops early (line %zu)", got_len,
               want_len, line);
    else if (at == want_len)
        append(why, "%zu bytes where %zu were expected: extra output from byte %zu (line %zu)",
               got_len, want_len, at, line);
    else
        append(why,
               "first difference at byte %zu (line %zu): 0x%02x where 0x%02x was expected "
               "(%zu bytes in all, %zu expected)",
               at, line, (unsigned char)got[at], (unsigned char)want[at], got_len, want_len);
}

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* out-exact:, out-same: and their stderr twins. */
static void judge_whole_streams(const struct program *prog, const struct expect_case *c,
                                const struct outcome *o, unsigned i, char **why)
{
    for (int s = 0; s < 2; s++) {
        const char *got = s == STDOUT_STREAM ? o->inst[i].out : o->inst[i].err;
        size_t got_len = s == STDOUT_STREAM ? o->inst[i].out_len : o->inst[i].err_len;
        const char *stream = s == STDOUT_STREAM ? "stdout" : "stderr";
        char *want = NULL, err[256];
        size_t want_len = 0;

        if (c->exact[s] != NULL && !same_bytes(got, got_len, c->exact[s], c->exact_len[s])) {
            append(why, "%s%s is not exactly the lines expected: ", which(o, i), stream);
            describe_difference(got, got_len, c->exact[s], c->exact_len[s], why);
            append(why, "; ");
        }
        if (c->same_as_stdin[s]) {
            want = o->input;
            want_len = o->input_len;
        } else if (c->same_as[s] != NULL) {
            struct data d = {&(struct piece){PIECE_FILE, c->same_as[s], 0, 0}, 1};

            want = data_bytes(&d, prog->dir, &want_len, err, sizeof err);
            if (want == NULL) {
                append(why, "out-same: %s; ", err);
                continue;
            }
        } else {
            continue;
        }
        if (!same_bytes(got, got_len, want, want_len)) {
            append(why, "%s%s is not the same as %s: ", which(o, i), stream,
                   c->same_as_stdin[s] ? "stdin" : c->same_as[s]);
            describe_difference(got, got_len, want, want_len, why);
            append(why, "; ");
        }
        if (want != o->input)
            free(want);
    }
}

static const char *type_name(char t)
{
    return t == 'f' ? "a regular file" : t == 'p' ? "a FIFO" : "a directory";
}

static char type_of(const struct stat *st)
{
    return S_ISREG(st->st_mode)    ? 'f'
           : S_ISFIFO(st->st_mode) ? 'p'
           : S_ISDIR(st->st_mode)  ? 'd'
                                   : '?';
}

static void judge_file(const struct program *prog, const struct file_check *f,
                       const struct file_seen *seen, const struct outcome *o, char **why)
{
    if (f->absent) {
        if (seen->exists)
            append(why, "file %s exists, but must not; ", f->name);
        return;
    }
    if (!seen->exists) {
        append(why, "file %s was not written (no such file in the working directory); ", f->name);
        return;
    }
    if (f->type != 0 && type_of(&seen->st) != f->type)
        append(why, "file %s is not %s; ", f->name, type_name(f->type));
    if (f->mode >= 0 && (int)(seen->st.st_mode & 07777) != f->mode)
        append(why, "file %s has mode %04o, expected %04o; ", f->name,
               (unsigned)(seen->st.st_mode & 07777), (unsigned)f->mode);
    if (f->size >= 0 && seen->st.st_size != f->size)
        append(why, "file %s has %lld bytes, expected %lld; ", f->name, (long long)seen->st.st_size,
               (long long)f->size);
    if (f->same_as_stdin || f->same_as != NULL) {
        char *want = o->input, err[256];
        size_t want_len = o->input_len;

        if (f->same_as != NULL) {
            struct data d = {&(struct piece){PIECE_FILE, f->same_as, 0, 0}, 1};

            want = data_bytes(&d, prog->dir, &want_len, err, sizeof err);
            if (want == NULL) {
                append(why, "file %s: %s; ", f->name, err);
                return;
            }
        }
        if (seen->bytes == NULL || !same_bytes(seen->bytes, seen->len, want, want_len)) {
            append(why, "file %s is not the same as %s: ", f->name,
                   f->same_as_stdin ? "stdin" : f->same_as);
            describe_difference(seen->bytes != NULL ? seen->bytes : "", seen->len, want, want_len,
                                why);
            append(why, "; ");
        }
        if (want != o->input)
            free(want);
    }
}

/* What the contract asks of every demonstration run: narration and a
 * quiet stderr. */
static void judge_narration(const struct expect_case *c, const struct outcome *o, char **why)
{
    regex_t role;
    bool err_expected = false;

    for (size_t k = 0; k < c->npatterns; k++)
        err_expected |= c->patterns[k].stream == STDERR_STREAM && !c->patterns[k].negated;
    regcomp(&role, "^\\[[^]]+\\] ", REG_EXTENDED | REG_NOSUB);
    if (!any_line_matches(&role, o->inst[0].out))
        append(why, "no narration: stdout has no '[role] ' line; ");
    regfree(&role);
    if (!err_expected && o->inst[0].err[0] != '\0')
        append(why, "a successful demo printed on stderr; ");
}

/* ---- system calls, as strace -f -ff -y wrote them ---------------------------- */

/* The first argument: up to the first comma outside quotes and <...>. */
static size_t first_arg_len(const struct strace_call *c)
{
    int depth = 0;
    bool quoted = false;

    for (size_t i = 0; i < c->args_len; i++) {
        char ch = c->args[i];

        if (quoted && ch == '\\')
            i++;
        else if (ch == '"')
            quoted = !quoted;
        else if (!quoted && (ch == '<' || ch == '[' || ch == '{'))
            depth++;
        else if (!quoted && (ch == '>' || ch == ']' || ch == '}'))
            depth--;
        else if (!quoted && depth == 0 && ch == ',')
            return i;
    }
    return c->args_len;
}

static bool regex_on(const regex_t *re, const char *s, size_t len)
{
    char *copy = strndup(s, len);
    bool hit = copy != NULL && regexec(re, copy, 0, NULL, 0) == 0;

    free(copy);
    return hit;
}

/* The dynamic loader's own calls (opening and reading the libraries) are
 * not the program's: they are left out of every count. */
static bool is_loader_noise(const struct strace_call *c)
{
    static regex_t re;
    static bool compiled;

    if (!compiled)
        compiled = regcomp(&re, "\\.so(\\.[0-9]+)*[\">]|ld\\.so\\.(cache|preload)",
                           REG_EXTENDED | REG_NOSUB) == 0;
    return compiled && regex_on(&re, c->args, c->args_len);
}

static bool selected(const struct syscall_check *s, const struct strace_call *c)
{
    if (strcmp(s->name, c->name) != 0 || is_loader_noise(c))
        return false;
    if (s->has_fd_re && !regex_on(&s->fd_re, c->args, first_arg_len(c)))
        return false;
    return !s->has_args_re || regex_on(&s->args_re, c->args, c->args_len);
}

static bool op_holds(enum count_op op, long have, long want)
{
    return op == AT_LEAST ? have >= want : op == EXACTLY ? have == want : have <= want;
}

static const char *op_words(enum count_op op)
{
    return op == AT_LEAST ? "at least" : op == EXACTLY ? "exactly" : "at most";
}

struct tally {
    long count;
    long bad_ret;      /* selected calls whose result breaks ret */
    char example[240]; /* the first such call */
};

static void tally_line(const struct syscall_check *s, const char *line, struct tally *t)
{
    struct strace_call c;

    if (!parse_strace_call(line, &c) || !selected(s, &c))
        return;
    t->count++;
    if (s->has_ret && (!c.has_ret || !op_holds(s->ret_op, c.ret_value, s->ret))) {
        if (t->bad_ret++ == 0)
            snprintf(t->example, sizeof t->example, "%.*s", (int)strcspn(line, "\n"), line);
    }
}

/* Every trace file of every copy: PREFIX.PID, one per process. */
static void tally_traces(const struct syscall_check *s, const struct outcome *o,
                         const char *case_dir, struct tally *t)
{
    struct names files = {0};

    list_dir(case_dir, &files);
    for (size_t f = 0; f < files.n; f++) {
        char path[PATH_MAX + 300], line[8192];
        FILE *fp;

        if (strncmp(files.v[f], "trace.", 6) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", case_dir, files.v[f]);
        fp = fopen(path, "r");
        while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
            tally_line(s, line, t);
        if (fp != NULL)
            fclose(fp);
    }
    names_free(&files);
    (void)o;
}

static void judge_syscalls(const struct expect_case *c, const struct outcome *o,
                           const char *case_dir, char **why)
{
    /* Under the sanitizers the runtime makes calls of its own (a TSan
     * thread is a clone3): the assertions are judged on native runs. */
    if (!o->traced || opt.light)
        return;
    for (size_t k = 0; k < c->nsyscalls; k++) {
        const struct syscall_check *s = &c->syscalls[k];
        struct tally t = {0, 0, ""};

        tally_traces(s, o, case_dir, &t);
        if (!op_holds(s->op, t.count, s->count))
            append(why,
                   "system calls (.expect line %d, '%s'): %ld matching call(s) of %s, "
                   "expected %s %ld; ",
                   s->line, s->text, t.count, s->name, op_words(s->op), s->count);
        if (t.bad_ret > 0)
            append(why,
                   "system calls (.expect line %d, '%s'): %ld call(s) of %s returned other "
                   "than %s %ld, the first: %s; ",
                   s->line, s->text, t.bad_ret, s->name, op_words(s->ret_op), s->ret, t.example);
    }
}

/* ---- valgrind's logs: errors and descriptors left open ------------------------- */

/* valgrind --track-fds=yes lists, at each process's exit, every open
 * descriptor with where it was opened; 0, 1 and 2 are the harness's, and
 * so is anything "inherited from parent" (there is none: the harness
 * closes all but 0-2 before the exec).  A process killed by a signal could
 * not close anything: its list is no fault (its death is judged by the
 * exit status checks). */
static void judge_valgrind_log(const char *path, const char *file, char **why, char **log)
{
    FILE *fp = fopen(path, "r");
    char line[1024], pending[1024] = "";
    const char *pid = strrchr(file, '.') + 1; /* valgrind.COPY.PID */

    while (fp != NULL && fgets(line, sizeof line, fp) != NULL) {
        const char *text = strstr(line, "== ");
        int fd;

        append(log, "%s", line);
        if (strstr(line, "Process terminating with default action of signal") != NULL)
            break;
        text = text != NULL ? text + 3 : line;
        if (pending[0] != '\0') {
            if (strstr(text, "<inherited from parent>") == NULL)
                append(why,
                       "process %s left %s open at exit (valgrind's log below says where "
                       "it was opened); ",
                       pid, pending);
            pending[0] = '\0';
        }
        if ((sscanf(text, "Open file descriptor %d:", &fd) == 1 ||
             sscanf(text, "Open AF_%*s socket %d:", &fd) == 1) &&
            fd > 2)
            snprintf(pending, sizeof pending, "%.*s", (int)strcspn(text + 5, "\n"), text + 5);
    }
    if (fp != NULL)
        fclose(fp);
}

static void judge_valgrind(const char *case_dir, char **why, char **log)
{
    struct names files = {0};

    list_dir(case_dir, &files);
    for (size_t f = 0; f < files.n; f++)
        if (strncmp(files.v[f], "valgrind.", 9) == 0) {
            char path[PATH_MAX + 300];

            snprintf(path, sizeof path, "%s/%s", case_dir, files.v[f]);
            judge_valgrind_log(path, files.v[f], why, log);
        }
    names_free(&files);
}

void judge_case(const struct program *prog, const struct expect_case *c, const struct outcome *o,
                bool narrated, const char *case_dir, char **why, char **log)
{
    if (o->problems != NULL && strncmp(o->problems, "could not isolate", 17) == 0) {
        append(why, "%s", o->problems);
        return;
    }
    for (unsigned i = 0; i < o->ninstances; i++) {
        judge_status(c, o, i, why);
        judge_patterns(c, o, i, why);
        judge_whole_streams(prog, c, o, i, why);
    }
    for (size_t k = 0; k < c->nfiles && k < o->nfiles; k++)
        judge_file(prog, &c->files[k], &o->files[k], o, why);
    if (narrated)
        judge_narration(c, o, why);
    judge_syscalls(c, o, case_dir, why);
    if (opt.valgrind)
        judge_valgrind(case_dir, why, log);
    if (o->problems != NULL)
        append(why, "%s", o->problems);
}
