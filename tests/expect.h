/* expect.h - the expectation of one example program, read from NAME.expect.
 *
 * The format is described in tests/README.md.  One expectation holds the
 * cases of one program; each case says how to run the program (arguments,
 * input, files given beforehand, signals sent during the run, strace) and
 * what must hold afterwards (exit status, lines of output, files written,
 * system calls made).  This reader only parses and compiles: running is
 * runner.c's work, judging judge.c's.
 */
#ifndef EXPECT_H
#define EXPECT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PRINTF_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))

enum stream { STDOUT_STREAM, STDERR_STREAM };

/* out:/err: (some line matches), no-out:/no-err: (none does),
 * out-count:/err-count: (exactly `count` lines match). */
struct pattern {
    enum stream stream;
    bool negated;
    long count; /* -1 unless a *-count: directive */
    char *source;
    regex_t re;
};

/* Bytes described in an .expect file: literal text, a file of the
 * chapter folder, a repeatable pseudo-random pattern, or a line repeated.
 * A `struct data` is a list of such pieces, concatenated in order. */
enum piece_kind { PIECE_TEXT, PIECE_FILE, PIECE_PATTERN, PIECE_LINES };

struct piece {
    enum piece_kind kind;
    char *bytes;    /* TEXT: the bytes; LINES: the line with its '\n'; FILE: path */
    size_t len;     /* of bytes */
    uint64_t count; /* PATTERN: bytes; LINES: repetitions */
};

struct data {
    struct piece *pieces;
    size_t npieces;
};

/* given: a file, FIFO or directory put in the working directory before the run. */
enum given_kind { GIVEN_FILE, GIVEN_FIFO, GIVEN_DIR };

struct given {
    char *name;
    enum given_kind kind;
    struct data content; /* GIVEN_FILE */
    mode_t mode;
};

/* file: what must hold of a file the program leaves in its working
 * directory.  Checked, then removed: it is the case's product, not a
 * leftover. */
struct file_check {
    char *name;
    bool absent; /* must not exist */
    bool same_as_stdin;
    char *same_as; /* a file of the chapter folder, or NULL */
    int64_t size;  /* -1: not checked */
    int mode;      /* permission bits, -1: not checked */
    char type;     /* 'f' regular, 'p' FIFO, 'd' directory, 0: not checked */
    int line;
};

/* signal: sent to the program (or its process group) after a delay, or
 * once a line of its stdout matches. */
struct signal_spec {
    int signo;
    bool group;
    unsigned after_ms;
    bool on_output;
    char *source;
    regex_t re; /* with on_output */
};

/* syscall:/no-syscall: an assertion on the calls strace -f records. */
enum count_op { AT_LEAST, EXACTLY, AT_MOST };

struct syscall_check {
    char *name; /* "write" */
    char *text; /* the directive as written, for reports */
    bool has_fd_re, has_args_re;
    regex_t fd_re;   /* matches the first argument as strace -y shows it */
    regex_t args_re; /* matches the whole argument text */
    enum count_op op;
    long count;
    bool has_ret;
    enum count_op ret_op;
    long ret; /* every selected call returned this (or at most this) */
    int line;
};

struct expect_case {
    char *label;       /* the name of the case in reports */
    char **argv;       /* arguments only, NULL-terminated */
    char **light_argv; /* light-args: appended under valgrind and sanitizers */
    bool has_stdin;    /* false: stdin is /dev/null */
    struct data stdin_data;
    unsigned pace_bytes, pace_ms; /* stdin-pace: */
    bool stdout_pipe;             /* stdout-slow: (a pipe, drained slowly) */
    unsigned slow_bytes, slow_ms;
    bool exit_by_signal;
    int exit_status; /* or the signal number, with exit_by_signal */
    double timeout_s;
    struct pattern *patterns;
    size_t npatterns;
    char *exact[2]; /* out-exact:/err-exact: the whole stream, or NULL */
    size_t exact_len[2];
    bool same_as_stdin[2]; /* out-same: stdin */
    char *same_as[2];      /* out-same: FILE */
    struct given *givens;
    size_t ngivens;
    struct file_check *files;
    size_t nfiles;
    struct signal_spec *signals;
    size_t nsignals;
    struct syscall_check *syscalls;
    size_t nsyscalls;
    char **requires; /* each "what [argument]" */
    size_t nrequires;
    char *hint;      /* shown with a failure: what to look at */
    unsigned copies; /* copies: run this many at once (default 1) */
    bool is_demo;    /* the no-argument demonstration */
    bool usage_only; /* checks only the command line: never under valgrind */
    bool natively;   /* --quick: an exercise checker's case, not run under valgrind */
    bool named;      /* name: given */
    int line;        /* of its run: line in the file; 0 if implied */
};

struct expectation {
    struct expect_case *cases; /* cases[0] is always the no-argument demo */
    size_t ncases;
    struct pattern *symptoms;
    size_t nsymptoms;
};

/* Reads and compiles PATH.  On error returns -1 and writes a message
 * naming the file and line into err.  Call expect_free() either way. */
int expect_load(const char *path, struct expectation *exp, char *err, size_t errsize);
/* Appends a case with these arguments (a copy is made; argv ends in NULL). */
struct expect_case *expect_add_case(struct expectation *exp, const char *label, char *const argv[],
                                    int exit_status);
/* Adds a compiled pattern to a case; returns -1 if the regex is invalid. */
int expect_add_pattern(struct expect_case *c, enum stream s, bool negated, const char *regex);
void expect_free(struct expectation *exp);

/* True if some line of text (NUL-terminated) matches re. */
bool any_line_matches(const regex_t *re, const char *text);
/* How many lines of text match re (a last line without '\n' counts). */
size_t count_matching_lines(const regex_t *re, const char *text);

/* The bytes `d` describes, files read relative to `dir`, in a malloc'd
 * buffer (NUL-terminated; *len excludes the NUL).  NULL with a message in
 * err when a file cannot be read. */
char *data_bytes(const struct data *d, const char *dir, size_t *len, char *err, size_t errsize);
/* A short description for reports: "'hello\n'", "1 MiB of pattern bytes". */
void data_describe(const struct data *d, char *buf, size_t size);
/* Byte i of the repeatable pattern: a xorshift32 sequence from seed 1. */
void pattern_fill(unsigned char *buf, size_t n);

#endif
