/* basic_tcp_echo.c - a TCP echo server and client, IPv4 and IPv6 loopback, with getaddrinfo
 *
 * getaddrinfo() turns a host and a service into socket addresses, so the same code serves
 * IPv4 and IPv6.  The server binds port 0 on 127.0.0.1 and on ::1: the kernel picks a free
 * (ephemeral) port, which getsockname() reveals and the server prints for its clients.  It
 * waits on both listening sockets with poll() and echoes each connection until EOF.  Any
 * TCP client can talk to it: `socat - TCP:127.0.0.1:PORT` or `nc 127.0.0.1 PORT`.
 *
 * Guide part: theory (sockets: TCP, getaddrinfo, ephemeral ports, IPv4 and IPv6).
 * Run: ./basic_tcp_echo                   (server and client, both families)
 *      ./basic_tcp_echo --socat           (the client is socat, fed this program's stdin)
 *      two terminals: ./basic_tcp_echo --server          (prints its ports; Ctrl-C stops it)
 *                     ./basic_tcp_client HOST PORT          (sends the lines you type)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--socat] | --server";

struct listener {
    int fd; /* -1 when the family is not available here */
    char host[64], port[16];
};

/* "host:port" of a socket address, numerically ("[::1]:40123" for IPv6). */
static void name_of(const struct sockaddr *sa, socklen_t len, char *out, size_t size)
{
    char host[64], port[16];
    int rc =
        getnameinfo(sa, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);

    if (rc != 0)
        die("getnameinfo: %s", gai_strerror(rc));
    snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* Listens on `host` port 0; a family missing on this machine is reported, not fatal. */
static void listen_on(struct listener *l, const char *host)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST};
    struct addrinfo *ai;
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    char name[96];
    int rc = getaddrinfo(host, "0", &hints, &ai);

    l->fd = -1;
    if (rc != 0)
        die("getaddrinfo %s: %s", host, gai_strerror(rc));
    l->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (l->fd == -1 || bind(l->fd, ai->ai_addr, ai->ai_addrlen) == -1) {
        if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL)
            die_errno("socket/bind %s", host);
        printf("[server] %s is not available on this machine: %s\n", host, strerror(errno));
        if (l->fd != -1)
            close(l->fd);
        l->fd = -1;
        freeaddrinfo(ai);
        return;
    }
    freeaddrinfo(ai);
    if (listen(l->fd, 16) == -1)
        die_errno("listen");
    if (getsockname(l->fd, (struct sockaddr *)&bound, &len) == -1)
        die_errno("getsockname");
    rc = getnameinfo((struct sockaddr *)&bound, len, l->host, sizeof l->host, l->port,
                     sizeof l->port, NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0)
        die("getnameinfo: %s", gai_strerror(rc));
    name_of((struct sockaddr *)&bound, len, name, sizeof name);
    printf("[server] listening on %s (port 0 asked, the kernel chose %s)\n", name, l->port);
}

