/* advanced_sync_rendezvous.c - QNX-style MsgSend, MsgReceive, MsgReply: the sender waits for the
 * answer
 *
 * In QNX Neutrino (and in seL4's Call/ReplyRecv) a message is a rendezvous: MsgSend()
 * blocks the client, first SEND-blocked until the server calls MsgReceive(), then
 * REPLY-blocked until the server calls MsgReply() with the receive id it was given.  Here
 * MsgSend is mb_call(), the receive id is the reply right a request carries, and MsgReply
 * is mb_reply(); an observer process watches the client through /proc and the port
 * through SIOCINQ and names each phase.  Left out: QNX copies the message straight
 * into the server's buffer (here it waits in a socket buffer, invisible to the client,
 * which cannot run either way), priority inheritance, and pulses.
 * Guide part: theory (synchronous message passing: the rendezvous).
 * Run: ./advanced_sync_rendezvous
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "(no options)";

/* Each phase lasts DELAY_MS: long enough for the observer to see it on a loaded machine. */
enum { CALLS = 2, DELAY_MS = 250, TIMEOUT_MS = 5000 };

static uint64_t start_ns; /* set before any fork: one clock for every process */

/* One narration line, stamped with the time since the start. */
static void say(const char *role, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void say(const char *role, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("[%s] t=%3.0f ms: %s\n", role, ns_to_s(elapsed_ns(start_ns)) * 1000, line);
}

static noreturn void run_client(mb_send_t server)
{
    struct mb_msg m;

    for (int i = 1; i <= CALLS; i++) {
        char text[32];
        uint64_t t0;

        snprintf(text, sizeof text, "ping %d", i);
        mb_msg_text(&m, 1, (uint32_t)i, text);
        say("client", "MsgSend(\"%s\"): I cannot run until the server replies", text);
        t0 = now_ns();
        if (mb_call(server, &m, TIMEOUT_MS) == -1)
            die_errno("client: MsgSend");
        say("client", "MsgSend returned \"%s\" after %.0f ms", (char *)m.payload,
            ns_to_s(elapsed_ns(t0)) * 1000);
    }
    mb_send_release(&server);
    exit(0);
}

static noreturn void run_server(struct mb_port *port)
{
    struct mb_msg req, ans;
    char text[32];

    for (int i = 1; i <= CALLS; i++) {
        sleep_ms(DELAY_MS); /* busy elsewhere: the client stays SEND-blocked */
        if (mb_receive(port, &req, TIMEOUT_MS) != 1)
            die_errno("server: MsgReceive");
        say("server", "MsgReceive: \"%s\"; its receive id is the reply right it carries",
            (char *)req.payload);
        sleep_ms(DELAY_MS); /* the work: the client is REPLY-blocked meanwhile */
        snprintf(text, sizeof text, "PONG %u", (unsigned)req.id);
        mb_msg_text(&ans, 2, 0, text);
        say("server", "MsgReply(\"%s\")", text);
        if (mb_reply(&req, &ans, TIMEOUT_MS) == -1)
            die_errno("server: MsgReply");
    }
    mb_port_destroy(port);
    exit(0);
}

/* Waits until the port holds `queued` messages, then reports the client's state. */
static void observe(struct mb_port *port, pid_t client, long queued, const char *phase)
{
    char wchan[64] = "";
    uint64_t t0 = now_ns();

    while (mb_port_queued(port) != queued)
        if (elapsed_ns(t0) > (uint64_t)TIMEOUT_MS * 1000000u)
            die("the port never held %ld messages", queued);
        else
            sleep_ms(1);
    sleep_ms(DELAY_MS / 4); /* well inside the phase, away from its edges */
    proc_wchan(client, wchan, sizeof wchan);
    say("observer",
        "client is %s: state %c, %ld message%s in the server's port, sleeping "
        "in %s",
        phase, proc_state(client), queued, queued == 1 ? "" : "s",
        wchan[0] ? wchan : "(not visible)");
}

int main(int argc, char *argv[])
{
    struct mb_port *port;
    mb_send_t send;
    pid_t server, client;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((port = mb_port_create(8, &send)) == NULL)
        die_errno("mb_port_create");
    start_ns = now_ns();
    if ((server = fork_or_die()) == 0) {
        mb_send_release(&send);
        run_server(port);
    }
    if ((client = fork_or_die()) == 0) {
        mb_port_destroy(port);
        run_client(send);
    }
    mb_send_release(&send);
    /* The observer keeps a copy of the receive end only to read SIOCINQ; it never
     * receives. */
    for (int i = 1; i <= CALLS; i++) {
        observe(port, client, 1, "SEND-blocked (its message not yet received)");
        observe(port, client, 0, "REPLY-blocked (message received, no reply yet)");
    }
    reap_child(client, "observer");
    reap_child(server, "observer");
    mb_port_destroy(port);
    return 0;
}
