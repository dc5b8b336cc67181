/* solution_rtt_compare.c - exercise 5: request/reply round trips, a port against a pipe pair
 *
 * Two processes play ping-pong twice: first through two pipes, a 64-byte write each way;
 * then through the module's ports, one 192-byte message each way (mb_send() is one
 * sendmsg()), the client keeping one reply port for the whole run.  Each variant runs a
 * warm-up of N/10 round trips, then R runs of N; the median run is the figure.  Both
 * processes are pinned to one CPU, so the numbers measure the calls and the switches,
 * not the luck of wake-ups across cores; buffers are page-aligned.
 * Guide part: exercise 5 (performance).
 * Run: ./solution_rtt_compare [--round-trips N] [--runs R]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--round-trips N] [--runs R]    (N from 1000 to 1000000, default "
                            "20000; R from 1 to 15, default 3)";

enum { PING = 64, MAX_RUNS = 15 };

struct link {
    bool port;
    int up[2], down[2]; /* the pipe variant */
    struct mb_port *server_box, *client_box;
    mb_send_t to_server, to_client;
    unsigned char *buf; /* page-aligned */
};

static void round_trip(struct link *l, bool server)
{
    struct mb_msg m;

    if (!l->port) {
        int in = server ? l->up[0] : l->down[0], out = server ? l->down[1] : l->up[1];

        if (!server && write(out, l->buf, PING) != PING)
            die_errno("write");
        if (read(in, l->buf, PING) != PING)
            die_errno("read");
        if (server && write(out, l->buf, PING) != PING)
            die_errno("write");
        return;
    }
    if (server) {
        if (mb_receive(l->server_box, &m, MB_FOREVER) != 1 ||
            mb_send(l->to_client, &m, MB_FOREVER) == -1)
            die_errno("server: echo");
        return;
    }
    mb_msg_init(&m, 1, 0, l->buf, PING);
    if (mb_send(l->to_server, &m, MB_FOREVER) == -1 ||
        mb_receive(l->client_box, &m, MB_FOREVER) != 1)
        die_errno("client: round trip");
}

static void open_link(struct link *l, bool port)
{
    memset(l, 0, sizeof *l);
    l->port = port;
    l->up[0] = l->up[1] = l->down[0] = l->down[1] = -1;
    l->to_server = l->to_client = MB_NO_RIGHT;
    if ((l->buf = aligned_alloc(4096, 4096)) == NULL)
        die("out of memory");
    memset(l->buf, 'p', 4096);
    if (!port && (pipe2(l->up, O_CLOEXEC) == -1 || pipe2(l->down, O_CLOEXEC) == -1))
        die_errno("pipe2");
    if (port && ((l->server_box = mb_port_create(4, &l->to_server)) == NULL ||
                 (l->client_box = mb_port_create(4, &l->to_client)) == NULL))
        die_errno("mb_port_create");
}

static void close_link(struct link *l)
{
    for (int i = 0; i < 2; i++) {
        if (l->up[i] >= 0)
            close(l->up[i]);
        if (l->down[i] >= 0)
            close(l->down[i]);
    }
    mb_port_destroy(l->server_box);
    mb_port_destroy(l->client_box);
    mb_send_release(&l->to_server);
    mb_send_release(&l->to_client);
    free(l->buf);
}

/* The median rate of `runs` runs of n round trips, after a warm-up of n / 10. */
static double measure(bool port, long n, long runs)
{
    double rate[MAX_RUNS];
    long total = n / 10 + n * runs;
    struct link l;
    struct stats st;
    pid_t server;
    int status;

    open_link(&l, port);
    if ((server = fork_or_die()) == 0) {
        for (long i = 0; i < total; i++)
            round_trip(&l, true);
        close_link(&l);
        exit(0);
    }
    for (long i = 0; i < n / 10; i++)
        round_trip(&l, false);
    for (long r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();

        for (long i = 0; i < n; i++)
            round_trip(&l, false);
        rate[r] = (double)n / ns_to_s(elapsed_ns(t0));
    }
    close_link(&l);
    if (waitpid(server, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the %s server failed", port ? "port" : "pipe");
    stats_compute(rate, (size_t)runs, &st);
    return st.p50;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"round-trips", required_argument, NULL, 'n'},
        {"runs", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long n = 20000, runs = 3;
    double pipe_rate, port_rate;
    int c, cpu = 0;

    while ((c = cli_getopt(argc, argv, "n:r:h", longopts, usage)) != -1) {
        if (c == 'n')
            n = cli_long(optarg, 1000, 1000000, "--round-trips", usage);
        else
            runs = cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    /* Both processes on the first CPU we may use (the child inherits the mask). */
    if (allowed_cpus(&cpu, 1) != 1 || pin_to_cpu(cpu) == -1)
        die_errno("pin to the first allowed CPU");
    printf("[rtt] both processes on CPU %d; %ld round trips a run, median of %ld, after %ld "
           "of warm-up\n",
           cpu, n, runs, n / 10);
    pipe_rate = measure(false, n, runs);
    port_rate = measure(true, n, runs);
    printf("pipe: %.0f round trips/s, port: %.0f round trips/s\n", pipe_rate, port_rate);
    return 0;
}
