/* advanced_right_transfer.c - a send right moved through a name server to a stranger
 *
 * Every process starts with one right, inherited: a send right to the name server (what
 * Mach calls the bootstrap port).  The echo service creates its port only after it has
 * been forked, registers it by sending the name server a message that carries a send
 * right, and lets its own copy go.  The client, which never saw that port created, asks
 * the name server for "echo", receives a right in the reply, and calls the service with
 * it.  /proc shows the right is the same kernel socket in all three processes.
 * Guide part: theory (rights: moving a send right with SCM_RIGHTS).
 * Run: ./advanced_right_transfer
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] = "(no options)";

enum { REGISTER = 1, LOOKUP, FOUND, UNKNOWN, ECHO, TIMEOUT_MS = 3000 };

/* "socket:[inode]" of a descriptor: the kernel object a right names. */
static struct human object_of(int fd)
{
    struct human h;
    struct stat st;

    if (fstat(fd, &st) == -1)
        die_errno("fstat");
    snprintf(h.s, sizeof h.s, "socket:[%lu]", (unsigned long)st.st_ino);
    return h;
}

/* Serves one REGISTER and one LOOKUP, then exits. */
static noreturn void run_name_server(struct mb_port *port)
{
    mb_send_t echo = MB_NO_RIGHT;
    struct mb_msg m, ans;

    for (int served = 0; served < 2;) {
        if (mb_receive(port, &m, TIMEOUT_MS) != 1)
            die_errno("name server: mb_receive");
        m.payload[MB_MAX_PAYLOAD - 1] = '\0';
        if (m.type == REGISTER && m.nrights == 1) {
            echo.fd = m.rights[0]; /* keep the right the message brought */
            m.nrights = 0;
            printf("[name server] \"%s\" registered: I now hold a send right, fd %d = %s\n",
                   (char *)m.payload, echo.fd, object_of(echo.fd).s);
            mb_msg_init(&ans, FOUND, 0, NULL, 0);
            served++;
        } else if (m.type == LOOKUP && echo.fd >= 0 && strcmp((char *)m.payload, "echo") == 0) {
            printf("[name server] lookup of \"echo\": replying with a copy of my right\n");
            mb_msg_init(&ans, FOUND, 0, NULL, 0);
            mb_msg_add_right(&ans, echo.fd);
            served++;
        } else {
            mb_msg_init(&ans, UNKNOWN, 0, NULL, 0);
        }
        if (mb_reply(&m, &ans, TIMEOUT_MS) == -1)
            die_errno("name server: mb_reply");
        mb_msg_release(&m);
    }
    mb_send_release(&echo);
    mb_port_destroy(port);
    exit(0);
}

static noreturn void run_echo_service(mb_send_t bootstrap)
{
    mb_send_t mine;
    struct mb_port *port = mb_port_create(8, &mine);
    struct mb_msg m;

    if (port == NULL)
        die_errno("echo: mb_port_create");
    printf("[echo] created my port after the fork: send end fd %d = %s\n", mine.fd,
           object_of(mine.fd).s);
    mb_msg_text(&m, REGISTER, 0, "echo");
    mb_msg_add_right(&m, mine.fd);
    if (mb_call(bootstrap, &m, TIMEOUT_MS) == -1 || m.type != FOUND)
        die_errno("echo: register");
    mb_send_release(&mine); /* moved: the name server holds the service's only right */
    mb_send_release(&bootstrap);
    printf("[echo] registered with the name server and released my own send right\n");
    if (mb_receive(port, &m, TIMEOUT_MS) != 1)
        die_errno("echo: mb_receive");
    printf("[echo] request \"%s\": echoing it back\n", (char *)m.payload);
    if (mb_reply(&m, &m, TIMEOUT_MS) == -1)
        die_errno("echo: mb_reply");
    mb_msg_release(&m);
    /* The name server exits after two requests, the client after its call: then no
     * sender is left and the port reads end-of-file. */
    if (mb_receive(port, &m, TIMEOUT_MS) != 0)
        die("echo: expected no senders");
    printf("[echo] no senders left: the service shuts down\n");
    mb_port_destroy(port);
    exit(0);
}

static noreturn void run_client(mb_send_t bootstrap)
{
    mb_send_t echo;
    struct mb_msg m;

    /* Ask until the name is there: the service may not have registered yet. */
    for (;;) {
        mb_msg_text(&m, LOOKUP, 0, "echo");
        if (mb_call(bootstrap, &m, TIMEOUT_MS) == -1)
            die_errno("client: lookup");
        if (m.type != UNKNOWN)
            break;
        sleep_ms(10);
    }
    if (m.nrights != 1)
        die("client: the lookup brought no right");
    echo.fd = m.rights[0];
    mb_send_release(&bootstrap);
    printf("[client] the name server gave me fd %d = %s, a port I never saw created\n", echo.fd,
           object_of(echo.fd).s);
    mb_msg_text(&m, ECHO, 7, "hello, stranger");
    if (mb_call(echo, &m, TIMEOUT_MS) == -1)
        die_errno("client: call echo");
    printf("[client] echo answered \"%s\"\n", (char *)m.payload);
    mb_send_release(&echo);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct mb_port *ns_port;
    mb_send_t bootstrap;
    pid_t ns, echo, client;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((ns_port = mb_port_create(16, &bootstrap)) == NULL)
        die_errno("mb_port_create");
    printf("[main] name server port created; every child inherits a send right to it\n");
    if ((ns = fork_or_die()) == 0) {
        mb_send_release(&bootstrap);
        run_name_server(ns_port);
    }
    mb_port_destroy(ns_port);
    if ((echo = fork_or_die()) == 0)
        run_echo_service(bootstrap);
    if ((client = fork_or_die()) == 0)
        run_client(bootstrap);
    mb_send_release(&bootstrap);
    reap_child(client, "main");
    reap_child(ns, "main");
    reap_child(echo, "main");
    return 0;
}
