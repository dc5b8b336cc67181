/* advanced_mq_poll.c - queue descriptors are file descriptors: one epoll loop, three queues, a pipe
 *
 * POSIX leaves mqd_t opaque; on Linux it is a file descriptor, and the mqueue
 * file system gives it a poll method: readable (EPOLLIN) while a message is
 * queued, writable (EPOLLOUT) while there is room.  So one epoll loop can wait
 * on several queues and on pipes or sockets at once, with no thread per queue.
 * Three producers feed three queues at different paces; a control process
 * sends commands down a pipe; the loop serves whichever is ready and ends
 * when every producer's queue is done and the pipe is at EOF.
 *
 * Guide part: theory (message queues: multiplexing with poll/epoll, Linux).
 * Run: ./advanced_mq_poll
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char usage[] = "";

enum { QUEUES = 3, MESSAGES = 3, MAXMSG = 2, MSGSIZE = 64 };

static char names[QUEUES][64];

/* What poll() says about a queue descriptor: mqueue_poll_file() in ipc/mqueue.c. */
static void show_poll(mqd_t mq, const char *when)
{
    struct pollfd pfd = {.fd = mq, .events = POLLIN | POLLOUT};

    if (poll(&pfd, 1, 0) == -1)
        die_errno("poll");
    printf("[loop] poll() on %-22s %s%s%s\n", when, (pfd.revents & POLLIN) ? "POLLIN" : "",
           (pfd.revents & POLLIN) && (pfd.revents & POLLOUT) ? "|" : "",
           (pfd.revents & POLLOUT) ? "POLLOUT" : "");
}

static void poll_states(mqd_t mq)
{
    char buf[MSGSIZE];

    show_poll(mq, "an empty queue:");
    for (int i = 0; i < MAXMSG; i++) {
        if (mq_send(mq, "probe", 5, 0) == -1)
            die_errno("mq_send");
        show_poll(mq, i == 0 ? "one message queued:" : "a full queue:");
    }
    while (mq_receive(mq, buf, sizeof buf, NULL) != -1)
        ; /* O_NONBLOCK: until EAGAIN */
}

/* Producer i: MESSAGES messages, one every 20 * (i + 1) ms, then "done". */
static noreturn void run_producer(int i)
{
    mqd_t mq = mq_open(names[i], O_WRONLY);
    char msg[MSGSIZE];

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", names[i]);
    for (int j = 1; j <= MESSAGES + 1; j++) {
        int len = j <= MESSAGES ? snprintf(msg, sizeof msg, "message %d of producer %d", j, i + 1)
                                : snprintf(msg, sizeof msg, "done");

        sleep_ms(20u * (unsigned)(i + 1));
        if (mq_send(mq, msg, (size_t)len, 0) == -1)
            die_errno("mq_send");
    }
    mq_close(mq);
    exit(0);
}

static noreturn void run_control(int write_fd)
{
    sleep_ms(50);
    printf("[control] writing \"report\" to the pipe\n");
    if (write_str(write_fd, "report\n") == -1)
        die_errno("write");
    sleep_ms(50);
    printf("[control] closing the pipe\n");
    close(write_fd);
    exit(0);
}

/* Serves everything ready; returns how many sources are still open. */
static int serve(int epfd, const mqd_t mq[QUEUES], int pipe_fd, int *received, int open)
{
    struct epoll_event ev[QUEUES + 1];
    char buf[MSGSIZE + 1];
    int n = epoll_wait(epfd, ev, QUEUES + 1, 5000);

    if (n <= 0)
        die_errno("epoll_wait (nothing within 5 s?)");
    for (int k = 0; k < n; k++) {
        int src = ev[k].data.u32;
        ssize_t len;

        if (src == QUEUES) { /* the pipe */
            if ((len = read(pipe_fd, buf, MSGSIZE)) > 0) {
                printf("[loop] pipe: command \"%.*s\": %d messages so far\n",
                       (int)strcspn(buf, "\n"), buf, *received);
                continue;
            }
            printf("[loop] pipe: EOF (epoll reported %s)\n",
                   (ev[k].events & EPOLLHUP) ? "EPOLLHUP: no writer left" : "EPOLLIN");
            epoll_ctl(epfd, EPOLL_CTL_DEL, pipe_fd, NULL);
            open--;
            continue;
        }
        /* O_NONBLOCK: take all that is there, then epoll_wait again. */
        while ((len = mq_receive(mq[src], buf, MSGSIZE, NULL)) != -1) {
            buf[len] = '\0';
            if (strcmp(buf, "done") == 0) {
                printf("[loop] %s: \"done\", no longer watched\n", names[src]);
                epoll_ctl(epfd, EPOLL_CTL_DEL, mq[src], NULL);
                open--;
                break;
            }
            (*received)++;
            printf("[loop] %s: \"%s\"\n", names[src], buf);
        }
        if (len == -1 && errno != EAGAIN)
            die_errno("mq_receive");
    }
    return open;
}

int main(int argc, char *argv[])
{
    pid_t producers[QUEUES], control;
    int epfd, fds[2], received = 0, open = QUEUES + 1;
    mqd_t mq[QUEUES];

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    for (int i = 0; i < QUEUES; i++) {
        snprintf(names[i], sizeof names[i], "/advanced_mq_poll.%d.q%d", (int)getpid(), i + 1);
        mq[i] = mq_create_registered(names[i], O_RDWR | O_NONBLOCK, MAXMSG, MSGSIZE);
    }
    printf("[loop] created %d queues; on Linux each mqd_t is a descriptor: %d, %d, %d\n", QUEUES,
           mq[0], mq[1], mq[2]);
    poll_states(mq[0]);

    for (int i = 0; i < QUEUES; i++)
        if ((producers[i] = fork_or_die()) == 0) {
            for (int k = 0; k < QUEUES; k++)
                mq_close(mq[k]);
            run_producer(i);
        }
    if (pipe(fds) == -1)
        die_errno("pipe");
    if ((control = fork_or_die()) == 0) {
        for (int k = 0; k < QUEUES; k++)
            mq_close(mq[k]);
        close(fds[0]);
        run_control(fds[1]);
    }
    close(fds[1]);

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
        die_errno("epoll_create1");
    for (int i = 0; i <= QUEUES; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

        if (epoll_ctl(epfd, EPOLL_CTL_ADD, i < QUEUES ? mq[i] : fds[0], &ev) == -1)
            die_errno("epoll_ctl ADD");
    }
    printf("[loop] epoll watches the %d queues and the pipe for EPOLLIN\n", QUEUES);
    while (open > 0)
        open = serve(epfd, mq, fds[0], &received, open);
    printf("[loop] all sources done: %d messages from %d queues, one thread, one epoll set\n",
           received, QUEUES);

    close(epfd);
    close(fds[0]);
    for (int i = 0; i < QUEUES; i++) {
        reap_child(producers[i], "loop");
        mq_close(mq[i]);
    }
    reap_child(control, "loop");
    return 0; /* exit() unlinks the queues */
}
