/* pitfall_request_reply_deadlock.c - two servers that call each other synchronously deadlock
 *
 * Server A answers a client only after asking server B for a part, and B does the same
 * with A.  When each gets a client request at the same time, each sends its question and
 * blocks in mb_call() waiting for the answer, and neither receives the other's question:
 * a cycle of waits, found here only because every call has a 300 ms timeout.  --fixed
 * makes the nested call asynchronous: a server sends its question with a reply port that
 * sits in its port set beside its service port, and keeps serving while it waits, so it
 * answers the other's question and finishes its client when its own answer comes.
 * (The other cure is an ordering rule: calls only go one way, say from A to B.)
 * Guide part: pitfall (request/reply: synchronous calls in a cycle).
 * Run: ./pitfall_request_reply_deadlock [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char usage[] = "[--fixed]";

enum { CLIENT_REQ = 1, PEER_REQ, ANSWER, FAILED, CALL_TIMEOUT_MS = 300, FAILED_CALL = 3 };

struct server {
    char name, peer_name;
    struct mb_port *service; /* my receive right */
    mb_send_t peer;          /* a send right to the other server */
};

static void send_answer(struct mb_msg *req, uint32_t type, const char *text)
{
    struct mb_msg ans;

    if (mb_msg_text(&ans, type, 0, text) == -1 || mb_reply(req, &ans, 1000) == -1)
        printf("[server] answer lost: %s\n", strerror(errno));
}

/* Broken: ask the peer and wait for it, inside the receive loop. */
static void serve_blocking(struct server *s)
{
    struct mb_msg req, call;

    if (mb_receive(s->service, &req, 2000) != 1 || req.type != CLIENT_REQ)
        die("server %c: no client request", s->name);
    printf("[server %c] client request: calling %c for its part and waiting\n", s->name,
           s->peer_name);
    mb_msg_text(&call, PEER_REQ, 0, "your part, please");
    if (mb_call(s->peer, &call, CALL_TIMEOUT_MS) == 0) {
        send_answer(&req, ANSWER, "done");
        return;
    }
    if (errno == ETIMEDOUT)
        printf("[server %c] no answer from %c within %d ms: deadlock, %c is blocked calling "
               "me\n",
               s->name, s->peer_name, CALL_TIMEOUT_MS, s->peer_name);
    else
        printf("[server %c] call to %c failed: %s (%c gave up first)\n", s->name, s->peer_name,
               strerror(errno), s->peer_name);
    send_answer(&req, FAILED, "deadlock detected");
    /* Leaving drops the peer's question, still queued: its mb_call() sees ECONNRESET. */
}

/* Fixed: the nested call's answer comes to a port of my set; I keep serving meanwhile. */
static void serve_async(struct server *s)
{
    mb_send_t replies_send;
    struct mb_port *replies = mb_port_create(4, &replies_send);
    struct mb_set *set = mb_set_create();
    struct mb_msg m, client_req = {.reply = MB_NO_RIGHT};
    bool client_done = false, peer_done = false;

    if (replies == NULL || set == NULL || mb_set_add(set, s->service, 0, NULL) == -1 ||
        mb_set_add(set, replies, 0, NULL) == -1)
        die_errno("server %c: set up the port set", s->name);
    while (!client_done || !peer_done) {
        struct mb_event ev;

        if (mb_set_receive(set, &m, &ev, 2000) != 1)
            die_errno("server %c: mb_set_receive", s->name);
        if (ev.kind != MB_EV_MESSAGE)
            die("server %c: a port lost its senders", s->name);
        if (ev.port == replies) { /* the peer's part: finish the client's request */
            printf("[server %c] %c's part arrived: answering my client\n", s->name, s->peer_name);
            send_answer(&client_req, ANSWER, "done");
            client_done = true;
        } else if (m.type == CLIENT_REQ) {
            struct mb_msg call;

            printf("[server %c] client request: asking %c for its part, not waiting\n", s->name,
                   s->peer_name);
            client_req = m; /* keep its reply right until the answer is ready */
            mb_msg_text(&call, PEER_REQ, 0, "your part, please");
            call.reply = replies_send; /* copied into the message; I keep mine */
            if (mb_send(s->peer, &call, 1000) == -1)
                die_errno("server %c: mb_send", s->name);
        } else {
            printf("[server %c] %c asks for my part: answering at once\n", s->name, s->peer_name);
            send_answer(&m, ANSWER, "my part");
            peer_done = true;
        }
    }
    mb_set_destroy(set);
    mb_send_release(&replies_send);
    mb_port_destroy(replies);
}

