/* solution_pipeline.c - an N-command pipeline from argv, with sh's exit status
 *
 * The worked answer to the chapter's pipeline exercise.  Each `|` argument
 * separates two commands; they run connected by pipes, the first reading
 * our stdin and the last writing our stdout, which carries nothing else.
 * Like sh without pipefail, the pipeline's status is the LAST command's:
 * its exit status, or 128+N when signal N killed it; 127 when it could not
 * be found.  A failing earlier stage does not change the result.
 *
 * Guide part: exercise 2 (intermediate: an N-command pipeline).
 * Run: ./solution_pipeline                                   (demo)
 *      ./solution_pipeline printf 'b\na\nb\n' '|' sort '|' uniq -c; echo $?
 */
#define _GNU_SOURCE /* pipe2() */
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[CMD [ARG...] ['|' CMD [ARG...]]...]    (no command: demo)";

/* Turns argv[first..argc) into commands in place: each "|" becomes the NULL
 * that ends the command before it, so every cmds[i] is a ready execvp argv. */
static int split_commands(int argc, char *argv[], int first, char **cmds[])
{
    int n = 0, start = first;

    for (int i = first; i <= argc; i++) {
        if (i < argc && strcmp(argv[i], "|") != 0)
            continue;
        if (i == start)
            die_usage(usage, "missing command %s '|'", i == argc ? "after" : "before");
        cmds[n++] = &argv[start];
        if (i < argc)
            argv[i] = NULL;
        start = i + 1;
    }
    return n;
}

/* The shell's rule for a command that exec could not run: 127 if no file of
 * that name exists (searching every PATH directory, past one it may not
 * enter), 126 if one exists but cannot be executed.  execvp() alone cannot
 * tell: it reports EACCES if any directory of PATH was unsearchable. */
static bool command_exists(const char *name)
{
    const char *path = getenv("PATH");
    char file[PATH_MAX];

    if (strchr(name, '/') != NULL)
        return access(name, F_OK) == 0;
    for (const char *dir = path != NULL ? path : "/usr/bin:/bin"; *dir != '\0';) {
        size_t len = strcspn(dir, ":");

        snprintf(file, sizeof file, "%.*s/%s", (int)len, len > 0 ? dir : ".", name);
        if (access(file, F_OK) == 0)
            return true;
        dir += len + (dir[len] == ':');
    }
    return false;
}

/* In the child.  The pipe ends are close-on-exec, so exec itself drops every
 * copy this stage does not own; only the two dup2() copies survive it. */
static noreturn void run_stage(char **argv, int in_fd, int out_fd)
{
    bool exists;

    if (in_fd != STDIN_FILENO && dup2(in_fd, STDIN_FILENO) == -1)
        die_errno("dup2 stdin");
    if (out_fd != STDOUT_FILENO && dup2(out_fd, STDOUT_FILENO) == -1)
        die_errno("dup2 stdout");
    execvp(argv[0], argv);
    if (errno == EACCES && !command_exists(argv[0]))
        errno = ENOENT; /* only an unsearchable PATH directory said EACCES */
    exists = errno != ENOENT;
    warn_errno("%s", argv[0]);
    close_range(STDERR_FILENO + 1, ~0U, 0); /* what the exec would have closed */
    _exit(exists ? 126 : 127);              /* sh: not executable / not found */
}

/* Waits for every stage; returns the last one's status in sh's terms. */
static int wait_stages(char **cmds[], const pid_t *pids, int n, bool narrate)
{
    int result = 0;

    for (int i = 0; i < n; i++) {
        int status, code;

        while (waitpid(pids[i], &status, 0) == -1)
            if (errno != EINTR)
                die_errno("waitpid");
        code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        if (narrate)
            printf("[demo] stage %d (%s): %s, counts as %d\n", i + 1, cmds[i][0],
                   fmt_wait_status(status).s, code);
        result = code;
    }
    return result;
}

/* A pipe or fork failed part way: stop the stages already running (one of
 * them may be waiting for input that will never come) and reap them. */
