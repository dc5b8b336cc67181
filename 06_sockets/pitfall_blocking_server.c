/* pitfall_blocking_server.c - one slow client stalls an iterative, blocking server
 *
 * The simplest server accepts a client, read()s its request, answers, and only then accepts
 * the next.  A client that connects and sends nothing (a slow network, a stuck program, an
 * attacker) leaves that server asleep in read(), and every other client waits behind it.
 * Here client 1 is slow and client 2 asks a question with an 800 ms deadline.  --fixed: the
 * server makes every socket non-blocking and waits in poll() for whichever is ready, so it
 * answers client 2 at once while client 1 is still silent.
 * Guide part: pitfall (iterative blocking servers; non-blocking I/O and poll).
 * Run: ./pitfall_blocking_server [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 2
#define DEADLINE_MS 800

static const char usage[] = "[--fixed]";

static void answer(int conn, const char *request, size_t len)
{
    char reply[128];
    int n = snprintf(reply, sizeof reply, "answer to %.*s", (int)len, request);

    if (write_full(conn, reply, (size_t)n) == -1)
        die_errno("write");
}

/* Broken: one client at a time, blocking read() of its whole request line. */
static void serve_blocking(int listener)
{
    for (int served = 0; served < CLIENTS; served++) {
        char buf[128];
        size_t len = 0;
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        if (conn == -1)
            die_errno("accept");
        printf("[server] accepted a client; read() of its request\n");
        while (len == 0 || buf[len - 1] != '\n') {
            ssize_t n = read(conn, buf + len, sizeof buf - len);
            if (n <= 0)
                die("a client left without a request");
            len += (size_t)n;
        }
        answer(conn, buf, len);
        close(conn);
    }
}

/* Fixed: the listener and every client non-blocking, one poll() over all of them. */
static void serve_polling(int listener)
{
    struct pollfd pfd[1 + CLIENTS] = {{.fd = listener, .events = POLLIN}};
    char buf[1 + CLIENTS][128];
    size_t len[1 + CLIENTS] = {0};
    int open_clients = 0, served = 0;

    if (set_nonblocking(listener, true) == -1)
        die_errno("O_NONBLOCK");
    while (served < CLIENTS) {
        if (poll(pfd, (nfds_t)(1 + open_clients), -1) == -1)
            die_errno("poll");
        if ((pfd[0].revents & POLLIN) && open_clients < CLIENTS) {
            int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

            if (conn != -1) {
                open_clients++;
                pfd[open_clients] = (struct pollfd){.fd = conn, .events = POLLIN};
                printf("[server] accepted client socket %d; poll() watches it\n", conn);
            } else if (errno != EAGAIN && errno != ECONNABORTED) {
                die_errno("accept");
            }
        }
        for (int i = 1; i <= open_clients; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(pfd[i].fd, buf[i] + len[i], sizeof buf[i] - len[i]);
            if (n == -1 && errno == EAGAIN)
                continue;
            if (n <= 0)
                die("a client left without a request");
            len[i] += (size_t)n;
            if (buf[i][len[i] - 1] == '\n' || len[i] == sizeof buf[i]) {
                answer(pfd[i].fd, buf[i], len[i]);
                close(pfd[i].fd);
                pfd[i].fd = -1; /* poll() skips negative descriptors */
                served++;
            }
        }
    }
}

static int connect_client(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (len == -1)
        die_errno("socket path %s", path);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, len) == -1)
        die_errno("connect %s", path);
    return fd;
}

/* Waits up to `ms` for an answer on `fd`; true if one came. */
static bool answer_within(int fd, const char *who, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t start = now_ns();
    char buf[128];
    const char *nl;
    ssize_t n;
    int ready = poll(&pfd, 1, ms);

    if (ready == -1)
        die_errno("poll");
    if (ready == 0)
        return false;
    n = read(fd, buf, sizeof buf);
    if (n <= 0)
        die("%s got no answer", who);
    nl = memchr(buf, '\n', (size_t)n);
    printf("[%s] got \"%.*s\" after %.0f ms\n", who, (int)(nl != NULL ? nl - buf : n), buf,
           (double)elapsed_ns(start) / 1e6);
    return true;
}

static void run_clients(const char *path, pid_t server, bool fixed)
{
    char wchan[64] = "";
    int slow = connect_client(path), quick;

    printf("[client 1] connected, and sends nothing yet (a slow client)\n");
    quick = connect_client(path);
    printf("[client 2] connected; asking \"time?\" with a %d ms deadline\n", DEADLINE_MS);
    if (write_str(quick, "time?\n") == -1)
        die_errno("write");
    if (!answer_within(quick, "client 2", DEADLINE_MS)) {
        proc_wchan(server, wchan, sizeof wchan);
        printf("[client 2] no answer within %d ms: the server sleeps in %s, waiting for "
               "client 1\n",
               DEADLINE_MS, wchan[0] != '\0' ? wchan : "read()");
    }
    printf("[client 1] now sends \"date?\"\n");
    if (write_str(slow, "date?\n") == -1)
        die_errno("write");
    if (!answer_within(slow, "client 1", 5000))
        die("client 1 got no answer");
    if (!fixed && !answer_within(quick, "client 2", 5000))
        die("client 2 got no answer at all");
    close(slow);
    close(quick);
}

int main(int argc, char *argv[])
{
    char dir[256], path[320];
    struct sockaddr_un addr;
    int addrlen;
    int listener;
    sigset_t saved;
    bool fixed;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fixed = cli_pitfall_fixed(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "pitfall_blocking_server");
    snprintf(path, sizeof path, "%s/server.%d.sock", dir, (int)getpid());
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1)
        die_errno("socket");
    addrlen = unix_address(&addr, path);
    if (addrlen == -1)
        die_errno("socket path %s", path);
    stop_signals_hold(&saved);
    if (bind(listener, (struct sockaddr *)&addr, addrlen) == -1 || cleanup_add_path(path) == -1)
        die_errno("bind %s", path);
    stop_signals_release(&saved);
    if (listen(listener, CLIENTS) == -1)
        die_errno("listen");
    printf("[server] %s server listening on %s\n",
           fixed ? "a non-blocking, poll()-driven" : "an iterative, blocking", path);

    stop_signals_hold(&saved); /* a stop signal before the registration would orphan it */
    server = fork_or_die();
    if (server == 0) {
        stop_signals_release(&saved);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1) /* a parent killed by SIGKILL */
            die_errno("prctl");
        if (fixed)
            serve_polling(listener);
        else
            serve_blocking(listener);
        close(listener);
        exit(0);
    }
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(listener);
    run_clients(path, server, fixed);
    reap_child(server, "parent");
    return 0;
}
