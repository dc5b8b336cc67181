/* advanced_dbus_names.c - the D-Bus name service: unique names, well-known names, a queue of owners
 *
 * Real-world pattern: the message bus of the D-Bus specification (dbus-daemon, dbus-broker).
 * Each connection gets a unique name (":1.N") from Hello.  RequestName asks for a
 * well-known name and is answered 1 (PRIMARY_OWNER), 2 (IN_QUEUE) or 3 (EXISTS, when
 * DO_NOT_QUEUE was given and someone owns it).  GetNameOwner maps it to a unique name,
 * and a call to the name is routed to its owner.  When an owner's connection closes, the
 * bus gives the name to the next in its queue, sends that one NameAcquired and
 * broadcasts NameOwnerChanged(name, old, new).  A connection is a port pair, its closing
 * "no senders".  Left out: the wire format, authentication, name replacement
 * (ALLOW_REPLACEMENT, REPLACE_EXISTING), ReleaseName, match rules (every client gets
 * every signal), and replies routed through the bus (here they go directly).
 * Guide part: real-world (D-Bus: the bus name service).
 * Run: ./advanced_dbus_names
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "(no options)";

enum { HELLO = 1, REQUEST_NAME, GET_NAME_OWNER, CALL, NAME_OWNER_CHANGED, NAME_ACQUIRED, STEP };
enum { PRIMARY_OWNER = 1, IN_QUEUE, EXISTS, DO_NOT_QUEUE = 4, MAX_CONN = 8, TIMEOUT_MS = 3000 };

static const char name[] = "org.example.Echo";

struct connection {
    int unique;           /* :1.unique; 0 when closed */
    struct mb_port *port; /* the bus's end: the client's requests */
    mb_send_t inbox;      /* the client's own port: signals and routed calls */
};

struct bus {
    struct mb_set *set;
    struct connection conn[MAX_CONN];
    int owners[MAX_CONN]; /* the name's queue of unique ids: owners[0] owns it */
    int nowners, next_unique;
};

static void broadcast_owner_changed(struct bus *bus, int old, int new_owner)
{
    struct mb_msg m;
    int ids[2] = {old, new_owner};

    /* D-Bus writes "no owner" as "": %.0d prints nothing for 0. */
    printf("[bus] NameOwnerChanged(%s, \"%s%.0d\", \"%s%.0d\") to every connection\n", name,
           old ? ":1." : "", old, new_owner ? ":1." : "", new_owner);
    for (int i = 0; i < MAX_CONN; i++) {
        mb_msg_init(&m, NAME_OWNER_CHANGED, 0, ids, sizeof ids);
        if (bus->conn[i].unique != 0)
            mb_send(bus->conn[i].inbox, &m, 0); /* a full inbox loses the signal */
    }
    if (new_owner != 0) {
        mb_msg_init(&m, NAME_ACQUIRED, 0, NULL, 0);
        mb_send(bus->conn[new_owner - 1].inbox, &m, 0);
    }
}

/* The connection closed: its names go to the next in each queue. */
static void connection_closed(struct bus *bus, struct connection *c)
{
    int id = c->unique;
    bool owned = bus->nowners > 0 && bus->owners[0] == id;

    int kept = 0;

    printf("[bus] connection :1.%d closed (no senders): releasing its names\n", id);
    for (int i = 0; i < bus->nowners; i++)
        if (bus->owners[i] != id)
            bus->owners[kept++] = bus->owners[i];
    bus->nowners = kept;
    c->unique = 0;
    mb_port_destroy(c->port);
    mb_send_release(&c->inbox);
    if (owned)
        broadcast_owner_changed(bus, id, bus->nowners > 0 ? bus->owners[0] : 0);
}

