/* solution_poll_chat.c - exercise 2: a chat server with poll() that broadcasts each line
 *
 * One process, one poll() loop over the listening UNIX socket and every client: each line a
 * client sends (the bytes up to and including '\n', any others included) goes to every
 * other client, never back to its sender.  Non-blocking sockets and a queue per client, so
 * a client that reads slowly only makes its own queue grow; send() with MSG_NOSIGNAL, so a
 * client gone away is dropped (EPIPE) instead of killing the server with SIGPIPE.
 * --exec runs a program beside the server and ends when it ends: the checker runs its
 * clients there (solution_poll_chat_clients).
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_poll_chat [--server | --exec PROGRAM [ARG...]]
 *      ./solution_poll_chat --server, then in other terminals: socat - UNIX-CONNECT:PATH
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CLIENTS 64
#define QUEUE_LIMIT (8u << 20) /* a client that falls this far behind is dropped */

static const char usage[] = "[--server | --exec PROGRAM [ARG...]]";

/* A growing byte buffer: a client's partial line, or the bytes it has yet to be sent. */
struct bytes {
    char *data;
    size_t len, cap;
};

struct client {
    int fd;
    struct bytes partial, queue;
};

static struct client clients[MAX_CLIENTS];
static int nclients;

static void append(struct bytes *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL)
            die("out of memory");
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Drops client i: its partial line is discarded, never broadcast. */
static void drop(int i)
{
    close(clients[i].fd);
    free(clients[i].partial.data);
    free(clients[i].queue.data);
    clients[i] = clients[--nclients];
}

/* Every complete line in `from`'s partial buffer goes to the queue of every other client. */
static void broadcast_lines(int from)
{
    struct bytes *in = &clients[from].partial;
    size_t start = 0;
    char *nl;

    while ((nl = memchr(in->data + start, '\n', in->len - start)) != NULL) {
        size_t len = (size_t)(nl - (in->data + start)) + 1;

        for (int j = 0; j < nclients; j++)
            if (j != from)
                append(&clients[j].queue, in->data + start, len);
        start += len;
    }
    memmove(in->data, in->data + start, in->len - start);
    in->len -= start;
}

/* Returns false when the client is gone (end of stream, or an error). */
static bool read_from(int i)
{
    char buf[65536];
    ssize_t n = read(clients[i].fd, buf, sizeof buf);

    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n <= 0)
        return false;
    append(&clients[i].partial, buf, (size_t)n);
    broadcast_lines(i);
    return true;
}

/* Sends what the socket takes now; false when the client can no longer receive. */
static bool write_to(int i)
{
    struct bytes *q = &clients[i].queue;
    ssize_t n = send(clients[i].fd, q->data, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n == -1)
        return errno == EAGAIN || errno == EINTR;
    memmove(q->data, q->data + n, q->len - (size_t)n);
    q->len -= (size_t)n;
    return true;
}

/* The program `name` in the same folder as this one. */
static void sibling_path(char *buf, size_t size, const char *name)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    char *slash;

    if (n == -1)
        die_errno("readlink /proc/self/exe");
    buf[n] = '\0';
    slash = strrchr(buf, '/');
    if (slash == NULL || (size_t)snprintf(slash + 1, size - (size_t)(slash + 1 - buf), "%s",
                                          name) >= size - (size_t)(slash + 1 - buf))
        die("no room for the path of %s", name);
}

/* The loop: until the --exec child ends, or forever (child 0).  The child's end shows as
 * its pidfd becoming readable; without pidfds (before Linux 5.3, or under valgrind) poll
 * wakes every 50 ms to ask waitpid.  Returns the child's wait status. */
