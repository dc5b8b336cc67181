/* basic_unix_stream.c - an echo server and client over a UNIX stream socket
 *
 * A UNIX domain socket is addressed by a path: bind() creates a socket file there, listen()
 * makes it a listening socket, and every connect() to that path becomes a new connection
 * that accept() hands out as a descriptor of its own.  Data is a byte stream, as on a pipe,
 * but in both directions.  The socket file is only a name: unlink() it when the server ends.
 *
 * Guide part: theory (sockets: socket, bind, listen, accept, connect).
 * Run: ./basic_unix_stream
 *      two terminals: ./basic_unix_stream --server /tmp/echo.sock   (Ctrl-C stops it)
 *                     ./basic_unix_stream --client /tmp/echo.sock   (sends the lines you type)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char usage[] = "[--server PATH | --client PATH]";

/* socket + bind + listen; the socket file that bind() creates is registered for removal. */
static int listen_on(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sigset_t saved;

    if (len == -1)
        die_usage(usage, "socket path '%s': %s", path, strerror(errno));
    if (fd == -1)
        die_errno("socket");
    stop_signals_hold(&saved);
    /* bind() fails with EADDRINUSE if the path exists, even as a dead server's leftover
     * (pitfall_stale_socket_path); it never overwrites a file. */
    if (bind(fd, (struct sockaddr *)&addr, len) == -1) {
        int saved_errno = errno;

        close(fd); /* no descriptor outlives the program, even on an error exit */
        errno = saved_errno;
        die_errno("bind %s", path);
    }
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    if (listen(fd, 16) == -1)
        die_errno("listen %s", path);
    printf("[server] listening on %s\n", path);
    return fd;
}

/* Echoes one connection until the client closes its side (read() returns 0). */
static void echo_connection(int conn)
{
    char buf[4096];
    ssize_t n;
    long total = 0;

    while ((n = read(conn, buf, sizeof buf)) != 0) {
        if (n == -1) {
            if (errno == EINTR)
                continue;
            die_errno("read from client");
        }
        if (write_full(conn, buf, (size_t)n) == -1)
            die_errno("write to client");
        total += n;
    }
    printf("[server] client closed its side after %ld bytes: closing the connection\n", total);
    close(conn);
}

static void serve(int listener, long clients)
{
    for (long served = 0; clients == 0 || served < clients; served++) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        if (conn == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }
        printf("[server] accepted connection %ld as descriptor %d\n", served + 1, conn);
        echo_connection(conn);
    }
    close(listener);
}

static int connect_to(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (len == -1)
        die_usage(usage, "socket path '%s': %s", path, strerror(errno));
    if (fd == -1)
        die_errno("socket");
    if (connect(fd, (struct sockaddr *)&addr, len) == -1) {
        int saved_errno = errno;

        close(fd);
        errno = saved_errno;
        die_errno("connect %s", path);
    }
    printf("[client] connected to %s\n", path);
    return fd;
}

/* Sends one line and reads back as many bytes as were sent: a stream has no boundaries, so
 * the reply is counted in bytes, not taken from a single read(). */
static void ask(int fd, const char *line)
{
    size_t len = strlen(line);
    char reply[4096];

    printf("[client] sending \"%.*s\"\n", (int)strcspn(line, "\n"), line);
    if (write_full(fd, line, len) == -1)
        die_errno("write to server");
    for (size_t got = 0; got < len;) {
        size_t want = len - got < sizeof reply ? len - got : sizeof reply;
        ssize_t n = read_full(fd, reply, want);

        if (n == -1)
            die_errno("read from server");
        if (n == 0)
            die("the server closed the connection early");
        if (got == 0) {
            const char *nl = memchr(reply, '\n', (size_t)n);

            printf("[client] echoed back: \"%.*s\"\n", (int)(nl != NULL ? nl - reply : n), reply);
        }
        got += (size_t)n;
    }
}

static void run_client(const char *path, FILE *in)
{
    int fd = connect_to(path);
    char *line = NULL;
    size_t cap = 0;

    while (getline(&line, &cap, in) > 0)
        ask(fd, line);
    free(line);
    printf("[client] done: shutdown(SHUT_WR) tells the server there is no more\n");
    if (shutdown(fd, SHUT_WR) == -1)
        die_errno("shutdown");
    close(fd);
}

static void demo(void)
{
    static const char lines[] = "hello over a UNIX socket\nsecond line\n";
    char dir[256], path[320];
    FILE *in;
    int listener;
    pid_t client;

    make_temp_dir(dir, sizeof dir, "basic_unix_stream");
    snprintf(path, sizeof path, "%s/echo.%d.sock", dir, (int)getpid());
    listener = listen_on(path); /* before the fork: the client can connect at once */
    client = fork_or_die();
    if (client == 0) {
        close(listener);
        in = fmemopen((void *)lines, sizeof lines - 1, "r");
        if (in == NULL)
            die_errno("fmemopen");
        run_client(path, in);
        fclose(in);
        exit(0);
    }
    serve(listener, 1);
    reap_child(client, "server");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"server", required_argument, NULL, 's'},
                                             {"client", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *server = NULL, *client = NULL;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 's')
            server = optarg;
        else
            client = optarg;
    }
    cli_no_operands(argc, argv, usage);
    if (server != NULL && client != NULL)
        die_usage(usage, "give only one of --server and --client");
    if ((server != NULL && server[0] == '\0') || (client != NULL && client[0] == '\0'))
        die_usage(usage, "a socket path must not be empty");

    if (server != NULL)
        serve(listen_on(server), 0);
    else if (client != NULL)
        run_client(client, stdin);
    else
        demo();
    return 0;
}