static void handle(struct bus *bus, struct connection *c, struct mb_msg *m)
{
    struct mb_msg ans;
    uint32_t code = 0, flags = m->id; /* code 0 for a call: NameHasNoOwner */

    if (m->type == REQUEST_NAME) {
        printf("[bus] :1.%d RequestName(%s, flags %u)\n", c->unique, name, (unsigned)flags);
        code = bus->nowners == 0 ? PRIMARY_OWNER : (flags & DO_NOT_QUEUE) ? EXISTS : IN_QUEUE;
        if (code != EXISTS) /* the owner, or next in the queue */
            bus->owners[bus->nowners++] = c->unique;
        if (code == PRIMARY_OWNER)
            broadcast_owner_changed(bus, 0, c->unique);
    } else if (m->type == GET_NAME_OWNER) {
        code = bus->nowners > 0 ? (uint32_t)bus->owners[0] : 0;
    } else if (m->type == CALL && bus->nowners > 0 &&
               mb_send(bus->conn[bus->owners[0] - 1].inbox, m, TIMEOUT_MS) == 0) {
        mb_msg_release(m); /* routed to the owner, with the caller's reply right */
        return;
    }
    mb_msg_init(&ans, m->type, 0, &code, sizeof code);
    mb_reply(m, &ans, TIMEOUT_MS);
    mb_msg_release(m);
}

static void hello(struct bus *bus, struct mb_msg *m)
{
    struct connection *c = &bus->conn[bus->next_unique];
    mb_send_t to_conn;
    struct mb_msg ans;

    if (bus->next_unique == MAX_CONN)
        die("bus: too many connections");
    c->unique = ++bus->next_unique;
    c->inbox.fd = m->rights[0];
    m->nrights = 0;
    if ((c->port = mb_port_create(8, &to_conn)) == NULL || mb_set_add(bus->set, c->port, 0, c))
        die_errno("bus: new connection");
    /* The unique name goes in the payload: mb_reply() sets the id to the request's. */
    mb_msg_init(&ans, HELLO, 0, &c->unique, sizeof c->unique);
    mb_msg_add_right(&ans, to_conn.fd);
    printf("[bus] Hello -> unique name :1.%d\n", c->unique);
    if (mb_reply(m, &ans, TIMEOUT_MS) == -1)
        die_errno("bus: Hello");
    mb_send_release(&to_conn);
}

static noreturn void run_bus(struct mb_port *bus_port)
{
    static struct bus bus;
    struct mb_event ev;
    struct mb_msg m;

    if ((bus.set = mb_set_create()) == NULL || mb_set_add(bus.set, bus_port, 1, NULL) == -1)
        die_errno("bus: mb_set_add");
    while (mb_set_receive(bus.set, &m, &ev, MB_FOREVER) == 1) {
        struct connection *c = ev.cookie;

        if (ev.kind == MB_EV_NO_SENDERS && c != NULL)
            connection_closed(&bus, c);
        else if (ev.kind == MB_EV_MESSAGE && c == NULL && m.type == HELLO && m.nrights == 1)
            hello(&bus, &m);
        else if (ev.kind == MB_EV_MESSAGE && c != NULL)
            handle(&bus, c, &m);
    }
    if (errno != ENOENT)
        die_errno("bus: mb_set_receive");
    mb_set_destroy(bus.set);
    mb_port_destroy(bus_port);
    exit(0);
}

/* ---- the clients ---------------------------------------------------------------------- */

struct client {
    const char *role;
    int unique;
    struct mb_port *inbox;
    mb_send_t bus; /* the connection */
};

static void connect_bus(struct client *cl, mb_send_t bus_main)
{
    mb_send_t to_inbox;
    struct mb_msg m;

    if ((cl->inbox = mb_port_create(8, &to_inbox)) == NULL)
        die_errno("%s: mb_port_create", cl->role);
    mb_msg_init(&m, HELLO, 0, NULL, 0);
    mb_msg_add_right(&m, to_inbox.fd);
    if (mb_call(bus_main, &m, TIMEOUT_MS) == -1 || m.nrights != 1)
        die_errno("%s: Hello", cl->role);
    mb_send_release(&to_inbox);
    mb_send_release(&bus_main);
    memcpy(&cl->unique, m.payload, sizeof cl->unique);
    cl->bus.fd = m.rights[0];
}

static uint32_t bus_call(struct client *cl, uint32_t type, uint32_t arg, const char *text)
{
    struct mb_msg m;
    uint32_t value;

    mb_msg_text(&m, type, arg, text);
    if (mb_call(cl->bus, &m, TIMEOUT_MS) == -1)
        die_errno("%s: bus call", cl->role);
    if (type == CALL) {
        printf("[%s :1.%d] call %s: \"%s\"\n", cl->role, cl->unique, name, (char *)m.payload);
        return 0;
    }
    memcpy(&value, m.payload, sizeof value);
    return value;
}