static noreturn void abandon(const pid_t *pids, int started, int in_fd)
{
    if (in_fd != STDIN_FILENO)
        close(in_fd);
    for (int i = 0; i < started; i++) {
        kill(pids[i], SIGTERM);
        (void)waitpid(pids[i], NULL, 0);
    }
    exit(1);
}

/* Starts the n stages: stdin of the first is ours, stdout of the last is
 * out_fd. */
static void start_stages(char **cmds[], pid_t *pids, int n, int out_fd)
{
    int in_fd = STDIN_FILENO;

    for (int i = 0; i < n; i++) {
        int fds[2] = {-1, out_fd};
        bool last = i == n - 1;

        if (!last && pipe2(fds, O_CLOEXEC) == -1) {
            warn_errno("pipe");
            abandon(pids, i, in_fd);
        }
        fflush(stdout); /* or the child inherits unflushed output and prints it twice */
        pids[i] = fork();
        if (pids[i] == -1) {
            warn_errno("fork");
            if (!last) {
                close(fds[0]);
                close(fds[1]);
            }
            abandon(pids, i, in_fd);
        }
        if (pids[i] == 0)
            run_stage(cmds[i], in_fd, fds[1]);
        /* Our copies must go now: a write end left open here would keep
         * the next stage from ever seeing EOF. */
        if (in_fd != STDIN_FILENO)
            close(in_fd);
        if (!last)
            close(fds[1]);
        in_fd = fds[0];
    }
}

/* ---- the demo: each pipeline's output comes back through one more pipe,
 * so every line we print keeps a [role] prefix. ---- */

static char *words[] = {"printf", "%s\\n", "pipe", "fork", "pipe", "exec", NULL};
static char *sort_cmd[] = {"sort", NULL};
static char *uniq_cmd[] = {"uniq", "-c", NULL};
static char *true_cmd[] = {"true", NULL};
static char *false_cmd[] = {"false", NULL};
static char *suicide[] = {"sh", "-c", "kill -KILL $$", NULL};

struct demo_case {
    const char *text;
    char **cmds[3];
    int n;
};

static void demo_run(const struct demo_case *dc)
{
    char **cmds[3], *line = NULL;
    pid_t pids[3] = {0};
    size_t cap = 0;
    int out[2];
    FILE *in;

    memcpy(cmds, dc->cmds, sizeof cmds);
    printf("[demo] running: %s\n", dc->text);
    if (pipe2(out, O_CLOEXEC) == -1)
        die_errno("pipe");
    start_stages(cmds, pids, dc->n, out[1]);
    close(out[1]);
    if ((in = fdopen(out[0], "r")) == NULL)
        die_errno("fdopen");
    while (getline(&line, &cap, in) > 0)
        printf("[pipeline] %.*s\n", (int)strcspn(line, "\n"), line);
    free(line);
    fclose(in);
    printf("[demo] pipeline status %d\n", wait_stages(cmds, pids, dc->n, true));
}

static void demo(void)
{
    static const struct demo_case cases[] = {
        {"printf '%s\\n' pipe fork pipe exec | sort | uniq -c", {words, sort_cmd, uniq_cmd}, 3},
        {"true | false", {true_cmd, false_cmd}, 2},
        {"false | true", {false_cmd, true_cmd}, 2},
        {"true | sh -c 'kill -KILL $$'", {true_cmd, suicide}, 2},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        demo_run(&cases[i]);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char ***cmds;
    pid_t *pids;
    int n, status;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    /* '+': options end at the first command, so `sort -r` keeps its -r. */
    while (cli_getopt(argc, argv, "+h", longopts, usage) != -1)
        ;
    if (optind == argc) {
        demo();
        return 0;
    }
    cmds = calloc((size_t)(argc - optind), sizeof *cmds);
    pids = calloc((size_t)(argc - optind), sizeof *pids);
    if (cmds == NULL || pids == NULL)
        die_errno("calloc");
    n = split_commands(argc, argv, optind, cmds);
    start_stages(cmds, pids, n, STDOUT_FILENO);
    status = wait_stages(cmds, pids, n, false);
    free(cmds);
    free(pids);
    return status;
}
