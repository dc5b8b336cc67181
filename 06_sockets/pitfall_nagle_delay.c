/* pitfall_nagle_delay.c - write, write, read on TCP: each request waits for a delayed ACK
 *
 * A client sends each request as two write()s, a small header and a small body, then reads
 * the answer.  Nagle's algorithm (tcp_nagle_check() in net/ipv4/tcp_output.c) holds back a
 * small segment while an earlier small one is unacknowledged, so the body waits for the ACK of the
 * header.  The server has nothing to say until it has the body, so it delays that ACK
 * (delayed ACK, at least TCP_DELACK_MIN = 40 ms on Linux): every round trip costs about 40 ms
 * instead of tens of microseconds.  --fixed: one writev() of header and body (one segment),
 * and then TCP_NODELAY, which turns Nagle off, for the same two write()s.
 * Guide part: pitfall (Nagle's algorithm and delayed ACKs).
 * Run: ./pitfall_nagle_delay [--fixed] [--rounds N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEADER_BYTES 8
#define BODY_BYTES 32
#define SLOW_MS 20 /* a round this slow waited for a timer: unloaded rounds take < 1 ms */

static const char usage[] = "[--fixed] [--rounds N]    (N from 5 to 200)";

enum sending { TWO_WRITES, ONE_WRITEV, TWO_WRITES_NODELAY };

static const char *const sending_name[] = {"two write()s", "one writev()",
                                           "two write()s with TCP_NODELAY"};

/* The server: reads header and body of each request, answers with one byte. */
static noreturn void run_server(int listener)
{
    char request[HEADER_BYTES + BODY_BYTES];
    int conn;

    for (;;) {
        conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn == -1)
            die_errno("accept");
        while (read_full(conn, request, sizeof request) == (ssize_t)sizeof request)
            if (write_full(conn, "k", 1) == -1)
                die_errno("write");
        close(conn);
        if (request[0] == 'q') /* the last connection says so */
            break;
    }
    close(listener);
    exit(0);
}

static void send_request(int fd, enum sending how, char *header, char *body)
{
    struct iovec iov[2] = {{header, HEADER_BYTES}, {body, BODY_BYTES}};

    if (how == ONE_WRITEV) {
        if (writev(fd, iov, 2) != HEADER_BYTES + BODY_BYTES)
            die_errno("writev");
        return;
    }
    if (write_full(fd, header, HEADER_BYTES) == -1 || write_full(fd, body, BODY_BYTES) == -1)
        die_errno("write");
}

/* `rounds` request/answer round trips; prints the median and how many waited for a timer. */
static void client(const struct sockaddr_in *addr, enum sending how, long rounds, bool last)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, slow = 0;
    char header[HEADER_BYTES], body[BODY_BYTES], answer;
    double *ms = calloc((size_t)rounds, sizeof *ms), median;

    if (ms == NULL)
        die_errno("calloc");
    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    if (how == TWO_WRITES_NODELAY &&
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
        die_errno("setsockopt TCP_NODELAY");
    memset(header, 'h', sizeof header);
    memset(body, 'b', sizeof body);
    printf("[client] %ld requests as %s, each followed by a read() of the answer\n", rounds,
           sending_name[how]);
    for (long i = 0; i < rounds; i++) {
        uint64_t start = now_ns();

        if (last && i == rounds - 1)
            header[0] = 'q';
        send_request(fd, how, header, body);
        if (read_full(fd, &answer, 1) != 1)
            die("no answer from the server");
        ms[i] = (double)elapsed_ns(start) / 1e6;
        slow += ms[i] >= SLOW_MS;
    }
    close(fd);
    for (long i = 1; i < rounds; i++) /* insertion sort: a few dozen values */
        for (long j = i; j > 0 && ms[j - 1] > ms[j]; j--) {
            double t = ms[j];
            ms[j] = ms[j - 1];
            ms[j - 1] = t;
        }
    median = ms[rounds / 2];
    printf("[client] %s: median round trip %.2f ms; %d of %ld rounds took %d ms or more\n",
           sending_name[how], median, slow, rounds, SLOW_MS);
    if (slow > rounds / 2)
        printf("[client] %s: most requests waited for the server's delayed ACK\n",
               sending_name[how]);
    free(ms);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"fixed", no_argument, NULL, 'f'},
                                             {"rounds", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    long rounds = 20;
    bool fixed = false;
    int listener, opt;
    sigset_t saved;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            fixed = true;
        else
            rounds = cli_long(optarg, 5, 200, "--rounds", usage);
    }
    cli_no_operands(argc, argv, usage);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, 4) == -1 || getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen on 127.0.0.1");
    printf("[server] listening on 127.0.0.1:%d; a request is %d + %d bytes\n", ntohs(addr.sin_port),
           HEADER_BYTES, BODY_BYTES);
    stop_signals_hold(&saved); /* registered: stopped with the client on a stop signal */
    server = fork_or_die();
    if (server == 0) {
        stop_signals_release(&saved);
        run_server(listener);
    }
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(listener);

    if (fixed) {
        client(&addr, ONE_WRITEV, rounds, false);
        client(&addr, TWO_WRITES_NODELAY, rounds, true);
    } else {
        client(&addr, TWO_WRITES, rounds, true);
    }
    reap_child(server, "client");
    return 0;
}
