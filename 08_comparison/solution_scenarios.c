/* solution_scenarios.c - a questionnaire: one scenario per line, the mechanism for each
 *
 * Exercise 3 (intermediate): each line of stdin describes a scenario as answers to the
 * questions of basic_choose_ipc's tree, "key=yes" or "key=no" separated by blanks; the
 * program walks the same tree and prints the recommended mechanism per line, or an error that
 * names what is wrong with that line, and goes on.  Answers off the scenario's path are
 * ignored; a question on it left unanswered is an error.  The tree is a table, as in
 * basic_choose_ipc.  Exit 0 when every scenario was answered, 1 when a line had an error.
 * Guide part: exercise 3 (intermediate).
 * Run: printf 'network=no bulk=no fds=yes\n' | ./solution_scenarios
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] = "< scenarios (one per line: key=yes|no ...)";

struct node {
    const char *key;    /* a question, NULL for a leaf */
    int yes, no;        /* next nodes */
    const char *answer; /* a leaf's mechanism */
};

static const struct node tree[] = {
    /* 0 */ {"network", 1, 2, NULL},
    /* 1 */ {NULL, 0, 0, "tcp"},
    /* 2 */ {"bulk", 3, 6, NULL},
    /* 3 */ {"one-way", 4, 5, NULL},
    /* 4 */ {NULL, 0, 0, "shm-ring"},
    /* 5 */ {NULL, 0, 0, "shm-locks"},
    /* 6 */ {"fds", 7, 8, NULL},
    /* 7 */ {NULL, 0, 0, "unix-scm-rights"},
    /* 8 */ {"priorities", 9, 10, NULL},
    /* 9 */ {NULL, 0, 0, "message-queue"},
    /* 10 */ {"persistent", 11, 12, NULL},
    /* 11 */ {NULL, 0, 0, "posix-mq"},
    /* 12 */ {"related", 13, 16, NULL},
    /* 13 */ {"boundaries", 14, 15, NULL},
    /* 14 */ {NULL, 0, 0, "seqpacket"},
    /* 15 */ {NULL, 0, 0, "pipe"},
    /* 16 */ {"many-clients", 17, 18, NULL},
    /* 17 */ {NULL, 0, 0, "unix-stream"},
    /* 18 */ {NULL, 0, 0, "fifo"},
};
#define NODES ((int)(sizeof tree / sizeof tree[0]))

static int question(const char *key, size_t len)
{
    for (int i = 0; i < NODES; i++)
        if (tree[i].key != NULL && strlen(tree[i].key) == len &&
            strncmp(tree[i].key, key, len) == 0)
            return i;
    return -1;
}

/* Answers one line: prints the mechanism, or the line's first error; returns true if answered. */
static bool scenario(long lineno, char *line)
{
    int answer[NODES], node = 0;
    char *token, *rest = line;

    for (int i = 0; i < NODES; i++)
        answer[i] = -1;
    while ((token = strsep(&rest, " \t")) != NULL) {
        char *eq = strchr(token, '=');
        int q, yes;

        if (*token == '\0')
            continue; /* several blanks in a row */
        if (eq == NULL) {
            printf("[scenario %ld] error: malformed token %s\n", lineno, token);
            return false;
        }
        q = question(token, (size_t)(eq - token));
        if (q == -1) {
            printf("[scenario %ld] error: unknown question %.*s\n", lineno, (int)(eq - token),
                   token);
            return false;
        }
        if (strcmp(eq + 1, "yes") == 0)
            yes = 1;
        else if (strcmp(eq + 1, "no") == 0)
            yes = 0;
        else {
            printf("[scenario %ld] error: bad answer for %s: %s\n", lineno, tree[q].key, eq + 1);
            return false;
        }
        if (answer[q] != -1) {
            printf("[scenario %ld] error: %s given twice\n", lineno, tree[q].key);
            return false;
        }
        answer[q] = yes;
    }
    while (tree[node].key != NULL) {
        if (answer[node] == -1) {
            printf("[scenario %ld] error: unanswered %s\n", lineno, tree[node].key);
            return false;
        }
        node = answer[node] ? tree[node].yes : tree[node].no;
    }
    printf("[scenario %ld] %s\n", lineno, tree[node].answer);
    return true;
}

int main(int argc, char *argv[])
{
    long lineno = 0, answered = 0, errors = 0;
    char *line = NULL;
    size_t size = 0;
    ssize_t len;

    cli_no_options(argc, argv, usage);
    while ((len = getline(&line, &size, stdin)) != -1) {
        lineno++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (line[strspn(line, " \t")] == '\0' && strlen(line) == (size_t)len)
            continue; /* blank lines count as lines, and say nothing */
        if (line[strspn(line, " \t")] == '#')
            continue; /* so do comments */
        if (strlen(line) != (size_t)len) {
            printf("[scenario %ld] error: a NUL byte in the line\n", lineno);
            errors++;
        } else if (scenario(lineno, line))
            answered++;
        else
            errors++;
    }
    free(line);
    if (ferror(stdin))
        die_errno("read stdin");
    printf("[scenarios] %ld answered, %ld errors\n", answered, errors);
    return errors == 0 ? 0 : 1;
}