/* A client holds one send right, to the server it calls, and nothing else. */
static noreturn void run_client(int id, struct server *mine, struct server *other)
{
    mb_send_t server = other->peer; /* the other server's right to mine is mine to use */
    struct mb_msg m;
    int status = 0;

    mb_port_destroy(mine->service);
    mb_port_destroy(other->service);
    mb_send_release(&mine->peer);
    mb_msg_text(&m, CLIENT_REQ, (uint32_t)id, "a request");
    if (mb_call(server, &m, 2000) == 0 && m.type == ANSWER) {
        printf("[client %d] server %c answered \"%s\"\n", id, mine->name, (char *)m.payload);
    } else {
        printf("[client %d] server %c failed: %s\n", id, mine->name,
               m.type == FAILED ? (char *)m.payload : strerror(errno));
        status = FAILED_CALL;
    }
    mb_send_release(&server);
    exit(status);
}

/* Two clients call A and B; only once both requests are queued do the servers start, so
 * each server's first message is its client's request: the cycle is certain. */
static void start_clients(struct server *sa, struct server *sb, pid_t clients[2])
{
    uint64_t t0 = now_ns();

    if ((clients[0] = fork_or_die()) == 0)
        run_client(1, sa, sb);
    if ((clients[1] = fork_or_die()) == 0)
        run_client(2, sb, sa);
    while (mb_port_queued(sa->service) < 1 || mb_port_queued(sb->service) < 1)
        if (elapsed_ns(t0) > 2000000000u)
            die("the clients' requests never arrived");
        else
            sleep_ms(1);
}

static void show_wait(pid_t pid, char name)
{
    char wchan[64] = "";

    proc_wchan(pid, wchan, sizeof wchan);
    printf("[main] server %c (pid %d) sleeps in %s\n", name, (int)pid,
           wchan[0] ? wchan : "(wait channel not visible)");
}

int main(int argc, char *argv[])
{
    struct server sa = {'A', 'B', NULL, MB_NO_RIGHT}, sb = {'B', 'A', NULL, MB_NO_RIGHT};
    pid_t clients[2], servers[2];
    int answered = 0;
    bool fixed;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((sa.service = mb_port_create(8, &sb.peer)) == NULL ||
        (sb.service = mb_port_create(8, &sa.peer)) == NULL)
        die_errno("mb_port_create");
    printf("[main] %s\n", fixed ? "fixed: nested calls are asynchronous"
                                : "broken: each server calls the other synchronously");
    start_clients(&sa, &sb, clients);
    printf("[main] both client requests are queued; starting servers A and B\n");
    for (int i = 0; i < 2; i++) {
        struct server *s = i == 0 ? &sa : &sb;

        if ((servers[i] = fork_or_die()) == 0) {
            struct server *other = i == 0 ? &sb : &sa;

            mb_port_destroy(other->service); /* not mine */
            mb_send_release(&other->peer);   /* a right to myself: no use to me */
            if (fixed)
                serve_async(s);
            else
                serve_blocking(s);
            mb_port_destroy(s->service);
            mb_send_release(&s->peer);
            exit(0);
        }
    }
    mb_port_destroy(sa.service);
    mb_port_destroy(sb.service);
    mb_send_release(&sa.peer);
    mb_send_release(&sb.peer);
    if (!fixed) {
        sleep_ms(CALL_TIMEOUT_MS / 2);
        show_wait(servers[0], 'A');
        show_wait(servers[1], 'B');
    }
    for (int i = 0; i < 2; i++) {
        int status = reap_child(clients[i], "main");

        answered += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    for (int i = 0; i < 2; i++)
        reap_child(servers[i], "main");
    printf("[main] %d of 2 client calls answered\n", answered);
    if ((answered == 2) != fixed)
        die(fixed ? "the fixed servers failed a call" : "the broken servers did not deadlock");
    return 0;
}
