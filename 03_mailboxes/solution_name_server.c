/* solution_name_server.c - exercise 2: services register ports by name, clients look them up
 *
 * A name server process keeps a table of names and send rights.  Each service creates
 * its port only after it is forked and registers it: a message with its name and a send
 * right (SCM_RIGHTS).  Once every service has registered, the clients start; each looks
 * up a service, receives a copy of its right in the reply (SCM_RIGHTS again), and calls
 * it.  A lookup of a name nobody registered is answered "not found".  Everything ends by
 * "no senders": the name server when nobody can ask any more, a service when nobody can
 * call it any more.
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_name_server [--services N] [--clients M]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[--services N] [--clients M]    (N from 1 to 16, default 3; M "
                            "from 1 to 64, default 4)";

enum { REGISTER = 1, LOOKUP, FOUND, NOT_FOUND, CALL, ANSWER, READY, MAX_NAMES = 16 };
enum { TIMEOUT_MS = 5000 };

static noreturn void run_name_server(struct mb_port *port)
{
    struct {
        char name[16];
        int right;
    } table[MAX_NAMES];
    int n = 0, r;
    struct mb_msg m, ans;

    while ((r = mb_receive(port, &m, MB_FOREVER)) == 1) {
        m.payload[MB_MAX_PAYLOAD - 1] = '\0'; /* never trust a peer's string */
        mb_msg_init(&ans, NOT_FOUND, 0, NULL, 0);
        if (m.type == REGISTER && m.nrights == 1 && n < MAX_NAMES) {
            snprintf(table[n].name, sizeof table[n].name, "%.15s", (char *)m.payload);
            table[n++].right = m.rights[0];
            m.nrights = 0; /* the table keeps the right */
            ans.type = FOUND;
        } else if (m.type == LOOKUP) {
            for (int i = 0; i < n; i++)
                if (strcmp(table[i].name, (char *)m.payload) == 0) {
                    ans.type = FOUND;
                    mb_msg_add_right(&ans, table[i].right); /* a copy goes out */
                    break;
                }
        }
        if (m.reply.fd >= 0 && mb_reply(&m, &ans, TIMEOUT_MS) == -1)
            die_errno("name server: reply");
        mb_msg_release(&m);
    }
    if (r == -1)
        die_errno("name server: mb_receive");
    for (int i = 0; i < n; i++) /* no senders: nobody can look anything up any more */
        close(table[i].right);
    mb_port_destroy(port);
    exit(0);
}

static noreturn void run_service(int k, mb_send_t name_server, mb_send_t to_main)
{
    mb_send_t mine;
    struct mb_port *port = mb_port_create(16, &mine);
    struct mb_msg m, ans;
    char text[64];

    if (port == NULL)
        die_errno("svc%d: mb_port_create", k);
    snprintf(text, sizeof text, "svc%d", k);
    mb_msg_text(&m, REGISTER, 0, text);
    mb_msg_add_right(&m, mine.fd);
    if (mb_call(name_server, &m, TIMEOUT_MS) == -1 || m.type != FOUND)
        die_errno("svc%d: register", k);
    mb_send_release(&mine); /* the name server's copy is the only one now */
    mb_send_release(&name_server);
    mb_msg_init(&m, READY, (uint32_t)k, NULL, 0);
    if (mb_send(to_main, &m, TIMEOUT_MS) == -1)
        die_errno("svc%d: tell main", k);
    mb_send_release(&to_main);
    while (mb_receive(port, &m, MB_FOREVER) == 1) {
        m.payload[MB_MAX_PAYLOAD - 1] = '\0';
        snprintf(text, sizeof text, "svc%d got %.40s", k, (char *)m.payload);
        mb_msg_text(&ans, ANSWER, 0, text);
        if (mb_reply(&m, &ans, TIMEOUT_MS) == -1)
            die_errno("svc%d: reply", k);
    }
    mb_port_destroy(port);
    exit(0);
}

/* A lookup: 1 with *right filled, 0 if not found. */
static int look_up(mb_send_t name_server, const char *name, mb_send_t *right)
{
    struct mb_msg m;

    mb_msg_text(&m, LOOKUP, 0, name);
    if (mb_call(name_server, &m, TIMEOUT_MS) == -1)
        die_errno("lookup %s", name);
    if (m.type != FOUND || m.nrights != 1)
        return 0;
    right->fd = m.rights[0];
    return 1;
}

static noreturn void run_client(int i, long services, mb_send_t name_server)
{
    int k = (i - 1) % (int)services + 1;
    char name[16], text[32];
    mb_send_t service;
    struct mb_msg m;

    snprintf(name, sizeof name, "svc%d", k);
    if (!look_up(name_server, name, &service))
        die("client %d: %s is not registered", i, name);
    mb_send_release(&name_server);
    snprintf(text, sizeof text, "client %d", i);
    mb_msg_text(&m, CALL, 0, text);
    if (mb_call(service, &m, TIMEOUT_MS) == -1)
        die_errno("client %d: call %s", i, name);
    printf("client %d: %s answered \"%s\"\n", i, name, (char *)m.payload);
    mb_send_release(&service);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"services", required_argument, NULL, 's'},
        {"clients", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long services = 3, clients = 4;
    struct mb_port *ns_port, *main_port;
    mb_send_t ns, to_main, unused;
    pid_t pids[1 + MAX_NAMES + 64];
    int c, n = 0;
    struct mb_msg m;

    while ((c = cli_getopt(argc, argv, "s:c:h", longopts, usage)) != -1) {
        if (c == 's')
            services = cli_long(optarg, 1, MAX_NAMES, "--services", usage);
        else
            clients = cli_long(optarg, 1, 64, "--clients", usage);
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((ns_port = mb_port_create(64, &ns)) == NULL ||
        (main_port = mb_port_create(MAX_NAMES, &to_main)) == NULL)
        die_errno("mb_port_create");
    printf("[main] name server, %ld services, then %ld clients\n", services, clients);
    if ((pids[n++] = fork_or_die()) == 0) {
        mb_send_release(&ns);
        mb_send_release(&to_main);
        mb_port_destroy(main_port);
        run_name_server(ns_port);
    }
    mb_port_destroy(ns_port);
    for (int k = 1; k <= services; k++)
        if ((pids[n++] = fork_or_die()) == 0) {
            mb_port_destroy(main_port);
            run_service(k, ns, to_main);
        }
    mb_send_release(&to_main);
    for (int k = 1; k <= services; k++) /* the clients start once every name is there */
        if (mb_receive(main_port, &m, TIMEOUT_MS) != 1)
            die_errno("wait for the services to register");
    mb_port_destroy(main_port);
    for (int i = 1; i <= clients; i++)
        if ((pids[n++] = fork_or_die()) == 0)
            run_client(i, services, ns);
    for (int i = 1 + (int)services; i < n; i++)
        reap_child(pids[i], "main");
    printf("lookup nosuch: %s\n", look_up(ns, "nosuch", &unused) ? "found?!" : "not found");
    mb_send_release(&ns); /* the last sender of the name server */
    for (int i = 0; i <= services; i++)
        reap_child(pids[i], "main");
    return 0;
}
