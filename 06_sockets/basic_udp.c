/* basic_udp.c - UDP request/response on loopback, and what connect() changes on a datagram socket
 *
 * A UDP socket sends datagrams with sendto() to any address and takes replies from anyone with
 * recvfrom().  connect() on a UDP socket sends no packet; it only records a default peer in
 * the socket: send() then needs no address, datagrams from any other address are dropped by
 * the kernel, and an ICMP "port unreachable" for our datagram comes back as ECONNREFUSED on
 * the next call.  An unconnected socket never hears about that error: its recv() just waits.
 *
 * Guide part: theory (sockets: UDP, sendto/recvfrom, connected datagram sockets).
 * Run: ./basic_udp
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char usage[] = "";

/* A UDP socket bound to 127.0.0.1 on an ephemeral port (the kernel chooses: no clashes with
 * other programs on this machine); its address is returned in *addr. */
static int udp_socket(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die_errno("socket");
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = 0};
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) == -1 ||
        getsockname(fd, (struct sockaddr *)addr, &len) == -1)
        die_errno("bind 127.0.0.1:0");
    return fd;
}

/* recv() that gives up after `ms` (SO_RCVTIMEO): returns the length, or -1 with errno
 * EAGAIN (nothing came) or ECONNREFUSED (the kernel got a port-unreachable for us). */
static ssize_t recv_within(int fd, char *buf, size_t size, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    ssize_t n;

    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1)
        die_errno("setsockopt SO_RCVTIMEO");
    n = recv(fd, buf, size - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* The server: answers each request with "reply to REQUEST"; stops on "quit". */
static noreturn void run_server(int fd)
{
    char buf[256], reply[300];

    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &len);

        if (n == -1)
            die_errno("recvfrom");
        buf[n] = '\0';
        printf("[server] request \"%s\" from %s:%d\n", buf, inet_ntoa(from.sin_addr),
               ntohs(from.sin_port));
        if (strcmp(buf, "quit") == 0)
            break;
        int rlen = snprintf(reply, sizeof reply, "reply to %s", buf);
        if (sendto(fd, reply, (size_t)rlen, 0, (struct sockaddr *)&from, len) == -1)
            die_errno("sendto");
    }
    close(fd);
    exit(0);
}

static void expect_reply(int fd, const char *who)
{
    char buf[300];

    if (recv_within(fd, buf, sizeof buf, 2000) == -1)
        die_errno("recv of the reply");
    printf("[%s] got \"%s\"\n", who, buf);
}

/* The connected socket's view: only the server's datagrams arrive. */
static void stranger_filtered(int client, const struct sockaddr_in *client_addr)
{
    struct sockaddr_in stranger_addr;
    int stranger = udp_socket(&stranger_addr);
    char buf[300];

    printf("[stranger] sending \"spam\" to the client from port %d\n",
           ntohs(stranger_addr.sin_port));
    if (sendto(stranger, "spam", 4, 0, (const struct sockaddr *)client_addr, sizeof *client_addr) ==
        -1)
        die_errno("sendto");
    if (recv_within(client, buf, sizeof buf, 200) == -1 && errno == EAGAIN)
        printf(
            "[client] nothing arrived in 200 ms: the kernel matches a connected socket only to datagrams from its peer\n");
    else
        die("a connected UDP socket received \"%s\" from a stranger", buf);
    close(stranger);
}

/* A datagram to a port where nobody listens: only a connected socket learns of it. */
static void closed_port(void)
{
    struct sockaddr_in gone;
    int fd = udp_socket(&gone), probe;
    char buf[64];

    close(fd); /* that port now has no socket (until someone else happens to bind it) */
    for (int connected = 0; connected <= 1; connected++) {
        struct sockaddr_in self;

        probe = udp_socket(&self);
        if (connected && connect(probe, (struct sockaddr *)&gone, sizeof gone) == -1)
            die_errno("connect");
        printf("[client] %s socket: sending to port %d, where nobody listens\n",
               connected ? "connected" : "unconnected", ntohs(gone.sin_port));
        if (sendto(probe, "anyone?", 7, 0, (struct sockaddr *)&gone, sizeof gone) == -1)
            die_errno("sendto");
        if (recv_within(probe, buf, sizeof buf, 300) != -1)
            die("a reply came from a closed port");
        if (errno == ECONNREFUSED)
            printf("[client] recv failed with ECONNREFUSED: the ICMP port unreachable was "
                   "reported to the connected socket\n");
        else if (errno == EAGAIN)
            printf("[client] recv waited 300 ms and got nothing: an unconnected socket is "
                   "never told about the ICMP error\n");
        else
            die_errno("recv");
        close(probe);
    }
}

int main(int argc, char *argv[])
{
    struct sockaddr_in server_addr, client_addr;
    int server_fd, client;
    sigset_t saved;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    server_fd = udp_socket(&server_addr);
    printf("[server] bound 127.0.0.1:%d (port 0 asked, the kernel chose)\n",
           ntohs(server_addr.sin_port));
    /* Registered: a server left alone would wait in recvfrom() forever (UDP has no EOF). */
    stop_signals_hold(&saved);
    server = fork_or_die();
    if (server == 0) {
        stop_signals_release(&saved);
        run_server(server_fd);
    }
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(server_fd);

    client = udp_socket(&client_addr);
    printf("[client] unconnected socket on port %d: sendto() names the server each time\n",
           ntohs(client_addr.sin_port));
    if (sendto(client, "time?", 5, 0, (struct sockaddr *)&server_addr, sizeof server_addr) == -1)
        die_errno("sendto");
    expect_reply(client, "client");

    printf("[client] connect() to the server: no packet is sent, the kernel notes the peer\n");
    if (connect(client, (struct sockaddr *)&server_addr, sizeof server_addr) == -1)
        die_errno("connect");
    printf("[client] send() without an address\n");
    if (send(client, "date?", 5, 0) == -1)
        die_errno("send");
    expect_reply(client, "client");
    stranger_filtered(client, &client_addr);
    if (send(client, "quit", 4, 0) == -1)
        die_errno("send");
    close(client);
    reap_child(server, "client");
    closed_port();
    return 0;
}
