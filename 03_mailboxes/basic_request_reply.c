/* basic_request_reply.c - requests that carry their own reply port, from several clients at once
 *
 * A client creates a reply port for each call and sends its request with a send right to
 * it (mb_call(): the right is moved, the client keeps only the receive right).  The
 * server answers on whatever reply right a request brings (mb_reply()), so with three
 * clients calling at once each answer can only reach the client that asked.  Clients find
 * the server by name: a bootstrap socket bound at a path hands each newcomer a send right
 * to the server's port, the way a Mach task asks its bootstrap server.
 * Guide part: theory (request/reply: reply ports, many clients).
 * Run: ./basic_request_reply
 *      two terminals: ./basic_request_reply --server PATH     (Ctrl-C stops it)
 *                     ./basic_request_reply --client PATH [N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[--server PATH | --client PATH [N]]    (N calls, 1 to 1000)";

enum { CLIENTS = 3, CALLS = 2, REQUEST = 1, ANSWER = 2, CALL_TIMEOUT_MS = 5000 };

static void answer(struct mb_msg *req, int served)
{
    struct mb_msg ans;

    req->payload[MB_MAX_PAYLOAD - 1] = '\0'; /* never trust a peer's string */
    if (mb_msg_init(&ans, ANSWER, 0, req->payload, strlen((char *)req->payload) + 1) == -1)
        die_errno("mb_msg_init");
    for (uint32_t i = 0; i < ans.len; i++)
        if (ans.payload[i] >= 'a' && ans.payload[i] <= 'z')
            ans.payload[i] = (unsigned char)(ans.payload[i] - 'a' + 'A');
    printf("[server] request %d (id %u): \"%s\", answering on its reply port\n", served,
           (unsigned)req->id, (char *)req->payload);
    /* A caller that gave up is EPIPE here: its loss, not the server's. */
    if (mb_reply(req, &ans, 1000) == -1)
        printf("[server] reply to id %u lost: %s\n", (unsigned)req->id, strerror(errno));
    mb_msg_release(req); /* any right a request brought and we do not keep */
}

/* Serves lookups on listen_fd and requests on its port until SIGINT or SIGTERM. */
static noreturn void run_server(int listen_fd, const char *path)
{
    struct mb_port *port;
    mb_send_t service;
    sigset_t waiting;
    int served = 0;

    /* SIGINT and SIGTERM set stop_signal, and stay blocked except inside ppoll(): one that
     * comes between the flag test and the wait ends the wait instead of being missed. */
    stop_signals_to_flag(&waiting);
    if ((port = mb_port_create(16, &service)) == NULL)
        die_errno("mb_port_create");
    printf("[server] serving on %s until SIGINT or SIGTERM\n", path);
    while (!stop_signal) {
        struct pollfd pfd[2] = {{.fd = listen_fd, .events = POLLIN},
                                {.fd = mb_port_fd(port), .events = POLLIN}};
        struct mb_msg req;

        if (ppoll(pfd, 2, NULL, &waiting) == -1) {
            if (errno == EINTR)
                continue;
            die_errno("ppoll");
        }
        if ((pfd[0].revents & POLLIN) && mb_bootstrap_serve(listen_fd, service, 0) == 0)
            printf("[server] a newcomer looked up %s: handed it a send right\n", path);
        if ((pfd[1].revents & POLLIN) && mb_receive(port, &req, 0) == 1)
            answer(&req, ++served);
    }
    printf("[server] SIG%s: %d requests served, leaving\n", sigabbrev_np(stop_signal), served);
    mb_send_release(&service);
    mb_port_destroy(port);
    close(listen_fd);
    exit(0); /* the cleanup registry removes the name if this process bound it */
}

static noreturn void run_client(const char *path, int id, long calls)
{
    mb_send_t server;
    struct mb_msg m;

    if (mb_bootstrap_lookup(path, &server, CALL_TIMEOUT_MS) == -1)
        die_errno("look up %s (is the server running?)", path);
    for (long i = 1; i <= calls; i++) {
        char text[64], expected[64];
        uint32_t call_id = (uint32_t)id * 1000u + (uint32_t)i;

        snprintf(text, sizeof text, "client %d request %ld", id, i);
        snprintf(expected, sizeof expected, "CLIENT %d REQUEST %ld", id, i);
        if (mb_msg_text(&m, REQUEST, call_id, text) == -1)
            die_errno("mb_msg_text");
        printf("[client %d] calling with \"%s\" (id %u)\n", id, text, (unsigned)call_id);
        if (mb_call(server, &m, CALL_TIMEOUT_MS) == -1)
            die_errno("mb_call");
        if (m.type != ANSWER || m.id != call_id || strcmp((char *)m.payload, expected) != 0)
            die("client %d got someone else's answer: \"%s\"", id, (char *)m.payload);
        printf("[client %d] reply to id %u: \"%s\" (mine)\n", id, (unsigned)m.id,
               (char *)m.payload);
        mb_msg_release(&m);
    }
    mb_send_release(&server);
    exit(0);
}

/* Binds the name, holding the stop signals so the registry knows it before one lands. */
static int bind_name(const char *path)
{
    sigset_t saved;
    int fd;

    stop_signals_hold(&saved);
    if ((fd = mb_bootstrap_listen(path)) == -1)
        die_errno("bind %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    return fd;
}

static void run_demo(void)
{
    char dir[PATH_MAX - 16], path[PATH_MAX];
    pid_t server, clients[CLIENTS];
    int listen_fd;

    make_temp_dir(dir, sizeof dir, "request_reply");
    snprintf(path, sizeof path, "%s/echo.port", dir);
    listen_fd = bind_name(path);
    printf("[main] bound the service name %s; starting the server and %d clients\n", path, CLIENTS);
    if ((server = fork_or_die()) == 0)
        run_server(listen_fd, path); /* it inherits the bound name */
    close(listen_fd);
    for (int i = 0; i < CLIENTS; i++)
        if ((clients[i] = fork_or_die()) == 0)
            run_client(path, i + 1, CALLS);
    for (int i = 0; i < CLIENTS; i++)
        reap_child(clients[i], "main");
    printf("[main] every client has its answers; stopping the server with SIGTERM\n");
    if (kill(server, SIGTERM) == -1)
        die_errno("kill");
    reap_child(server, "main");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"client", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server_path = NULL, *client_path = NULL;
    long calls = 3;
    int c;

    while ((c = cli_getopt(argc, argv, "s:c:h", longopts, usage)) != -1) {
        if (c == 's')
            server_path = optarg;
        else
            client_path = optarg;
    }
    if (server_path != NULL && client_path != NULL)
        die_usage(usage, "--server and --client exclude each other");
    if ((server_path != NULL && server_path[0] == '\0') ||
        (client_path != NULL && client_path[0] == '\0'))
        die_usage(usage, "PATH must not be empty");
    if (client_path != NULL && optind < argc)
        calls = cli_long(argv[optind++], 1, 1000, "N", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if (server_path != NULL)
        run_server(bind_name(server_path), server_path);
    if (client_path != NULL)
        run_client(client_path, (int)(getpid() % 100000), calls);
    run_demo();
    return 0;
}
