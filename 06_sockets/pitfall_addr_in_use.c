/* pitfall_addr_in_use.c - a restarted TCP server fails with EADDRINUSE: TIME_WAIT holds its port
 *
 * The side that closes a TCP connection first keeps it in TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN
 * in include/net/tcp.h), so that late segments of the old connection die out.  A server that
 * closes its clients' connections first leaves one TIME_WAIT entry per client on its own port,
 * and a restart that binds the same port fails: bind() sees those entries and says EADDRINUSE,
 * although nothing listens.  --fixed: the server sets SO_REUSEADDR before every bind(); its
 * connections inherit the flag, and a bind with it passes over sockets that have it too and do
 * not listen (inet_bind_conflict() in net/ipv4/inet_connection_sock.c): never a live listener.
 * Guide part: pitfall (TIME_WAIT, SO_REUSEADDR, restarting servers).
 * Run: ./pitfall_addr_in_use [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

/* A TCP socket bound to 127.0.0.1:port (0: any free port); -1 with errno if bind fails. */
static int bind_server(struct sockaddr_in *addr, bool reuseaddr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, saved;
    socklen_t len = sizeof *addr;

    if (fd == -1)
        die_errno("socket");
    if (reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
        die_errno("setsockopt SO_REUSEADDR");
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) == -1) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (listen(fd, 4) == -1 || getsockname(fd, (struct sockaddr *)addr, &len) == -1)
        die_errno("listen");
    return fd;
}

/* How many TCP sockets of this network namespace are in TIME_WAIT (state 06) on `port`, from
 * /proc/net/tcp: one line per socket, "sl local_address rem_address st ...", hex. */
static int time_wait_on(int port)
{
    FILE *f = fopen("/proc/net/tcp", "re");
    char line[512];
    int count = 0;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned local_port, state;

        if (sscanf(line, " %*d: %*8x:%x %*8x:%*x %x", &local_port, &state) == 2 &&
            (int)local_port == port && state == 0x06)
            count++;
    }
    fclose(f);
    return count;
}

/* One client connects; the server closes the connection first (the active close). */
static void serve_one_client(int listener, const struct sockaddr_in *addr)
{
    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), conn;
    char byte;

    if (client == -1 || connect(client, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn == -1)
        die_errno("accept");
    printf("[server] served a client; closing its connection first\n");
    close(conn);
    if (read(client, &byte, 1) != 0) /* the client sees EOF, and closes its side too */
        die("the client expected EOF");
    close(client);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    int listener, port, waiting;
    bool fixed;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fixed = cli_pitfall_fixed(argc, argv, usage);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = bind_server(&addr, fixed);
    if (listener == -1)
        die_errno("bind 127.0.0.1:0");
    port = ntohs(addr.sin_port);
    printf("[server] listening on 127.0.0.1:%d%s\n", port,
           fixed ? ", with SO_REUSEADDR set before bind()" : "");
    serve_one_client(listener, &addr);
    printf("[server] shutting down: closing the listening socket\n");
    close(listener);

    waiting = time_wait_on(port);
    if (waiting >= 0)
        printf("[server] /proc/net/tcp: %d connection(s) on port %d in TIME_WAIT\n", waiting, port);
    printf("[server] restarting: bind() to 127.0.0.1:%d again%s\n", port,
           fixed ? " with SO_REUSEADDR" : "");
    listener = bind_server(&addr, fixed);
    if (listener == -1) {
        if (errno != EADDRINUSE)
            die_errno("bind 127.0.0.1:%d", port);
        printf("[server] bind failed with EADDRINUSE: nothing listens, but TIME_WAIT holds the "
               "port for up to 60 s\n");
        if (fixed)
            die("SO_REUSEADDR should have let the bind through");
        return 0;
    }
    printf("[server] bind succeeded: listening on port %d again, TIME_WAIT or not\n", port);
    close(listener);
    if (!fixed)
        die("without SO_REUSEADDR the bind should have failed (%d TIME_WAIT entries seen)",
            waiting);
    return 0;
}
