/* basic_fifo.c - a named pipe (FIFO): two processes that meet by path name
 *
 * mkfifo() puts a pipe in the file system, so processes need not be related
 * to share it.  open() of a FIFO blocks until the other side opens it too:
 * a reader waits for a writer and a writer waits for a reader.  After that
 * it is a plain pipe: the reader sees EOF once every writer has closed.
 * No data ever touches the disk; the name is only a meeting point.
 *
 * Guide part: theory (pipes: FIFOs, blocking open, EOF).
 * Run: ./basic_fifo [--lines N]
 *      two terminals: ./basic_fifo --reader /tmp/myfifo     (prints what arrives)
 *                     ./basic_fifo --writer /tmp/myfifo     (sends the lines you type; Ctrl-D ends)
 *      Whichever side finds PATH missing creates the FIFO (mode 0600) and
 *      removes it when it exits, also on Ctrl-C.  A side killed with SIGKILL
 *      cannot clean up: the next run finds the stale FIFO, says so, uses it,
 *      and leaves it alone (only its creator knows when it is no longer used).
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--lines N] | --reader PATH | --writer PATH    (N from 1 to 1000)";

/* Which part of the demonstration this process plays. */
enum side { DEMO, READER, WRITER };

/* Creates the FIFO unless it exists; only a FIFO we created is ours to remove. */
static void make_fifo(const char *role, const char *path)
{
    struct stat st;
    sigset_t saved;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the FIFO */
    if (mkfifo(path, 0600) == -1) {
        if (errno != EEXIST)
            die_errno("mkfifo %s", path);
        stop_signals_release(&saved);
        /* Checked again with fstat() after open(): this only spares a regular file the open. */
        if (stat(path, &st) == 0 && !S_ISFIFO(st.st_mode))
            die_usage(usage, "'%s' exists and is not a FIFO", path);
        printf("[%s] FIFO %s already exists: made by the other side, or left by a run killed "
               "with SIGKILL (nothing cleans up after that); using it, not removing it\n",
               role, path);
        return;
    }
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    printf("[%s] created FIFO %s (removed again when this process exits)\n", role, path);
}

/* Blocks until the other side opens too, and reports how long that took. */
static int open_fifo(const char *role, const char *path, int flags)
{
    bool reading = flags == O_RDONLY;
    uint64_t start = now_ns();
    struct stat st;
    int fd;

    printf("[%s] open(%s): waits until the FIFO also has a %s\n", role,
           reading ? "O_RDONLY" : "O_WRONLY", reading ? "writer" : "reader");
    fd = open(path, flags);
    if (fd == -1)
        die_errno("open %s for %s", path, reading ? "reading" : "writing");
    if (fstat(fd, &st) == -1)
        die_errno("fstat %s", path);
    if (!S_ISFIFO(st.st_mode)) {
        close(fd);
        die_usage(usage, "'%s' exists and is not a FIFO", path);
    }
    printf("[%s] open() returned after %s\n", role, fmt_duration((double)elapsed_ns(start)).s);
    return fd;
}

