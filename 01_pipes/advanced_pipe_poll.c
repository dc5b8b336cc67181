/* advanced_pipe_poll.c - one reader, several producer pipes, multiplexed with poll()
 *
 * Each child gets its own pipe and writes a few messages at its own pace.
 * The reader cannot block in read() on any one pipe: the others would wait.
 * poll() tells which pipes have data (POLLIN) and which have lost their last
 * writer (POLLHUP).  POLLHUP can come together with POLLIN when a child wrote
 * and exited before the reader looked, so the reader always reads first and
 * treats only read() == 0 as the end; then it drops that fd from the set.
 *
 * Guide part: theory (multiplexing pipes: POLLIN, POLLHUP and EOF).
 * Run: ./advanced_pipe_poll [--children N] [--messages M]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 16

static const char usage[] =
    "[--children N] [--messages M]    (N from 1 to 16, default 4; M from 1 to 20, default 3)";

struct producer {
    int id; /* 1..N, for the narration */
    pid_t pid;
    unsigned messages; /* how many the reader has received */
};

/* Child `id` sleeps (id - 1) * 25 ms between messages: child 1 writes in a burst. */
static unsigned pace_ms(int id)
{
    return (unsigned)(id - 1) * 25;
}

static void run_producer(int id, int fd, long messages)
{
    char msg[64];

    for (long m = 1; m <= messages; m++) {
        int len = snprintf(msg, sizeof msg, "message %ld of %ld from child %d\n", m, messages, id);

        /* Shorter than PIPE_BUF, so each write lands in the pipe whole. */
        if (write_full(fd, msg, (size_t)len) == -1)
            die_errno("child %d: write", id);
        if (m < messages)
            sleep_ms(pace_ms(id));
    }
    printf("[child %d] sent %ld messages, closing its write end and exiting\n", id, messages);
    close(fd);
}

static pid_t spawn_producer(int id, long messages, struct pollfd *set, int already)
{
    int fds[2];
    pid_t pid;

    if (pipe(fds) == -1)
        die_errno("pipe");
    pid = fork_or_die();
    if (pid == 0) {
        /* The read ends of earlier siblings are of no use here. */
        for (int i = 0; i < already; i++)
            close(set[i].fd);
        close(fds[0]);
        run_producer(id, fds[1], messages);
        exit(0);
    }
    /* Closed now, before the next fork: a later child holding this write
     * end would delay this pipe's EOF until that child exited too. */
    close(fds[1]);
    set[already] = (struct pollfd){.fd = fds[0], .events = POLLIN};
    return pid;
}

static const char *event_names(short revents)
{
    if ((revents & POLLIN) && (revents & POLLHUP))
        return "POLLIN|POLLHUP together: the child is gone but its data is still in the pipe, read it first";
    if (revents & POLLIN)
        return "POLLIN";
    if (revents & POLLHUP)
        return "POLLHUP alone: the pipe is drained and has no writer left";
    return "POLLERR";
}

/* Read what one pipe offers.  Returns false once it reached EOF. */
static bool drain_one(struct pollfd *p, struct producer *src)
{
    char buf[4096]; /* larger than all of one child's messages together */
    ssize_t n;

    printf("[reader] child %d (fd %d): %s\n", src->id, p->fd, event_names(p->revents));
    n = read(p->fd, buf, sizeof buf);
    if (n == -1)
        die_errno("read from child %d", src->id);
    if (n == 0) {
        printf("[reader] child %d (fd %d): read() returned 0, EOF after %u messages: its write end "
               "is closed; closing our read end and removing it from the poll set\n",
               src->id, p->fd, src->messages);
        close(p->fd);
        return false;
    }
    /* One read may hold several messages: the child wrote faster than we looked. */
    for (char *line = buf, *end; line < buf + n; line = end + 1) {
        end = memchr(line, '\n', (size_t)(buf + n - line));
        if (end == NULL)
            end = buf + n;
        printf("[reader] child %d (fd %d): got \"%.*s\"\n", src->id, p->fd, (int)(end - line),
               line);
        src->messages++;
    }
    return true;
}

/* set[i] and src[i] describe the same pipe; both shrink together. */
static unsigned event_loop(struct pollfd *set, struct producer **src, int nfds)
{
    unsigned polls = 0;

    while (nfds > 0) {
        int ready = poll(set, (nfds_t)nfds, 2000);

        if (ready == -1)
            die_errno("poll");
        if (ready == 0)
            die("no producer made progress for 2 s");
        polls++;
        /* Backwards, so moving the last entry into a freed slot skips nothing. */
        for (int i = nfds - 1; i >= 0; i--) {
            if (set[i].revents & POLLNVAL)
                die("fd %d is not open", set[i].fd);
            if (set[i].revents == 0 || drain_one(&set[i], src[i]))
                continue;
            nfds--;
            set[i] = set[nfds];
            src[i] = src[nfds];
        }
    }
    return polls;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"children", required_argument, NULL, 'c'},
        {"messages", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct pollfd set[MAX_CHILDREN];
    struct producer all[MAX_CHILDREN], *src[MAX_CHILDREN];
    long children = 4, messages = 3;
    unsigned polls, total = 0;
    siginfo_t info;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "c:m:h", longopts, usage)) != -1) {
        if (c == 'c')
            children = cli_long(optarg, 1, MAX_CHILDREN, "--children", usage);
        else if (c == 'm')
            messages = cli_long(optarg, 1, 20, "--messages", usage);
    }
    cli_no_operands(argc, argv, usage);

    for (int i = 0; i < children; i++) {
        all[i] = (struct producer){.id = i + 1, .messages = 0};
        all[i].pid = spawn_producer(i + 1, messages, set, i);
        src[i] = &all[i];
        if (pace_ms(i + 1) == 0)
            printf("[reader] child %d: pid %d, read end fd %d, writes all its messages at once\n",
                   i + 1, (int)all[i].pid, set[i].fd);
        else
            printf("[reader] child %d: pid %d, read end fd %d, one message every %u ms\n", i + 1,
                   (int)all[i].pid, set[i].fd, pace_ms(i + 1));
    }
    /* WNOWAIT waits for child 1 to exit without reaping it, so its pipe
     * holds data *and* has no writer when the first poll() looks. */
    if (waitid(P_PID, (id_t)all[0].pid, &info, WEXITED | WNOWAIT) == -1)
        die_errno("waitid");
    printf("[reader] child 1 has already exited (not reaped yet); now polling %ld pipes\n",
           children);

    polls = event_loop(set, src, (int)children);
    for (int i = 0; i < children; i++) {
        reap_child(all[i].pid, "reader");
        total += all[i].messages;
    }
    if (total != (unsigned)(children * messages))
        die("received %u messages, expected %ld", total, children * messages);
    printf("[reader] all %ld producers done: %u messages in %u poll() calls\n", children, total,
           polls);
    return 0;
}
