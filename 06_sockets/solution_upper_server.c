/* solution_upper_server.c - exercise 1: an upper-casing UNIX stream server, one client per line
 *
 * The parent is an iterative server on a UNIX stream socket in a private directory; its child
 * is the client, which makes one connection per input line: send the line, shutdown(SHUT_WR),
 * read the upper-cased reply until EOF, print it.  A connection that sends nothing stops the
 * server.  It shows accept() serving any number of sequential clients, EOF as the end of a
 * request, and a server that leaves nothing behind, also on SIGINT/SIGTERM.
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_upper_server [-]      (no operand: a built-in sample; -: standard input)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[-]";
static const char sample[] = "hello, sockets\nlower case becomes UPPER case\nbye\n";

/* One request: everything until the client's EOF, sent back upper-cased as it arrives. */
static size_t serve_one(int conn)
{
    char buf[16384];
    size_t total = 0;
    ssize_t n;

    while ((n = read(conn, buf, sizeof buf)) != 0) {
        if (n == -1) {
            if (errno == EINTR)
                continue;
            die_errno("read from a client");
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z') /* ASCII only: other bytes pass unchanged */
                buf[i] = (char)(buf[i] - 'a' + 'A');
        if (write_full(conn, buf, (size_t)n) == -1)
            die_errno("write to a client");
        total += (size_t)n;
    }
    return total;
}

static void run_server(int listener, bool narrate)
{
    for (long clients = 1;; clients++) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        size_t bytes;

        if (conn == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }
        bytes = serve_one(conn);
        close(conn);
        if (bytes == 0)
            break; /* the stop request */
        if (narrate)
            printf("[server] client %ld: %zu bytes upper-cased\n", clients, bytes);
    }
}

/* One connection: the line out, shutdown(SHUT_WR) as its end, the reply to stdout. */
static void ask(const char *path, const char *line, size_t len)
{
    struct sockaddr_un addr;
    int addrlen = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char reply[16384];
    ssize_t n;

    if (addrlen == -1)
        die_errno("socket path %s", path);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, addrlen) == -1)
        die_errno("connect %s", path);
    /* A line longer than the socket buffers would deadlock a client that writes it all
     * before reading; the server echoes as it reads, so write and read in turns. */
    for (size_t sent = 0; sent < len;) {
        size_t chunk = len - sent < sizeof reply ? len - sent : sizeof reply;

        if (write_full(fd, line + sent, chunk) == -1)
            die_errno("send to the server");
        sent += chunk;
        if ((n = read_full(fd, reply, chunk)) != (ssize_t)chunk)
            die("the server's reply is short");
        if (fwrite(reply, 1, chunk, stdout) != chunk)
            die_errno("write to stdout");
    }
    if (shutdown(fd, SHUT_WR) == -1)
        die_errno("shutdown");
    if ((n = read(fd, reply, 1)) != 0)
        die("the server sent more than it got");
    close(fd);
}

static noreturn void run_client(const char *path, FILE *in)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    while ((len = getline(&line, &cap, in)) > 0)
        ask(path, line, (size_t)len);
    if (ferror(in))
        die_errno("read standard input");
    free(line);
    ask(path, "", 0); /* an empty request: stop */
    if (fflush(stdout) == EOF)
        die_errno("write to stdout");
    exit(0);
}

int main(int argc, char *argv[])
{
    char dir[256], path[320];
    struct sockaddr_un addr;
    int addrlen;
    bool from_stdin = false;
    int listener, status;
    sigset_t saved;
    pid_t client;

    cli_getopt(argc, argv, "h", (const struct option[]){{"help", no_argument, NULL, 'h'}, {0}},
               usage);
    if (argc - optind > 1 || (argc - optind == 1 && strcmp(argv[optind], "-") != 0))
        die_usage(usage, "the only operand is '-' (standard input)");
    from_stdin = argc - optind == 1;

    make_temp_dir(dir, sizeof dir, "upper_server");
    snprintf(path, sizeof path, "%s/upper.sock", dir);
    addrlen = unix_address(&addr, path);
    if (addrlen == -1)
        die_errno("socket path %s", path);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1)
        die_errno("socket");
    stop_signals_hold(&saved);
    if (bind(listener, (struct sockaddr *)&addr, addrlen) == -1 || cleanup_add_path(path) == -1)
        die_errno("bind %s", path);
    stop_signals_release(&saved);
    if (listen(listener, 8) == -1)
        die_errno("listen");
    if (!from_stdin)
        printf("[server] listening on %s\n", path);

    stop_signals_hold(&saved);
    client = fork_or_die();
    if (client == 0) {
        stop_signals_release(&saved);
        close(listener);
        if (from_stdin)
            run_client(path, stdin);
        FILE *in = fmemopen((void *)sample, sizeof sample - 1, "r");
        if (in == NULL)
            die_errno("fmemopen");
        run_client(path, in);
    }
    if (cleanup_add_child(client) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    run_server(listener, !from_stdin);
    close(listener);
    if (waitpid(client, &status, 0) == -1)
        die_errno("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the client failed: %s", fmt_wait_status(status).s);
    return 0;
}
