/* basic_pipeline.c - a shell pipeline built from pipe, fork, dup2 and execvp
 *
 * This is what a shell does for `printf | sort | uniq -c | sort -rn`: one
 * pipe between each pair of neighbours, one fork per command, dup2() to put
 * the pipe ends on the child's descriptors 0 and 1, then execvp().  Every
 * process must close the pipe ends it does not use: a stray write end kept
 * open anywhere means the next stage never sees EOF and the pipeline hangs.
 * The last stage writes into one more pipe, read by the parent.
 *
 * Guide part: theory (pipes: building a shell pipeline with dup2 and exec).
 * Run: ./basic_pipeline [--top N]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--top N]    (append `head -n N`, N from 1 to 100)";

#define MAX_STAGES 5

struct stage {
    char **argv;
    pid_t pid;
};

/* Word counts 4, 3, 2, 1: no ties, so `sort -rn` has one right answer. */
static char *words[] = {"printf", "%s\\n", "pipe", "fork", "pipe", "dup2", "exec",
                        "pipe",   "fork",  "dup2", "pipe", "fork", NULL};
static char *sort_words[] = {"sort", NULL};
static char *count[] = {"uniq", "-c", NULL};
static char *by_count[] = {"sort", "-rn", NULL};

/* In the child: wire descriptors 0 and 1, drop every other pipe end, exec. */
static noreturn void exec_stage(char **argv, int in_fd, int out_fd, int unused_fd)
{
    if (in_fd != -1) {
        if (dup2(in_fd, STDIN_FILENO) == -1)
            die_errno("dup2 stdin");
        close(in_fd); /* now reachable as fd 0; a second copy would only leak */
    }
    if (dup2(out_fd, STDOUT_FILENO) == -1)
        die_errno("dup2 stdout");
    close(out_fd);
    close(unused_fd); /* the read end of our own output pipe belongs to the next stage */
    execvp(argv[0], argv);
    int err = errno;

    warn_errno("execvp %s", argv[0]);
    /* The shell's statuses: 127 when the command was not found, 126 when it was found but
     * could not be run (no execute permission, not an executable format).  execvp() also
     * says EACCES for an unsearchable directory in PATH, so a shell that must be exact
     * searches PATH itself, as solution_pipeline does. */
    _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}

/* Start every stage; returns the read end of the last stage's output. */
static int start_stages(struct stage *stages, int n)
{
    int in_fd = -1; /* the first stage reads our own stdin */

    for (int i = 0; i < n; i++) {
        int fds[2];

        if (pipe(fds) == -1)
            die_errno("pipe");
        stages[i].pid = fork_or_die();
        if (stages[i].pid == 0)
            exec_stage(stages[i].argv, in_fd, fds[1], fds[0]);

        printf("[parent] stage %d (%s) started as pid %d, stdout into pipe %d%s\n", i + 1,
               stages[i].argv[0], (int)stages[i].pid, i + 1,
               i == n - 1 ? ", which the parent reads" : "");
        /* The child has its own copies now.  Ours must go: the write end
         * would keep the next stage from ever seeing EOF. */
        if (in_fd != -1)
            close(in_fd);
        close(fds[1]);
        printf("[parent] closed its write end of pipe %d%s\n", i + 1,
               i > 0 ? " and its read end of the pipe before" : "");
        in_fd = fds[0];
    }
    return in_fd;
}

/* The output is four short lines: read_full() reads until EOF, which comes
 * only once the last stage has exited or closed its stdout. */
static void show_output(int read_fd)
{
    char buf[1024];
    ssize_t len = read_full(read_fd, buf, sizeof buf - 1);

    if (len == -1)
        die_errno("read from the last pipe");
    buf[len] = '\0';
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
        printf("[pipeline] %s\n", line);
    printf("[parent] EOF on the last pipe: the final stage has closed its stdout\n");
    close(read_fd);
}

static void reap_stages(const struct stage *stages, int n)
{
    for (int i = 0; i < n; i++) {
        int status;

        if (waitpid(stages[i].pid, &status, 0) == -1)
            die_errno("waitpid");
        printf("[parent] reaped stage %d (%s): %s\n", i + 1, stages[i].argv[0],
               fmt_wait_status(status).s);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"top", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct stage stages[MAX_STAGES] = {
        {.argv = words},
        {.argv = sort_words},
        {.argv = count},
        {.argv = by_count},
    };
    char top_arg[24], *head[] = {"head", "-n", top_arg, NULL};
    long top = 0;
    int n = 4, c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:h", longopts, usage)) != -1)
        if (c == 't')
            top = cli_long(optarg, 1, 100, "--top", usage);
    cli_no_operands(argc, argv, usage);
    if (top > 0) {
        snprintf(top_arg, sizeof top_arg, "%ld", top);
        stages[n++].argv = head;
    }

    printf("[parent] pipeline: printf '%%s\\n' WORDS... | sort | uniq -c | sort -rn%s%s\n",
           n > 4 ? " | head -n " : "", n > 4 ? top_arg : "");
    show_output(start_stages(stages, n));
    reap_stages(stages, n);
    return 0;
}
