/* basic_tcp_client.c - a TCP client with getaddrinfo: every address tried until one connects
 *
 * A host name may stand for several addresses ("localhost": ::1 and 127.0.0.1), and
 * getaddrinfo() returns them all, in the order the resolver prefers (RFC 6724 rules,
 * /etc/gai.conf).  A client tries each in turn until one connect() succeeds.  The demo also
 * shows that connect() completes before any accept(): the kernel finishes the handshake
 * itself and queues the connection on the listener (its backlog), so here one process
 * connects to its own listening socket.  The client half of basic_tcp_echo.
 * Guide part: theory (sockets: TCP clients, getaddrinfo).
 * Run: ./basic_tcp_client
 *      two terminals: ./basic_tcp_echo --server          (prints its ports)
 *                     ./basic_tcp_client HOST PORT          (sends the lines you type)
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "[HOST PORT]    (PORT: 1 to 65535, or a service name)";

struct addr_text {
    char s[96];
};

/* Numeric "host port" of an address. */
static struct addr_text numeric(const struct sockaddr *sa, socklen_t len)
{
    char host[64], port[16];
    struct addr_text h;
    int rc =
        getnameinfo(sa, len, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);

    if (rc != 0)
        die("getnameinfo: %s", gai_strerror(rc));
    snprintf(h.s, sizeof h.s, "%s port %s", host, port);
    return h;
}

/* Tries each address getaddrinfo gives for host and port, in its order. */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *list, *ai;
    int rc = getaddrinfo(host, port, &hints, &list), fd = -1, saved = 0;

    if (rc != 0)
        die("getaddrinfo %s port %s: %s", host, port, gai_strerror(rc));
    for (ai = list; ai != NULL && fd == -1; ai = ai->ai_next) {
        printf("[client] trying %s (%s)\n", numeric(ai->ai_addr, ai->ai_addrlen).s,
               ai->ai_family == AF_INET6 ? "IPv6" : "IPv4");
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd != -1 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            printf("[client] connected\n");
            break;
        }
        saved = errno;
        printf("[client] failed: %s\n", strerror(saved));
        if (fd != -1)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(list);
    if (fd == -1)
        die_errnum(saved, "connect to %s port %s", host, port);
    return fd;
}

/* The two-terminal client: every line typed, echoed back. */
static void interactive_client(const char *host, const char *port)
{
    int fd = connect_to(host, port);
    char *line = NULL, reply[4096];
    size_t cap = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (write_full(fd, line, (size_t)len) == -1)
            die_errno("send to the server");
        for (ssize_t got = 0, n; got < len; got += n) {
            n = read(fd, reply,
                     sizeof reply < (size_t)(len - got) ? sizeof reply : (size_t)(len - got));
            if (n <= 0)
                die("the server closed the connection");
            printf("[client] echoed: %.*s", (int)n, reply);
        }
    }
    free(line);
    close(fd);
}

int main(int argc, char *argv[])
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *ai;
    struct sockaddr_storage bound, peer;
    socklen_t len = sizeof bound, peer_len = sizeof peer;
    char port[16];
    int listener, client, conn, rc;

    cli_getopt(argc, argv, "h",
               (const struct option[]){{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}},
               usage);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc - optind == 2) {
        const char *service = argv[optind + 1];

        /* getaddrinfo() would take "" as port 0 and 65536 as 0 too: a number is checked
         * here; anything else is a service name for getaddrinfo (/etc/services). */
        if (service[0] == '\0' || strspn(service, "0123456789") == strlen(service))
            cli_long(service, 1, 65535, "PORT", usage);
        interactive_client(argv[optind], service);
        return 0;
    }
    if (argc - optind != 0)
        die_usage(usage, "give HOST and PORT, or nothing for the demo");

    /* A listener of our own on 127.0.0.1 port 0, only so that there is something to reach. */
    rc = getaddrinfo("127.0.0.1", "0", &hints, &ai);
    if (rc != 0)
        die("getaddrinfo 127.0.0.1: %s", gai_strerror(rc));
    listener = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (listener == -1 || bind(listener, ai->ai_addr, ai->ai_addrlen) == -1 ||
        listen(listener, 4) == -1 || getsockname(listener, (struct sockaddr *)&bound, &len) == -1)
        die_errno("listen on 127.0.0.1");
    freeaddrinfo(ai);
    snprintf(port, sizeof port, "%s", strrchr(numeric((struct sockaddr *)&bound, len).s, ' ') + 1);
    printf("[listener] listening on 127.0.0.1 port %s; nobody calls accept() yet\n", port);

    /* "localhost" may name both families (/etc/hosts): a ::1 without a listener is refused,
     * and the client goes on to the next address. */
    printf("[client] getaddrinfo(\"localhost\", \"%s\") and connect to each in turn\n", port);
    client = connect_to("localhost", port);
    printf("[client] connect() returned: the kernel completed the handshake, the connection "
           "waits in the listener's queue\n");
    /* Bounded: were another program listening on ::1 with the same port number, the
     * client would have reached it, and nothing would come here. */
    if (poll(&(struct pollfd){.fd = listener, .events = POLLIN}, 1, 5000) != 1)
        die("no connection reached our listener within 5 s");
    conn = accept4(listener, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
    if (conn == -1)
        die_errno("accept");
    printf("[listener] accept() now takes it: a connection from %s\n",
           numeric((struct sockaddr *)&peer, peer_len).s);
    close(conn);
    close(client);
    close(listener);
    return 0;
}
