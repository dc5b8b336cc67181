/* basic_popen.c - popen() and pclose(): a pipe to or from a shell command
 *
 * popen() does pipe + fork + exec of `/bin/sh -c COMMAND` in one call and
 * hands back a stdio FILE: "r" reads the command's stdout, "w" feeds its
 * stdin.  pclose() closes the stream and waits for the shell, returning a
 * wait status like waitpid() does.  popen() succeeds even when the command
 * does not exist: that shows up only in pclose(), as exit status 127.
 *
 * Guide part: theory (pipes: popen/pclose and the command's exit status).
 * Run: ./basic_popen [--exit N]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--exit N]    (status of the failing command, 0 to 255, default 3)";

/* pclose() returns a wait status, not an exit code: decode it. */
static void report_status(const char *command, int status)
{
    if (status == -1)
        die_errno("pclose(\"%s\")", command);
    if (WIFEXITED(status))
        printf("[parent] pclose(\"%s\") = %d: exited with status %d\n", command, status,
               WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("[parent] pclose(\"%s\") = %d: killed by signal %d\n", command, status,
               WTERMSIG(status));
}

static void read_from_command(const char *command)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    FILE *in;

    fflush(stdout); /* popen forks: nothing unflushed may reach the child */
    in = popen(command, "r");
    if (in == NULL)
        die_errno("popen(\"%s\", \"r\")", command);
    printf("[parent] popen(\"%s\", \"r\"): reading its stdout\n", command);
    while ((len = getline(&line, &cap, in)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        printf("[parent] read \"%s\"\n", line);
    }
    if (ferror(in))
        die_errno("read from \"%s\"", command);
    free(line);
    printf("[parent] EOF: the command has exited or closed its stdout\n");
    report_status(command, pclose(in));
}

static void write_to_command(const char *command)
{
    static const char *const fruit[] = {"pear", "apple", "fig", "cherry"};
    FILE *out;

    fflush(stdout);
    out = popen(command, "w");
    if (out == NULL)
        die_errno("popen(\"%s\", \"w\")", command);
    printf("[parent] popen(\"%s\", \"w\"): writing to its stdin\n", command);
    for (size_t i = 0; i < sizeof fruit / sizeof fruit[0]; i++) {
        if (fprintf(out, "%s\n", fruit[i]) < 0)
            die_errno("write to \"%s\"", command);
        printf("[parent] wrote \"%s\"\n", fruit[i]);
    }
    /* sort prints nothing before EOF, and EOF comes only from pclose():
     * it flushes our buffer, closes the pipe and waits for the shell. */
    printf("[parent] calling pclose(): sort sees EOF and prints, pclose waits for it\n");
    report_status(command, pclose(out));
}

/* No output is expected here: only the status that pclose() reports. */
static void status_of(const char *command)
{
    FILE *in;

    fflush(stdout);
    in = popen(command, "r");
    if (in == NULL)
        die_errno("popen(\"%s\", \"r\")", command);
    while (fgetc(in) != EOF)
        ;
    report_status(command, pclose(in));
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"exit", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long exit_code = 3;
    char exit_command[32];
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "e:h", longopts, usage)) != -1)
        if (c == 'e')
            exit_code = cli_long(optarg, 0, 255, "--exit", usage);
    cli_no_operands(argc, argv, usage);

    read_from_command("seq 3");
    /* The shell runs the whole string: sed puts a prefix on sort's lines,
     * which go straight to our stdout, not through our FILE. */
    write_to_command("sort | sed 's/^/[sort] /'");

    printf("[parent] exit statuses through pclose():\n");
    status_of("true");
    status_of("false");
    snprintf(exit_command, sizeof exit_command, "exit %ld", exit_code);
    status_of(exit_command);
    /* popen() itself succeeds: only the shell learns the command is missing. */
    status_of("no-such-command-xyz 2>/dev/null");
    status_of("kill -KILL $$");
    return 0;
}