static void echo_connection(int listener)
{
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    char buf[4096], name[96];
    long total = 0;
    ssize_t n;
    int conn = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

    if (conn == -1) {
        if (errno == EINTR || errno == ECONNABORTED)
            return;
        die_errno("accept");
    }
    name_of((struct sockaddr *)&peer, len, name, sizeof name);
    printf("[server] connection from %s\n", name);
    while ((n = read(conn, buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read from %s", name);
        if (write_full(conn, buf, (size_t)n) == -1)
            die_errno("write to %s", name);
        total += n;
    }
    printf("[server] %s closed after %ld bytes echoed\n", name, total);
    close(conn);
}

/* Serves `count` connections (0: until killed), one at a time, from either family. */
static void serve(struct listener *ls, int nls, long count)
{
    struct pollfd pfd[2];

    for (int i = 0; i < nls; i++)
        pfd[i] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
    for (long served = 0; count == 0 || served < count;) {
        if (poll(pfd, (nfds_t)nls, -1) == -1) {
            if (errno == EINTR)
                continue;
            die_errno("poll");
        }
        for (int i = 0; i < nls; i++)
            if (pfd[i].revents & POLLIN) {
                echo_connection(pfd[i].fd);
                served++;
            }
    }
}

/* The client: getaddrinfo may give several addresses; try each until one connects. */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list, *ai;
    int rc = getaddrinfo(host, port, &hints, &list), fd = -1;

    if (rc != 0)
        die("getaddrinfo %s port %s: %s", host, port, gai_strerror(rc));
    for (ai = list; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    if (fd == -1)
        die_errno("connect to %s port %s", host, port);
    printf("[client] connected to %s port %s (%s)\n", host, port,
           ai->ai_family == AF_INET6 ? "IPv6" : "IPv4");
    freeaddrinfo(list);
    return fd;
}

static void run_client(const char *host, const char *port, const char *text)
{
    int fd = connect_to(host, port);
    char reply[512];
    const char *nl;
    size_t len = strlen(text);
    ssize_t n;

    printf("[client] sending \"%.*s\"\n", (int)strcspn(text, "\n"), text);
    if (write_full(fd, text, len) == -1 || shutdown(fd, SHUT_WR) == -1)
        die_errno("send to the server");
    n = read_full(fd, reply, len < sizeof reply ? len : sizeof reply);
    if (n == -1)
        die_errno("read from the server");
    nl = memchr(reply, '\n', (size_t)n);
    printf("[client] echoed back: \"%.*s\"\n", (int)(nl != NULL ? nl - reply : n), reply);
    close(fd);
}

/* The start of buf up to the first newline or unprintable byte, as a string. */
static void printable_prefix(char *out, size_t size, const char *buf, size_t n)
{
    size_t len = 0;

    while (len < n && len + 1 < size && isprint((unsigned char)buf[len]))
        len++;
    memcpy(out, buf, len);
    out[len] = '\0';
}

/* A third-party client: socat, fed our stdin.  What it prints is counted and hashed here
 * (FNV-1a, 64 bits) rather than copied out, so binary echoes cannot garble the narration. */
static int run_socat(const struct listener *l)
{
    char address[128], buf[4096], first[64] = "";
    uint64_t hash = 0xcbf29ce484222325u, total = 0;
    int out[2], status;
    ssize_t n;
    pid_t pid;

    snprintf(address, sizeof address, "TCP4:%s:%s", l->host, l->port);
    if (pipe2(out, O_CLOEXEC) == -1)
        die_errno("pipe");
    printf("[client] running: socat -t 5 - %s\n", address);
    pid = fork_or_die();
    if (pid == 0) {
        if (dup2(out[1], STDOUT_FILENO) == -1)
            die_errno("dup2");
        execlp("socat", "socat", "-t", "5", "-", address, (char *)NULL);
        die_errno("exec socat");
    }
    close(out[1]);
    while ((n = read(out[0], buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read from socat");
        if (total == 0)
            printable_prefix(first, sizeof first, buf, (size_t)n);
        for (ssize_t i = 0; i < n; i++)
            hash = (hash ^ (unsigned char)buf[i]) * 0x100000001b3u;
        total += (uint64_t)n;
    }
    close(out[0]);
    if (waitpid(pid, &status, 0) == -1)
        die_errno("waitpid socat");
    printf("[client] socat ended with %s\n", fmt_wait_status(status).s);
    printf("[client] socat printed %llu bytes, FNV-1a 0x%016llx, starting \"%s\"\n",
           (unsigned long long)total, (unsigned long long)hash, first);
    return status;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"server", no_argument, NULL, 's'},
                                             {"socat", no_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct listener ls[2];
    int opt, mode = 0, nls = 0;
    sigset_t saved;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (mode != 0)
            die_usage(usage, "give only one of --server and --socat");
        mode = opt;
    }
    cli_no_operands(argc, argv, usage);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) /* a client that vanishes is an EPIPE */
        die_errno("signal");

    listen_on(&ls[0], "127.0.0.1");
    listen_on(&ls[1], "::1");
    if (ls[1].fd != -1)
        nls = 2;
    else
        nls = 1;
    if (mode == 's') {
        serve(ls, nls, 0);
        return 0;
    }
    /* Registered: a server left alone would wait for its clients forever. */
    stop_signals_hold(&saved);
    server = fork_or_die();
    if (server == 0) {
        stop_signals_release(&saved);
        serve(ls, nls, mode == 'S' ? 1 : nls);
        for (int i = 0; i < nls; i++)
            close(ls[i].fd);
        exit(0);
    }
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    for (int i = 0; i < nls; i++)
        close(ls[i].fd);
    if (mode == 'S') {
        if (run_socat(&ls[0]) != 0)
            kill(server, SIGTERM); /* socat may never have connected */
    } else {
        run_client("127.0.0.1", ls[0].port, "hello over IPv4\n");
        if (nls == 2)
            run_client("::1", ls[1].port, "hello over IPv6\n");
    }
    reap_child(server, "client");
    return 0;
}
