/* pitfall_epoll_edge_triggered.c - one read() per EPOLLET event strands data in the pipe
 *
 * With EPOLLET, epoll_wait() reports a pipe when data *arrives*, not while data is *there*.
 * A reader that reads one record per event leaves the rest queued, and no event comes for it
 * until the next write.  The kernel hides the bug while data keeps flowing (anon_pipe_write()
 * wakes epoll waiters on every write, even into a non-empty pipe), so it bites when the
 * writer stops to wait for an answer: both sides wait for ever.  Here the writer sends three
 * records in one write() and waits for the reader's reply.  --fixed: after each event, read
 * until EAGAIN (or use level-triggered epoll, the default).
 * Guide part: pitfall (epoll on pipes: edge-triggered readiness).
 * Run: ./pitfall_epoll_edge_triggered [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define RECORDS 3
#define RECORD 1000 /* bytes; all three fit in the pipe and in one atomic write() */
#define WAIT_MS 300

static const char usage[] = "[--fixed]";

/* The writer: a batch of records in one write(), then it waits for the reader's answer. */
static noreturn void run_writer(int data_fd, int reply_fd)
{
    char batch[RECORDS * RECORD], answer[32];
    struct pollfd p = {.fd = reply_fd, .events = POLLIN};
    ssize_t n;

    for (int r = 0; r < RECORDS; r++) {
        memset(batch + r * RECORD, 'a' + r, RECORD);
        snprintf(batch + r * RECORD, RECORD, "record %d", r + 1);
    }
    printf("[writer] sending %d records of %d bytes in one write(), then waiting for the "
           "reader's answer\n",
           RECORDS, RECORD);
    if (write_full(data_fd, batch, sizeof batch) == -1)
        die_errno("writer: write");
    if (poll(&p, 1, 5000) != 1)
        die("writer: no answer within 5 s");
    if ((n = read(reply_fd, answer, sizeof answer - 1)) <= 0) /* the reader is gone */
        exit(1);
    answer[n] = '\0';
    printf("[writer] the reader answered \"%s\"\n", answer);
    close(data_fd);
    close(reply_fd);
    exit(0);
}

/* Read what is there: once (the mistake) or until EAGAIN (the fix).  Returns records read. */
static int on_event(int fd, bool fixed)
{
    char record[RECORD];
    int got = 0;

    for (;;) {
        ssize_t n = read_full(fd, record, RECORD); /* one whole record, or EAGAIN */

        if (n == -1 && errno == EAGAIN)
            break;
        if (n != RECORD)
            die_errno("reader: read a record");
        printf("[reader] read \"%s\"\n", record);
        got++;
        if (!fixed)
            break; /* THE MISTAKE: one record per event */
    }
    if (fixed)
        printf("[reader] read() failed with EAGAIN: the pipe is empty, the next event means "
               "new data\n");
    return got;
}

int main(int argc, char *argv[])
{
    int data[2], reply[2], ep, got = 0, queued;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET};
    bool fixed;
    pid_t writer;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(data) == -1 || pipe(reply) == -1)
        die_errno("pipe");
    if ((writer = fork_or_die()) == 0) {
        close(data[0]);
        close(reply[1]);
        run_writer(data[1], reply[0]);
    }
    close(data[1]);
    close(reply[0]);
    /* Edge-triggered readiness needs a non-blocking descriptor: the loop ends on EAGAIN. */
    if (set_nonblocking(data[0], true) == -1)
        die_errno("fcntl O_NONBLOCK");
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
        die_errno("epoll_create1");
    ev.data.fd = data[0];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, data[0], &ev) == -1)
        die_errno("epoll_ctl");
    printf("[reader] the pipe's read end is in an epoll set with EPOLLIN | EPOLLET; %s\n",
           fixed ? "each event is drained until EAGAIN" : "one record per event");

    while (got < RECORDS) {
        struct epoll_event out;
        int n = epoll_wait(ep, &out, 1, WAIT_MS);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("epoll_wait");
        if (n == 1) {
            printf("[reader] epoll_wait: EPOLLIN\n");
            got += on_event(data[0], fixed);
            continue;
        }
        if (ioctl(data[0], FIONREAD, &queued) == -1)
            die_errno("ioctl FIONREAD");
        printf("[reader] epoll_wait timed out after %d ms, yet FIONREAD says %d bytes wait in "
               "the pipe: stranded, the event for them came and went\n",
               WAIT_MS, queued);
        printf("[reader] the writer waits for my answer, I wait for an event: giving up after "
               "%d of %d records\n",
               got, RECORDS);
        break;
    }
    if (got == RECORDS) {
        printf("[reader] all %d records read: answering the writer\n", RECORDS);
        if (write_str(reply[1], "got all 3") == -1)
            die_errno("write the answer");
    } else {
        printf("[reader] stopping the writer (pid %d) with SIGTERM\n", (int)writer);
        kill(writer, SIGTERM);
    }
    close(reply[1]);
    close(data[0]);
    close(ep);
    int status = reap_child(writer, "reader");
    if (!fixed && got == RECORDS)
        die("every record arrived: no symptom to show");
    return fixed && status != 0 ? 1 : 0;
}
