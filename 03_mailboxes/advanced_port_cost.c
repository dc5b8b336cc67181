/* advanced_port_cost.c - what each layer of a port costs, measured against a pipe in one run
 *
 * Round trips per second between two processes, cheapest first: two pipes (the limit
 * approached: a write and a wake-up each way, nothing else), a bare SOCK_SEQPACKET pair,
 * then the module with a reply port kept for the whole run (its header and receive loop),
 * with a reply right moved in every request (SCM_RIGHTS: a file reference taken, a
 * descriptor installed and closed), with the server waiting in a port set (epoll), and
 * last mb_call(), which also creates and destroys a reply port per call.  Both processes
 * are pinned to one CPU (--cross-core: to two; on a virtual machine a wake-up across
 * cores can cost ten times more); each figure is the median of 5 runs after a warm-up;
 * the message buffers are page-aligned.
 * Guide part: kernel (performance: the cost of each abstraction layer).
 * Run: ./advanced_port_cost [--round-trips N] [--cross-core]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

static const char usage[] = "[--round-trips N] [--cross-core]    (N per run, 100 to 1000000, "
                            "default 2000)";

enum { RUNS = 5, PING = 64 };
enum variant { PIPES, SEQPACKET, KEPT, RIGHTS, PORT_SET, CALL, VARIANTS };

static const char *const names[VARIANTS] = {"two pipes, 64 B",
                                            "bare SOCK_SEQPACKET, 192 B",
                                            "module, reply port kept",
                                            "module, reply right in each request",
                                            "module, server in a port set",
                                            "module, mb_call (new reply port)"};

struct channel {
    int up[2], down[2];          /* PIPES: pipe fds; SEQPACKET: up[0]/up[1] a socket pair */
    struct mb_port *server_port; /* the module variants */
    mb_send_t to_server;
    struct mb_port *reply_port; /* KEPT and PORT_SET: the client's */
    mb_send_t to_client;
    unsigned char *buf; /* page-aligned */
};

/* What each variant adds, and to which one it is compared. */
static const char *const layer[VARIANTS] = {
    "",
    "against two pipes: a socket pair",
    "against the bare pair: header, receive loop",
    "against the kept port: SCM_RIGHTS",
    ("against the kept port: epoll, which waits first and so skips the empty try of the "
     "receive loop"),
    "against the kept port: a port made per call"};

static enum variant base_of(int v)
{
    return v <= KEPT ? (enum variant)(v - 1) : KEPT;
}

static int client_cpu = -1, server_cpu = -1;

static void pin(int cpu)
{
    if (cpu >= 0 && pin_to_cpu(cpu) == -1)
        die_errno("pin to CPU %d", cpu);
}

static void xfer(ssize_t got, size_t want, const char *what)
{
    if (got != (ssize_t)want)
        die_errno("%s", what);
}

static void serve(enum variant v, struct channel *ch, long total)
{
    struct mb_set *set = NULL;
    struct mb_event ev;
    struct mb_msg m;

    if (v == PORT_SET &&
        ((set = mb_set_create()) == NULL || mb_set_add(set, ch->server_port, 0, NULL) == -1))
        die_errno("server: port set");
    for (long i = 0; i < total; i++) {
        switch (v) {
        case PIPES:
            xfer(read(ch->up[0], ch->buf, PING), PING, "server: read");
            xfer(write(ch->down[1], ch->buf, PING), PING, "server: write");
            break;
        case SEQPACKET:
            xfer(recv(ch->up[1], ch->buf, MB_WIRE_SIZE, 0), MB_WIRE_SIZE, "server: recv");
            xfer(send(ch->up[1], ch->buf, MB_WIRE_SIZE, 0), MB_WIRE_SIZE, "server: send");
            break;
        case KEPT:
        case PORT_SET:
            if ((v == KEPT ? mb_receive(ch->server_port, &m, MB_FOREVER)
                           : mb_set_receive(set, &m, &ev, MB_FOREVER)) != 1 ||
                mb_send(ch->to_client, &m, MB_FOREVER) == -1)
                die_errno("server: echo");
            break;
        default: /* RIGHTS, CALL: answer on the reply right the request brought */
            if (mb_receive(ch->server_port, &m, MB_FOREVER) != 1 ||
                mb_reply(&m, &m, MB_FOREVER) == -1)
                die_errno("server: reply");
            break;
        }
    }
    mb_set_destroy(set);
}

static void one_round_trip(enum variant v, struct channel *ch, struct mb_msg *m)
{
    switch (v) {
    case PIPES:
        xfer(write(ch->up[1], ch->buf, PING), PING, "client: write");
        xfer(read(ch->down[0], ch->buf, PING), PING, "client: read");
        break;
    case SEQPACKET:
        xfer(send(ch->up[0], ch->buf, MB_WIRE_SIZE, 0), MB_WIRE_SIZE, "client: send");
        xfer(recv(ch->up[0], ch->buf, MB_WIRE_SIZE, 0), MB_WIRE_SIZE, "client: recv");
        break;
    case KEPT:
    case PORT_SET:
        if (mb_send(ch->to_server, m, MB_FOREVER) == -1 ||
            mb_receive(ch->reply_port, m, MB_FOREVER) != 1)
            die_errno("client: round trip");
        break;
    case RIGHTS:
        m->reply = ch->to_client; /* copied into each request, a new descriptor each time */
        if (mb_send(ch->to_server, m, MB_FOREVER) == -1 ||
            mb_receive(ch->reply_port, m, MB_FOREVER) != 1)
            die_errno("client: round trip");
        break;
    default:
        if (mb_call(ch->to_server, m, MB_FOREVER) == -1)
            die_errno("client: mb_call");
        break;
    }
}

