/* advanced_epoll_server.c - an event-driven echo server: epoll, non-blocking sockets, write buffers
 *
 * One process serves many clients at once: every socket is non-blocking and one epoll
 * instance says which are ready.  The subtle part is writing: a client that is slow to read
 * fills its socket buffer, write() takes only part of the echo (or says EAGAIN), and the
 * server must keep the rest in a per-client buffer, ask for EPOLLOUT, and finish when the
 * kernel says there is room, while serving everyone else.  When a client's buffer is full
 * the server stops reading from it (no EPOLLIN): back-pressure instead of unbounded memory.
 * Here the server's send buffers and the clients' receive buffers are small, so that partial
 * writes happen (as with a slow network) and are counted.
 * Guide part: advanced (event-driven servers: epoll, non-blocking I/O, partial writes).
 * Run: ./advanced_epoll_server [--clients N] [--rounds R]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MESSAGE (64 * 1024) /* what a client sends before it reads the echo */
#define PENDING_MAX MESSAGE /* per-client buffer: no more reading beyond this */
#define SMALL_BUFFER 4096   /* client SO_RCVBUF and server SO_SNDBUF: writes come up short */
#define MAX_CLIENTS 64

static const char usage[] = "[--clients N] [--rounds R]    (N from 1 to 64, R from 1 to 100)";

struct conn {
    int fd;
    char pending[PENDING_MAX]; /* bytes read but not yet echoed */
    size_t len, off;
};

struct totals {
    long bytes, partial_writes, epollout_wakeups;
    int open, most_open, done;
};

static void watch(int ep, struct conn *c, bool want_out)
{
    /* Read only while there is room to keep what we read; write when something waits. */
    struct epoll_event ev = {
        .events = (c->len < PENDING_MAX ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0), .data.ptr = c};

    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
        die_errno("epoll_ctl MOD");
}

/* Writes what is pending; false if the kernel took only part (the rest waits for EPOLLOUT). */
static bool flush_pending(struct conn *c, struct totals *t)
{
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->pending + c->off, c->len - c->off);

        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            t->partial_writes++;
            return false;
        }
        if (n == -1)
            die_errno("write to a client");
        c->off += (size_t)n;
        t->bytes += n;
    }
    c->len = c->off = 0;
    return true;
}

static void close_conn(int ep, struct conn *c, struct totals *t)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
    t->open--;
    t->done++;
}

/* One readiness event of a client connection. */
static void on_client(int ep, struct conn *c, uint32_t events, struct totals *t)
{
    if (events & EPOLLOUT)
        t->epollout_wakeups++;
    if (c->len > 0 && !flush_pending(c, t)) {
        watch(ep, c, true);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = read(c->fd, c->pending, PENDING_MAX);

        if (n == 0 || (n == -1 && errno == ECONNRESET)) {
            close_conn(ep, c, t);
            return;
        }
        if (n == -1 && errno != EAGAIN)
            die_errno("read from a client");
        if (n > 0) {
            c->len = (size_t)n;
            c->off = 0;
            flush_pending(c, t);
        }
    }
    watch(ep, c, c->len > 0);
}

static void on_listener(int ep, int listener, struct totals *t)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;
        struct epoll_event ev = {.events = EPOLLIN};

        if (fd == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            die_errno("accept");
        }
        c = calloc(1, sizeof *c);
        if (c == NULL)
            die_errno("calloc");
        c->fd = fd;
        ev.data.ptr = c;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
            die_errno("epoll_ctl ADD");
        if (++t->open > t->most_open)
            t->most_open = t->open;
    }
}

static void serve(int listener, int clients)
{
    struct epoll_event events[32], ev = {.events = EPOLLIN, .data.ptr = NULL};
    struct totals t = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) == -1)
        die_errno("epoll");
    while (t.done < clients) {
        int n = epoll_wait(ep, events, 32, -1);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                on_listener(ep, listener, &t);
            else
                on_client(ep, events[i].data.ptr, events[i].events, &t);
        }
    }
    close(ep);
    printf("[server] %d clients served, at most %d connected at once, %ld bytes echoed\n", clients,
           t.most_open, t.bytes);
    printf("[server] %ld writes came up short (EAGAIN with data pending), %ld EPOLLOUT wakeups "
           "finished them\n",
           t.partial_writes, t.epollout_wakeups);
}

/* A client: R rounds of sending MESSAGE bytes, then reading the whole echo back. */
static noreturn void run_client(int id, const struct sockaddr_in *addr, long rounds)
{
    static char out[MESSAGE], in[MESSAGE];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), size = SMALL_BUFFER;

    if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == -1 ||
        connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("client %d: connect", id);
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < sizeof out; i++)
            out[i] = (char)(id * 31 + r * 7 + (long)i);
        if (write_full(fd, out, sizeof out) == -1 || read_full(fd, in, sizeof in) != MESSAGE)
            die_errno("client %d: echo", id);
        if (memcmp(in, out, sizeof in) != 0)
            die("client %d: the echo differs in round %ld", id, r + 1);
    }
    printf("[client %d] %ld rounds of %d KiB echoed intact\n", id, rounds, MESSAGE / 1024);
    close(fd);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"clients", required_argument, NULL, 'c'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    long clients = 8, rounds = 8;
    pid_t pids[MAX_CLIENTS];
    int listener, opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'c')
            clients = cli_long(optarg, 1, MAX_CLIENTS, "--clients", usage);
        else
            rounds = cli_long(optarg, 1, 100, "--rounds", usage);
    }
    cli_no_operands(argc, argv, usage);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    /* Set on the listener: every accepted connection inherits it. */
    if (listener == -1 ||
        setsockopt(listener, SOL_SOCKET, SO_SNDBUF, &(int){SMALL_BUFFER}, sizeof(int)) == -1 ||
        bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, MAX_CLIENTS) == -1 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen on 127.0.0.1");
    printf("[server] one process, epoll, on 127.0.0.1:%d; %ld clients; send and receive "
           "buffers of %d bytes asked\n",
           ntohs(addr.sin_port), clients, SMALL_BUFFER);
    for (long i = 0; i < clients; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            close(listener);
            run_client((int)i + 1, &addr, rounds);
        }
    }
    serve(listener, (int)clients);
    close(listener);
    for (long i = 0; i < clients; i++)
        reap_child(pids[i], "server");
    return 0;
}
