/* pitfall_sigpipe_send.c - send() to a client that hung up kills the whole server with SIGPIPE
 *
 * On a TCP connection the peer closed, the first send() still succeeds: the data leaves, and
 * the peer's kernel answers with a reset (RST).  The next send() fails with EPIPE, and before
 * that the kernel sends the process SIGPIPE, whose default action ends it at once.  For a
 * server, one impatient client takes every other client down with it.  --fixed: every send()
 * passes MSG_NOSIGNAL (Linux; POSIX.1-2008 has it too), so it only returns EPIPE (or
 * ECONNRESET), and the server drops that one connection and carries on.
 * Guide part: pitfall (SIGPIPE on sockets, MSG_NOSIGNAL).
 * Run: ./pitfall_sigpipe_send [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLIES 5

static const char usage[] = "[--fixed]";

static int loopback_listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die_errno("socket");
    *addr = (struct sockaddr_in){.sin_family = AF_INET};
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) == -1 || listen(fd, 4) == -1 ||
        getsockname(fd, (struct sockaddr *)addr, &len) == -1)
        die_errno("bind/listen on 127.0.0.1");
    return fd;
}

/* The server: sends REPLIES lines to its client, 50 ms apart. */
static noreturn void run_server(int listener, bool fixed)
{
    int flags = fixed ? MSG_NOSIGNAL : 0;
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    char line[64];

    if (conn == -1)
        die_errno("accept");
    close(listener);
    /* SIGPIPE at its default action, whatever we inherited (`trap '' PIPE` would hide it). */
    if (signal(SIGPIPE, SIG_DFL) == SIG_ERR)
        die_errno("signal");
    for (int i = 1; i <= REPLIES; i++) {
        int len = snprintf(line, sizeof line, "reply %d\n", i);

        printf("[server] send(\"reply %d\"%s)\n", i, fixed ? ", MSG_NOSIGNAL" : "");
        if (send(conn, line, (size_t)len, flags) == -1) {
            if (errno != EPIPE && errno != ECONNRESET)
                die_errno("send");
            if (!fixed) {
                /* A reset reported as ECONNRESET comes without the signal: the naive server
                 * logs it and goes on, and its next send() meets EPIPE and SIGPIPE. */
                printf("[server] send failed with ECONNRESET, logged; carrying on\n");
                continue;
            }
            printf("[server] send failed with %s: the client is gone; dropping this "
                   "connection and serving the others\n",
                   errno == EPIPE ? "EPIPE" : "ECONNRESET");
            close(conn);
            exit(0);
        }
        printf("[server] send returned %d: accepted by the kernel, not yet read by anyone\n", len);
        sleep_ms(50);
    }
    printf("[server] all %d replies sent\n", REPLIES);
    close(conn);
    exit(0);
}

/* The client: reads the first reply and hangs up. */
static void run_client(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char buf[64];
    ssize_t n;

    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    n = read(fd, buf, sizeof buf);
    if (n <= 0)
        die("no first reply");
    printf("[client] got \"%.*s\", and hangs up without reading more\n", (int)strcspn(buf, "\n"),
           buf);
    close(fd);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int listener, status;
    bool fixed;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fixed = cli_pitfall_fixed(argc, argv, usage);

    listener = loopback_listener(&addr);
    printf("[parent] server on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    server = fork_or_die();
    if (server == 0)
        run_server(listener, fixed);
    close(listener);
    run_client(&addr);

    if (waitpid(server, &status, 0) == -1)
        die_errno("waitpid");
    printf("[parent] server %s\n", fmt_wait_status(status).s);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE) {
        printf("[parent] the server died of SIGPIPE with no message: every other client of it "
               "would have been cut off too\n");
        return fixed ? 1 : 0;
    }
    return !fixed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}
