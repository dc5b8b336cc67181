/* solution_epoll_bench.c - exercise 5: requests per second of an epoll echo server
 *
 * One single-threaded server process waits in epoll_wait() on a UNIX stream socket in a
 * private directory; N forked client processes each make M round trips of a 64-byte request
 * and its echo, all at the same time.  The parent prints the total and the rate.  For scale it
 * first measures the floor of a round trip on the same machine: one process pair ping-ponging
 * 64 bytes over a socketpair with blocking calls, no epoll (median of 5 runs after a warm-up,
 * not pinned: the scheduler places the processes, as it does the benchmark's).
 * Guide part: exercise 5 (performance).
 * Run: ./solution_epoll_bench [--clients N] [--requests M]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define REQUEST 64
#define MAX_CLIENTS 24 /* each is a cleanup registry entry: it holds 32 */

static const char usage[] = "[--clients N] [--requests M]    (N 1-24, M 1-1000000)";

/* The floor: 64-byte ping-pong between two processes, blocking, no epoll. */
static double pingpong_ns(long trips)
{
    char buf[REQUEST] = {0};
    int ends[2];
    uint64_t start;
    sigset_t saved;
    int slot;
    pid_t peer;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == -1)
        die_errno("socketpair");
    stop_signals_hold(&saved); /* a stop signal meanwhile still finds the peer registered */
    peer = fork_or_die();
    if (peer == 0) {
        stop_signals_release(&saved);
        close(ends[0]);
        while (read_full(ends[1], buf, REQUEST) == REQUEST)
            if (write_full(ends[1], buf, REQUEST) == -1)
                break;
        close(ends[1]);
        exit(0);
    }
    slot = cleanup_add_child(peer);
    if (slot == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(ends[1]);
    start = now_ns();
    for (long i = 0; i < trips; i++)
        if (write_full(ends[0], buf, REQUEST) == -1 || read_full(ends[0], buf, REQUEST) != REQUEST)
            die_errno("ping-pong");
    start = elapsed_ns(start);
    close(ends[0]);
    reap_quietly(peer);
    cleanup_forget(slot); /* reaped: its registry entry is free again */
    return (double)start / (double)trips;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void show_floor(void)
{
    double runs[5];

    pingpong_ns(2000); /* warm-up */
    for (int i = 0; i < 5; i++)
        runs[i] = pingpong_ns(5000);
    qsort(runs, 5, sizeof runs[0], compare_doubles);
    printf("[floor] one blocking 64-byte round trip between two processes: %s (median of 5 "
           "runs of 5000, not pinned): at most %.0f requests/s per client pair\n",
           fmt_duration(runs[2]).s, 1e9 / runs[2]);
}

/* The server: one thread, one epoll instance, every socket non-blocking.  A request of 64
 * bytes may arrive in pieces; each connection keeps what it has until the 64 are there. */
struct client_conn {
    int fd;
    size_t have;
    char buf[REQUEST];
};

static void serve(int listener, int clients)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, events[64];
    int ep = epoll_create1(EPOLL_CLOEXEC), finished = 0;

    if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev) == -1)
        die_errno("epoll");
    while (finished < clients) {
        int n = epoll_wait(ep, events, 64, -1);

        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("epoll_wait");
        for (int i = 0; i < n; i++) {
            struct client_conn *c = events[i].data.ptr;
            ssize_t got;

            if (c == NULL) {
                int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd == -1)
                    continue; /* EAGAIN: another event took it */
                c = calloc(1, sizeof *c);
                if (c == NULL)
                    die_errno("calloc");
                c->fd = fd;
                ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
                    die_errno("epoll_ctl");
                continue;
            }
            got = read(c->fd, c->buf + c->have, REQUEST - c->have);
            if (got > 0 && (c->have += (size_t)got) == REQUEST) {
                /* 64 bytes always fit in an empty socket buffer: this write is whole. */
                if (write_full(c->fd, c->buf, REQUEST) == -1)
                    die_errno("write");
                c->have = 0;
            } else if (got == 0 || (got == -1 && errno != EAGAIN)) {
                close(c->fd); /* closing also removes it from the epoll set */
                free(c);
                finished++;
            }
        }
    }
    close(ep);
}

static noreturn void run_client(const struct sockaddr_un *addr, long requests)
{
    char req[REQUEST], reply[REQUEST];
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    for (long i = 0; i < requests; i++) {
        memset(req, (int)(i & 0x7f), sizeof req);
        if (write_full(fd, req, REQUEST) == -1 || read_full(fd, reply, REQUEST) != REQUEST)
            die_errno("request %ld", i + 1);
        if (memcmp(req, reply, REQUEST) != 0)
            die("request %ld: the echo differs", i + 1);
    }
    close(fd);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"clients", required_argument, NULL, 'c'},
                                             {"requests", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sockaddr_un addr;
    char sock_path[300];
    long clients = 8, requests = 2000;
    pid_t pids[MAX_CLIENTS];
    int listener, opt, failed = 0;
    char dir[256];
    sigset_t saved;
    uint64_t start, ns;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'c')
            clients = cli_long(optarg, 1, MAX_CLIENTS, "--clients", usage);
        else
            requests = cli_long(optarg, 1, 1000000, "--requests", usage);
    }
    cli_no_operands(argc, argv, usage);

    show_floor();
    make_temp_dir(dir, sizeof dir, "epoll_bench");
    snprintf(sock_path, sizeof sock_path, "%s/server.sock", dir);
    listener = unix_listener_registered(sock_path, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                        MAX_CLIENTS);
    if (listener == -1)
        die_errno("listen on %s", sock_path);
    unix_address(&addr, sock_path); /* the clients' address: it fits, the listener has it */

    start = now_ns();
    for (long i = 0; i < clients; i++) {
        stop_signals_hold(&saved); /* registered before a stop signal can orphan it */
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            stop_signals_release(&saved);
            close(listener);
            run_client(&addr, requests);
        }
        if (cleanup_add_child(pids[i]) == -1)
            die_errno("cleanup_add_child");
        stop_signals_release(&saved);
    }
    serve(listener, (int)clients);
    ns = elapsed_ns(start);
    close(listener);
    for (long i = 0; i < clients; i++) {
        int status = reap_quietly(pids[i]);

        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (failed > 0)
        die("%d client(s) failed", failed);
    printf("clients=%ld requests=%ld seconds=%.6f rate=%.0f/s\n", clients, clients * requests,
           ns_to_s(ns), (double)(clients * requests) / ns_to_s(ns));
    return 0;
}
