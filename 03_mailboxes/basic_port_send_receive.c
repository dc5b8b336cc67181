/* basic_port_send_receive.c - one port between two processes: send, and three ways to receive
 *
 * The receiver creates a port (mailbox.h): it keeps the receive right and forks a sender
 * that inherits a send right.  Before the sender exists it tries the two receives that do
 * not wait for ever: non-blocking on the empty port (EAGAIN) and with a timeout
 * (ETIMEDOUT).  Then the sender sends, and a blocking receive and a timed one each get a
 * message, whole and in order.  When the sender exits, no send right is left anywhere and
 * the receive returns 0: "no senders", the port's end-of-file.
 * Guide part: theory (ports: send right, receive right, blocking and timed receive).
 * Trace: socketpair clone sendmsg recvmsg poll wait4
 * Run: ./basic_port_send_receive [--messages N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[--messages N]    (N from 1 to 100, default 3)";

enum { GREETING = 1, PAUSE_MS = 100 };

static noreturn void run_sender(mb_send_t to, long messages)
{
    static const char *const words[] = {"hello", "from", "the", "sender"};
    struct mb_msg m;

    for (long i = 1; i <= messages; i++) {
        char text[64];

        snprintf(text, sizeof text, "%s #%ld", words[(i - 1) % 4], i);
        if (mb_msg_text(&m, GREETING, (uint32_t)i, text) == -1)
            die_errno("mb_msg_text");
        sleep_ms(PAUSE_MS); /* so the receiver is already waiting: it blocks, then wakes */
        printf("[sender] sending message %ld: \"%s\"\n", i, text);
        if (mb_send(to, &m, MB_FOREVER) == -1)
            die_errno("mb_send");
    }
    printf("[sender] done: closing my send right and exiting\n");
    mb_send_release(&to);
    exit(0);
}

static void show(const char *how, const struct mb_msg *m, uint64_t waited_ns)
{
    printf("[receiver] %s: message %u (type %u, %u bytes): \"%s\" after %.0f ms\n", how,
           (unsigned)m->id, (unsigned)m->type, (unsigned)m->len, (const char *)m->payload,
           ns_to_s(waited_ns) * 1000);
}

static void try_empty_port(struct mb_port *port)
{
    struct mb_msg m;
    uint64_t t0;

    if (mb_receive(port, &m, 0) != -1 || errno != EAGAIN)
        die_errno("a non-blocking receive on the empty port should fail with EAGAIN");
    printf("[receiver] non-blocking receive on the empty port: EAGAIN, nothing queued\n");
    t0 = now_ns();
    if (mb_receive(port, &m, PAUSE_MS) != -1 || errno != ETIMEDOUT)
        die_errno("a timed receive on the empty port should fail with ETIMEDOUT");
    printf("[receiver] receive with a %d ms timeout: ETIMEDOUT after %.0f ms\n", PAUSE_MS,
           ns_to_s(elapsed_ns(t0)) * 1000);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"messages", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long messages = 3, received = 0;
    struct mb_port *port;
    struct mb_msg m;
    mb_send_t send;
    pid_t sender;
    int c, r;

    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        if (c == 'n')
            messages = cli_long(optarg, 1, 100, "--messages", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if ((port = mb_port_create(8, &send)) == NULL)
        die_errno("mb_port_create");
    printf("[receiver] port created: receive right fd %d, send right fd %d, room for %u "
           "messages\n",
           mb_port_fd(port), send.fd, mb_port_capacity(port));
    try_empty_port(port);

    sender = fork_or_die();
    if (sender == 0) {
        mb_port_destroy(port); /* a sender holds no receive right */
        run_sender(send, messages);
    }
    /* Mine must go too, or the port would always have a sender: no end-of-file. */
    mb_send_release(&send);
    printf("[receiver] forked sender %d and released my own send right\n", (int)sender);

    for (;;) {
        uint64_t t0 = now_ns();

        /* Alternate: a receive that waits for ever, then one that waits at most 2 s. */
        r = mb_receive(port, &m, received % 2 == 0 ? MB_FOREVER : 2000);
        if (r == -1)
            die_errno("mb_receive");
        if (r == 0)
            break;
        received++;
        show(received % 2 == 1 ? "blocking receive" : "receive with a 2000 ms timeout", &m,
             elapsed_ns(t0));
        if (m.id != (uint32_t)received)
            die("message %u arrived where %ld was due", (unsigned)m.id, received);
    }
    printf("[receiver] receive returned 0 after %ld messages: no senders left, the port is "
           "finished\n",
           received);
    reap_child(sender, "receiver");
    mb_port_destroy(port);
    return 0;
}