static void open_channel(enum variant v, struct channel *ch)
{
    memset(ch, 0, sizeof *ch);
    ch->to_server = ch->to_client = MB_NO_RIGHT;
    if ((ch->buf = aligned_alloc(4096, 4096)) == NULL)
        die("out of memory");
    memset(ch->buf, 'x', 4096);
    if (v == PIPES && (pipe2(ch->up, O_CLOEXEC) == -1 || pipe2(ch->down, O_CLOEXEC) == -1))
        die_errno("pipe2");
    if (v == SEQPACKET && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ch->up) == -1)
        die_errno("socketpair");
    if (v >= KEPT && (ch->server_port = mb_port_create(8, &ch->to_server)) == NULL)
        die_errno("mb_port_create");
    if ((v == KEPT || v == RIGHTS || v == PORT_SET) &&
        (ch->reply_port = mb_port_create(8, &ch->to_client)) == NULL)
        die_errno("mb_port_create");
}

/* Closes everything of the channel: each side runs a fixed number of round trips, so
 * neither waits for an end-of-file, and none of these outlives the measurement. */
static void close_channel(struct channel *ch)
{
    int *fds[4] = {&ch->up[0], &ch->up[1], &ch->down[0], &ch->down[1]};

    for (int i = 0; i < 4; i++)
        if (*fds[i] > 0)
            close(*fds[i]);
    mb_port_destroy(ch->server_port);
    mb_port_destroy(ch->reply_port);
    mb_send_release(&ch->to_server);
    mb_send_release(&ch->to_client);
    free(ch->buf);
}

/* Median round trips per second of RUNS runs; the server is a child pinned apart. */
static double measure(enum variant v, long n, long warmup)
{
    struct channel ch;
    double rates[RUNS];
    struct mb_msg m;
    struct stats st;
    pid_t server;
    int status;

    open_channel(v, &ch);
    if ((server = fork_or_die()) == 0) {
        pin(server_cpu);
        serve(v, &ch, warmup + RUNS * n);
        close_channel(&ch);
        exit(0);
    }
    pin(client_cpu);
    mb_msg_init(&m, 1, 0, ch.buf, 32);
    for (long i = 0; i < warmup; i++)
        one_round_trip(v, &ch, &m);
    for (int r = 0; r < RUNS; r++) {
        uint64_t t0 = now_ns();

        for (long i = 0; i < n; i++)
            one_round_trip(v, &ch, &m);
        rates[r] = (double)n / ns_to_s(elapsed_ns(t0));
    }
    close_channel(&ch);
    if (waitpid(server, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the %s server failed", names[v]);
    stats_compute(rates, RUNS, &st);
    return st.p50;
}

/* Client and server on two CPUs this process may use, or both on the first. */
static void choose_cpus(bool same_core)
{
    int cpus[2], found = allowed_cpus(cpus, 2);

    if (found == -1)
        die_errno("sched_getaffinity");
    client_cpu = server_cpu = cpus[0];
    if (found == 2 && !same_core)
        server_cpu = cpus[1];
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"round-trips", required_argument, NULL, 'n'},
        {"cross-core", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double rate[VARIANTS];
    bool same_core = true;
    long n = 2000;
    int c;

    while ((c = cli_getopt(argc, argv, "n:xh", longopts, usage)) != -1) {
        if (c == 'n')
            n = cli_long(optarg, 100, 1000000, "--round-trips", usage);
        else
            same_core = false;
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    choose_cpus(same_core);
    printf("[cost] client pinned to CPU %d, server to CPU %d (%s); %ld round trips a run, "
           "median of %d runs after %ld of warm-up\n",
           client_cpu, server_cpu, client_cpu == server_cpu ? "the same core" : "across cores", n,
           RUNS, n / 4);
    for (int v = 0; v < VARIANTS; v++) {
        rate[v] = measure((enum variant)v, n, n / 4);
        printf("[cost] %-36s %8.0f round trips/s, %7s each", names[v], rate[v],
               fmt_duration(1e9 / rate[v]).s);
        if (v == PIPES)
            printf("  (the limit: a write and a wake-up each way)\n");
        else
            printf("  (%+.2f us %s)\n", 1e6 / rate[v] - 1e6 / rate[base_of(v)], layer[v]);
    }
    printf("[cost] the module costs %.1fx a bare pipe round trip with a kept reply port, "
           "%.1fx with mb_call()\n",
           rate[PIPES] / rate[KEPT], rate[PIPES] / rate[CALL]);
    return 0;
}
