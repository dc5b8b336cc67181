/* advanced_prefork_reuseport.c - prefork workers: one shared listener, or SO_REUSEPORT
 *
 * A prefork server forks its workers before any client comes.  Classically they all block
 * in accept() on ONE listening socket: one accept queue, and the kernel wakes one waiting
 * worker per connection (an exclusive wait in inet_csk_wait_for_connect()).  With
 * SO_REUSEPORT (Linux 3.9) each worker has a listening socket of its own on the same port:
 * one queue each, and reuseport_select_sock() (net/core/sock_reuseport.c) picks the socket
 * for a new connection by a hash of its addresses and ports, whether that worker is busy.
 * Both are run here with the same connections, and the spread over workers is printed.
 * Guide part: theory (server designs).
 * Run: ./advanced_prefork_reuseport [--mode shared|reuseport|both] [--workers W]
 *      [--connections C]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WORKERS 16

static const char usage[] =
    "[--mode shared|reuseport|both] [--workers 2..16] [--connections 1..10000]";

/* A loopback TCP socket bound to `port` (0: the kernel picks one), SO_REUSEPORT set when
 * asked, listening.  Returns it; *port gets the port it has. */
static int loopback_listener(uint16_t *port, bool reuseport)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(*port)};
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd == -1)
        die_errno("socket");
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1)
        die_errno("setsockopt SO_REUSEPORT");
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("bind 127.0.0.1:%u", *port);
    if (listen(fd, 64) == -1 || getsockname(fd, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen");
    *port = ntohs(addr.sin_port);
    return fd;
}

/* Reads one request line (at most size - 1 bytes, '\n' dropped); returns its length. */
static size_t read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;
    char c;
    ssize_t n;

    while (len + 1 < size && (n = read(fd, &c, 1)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read a request");
        if (c == '\n')
            break;
        buf[len++] = c;
    }
    buf[len] = '\0';
    return len;
}

/* A worker: accept, answer "worker K", close; "stop" ends it with its own count. */
static noreturn void run_worker(int listener, int id)
{
    long served = 0;
    char request[32], reply[64];

    for (;;) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        if (conn == -1 && errno == EINTR)
            continue;
        if (conn == -1)
            die_errno("[worker %d] accept", id);
        read_line(conn, request, sizeof request);
        if (strcmp(request, "stop") == 0) {
            /* Leave the accept queue (or the SO_REUSEPORT group) before answering, so the
             * next stop request can only reach a worker that still runs. */
            close(listener);
            snprintf(reply, sizeof reply, "%d %ld\n", id, served);
            if (write_str(conn, reply) == -1)
                die_errno("[worker %d] answer stop", id);
            close(conn);
            exit(0);
        }
        served++;
        snprintf(reply, sizeof reply, "%d %s\n", id, request);
        if (write_str(conn, reply) == -1)
            die_errno("[worker %d] answer", id);
        close(conn);
    }
}

/* One connection: send `request`, read "K ..." until the worker closes; returns K and
 * stores the rest of the answer in rest. */
static int ask(uint16_t port, const char *request, char *rest, size_t size)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), worker = 0, used = 0;
    char answer[64];
    ssize_t n;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("[client] connect to 127.0.0.1:%u", port);
    if (write_str(fd, request) == -1 || write_str(fd, "\n") == -1)
        die_errno("[client] send");
    n = read_full(fd, answer, sizeof answer - 1);
    if (n == -1)
        die_errno("[client] read the answer");
    close(fd);
    answer[n] = '\0';
    if (sscanf(answer, "%d %n", &worker, &used) != 1 || worker < 1 || worker > MAX_WORKERS)
        die("[client] no worker number in the answer \"%s\"", answer);
    snprintf(rest, size, "%.*s", (int)strcspn(answer + used, "\n"), answer + used);
    return worker;
}

static void run_design(bool reuseport, int workers, long connections)
{
    const char *name = reuseport ? "reuseport" : "shared";
    int listeners[MAX_WORKERS];
    long spread[MAX_WORKERS + 1] = {0}, own_total = 0;
    pid_t pids[MAX_WORKERS];
    uint16_t port = 0;
    char rest[64], request[32], line[256];
    size_t used;

    listeners[0] = loopback_listener(&port, reuseport);
    if (reuseport) {
        for (int i = 1; i < workers; i++)
            listeners[i] = loopback_listener(&port, true);
        printf("[parent] %s: %d sockets with SO_REUSEPORT: the first bound to port 0 and got "
               "%u, %d more bound to %u; one per worker\n",
               name, workers, port, workers - 1, port);
    } else {
        printf("[parent] %s: one listening socket on 127.0.0.1:%u; all %d workers accept() "
               "on it\n",
               name, port, workers);
    }
    for (int i = 0; i < workers; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0) {
            int mine = listeners[reuseport ? i : 0];

            for (int j = 0; j < (reuseport ? workers : 1); j++)
                if (listeners[j] != mine)
                    close(listeners[j]);
            run_worker(mine, i + 1);
        }
        if (cleanup_add_child(pids[i]) == -1)
            die_errno("cleanup_add_child");
    }
    for (int j = 0; j < (reuseport ? workers : 1); j++)
        close(listeners[j]); /* the workers hold them now */

    printf("[client] %s: %ld connections, one after another\n", name, connections);
    for (long c = 1; c <= connections; c++) {
        snprintf(request, sizeof request, "connection %ld", c);
        spread[ask(port, request, rest, sizeof rest)]++;
        if (strcmp(rest, request) != 0)
            die("[client] connection %ld got the answer to \"%s\"", c, rest);
    }
    used = (size_t)snprintf(line, sizeof line, "[client] %s: connections per worker:", name);
    for (int w = 1; w <= workers; w++)
        used += (size_t)snprintf(line + used, sizeof line - used, " %ld", spread[w]);
    printf("%s\n", line);

    /* Stop them one by one; each answers with the count it kept itself. */
    for (int i = 0; i < workers; i++) {
        long own = 0;
        int w = ask(port, "stop", rest, sizeof rest);

        if (sscanf(rest, "%ld", &own) != 1 || own != spread[w])
            die("[parent] worker %d says it served \"%s\", the client counted %ld", w, rest,
                spread[w]);
        own_total += own;
    }
    for (int i = 0; i < workers; i++)
        reap_quietly(pids[i]);
    printf("[parent] %s: the workers' own counts add up to %ld of %ld: each connection "
           "served exactly once; %d workers stopped\n",
           name, own_total, connections, workers);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"mode", required_argument, NULL, 'm'},
                                             {"workers", required_argument, NULL, 'w'},
                                             {"connections", required_argument, NULL, 'c'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    bool shared = true, reuseport = true;
    long workers = 4, connections = 40;
    int opt;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'w') {
            workers = cli_long(optarg, 2, MAX_WORKERS, "--workers", usage);
        } else if (opt == 'c') {
            connections = cli_long(optarg, 1, 10000, "--connections", usage);
        } else {
            shared = strcmp(optarg, "shared") == 0 || strcmp(optarg, "both") == 0;
            reuseport = strcmp(optarg, "reuseport") == 0 || strcmp(optarg, "both") == 0;
            if (!shared && !reuseport)
                die_usage(usage, "--mode must be shared, reuseport or both, not \"%s\"", optarg);
        }
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (shared)
        run_design(false, (int)workers, connections);
    if (reuseport)
        run_design(true, (int)workers, connections);
    printf("[parent] the spread is the kernel's choice: a waiting worker woken from one queue "
           "(shared), or a hash of the connection's addresses and ports (reuseport)\n");
    return 0;
}
