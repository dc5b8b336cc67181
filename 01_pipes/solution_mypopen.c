/* solution_mypopen.c - popen() and pclose() written with pipe(), fork(), exec and waitpid()
 *
 * Exercise (intermediate, from APUE 15.3 and TLPI 44.5): mypopen() runs a command through
 * /bin/sh -c with its stdout ("r") or stdin ("w") on a pipe and returns a stdio stream on the
 * other end; mypclose() closes that stream and returns the command's wait status.  The
 * details are the lesson: each side closes the end it does not use, or a reader never sees
 * EOF and a writer never sees EPIPE; the child drops the streams of earlier mypopen() calls;
 * and mypclose() waits for its own child, not any child.
 * Guide part: exercise 6 (intermediate).
 * Run: ./solution_mypopen                    (demo)
 *      ./solution_mypopen r 'ls /' ; ./solution_mypopen w 'wc -l' </etc/passwd
 */
#define _GNU_SOURCE /* pipe2() */
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[r|w COMMAND]    (r: copy COMMAND's output to stdout; w: copy stdin"
                            " to COMMAND; no operand: demo)";

/* The child of each open stream, by the stream's descriptor: what mypclose()
 * waits for, and what a later child must close (APUE calls it childpid[]). */
static pid_t child_of[1024];

/* In the child: the pipe end it keeps becomes its stdin or stdout; everything
 * else of ours goes, so no reader or writer is held open by mistake. */
static noreturn void exec_shell(const char *command, int keep, int other, int target)
{
    if (dup2(keep, target) == -1)
        _exit(127);
    close(keep);
    close(other);
    for (int fd = 0; fd < (int)(sizeof child_of / sizeof child_of[0]); fd++)
        if (child_of[fd] > 0)
            close(fd);        /* the pipes of earlier streams still open (POSIX asks for it) */
    signal(SIGPIPE, SIG_DFL); /* the command must not inherit our SIG_IGN */
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
    _exit(127); /* as sh does for a command it cannot run */
}

static FILE *mypopen(const char *command, const char *mode)
{
    int fds[2], mine, theirs, target;
    FILE *stream;
    pid_t pid;

    if ((strcmp(mode, "r") != 0 && strcmp(mode, "w") != 0)) {
        errno = EINVAL;
        return NULL;
    }
    /* Close-on-exec: no other program started later inherits our end. */
    if (pipe2(fds, O_CLOEXEC) == -1)
        return NULL;
    mine = mode[0] == 'r' ? fds[0] : fds[1];
    theirs = mode[0] == 'r' ? fds[1] : fds[0];
    target = mode[0] == 'r' ? STDOUT_FILENO : STDIN_FILENO;
    if (mine >= (int)(sizeof child_of / sizeof child_of[0])) {
        close(fds[0]);
        close(fds[1]);
        errno = EMFILE;
        return NULL;
    }
    fflush(NULL); /* or the child inherits unwritten output and writes it twice */
    if ((pid = fork()) == -1) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0)
        exec_shell(command, theirs, mine, target);
    close(theirs); /* ours would keep the reader from EOF, or the writer from EPIPE */
    if ((stream = fdopen(mine, mode)) == NULL) {
        close(mine);
        (void)waitpid(pid, NULL, 0);
        return NULL;
    }
    child_of[mine] = pid;
    return stream;
}

/* Returns the wait status, as pclose() does, or -1 (ECHILD: not ours). */
static int mypclose(FILE *stream)
{
    int fd = fileno(stream), status;
    pid_t pid;

    if (fd < 0 || fd >= (int)(sizeof child_of / sizeof child_of[0]) || child_of[fd] <= 0) {
        errno = ECHILD;
        return -1;
    }
    pid = child_of[fd];
    child_of[fd] = 0;
    fclose(stream); /* a flush that meets EPIPE fails, but the descriptor is closed */
    while (waitpid(pid, &status, 0) == -1)
        if (errno != EINTR)
            return -1;
    return status;
}

/* ---- the program ---------------------------------------------------------------- */

static int as_sh_reports(int status)
{
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static int run_reader(const char *command)
{
    static char buf[65536];
    FILE *in = mypopen(command, "r");
    size_t n;

    if (in == NULL)
        die_errno("mypopen %s", command);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, stdout) != n)
            break; /* the check at exit reports the error */
    return mypclose(in);
}

static int run_writer(const char *command)
{
    static char buf[65536];
    FILE *out;
    ssize_t n;

    /* A command that stops reading makes our next write fail with EPIPE, which
     * ends the copy; the default SIGPIPE would kill us before we reap it. */
    signal(SIGPIPE, SIG_IGN);
    if ((out = mypopen(command, "w")) == NULL)
        die_errno("mypopen %s", command);
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read standard input");
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n || fflush(out) == EOF)
            break; /* EPIPE: the command has gone, stop copying */
    }
    return mypclose(out);
}

static void demo_close(FILE *stream)
{
    int status = mypclose(stream);

    printf("[parent] mypclose returned %d\n", status);
    printf("[parent] that is %s\n", fmt_wait_status(status).s);
}

static void demo(void)
{
    char line[256];
    FILE *f;

    printf("[parent] mypopen(\"echo hello from sh\", \"r\"): sh's stdout is our pipe\n");
    if ((f = mypopen("echo hello from sh", "r")) == NULL)
        die_errno("mypopen");
    while (fgets(line, sizeof line, f) != NULL)
        printf("[parent] read: %s", line);
    demo_close(f);

    printf("[parent] mypopen(\"sed 's/^/[child] got: /'\", \"w\"): sed's stdin is our pipe\n");
    if ((f = mypopen("sed 's/^/[child] got: /'", "w")) == NULL)
        die_errno("mypopen");
    fputs("a line written into the pipe\n", f);
    demo_close(f); /* closing our end is sed's EOF; it prints, then exits */

    printf("[parent] mypopen(\"exit 3\", \"r\"): the status comes back through waitpid()\n");
    if ((f = mypopen("exit 3", "r")) == NULL)
        die_errno("mypopen");
    demo_close(f);

    printf("[parent] mypopen(\"kill -TERM $$\", \"r\"): a shell killed by a signal\n");
    if ((f = mypopen("kill -TERM $$", "r")) == NULL)
        die_errno("mypopen");
    demo_close(f);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int status;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    /* '+': options end at MODE, so COMMAND may start with '-'. */
    while (cli_getopt(argc, argv, "+h", longopts, usage) != -1)
        ;
    if (optind == argc) {
        demo();
        return 0;
    }
    if (argc - optind != 2)
        die_usage(usage, "expected MODE and COMMAND, got %d operand(s)", argc - optind);
    if (strcmp(argv[optind], "r") == 0)
        status = run_reader(argv[optind + 1]);
    else if (strcmp(argv[optind], "w") == 0)
        status = run_writer(argv[optind + 1]);
    else
        die_usage(usage, "MODE must be r or w, not '%s'", argv[optind]);
    if (status == -1)
        die_errno("mypclose");
    fprintf(stderr, "mypclose returned %d\n", status);
    return as_sh_reports(status);
}
