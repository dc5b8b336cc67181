/* advanced_dead_name.c - death seen from both sides: no senders, and dead names
 *
 * Each client opens a session with the server and gets the only send right to a session
 * port, whose state the server keeps.  When a client is killed, the kernel closes its
 * descriptors, the session port has no sender left, and the server's port set reports it
 * (MB_EV_NO_SENDERS): the server frees that client's state, with no timeout and no
 * heartbeat.  When the server is killed, its receive rights go, every session right
 * becomes a dead name, and the clients, which asked for a dead-name notification
 * (mb_set_watch), are told at once instead of hanging.
 * Guide part: theory (notifications: no-senders and dead-name, Mach's two death notices).
 * Run: ./advanced_dead_name
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "(no options)";

enum { CLIENTS = 3, VICTIM = 2, OPEN = 1, REQUEST, DONE, READY, FREED, TIMEOUT_MS = 3000 };

struct session {
    int client, requests;
    struct mb_port *port;
    char *state; /* what a real server would keep per client */
};

static void reply_text(struct mb_msg *req, uint32_t type, const char *text)
{
    struct mb_msg ans;

    if (mb_msg_text(&ans, type, 0, text) == -1 || mb_reply(req, &ans, TIMEOUT_MS) == -1)
        die_errno("server: mb_reply");
}

static void open_session(struct mb_set *set, struct mb_msg *req)
{
    struct session *s = calloc(1, sizeof *s);
    mb_send_t right;
    struct mb_msg ans;

    if (s == NULL || (s->state = malloc(4096)) == NULL)
        die("server: out of memory");
    if ((s->port = mb_port_create(8, &right)) == NULL || mb_set_add(set, s->port, 0, s) == -1)
        die_errno("server: new session");
    s->client = (int)req->id;
    mb_msg_init(&ans, DONE, 0, NULL, 0);
    mb_msg_add_right(&ans, right.fd);
    if (mb_reply(req, &ans, TIMEOUT_MS) == -1)
        die_errno("server: mb_reply");
    mb_send_release(&right); /* moved: the client holds the session's only send right */
    printf("[server] session for client %d opened: 4096 bytes of state\n", s->client);
}

static noreturn void run_server(struct mb_port *main_port, mb_send_t to_main)
{
    struct mb_set *set = mb_set_create();
    struct mb_event ev;
    struct mb_msg m;

    if (set == NULL || mb_set_add(set, main_port, 1, NULL) == -1)
        die_errno("server: mb_set_add");
    while (mb_set_receive(set, &m, &ev, MB_FOREVER) == 1) {
        struct session *s = ev.cookie;

        if (ev.kind == MB_EV_NO_SENDERS && s != NULL) {
            printf("[server] session of client %d: no senders left, the client is gone; "
                   "freeing its state (%d requests served)\n",
                   s->client, s->requests);
            mb_port_destroy(s->port);
            free(s->state);
            mb_msg_init(&m, FREED, (uint32_t)s->client, NULL, 0);
            free(s);
            if (mb_send(to_main, &m, TIMEOUT_MS) == -1)
                die_errno("server: tell main");
        } else if (ev.kind == MB_EV_MESSAGE && s == NULL && m.type == OPEN) {
            open_session(set, &m);
        } else if (ev.kind == MB_EV_MESSAGE && s != NULL) {
            s->requests++;
            reply_text(&m, DONE, "done");
        }
        mb_msg_release(&m);
    }
    die_errno("server: mb_set_receive");
}

static noreturn void run_client(int id, mb_send_t server, mb_send_t to_main)
{
    struct mb_set *set = mb_set_create();
    mb_send_t session;
    struct mb_event ev;
    struct mb_msg m;
    uint64_t t0;

    mb_msg_init(&m, OPEN, (uint32_t)id, NULL, 0);
    if (mb_call(server, &m, TIMEOUT_MS) == -1 || m.nrights != 1)
        die_errno("client %d: open a session", id);
    session.fd = m.rights[0];
    mb_send_release(&server);
    for (int i = 0; i < 2; i++) {
        mb_msg_text(&m, REQUEST, (uint32_t)i, "work");
        if (mb_call(session, &m, TIMEOUT_MS) == -1)
            die_errno("client %d: request", id);
    }
    /* Ask to be told when the session's receive right dies: Mach's dead-name request. */
    if (set == NULL || mb_set_watch(set, session, 0, NULL) == -1)
        die_errno("client %d: mb_set_watch", id);
    printf("[client %d] 2 requests answered; idle, with a dead-name watch on my session\n", id);
    mb_msg_init(&m, READY, (uint32_t)id, NULL, 0);
    if (mb_send(to_main, &m, TIMEOUT_MS) == -1)
        die_errno("client %d: tell main", id);
    mb_send_release(&to_main);
    t0 = now_ns();
    if (mb_set_receive(set, &m, &ev, 10000) == -1 || ev.kind != MB_EV_DEAD_NAME)
        die_errno("client %d: no dead-name notification", id);
    printf("[client %d] dead-name notification after %.0f ms idle: the server is gone, so "
           "I stop instead of hanging\n",
           id, ns_to_s(elapsed_ns(t0)) * 1000);
    mb_send_release(&session);
    mb_set_destroy(set);
    exit(0);
}

static void expect_message(struct mb_port *port, uint32_t type, int count)
{
    struct mb_msg m;

    for (int i = 0; i < count; i++)
        if (mb_receive(port, &m, TIMEOUT_MS) != 1 || m.type != type)
            die_errno("main: waiting for the children");
}

int main(int argc, char *argv[])
{
    mb_send_t server_send, main_send;
    struct mb_port *server_port, *main_port;
    pid_t server, clients[CLIENTS];

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((server_port = mb_port_create(16, &server_send)) == NULL ||
        (main_port = mb_port_create(16, &main_send)) == NULL)
        die_errno("mb_port_create");
    if ((server = fork_or_die()) == 0) {
        mb_port_destroy(main_port);
        mb_send_release(&server_send);
        run_server(server_port, main_send);
    }
    mb_port_destroy(server_port);
    for (int i = 0; i < CLIENTS; i++) {
        if ((clients[i] = fork_or_die()) == 0) {
            mb_port_destroy(main_port);
            run_client(i + 1, server_send, main_send);
        }
    }
    mb_send_release(&server_send);
    mb_send_release(&main_send);
    expect_message(main_port, READY, CLIENTS);

    printf("[main] killing client %d with SIGKILL: it gets no chance to say goodbye\n", VICTIM);
    kill(clients[VICTIM - 1], SIGKILL);
    reap_child(clients[VICTIM - 1], "main");
    expect_message(main_port, FREED, 1);

    printf("[main] killing the server with SIGKILL\n");
    kill(server, SIGKILL);
    reap_child(server, "main");
    for (int i = 0; i < CLIENTS; i++)
        if (i != VICTIM - 1)
            reap_child(clients[i], "main");
    mb_port_destroy(main_port);
    return 0;
}
