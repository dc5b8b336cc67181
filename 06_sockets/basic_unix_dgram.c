/* basic_unix_dgram.c - UNIX datagram sockets: boundaries kept, replies need an address
 *
 * A SOCK_DGRAM socket moves whole messages: each send() is one datagram and each recv()
 * returns exactly one, never a part of two.  There is no connection, so a server learns
 * where to answer from the sender's address that recvfrom() reports.  A client that never
 * bound its socket has no address (recvfrom() returns only the family): it can send, but no
 * reply can reach it.  So the client binds a path of its own.
 *
 * Guide part: theory (sockets: datagrams, recvfrom, sendto, client addresses).
 * Run: ./basic_unix_dgram
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char usage[] = "";

/* Messages of different sizes, sent back to back: each arrives as it was sent. */
static const char *const messages[] = {"short", "a somewhat longer datagram", "x", "last"};
#define N_MESSAGES (sizeof messages / sizeof messages[0])

/* A datagram socket bound to `path`; the socket file is removed at exit. */
static int bound_socket(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sigset_t saved;

    if (len == -1)
        die_errno("socket path %s", path);
    if (fd == -1)
        die_errno("socket");
    stop_signals_hold(&saved);
    if (bind(fd, (struct sockaddr *)&addr, len) == -1)
        die_errno("bind %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path");
    stop_signals_release(&saved);
    return fd;
}

/* Receives `count` datagrams; answers each sender that has an address. */
static void run_server(int fd, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char buf[256], reply[300];
        struct sockaddr_un from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);

        if (n == -1)
            die_errno("recvfrom");
        if (fromlen <= sizeof(sa_family_t)) {
            /* Only the family came back: the sender is unbound, there is nowhere to reply. */
            printf("[server] one datagram of %zd bytes \"%.*s\" from an unnamed socket: "
                   "no address to reply to\n",
                   n, (int)n, buf);
            continue;
        }
        printf("[server] one datagram of %zd bytes \"%.*s\" from %s\n", n, (int)n, buf,
               from.sun_path);
        int len = snprintf(reply, sizeof reply, "got your %zd bytes", n);
        if (sendto(fd, reply, (size_t)len, 0, (struct sockaddr *)&from, fromlen) == -1)
            die_errno("sendto %s", from.sun_path);
    }
}

static void send_to(int fd, const struct sockaddr_un *server, const char *msg)
{
    if (sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)server, sizeof *server) == -1)
        die_errno("sendto %s", server->sun_path);
}

static void run_client(const char *server_path, const char *client_path)
{
    struct sockaddr_un server;
    int unnamed = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), fd;
    char reply[300];

    if (unix_address(&server, server_path) == -1)
        die_errno("socket path %s", server_path);
    if (unnamed == -1)
        die_errno("socket");
    printf("[client] sending \"hello?\" from a socket that was never bound\n");
    send_to(unnamed, &server, "hello?");
    close(unnamed);

    fd = bound_socket(client_path);
    printf("[client] bound its own address %s, so replies can find it\n", client_path);
    for (size_t i = 0; i < N_MESSAGES; i++) {
        printf("[client] sending %zu bytes \"%s\"\n", strlen(messages[i]), messages[i]);
        send_to(fd, &server, messages[i]);
    }
    /* All four were sent before the first reply is read: the boundaries still hold. */
    for (size_t i = 0; i < N_MESSAGES; i++) {
        ssize_t n = recv(fd, reply, sizeof reply, 0);

        if (n == -1)
            die_errno("recv");
        printf("[client] reply %zu: \"%.*s\"\n", i + 1, (int)n, reply);
    }
    close(fd);
}

int main(int argc, char *argv[])
{
    char dir[256], server_path[320], client_path[320];
    int server_fd;
    sigset_t saved;
    pid_t client;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "basic_unix_dgram");
    snprintf(server_path, sizeof server_path, "%s/server.%d.sock", dir, (int)getpid());
    server_fd = bound_socket(server_path);
    printf("[server] bound %s\n", server_path);

    /* Registered: a client left alone would wait in recv() for a reply forever. */
    stop_signals_hold(&saved);
    client = fork_or_die();
    if (client == 0) {
        stop_signals_release(&saved);
        close(server_fd);
        snprintf(client_path, sizeof client_path, "%s/client.%d.sock", dir, (int)getpid());
        run_client(server_path, client_path);
        exit(0); /* the child's own registry removes its socket file */
    }
    if (cleanup_add_child(client) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    run_server(server_fd, N_MESSAGES + 1);
    close(server_fd);
    reap_child(client, "server");
    return 0;
}
