/* advanced_selective_receive.c - Erlang's receive: the first message that matches, the rest kept
 *
 * An Erlang process's `receive {reply, Ref, X} -> ...` takes the oldest message matching
 * the pattern and leaves every other one in the mailbox, in order, for later receives.
 * mb_receive_match() does the same on a port: messages that do not match come out of the
 * kernel queue into a save queue, and every later receive looks there first.  Part one
 * shows the order kept; part two measures the price: a selective receive is a scan of
 * everything ahead of the match, so it costs more as the mailbox grows (median of 5).
 * Erlang's compiler avoids the scan in one case, a reference made just before the send
 * (the receive then skips what was already queued); that optimisation is left out.
 * Guide part: theory (selective receive and its cost).
 * Run: ./advanced_selective_receive
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "(no options)";

enum { LOG = 1, TICK, REPLY, RUNS = 5, MAX_BACKLOG = 512 };

static const char *type_name(uint32_t type)
{
    return type == LOG ? "log" : type == TICK ? "tick" : "reply";
}

static void send_or_die(mb_send_t to, uint32_t type, uint32_t id)
{
    struct mb_msg m;

    mb_msg_init(&m, type, id, NULL, 0);
    if (mb_send(to, &m, 0) == -1)
        die_errno("mb_send");
}

/* A reply is ours when its id is the request's: what `{reply, Ref, _}` matches. */
static bool is_reply_to(const struct mb_msg *m, void *arg)
{
    return m->type == REPLY && m->id == *(const uint32_t *)arg;
}

static void show_order(struct mb_port *port, mb_send_t to)
{
    static const uint32_t types[] = {LOG, TICK, REPLY, LOG, REPLY, TICK};
    static const uint32_t ids[] = {1, 2, 41, 3, 42, 4};
    uint32_t wanted = 42;
    struct mb_msg m;

    for (size_t i = 0; i < 6; i++)
        send_or_die(to, types[i], ids[i]);
    printf("[actor] mailbox: log 1, tick 2, reply 41, log 3, reply 42, tick 4\n");
    if (mb_receive_match(port, is_reply_to, &wanted, &m, 0) != 1)
        die_errno("mb_receive_match");
    printf("[actor] receive {reply, 42}: got %s %u; %ld messages stay queued\n", type_name(m.type),
           (unsigned)m.id, mb_port_queued(port));
    if (mb_receive_type(port, TICK, &m, 0) != 1)
        die_errno("mb_receive_type");
    printf("[actor] receive {tick}: got %s %u, the oldest tick\n", type_name(m.type),
           (unsigned)m.id);
    printf("[actor] plain receives, oldest first:");
    while (mb_receive(port, &m, 0) == 1)
        printf(" %s %u", type_name(m.type), (unsigned)m.id);
    printf("\n");
}

/* The median time of a selective receive whose match sits behind `backlog` others:
 * first when they are all still in the kernel, then when they are already saved. */
static void measure(struct mb_port *port, mb_send_t to, int backlog)
{
    double from_kernel[RUNS], from_saved[RUNS];
    uint32_t wanted = 7;
    struct mb_msg m;
    struct stats s1, s2;

    for (int run = 0; run < RUNS; run++) {
        uint64_t t0;

        for (int i = 0; i < backlog; i++)
            send_or_die(to, LOG, (uint32_t)i);
        send_or_die(to, REPLY, wanted);
        t0 = now_ns();
        if (mb_receive_match(port, is_reply_to, &wanted, &m, 0) != 1)
            die_errno("mb_receive_match");
        from_kernel[run] = (double)elapsed_ns(t0);
        send_or_die(to, REPLY, wanted); /* a second match, behind the saved backlog */
        t0 = now_ns();
        if (mb_receive_match(port, is_reply_to, &wanted, &m, 0) != 1)
            die_errno("mb_receive_match");
        from_saved[run] = (double)elapsed_ns(t0);
        while (mb_receive(port, &m, 0) == 1) /* empty the mailbox for the next run */
            ;
    }
    stats_compute(from_kernel, RUNS, &s1);
    stats_compute(from_saved, RUNS, &s2);
    printf("[cost] %3d messages ahead of the match: %8s to pull them out of the kernel (%s "
           "each), %8s to scan them once saved\n",
           backlog, fmt_duration(s1.p50).s, fmt_duration(s1.p50 / backlog).s,
           fmt_duration(s2.p50).s);
}

int main(int argc, char *argv[])
{
    static const int backlogs[] = {8, 64, 512};
    struct mb_port *port;
    mb_send_t to;
    struct mb_msg m;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    /* Room for the largest backlog plus its match, within the default net.core.wmem_max. */
    if ((port = mb_port_create(MAX_BACKLOG + 8, &to)) == NULL)
        die_errno("mb_port_create");
    show_order(port, to);
    printf("[cost] median of %d runs; the match is the last message, all others are logs\n", RUNS);
    for (size_t i = 0; i < sizeof backlogs / sizeof backlogs[0]; i++)
        measure(port, to, backlogs[i]);
    printf("[cost] the work grows with the backlog: a process that leaves messages unmatched "
           "pays for them on every selective receive\n");
    mb_send_release(&to);
    if (mb_receive(port, &m, 0) != 0)
        die("the mailbox should be empty and have no senders");
    mb_port_destroy(port);
    return 0;
}