/* Waits in the inbox for a message of `type`, skipping the others (signals). */
static void await(struct client *cl, uint32_t type, struct mb_msg *m)
{
    do {
        if (mb_receive(cl->inbox, m, TIMEOUT_MS) != 1)
            die_errno("%s: inbox", cl->role);
    } while (m->type != type);
}

static void serve_one_call(struct client *cl)
{
    struct mb_msg m, ans;
    char text[MB_MAX_PAYLOAD];

    await(cl, CALL, &m);
    snprintf(text, sizeof text, "echo from :1.%d: %.80s", cl->unique, (char *)m.payload);
    mb_msg_text(&ans, CALL, 0, text);
    if (mb_reply(&m, &ans, TIMEOUT_MS) == -1)
        die_errno("%s: reply", cl->role);
}

static noreturn void run_client(int which, mb_send_t bus_main, mb_send_t to_main)
{
    static const char *const roles[] = {"owner", "waiter", "caller"};
    static const char *const codes[] = {"", "PRIMARY_OWNER", "IN_QUEUE", "EXISTS"};
    struct client cl = {.role = roles[which]};
    struct mb_msg m;
    uint32_t code;

    connect_bus(&cl, bus_main);
    code = bus_call(&cl, REQUEST_NAME, which == 2 ? DO_NOT_QUEUE : 0, name);
    printf("[%s :1.%d] RequestName -> %u (%s)\n", cl.role, cl.unique, (unsigned)code, codes[code]);
    mb_msg_init(&m, STEP, 0, NULL, 0); /* tell main: the next client may come */
    if (mb_send(to_main, &m, TIMEOUT_MS) == -1)
        die_errno("%s: report to main", cl.role);
    mb_send_release(&to_main);
    if (which == 1) {
        await(&cl, NAME_ACQUIRED, &m);
        printf("[%s :1.%d] NameAcquired: %s is mine now\n", cl.role, cl.unique, name);
    }
    if (which < 2) {
        serve_one_call(&cl);
        printf("[%s :1.%d] answered a call; exiting without ReleaseName\n", cl.role, cl.unique);
    } else {
        for (int round = 0; round < 2; round++) {
            code = bus_call(&cl, GET_NAME_OWNER, 0, name);
            printf("[%s :1.%d] GetNameOwner(%s) -> :1.%u\n", cl.role, cl.unique, name,
                   (unsigned)code);
            bus_call(&cl, CALL, 0, "hello");
            if (round == 0) { /* connected after :1.1 took the name: the next change is news */
                int ids[2];

                await(&cl, NAME_OWNER_CHANGED, &m);
                memcpy(ids, m.payload, sizeof ids);
                printf("[%s :1.%d] signal NameOwnerChanged: :1.%d -> :1.%d\n", cl.role, cl.unique,
                       ids[0], ids[1]);
            }
        }
    }
    mb_send_release(&cl.bus);
    mb_port_destroy(cl.inbox);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct mb_port *bus_port, *main_port;
    mb_send_t bus_main, to_main;
    pid_t bus, clients[3];
    struct mb_msg m;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((bus_port = mb_port_create(16, &bus_main)) == NULL ||
        (main_port = mb_port_create(8, &to_main)) == NULL)
        die_errno("mb_port_create");
    if ((bus = fork_or_die()) == 0) {
        mb_send_release(&bus_main);
        mb_send_release(&to_main);
        mb_port_destroy(main_port);
        run_bus(bus_port);
    }
    mb_port_destroy(bus_port);
    printf("[main] bus started; the owner, the waiter and the caller connect in turn\n");
    for (int i = 0; i < 3; i++) {
        if ((clients[i] = fork_or_die()) == 0) {
            mb_port_destroy(main_port);
            run_client(i, bus_main, to_main);
        }
        /* One at a time, so the name is requested in this order. */
        if (mb_receive(main_port, &m, TIMEOUT_MS) != 1)
            die_errno("main: wait for a client");
    }
    mb_send_release(&bus_main);
    mb_send_release(&to_main);
    for (int i = 0; i < 3; i++)
        reap_child(clients[i], "main");
    reap_child(bus, "main");
    mb_port_destroy(main_port);
    return 0;
}
