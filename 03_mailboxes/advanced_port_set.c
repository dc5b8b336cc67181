/* advanced_port_set.c - one server receiving on three ports at once, telling them apart
 *
 * A port set (an epoll instance under mailbox.h) lets one thread wait on many receive
 * rights; each event names its port and the cookie given when the port was added, so
 * the server knows a control message from an order or a log line without asking the
 * sender.  Priorities are per port: with everything queued before the server looks, all
 * control messages come first, then orders, then logs (--equal: one priority, and the
 * ports take turns).  Each port that loses its last sender reports it once and leaves
 * the set; the server stops when the set is empty.
 * Guide part: theory (port sets: waiting on several ports; priorities between ports).
 * Run: ./advanced_port_set [--equal]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[--equal]";

enum { PORTS = 3, EACH = 4 };

struct source {
    const char *name;
    int priority;
    struct mb_port *port;
    mb_send_t send;
    int received;
};

static noreturn void run_producer(struct source *all, int me, struct mb_set *set)
{
    struct mb_msg m;

    /* A producer holds only its own send right: not the set, not the others. */
    mb_set_destroy(set);
    for (int i = 0; i < PORTS; i++) {
        mb_port_destroy(all[i].port);
        if (i != me)
            mb_send_release(&all[i].send);
    }
    for (int k = 1; k <= EACH; k++) {
        char text[64];

        snprintf(text, sizeof text, "%s message %d", all[me].name, k);
        if (mb_msg_text(&m, (uint32_t)me, (uint32_t)k, text) == -1 ||
            mb_send(all[me].send, &m, 2000) == -1)
            die_errno("%s: mb_send", all[me].name);
    }
    mb_send_release(&all[me].send);
    exit(0);
}

static void serve(struct mb_set *set, struct source *all)
{
    char order[PORTS * EACH + 1] = "";
    size_t served = 0;
    struct mb_event ev;
    struct mb_msg m;

    while (mb_set_receive(set, &m, &ev, 3000) == 1) {
        struct source *src = ev.cookie; /* the cookie tells the ports apart */

        if (ev.kind == MB_EV_NO_SENDERS) {
            printf("[server] %-7s no senders left after %d messages: it leaves the set "
                   "(%zu ports remain)\n",
                   src->name, src->received, mb_set_size(set));
            continue;
        }
        src->received++;
        if (served < PORTS * EACH)
            order[served++] = (char)(src->name[0] - 'a' + 'A');
        printf("[server] %-7s (priority %2d): \"%s\"\n", src->name, src->priority,
               (char *)m.payload);
        if (m.type >= PORTS || &all[m.type] != src) /* the sender stamped its port */
            die("a message of port %u came from port %s", (unsigned)m.type, src->name);
    }
    if (errno != ENOENT)
        die_errno("mb_set_receive");
    printf("[server] order of service, by initial: %s\n", order);
    printf("[server] the set is empty: nothing can ever arrive, stopping\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"equal", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct source src[PORTS] = {
        {"control", 10, NULL, {-1}, 0}, {"orders", 5, NULL, {-1}, 0}, {"logs", 1, NULL, {-1}, 0}};
    pid_t producers[PORTS];
    struct mb_set *set;
    bool equal = false;
    int c;

    while ((c = cli_getopt(argc, argv, "eh", longopts, usage)) != -1)
        if (c == 'e')
            equal = true;
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if ((set = mb_set_create()) == NULL)
        die_errno("mb_set_create");
    for (int i = 0; i < PORTS; i++) {
        if (equal)
            src[i].priority = 0;
        if ((src[i].port = mb_port_create(8, &src[i].send)) == NULL)
            die_errno("mb_port_create");
        if (mb_set_add(set, src[i].port, src[i].priority, &src[i]) == -1)
            die_errno("mb_set_add");
        printf("[server] port %-7s receive fd %d, priority %d, in the set\n", src[i].name,
               mb_port_fd(src[i].port), src[i].priority);
    }
    for (int i = 0; i < PORTS; i++)
        if ((producers[i] = fork_or_die()) == 0)
            run_producer(src, i, set);
    for (int i = 0; i < PORTS; i++) {
        mb_send_release(&src[i].send);
        reap_child(producers[i], "server");
    }
    printf("[server] all %d messages are queued and every producer has exited; "
           "receiving from the set\n",
           PORTS * EACH);
    serve(set, src);
    mb_set_destroy(set);
    for (int i = 0; i < PORTS; i++)
        mb_port_destroy(src[i].port);
    return 0;
}