static int serve(int listener, pid_t child, int child_fd)
{
    struct pollfd fds[MAX_CLIENTS + 2];
    int status;

    for (;;) {
        fds[0] = (struct pollfd){.fd = listener, .events = POLLIN};
        fds[1] = (struct pollfd){.fd = child_fd, .events = POLLIN}; /* -1: ignored */
        for (int i = 0; i < nclients; i++)
            fds[2 + i] = (struct pollfd){.fd = clients[i].fd,
                                         .events = POLLIN | (clients[i].queue.len ? POLLOUT : 0)};
        if (poll(fds, (nfds_t)nclients + 2, child > 0 && child_fd == -1 ? 50 : -1) == -1) {
            if (errno == EINTR)
                continue;
            die_errno("poll");
        }
        if (child_fd != -1 && fds[1].revents)
            return reap_quietly(child);
        if (child > 0 && child_fd == -1 && waitpid(child, &status, WNOHANG) == child)
            return status;
        /* From the last to the first: drop() moves the last client into the hole. */
        for (int i = nclients - 1; i >= 0; i--) {
            short ev = fds[2 + i].revents;
            bool alive = true;

            if (ev & (POLLIN | POLLHUP | POLLERR))
                alive = read_from(i);
            if (alive && (ev & POLLOUT))
                alive = write_to(i);
            if (!alive || clients[i].queue.len > QUEUE_LIMIT)
                drop(i);
        }
        if (fds[0].revents & POLLIN) {
            int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

            if (fd == -1 && errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
                die_errno("accept");
            if (fd != -1 && nclients == MAX_CLIENTS)
                close(fd);
            else if (fd != -1)
                clients[nclients++] = (struct client){.fd = fd};
        }
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"server", no_argument, NULL, 's'},
                                             {"exec", required_argument, NULL, 'e'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static char demo_scenario[] = "demo";
    char sock_path[300];
    char dir[256], clients_path[4096], *demo[] = {clients_path, demo_scenario, NULL};
    char **program = NULL;
    int listener, opt, child_fd = -1, status;
    bool server = false;
    sigset_t saved;
    pid_t child;

    while ((opt = cli_getopt(argc, argv, "+h", longopts, usage)) != -1) {
        if (opt == 's')
            server = true;
        else
            program = &argv[optind - 1]; /* PROGRAM and every argument after it */
    }
    if (server && program != NULL)
        die_usage(usage, "give only one of --server and --exec");
    if (program == NULL && optind < argc)
        die_usage(usage, "unexpected operand \"%s\"", argv[optind]);
    if (!server && program == NULL) {
        sibling_path(clients_path, sizeof clients_path, "solution_poll_chat_clients");
        program = demo; /* the demo: the checker's clients, in their "demo" scenario */
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    make_temp_dir(dir, sizeof dir, "poll_chat");
    snprintf(sock_path, sizeof sock_path, "%s/chat.sock", dir);
    listener = unix_listener_registered(sock_path, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                        MAX_CLIENTS);
    if (listener == -1)
        die_errno("listen on %s", sock_path);
    if (server) {
        printf("listening on %s\n", sock_path);
        serve(listener, 0, -1); /* until SIGINT or SIGTERM: the registry cleans up */
    }
    printf("[server] listening on %s; running %s with CHAT_SOCKET set to it\n", sock_path,
           program[0]);
    if (setenv("CHAT_SOCKET", sock_path, 1) == -1)
        die_errno("setenv");
    stop_signals_hold(&saved);
    child = fork_or_die();
    if (child == 0) {
        stop_signals_release(&saved);
        close(listener); /* exec would close it (CLOEXEC), but exec may fail */
        execvp(program[0], program);
        warn_errno("exec %s", program[0]);
        _exit(127);
    }
    if (cleanup_add_child(child) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    child_fd = (int)syscall(SYS_pidfd_open, child, 0);
    if (child_fd == -1 && errno != ENOSYS)
        die_errno("pidfd_open");
    status = serve(listener, child, child_fd);
    printf("[server] %s ended with %s; %d clients still connected are closed\n", program[0],
           fmt_wait_status(status).s, nclients);
    while (nclients > 0)
        drop(nclients - 1);
    if (child_fd != -1)
        close(child_fd);
    close(listener);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