static void run_reader(const char *path)
{
    FILE *in = fdopen(open_fifo("reader", path, O_RDONLY), "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (in == NULL)
        die_errno("fdopen");
    while ((len = getline(&line, &cap, in)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        printf("[reader] got \"%s\"\n", line);
    }
    if (ferror(in))
        die_errno("read from %s", path);
    printf("[reader] EOF: every writer has closed its end\n");
    free(line);
    fclose(in);
}

static void send_line(int fd, const char *line)
{
    printf("[writer] sending \"%.*s\"\n", (int)strcspn(line, "\n"), line);
    if (write_str(fd, line) == -1)
        die_errno("write to the FIFO");
}

/* The demo's writer: numbered messages, paced so each read gets one. */
static void run_writer(const char *path, long lines)
{
    int fd = open_fifo("writer", path, O_WRONLY);
    char msg[64];

    for (long i = 1; i <= lines; i++) {
        snprintf(msg, sizeof msg, "message %ld of %ld\n", i, lines);
        send_line(fd, msg);
        sleep_ms(20);
    }
    printf("[writer] closing its end: the reader will see EOF\n");
    close(fd);
}

/* The two-terminal writer: forwards what is typed, one line at a time. */
static void forward_stdin(const char *path)
{
    int fd = open_fifo("writer", path, O_WRONLY);
    char *line = NULL;
    size_t cap = 0;

    if (isatty(STDIN_FILENO))
        printf("[writer] type lines to send; Ctrl-D closes the FIFO\n");
    while (getline(&line, &cap, stdin) > 0)
        send_line(fd, line);
    free(line);
    printf("[writer] end of input: closing, the reader will see EOF\n");
    close(fd);
}

/* What the kernel says about a process: its state and where it sleeps. */
static void show_sleeping(const char *role, pid_t pid)
{
    char wchan[64];
    int state = proc_state(pid);

    if (proc_wchan(pid, wchan, sizeof wchan) == -1)
        wchan[0] = '\0';
    printf("[parent] the %s is in state %c, kernel wait channel: %s\n", role,
           state != -1 ? state : '?', wchan[0] != '\0' ? wchan : "(not shown)");
}

static pid_t spawn(void (*run_side)(const char *, long), const char *path, long lines)
{
    pid_t parent = getpid(), pid = fork_or_die();

    if (pid == 0) {
        /* A parent that dies early (of SIGPIPE, say, under `| head`) removes the FIFO, and
         * a reader still in open() would wait forever for a writer that cannot find it.
         * So the kernel is asked to send us SIGTERM when the parent dies (Linux only);
         * getppid() catches a parent that was already gone before we asked. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
            exit(1);
        run_side(path, lines);
        exit(0);
    }
    return pid;
}

static void reader_side(const char *path, long lines)
{
    (void)lines;
    run_reader(path);
}

static void demo(long lines)
{
    char dir[256], path[320];
    pid_t reader, writer;

    make_temp_dir(dir, sizeof dir, "basic_fifo");
    snprintf(path, sizeof path, "%s/fifo.%d", dir, (int)getpid());
    make_fifo("parent", path); /* a fresh private directory: never EEXIST */

    reader = spawn(reader_side, path, lines);
    printf("[parent] started the reader as pid %d\n", (int)reader);
    sleep_ms(150);
    printf("[parent] 150 ms later, still no writer:\n");
    show_sleeping("reader", reader);
    writer = spawn(run_writer, path, lines);
    printf("[parent] started the writer as pid %d\n", (int)writer);
    reap_child(writer, "parent");
    reap_child(reader, "parent");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"lines", required_argument, NULL, 'n'},
        {"reader", required_argument, NULL, 'r'},
        {"writer", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *side_path = NULL;
    enum side side = DEMO;
    long lines = 3;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1) {
        if (c == 'n') {
            lines = cli_long(optarg, 1, 1000, "--lines", usage);
        } else {
            if (side != DEMO)
                die_usage(usage, "give only one of --reader and --writer");
            side = c == 'r' ? READER : WRITER;
            side_path = optarg;
            if (*side_path == '\0')
                die_usage(usage, "--%s needs a path, not an empty string",
                          side == READER ? "reader" : "writer");
        }
    }
    cli_no_operands(argc, argv, usage);

    if (side == DEMO) {
        demo(lines);
        return 0;
    }
    make_fifo(side == READER ? "reader" : "writer", side_path);
    if (side == READER) {
        run_reader(side_path);
    } else {
        /* A reader that quits must not kill us with SIGPIPE: a failed
         * write exits through exit(), which removes a FIFO we created. */
        signal(SIGPIPE, SIG_IGN);
        forward_stdin(side_path);
    }
    return 0;
}
