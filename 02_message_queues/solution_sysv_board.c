/* solution_sysv_board.c - exercise 2: a System V message board, each reader gets only its posts
 *
 * The board reads posts "R TEXT" from standard input and sends each one into
 * a single private System V queue with mtype = R.  N reader processes share
 * the queue; reader R asks msgrcv() for type R only, so it never sees
 * another reader's post, and writes its texts to reader-R.txt in the order
 * they came.  At end of input each reader gets a closing message, reports
 * its count, and the board removes the queue.
 *
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_sysv_board [--readers N] < posts.txt    (N from 1 to 8, default 3)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--readers N] < POSTS    (N from 1 to 8, default 3)";

enum { MAX_READERS = 8, TEXT_MAX = 200 };

/* kind 'p' is a post, kind 'e' the end; the text may hold any byte but '\n'.
 * One byte more than a text needs: the reader puts its '\n' there. */
struct post {
    long mtype; /* the reader */
    char kind;
    char text[TEXT_MAX + 1];
};
#define BODY_MAX (1 + TEXT_MAX) /* what msgsnd() and msgrcv() count: kind and text */

static pid_t readers[MAX_READERS];
static int nreaders;

static noreturn void run_reader(int msqid, long r)
{
    char path[32];
    struct post p;
    long count = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "reader-%ld.txt", r);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) == -1)
        die_errno("open %s", path);
    for (;;) {
        if ((n = msgrcv(msqid, &p, BODY_MAX, r, 0)) == -1)
            die_errno("reader %ld: msgrcv", r);
        if (n < 1 || p.kind == 'e')
            break;
        p.text[n - 1] = '\n'; /* after the n - 1 bytes of text */
        if (write_full(fd, p.text, (size_t)n) == -1)
            die_errno("write %s", path);
        count++;
    }
    if (close(fd) == -1)
        die_errno("close %s", path);
    printf("reader %ld: %ld messages\n", r, count);
    exit(0);
}

/* "R TEXT": R from 1 to nreaders, one space, at most TEXT_MAX bytes of text.
 * Fills *p and returns the text's length, or -1. */
static ssize_t parse_post(const char *line, size_t len, struct post *p)
{
    size_t digits = 0;
    long r = 0;

    while (digits < len && digits < 2 && line[digits] >= '0' && line[digits] <= '9')
        r = r * 10 + (line[digits++] - '0');
    if (digits == 0 || digits >= len || line[digits] != ' ' || r < 1 || r > nreaders ||
        len - digits - 1 > TEXT_MAX)
        return -1;
    p->mtype = r;
    p->kind = 'p';
    memcpy(p->text, line + digits + 1, len - digits - 1);
    return (ssize_t)(len - digits - 1);
}

static void post_all(int msqid)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len, text_len;
    struct post p;

    while ((len = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        if (line[len - 1] == '\n')
            len--;
        if ((text_len = parse_post(line, (size_t)len, &p)) == -1) {
            warn_msg("line %zu: skipped", lineno);
            continue;
        }
        if (msgsnd(msqid, &p, 1 + (size_t)text_len, 0) == -1) /* the kind and the text */
            die_errno("msgsnd");
    }
    if (ferror(stdin))
        die_errno("read standard input");
    free(line);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"readers", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int msqid, failed = 0;
    sigset_t saved;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    nreaders = 3;
    while ((c = cli_getopt(argc, argv, "r:h", longopts, usage)) != -1)
        nreaders = (int)cli_long(optarg, 1, MAX_READERS, "--readers", usage);
    cli_no_operands(argc, argv, usage);

    msqid = sysv_msg_create();
    printf("[board] msqid %d, %d readers\n", msqid, nreaders);
    /* On SIGINT or SIGTERM the registry stops and reaps the readers, then removes the
     * queue, and the board dies of the signal. */
    stop_signals_hold(&saved); /* until the readers are registered */
    for (int i = 0; i < nreaders; i++) {
        if ((readers[i] = fork_or_die()) == 0) {
            signal(SIGINT, SIG_DFL); /* the board's handler is not the reader's */
            signal(SIGTERM, SIG_DFL);
            stop_signals_release(&saved);
            run_reader(msqid, i + 1);
        }
        if (cleanup_add_child(readers[i]) == -1)
            die_errno("cleanup_add_child");
    }
    stop_signals_release(&saved);

    post_all(msqid);
    for (int i = 0; i < nreaders; i++) {
        struct post end = {.mtype = i + 1, .kind = 'e'};

        if (msgsnd(msqid, &end, 1, 0) == -1)
            die_errno("msgsnd");
    }
    for (int i = 0; i < nreaders; i++)
        failed |= reap_quietly(readers[i]) != 0;
    return failed ? 1 : 0; /* exit() removes the queue */
}
