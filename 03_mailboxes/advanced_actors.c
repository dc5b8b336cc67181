/* advanced_actors.c - actors as processes with mailboxes, and a one-for-one supervisor
 *
 * Two actors, a worker and a counter, each a process that owns nothing but a mailbox;
 * they share no memory and talk only by messages.  A client sends the worker six jobs at
 * once, each with its own reply port.  Job 3 is poison: the worker dies holding it.  The
 * supervisor sees the death (waitpid) and restarts only that actor (Erlang's
 * one_for_one); the counter keeps its state.  The rule for messages in flight: the
 * supervisor owns each mailbox (it keeps the receive right), so the jobs still queued
 * survive and the new worker takes them in order; the job in hand is lost, and its
 * sender learns it (no senders on its reply port: ECONNRESET).  Erlang differs: there the
 * mailbox dies with the process.  More than 3 restarts in 5 s and the supervisor gives up.
 * Guide part: theory (the actor model: supervision and restart).
 * Run: ./advanced_actors [--poison N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char usage[] =
    "[--poison N]    (jobs 3 to 2+N of the 6 are poison; N from 0 to 4, default 1)";

enum { JOBS = 6, JOB = 1, ADD, GET, RESULT, MAX_RESTARTS = 3, PERIOD_MS = 5000 };

struct system {
    struct mb_port *worker_box, *counter_box; /* receive rights: the supervisor's */
    mb_send_t to_worker, to_counter;
    long poison; /* jobs 3, 4, ... up to this many are poisoned */
};

static bool poisoned(const struct system *sys, uint32_t job)
{
    return job >= 3 && job < 3 + (uint32_t)sys->poison;
}

static noreturn void run_worker(struct system *sys, int incarnation)
{
    struct mb_msg m, ans;

    mb_port_destroy(sys->counter_box);
    mb_send_release(&sys->to_worker); /* no sender of its own: EOF when the client leaves */
    printf("[worker %d] started, reading the mailbox (%ld queued)\n", incarnation,
           mb_port_queued(sys->worker_box));
    while (mb_receive(sys->worker_box, &m, MB_FOREVER) == 1) {
        if (poisoned(sys, m.id)) {
            printf("[worker %d] job %u is poison: dying with it in hand\n", incarnation,
                   (unsigned)m.id);
            /* SIGKILL stands in for a crash (no core file).  The kernel would close our
             * descriptors anyway; closing them first only keeps valgrind, which takes a
             * SIGKILL sent to oneself for an exit, from reporting them. */
            mb_msg_release(&m);
            mb_port_destroy(sys->worker_box);
            mb_send_release(&sys->to_counter);
            kill(getpid(), SIGKILL);
        }
        /* Count first, then answer: whoever has the answer can find it counted. */
        mb_msg_init(&ans, ADD, m.id, NULL, 0);
        if (mb_send(sys->to_counter, &ans, 1000) == -1)
            die_errno("worker: tell the counter");
        mb_msg_init(&ans, RESULT, 0, &incarnation, sizeof incarnation);
        if (mb_reply(&m, &ans, 1000) == -1)
            printf("[worker %d] reply to job %u lost: %s\n", incarnation, (unsigned)m.id,
                   strerror(errno));
    }
    printf("[worker %d] no senders: shutting down\n", incarnation);
    mb_port_destroy(sys->worker_box);
    mb_send_release(&sys->to_counter);
    exit(0);
}

static noreturn void run_counter(struct system *sys)
{
    struct mb_msg m, ans;
    uint32_t done = 0;

    mb_port_destroy(sys->worker_box);
    mb_send_release(&sys->to_worker);
    mb_send_release(&sys->to_counter);
    while (mb_receive(sys->counter_box, &m, MB_FOREVER) == 1) {
        if (m.type == ADD) {
            done++;
        } else if (m.type == GET) {
            mb_msg_init(&ans, RESULT, 0, &done, sizeof done);
            mb_reply(&m, &ans, 1000);
        }
        mb_msg_release(&m);
    }
    printf("[counter] no senders: shutting down with %u jobs counted\n", (unsigned)done);
    mb_port_destroy(sys->counter_box);
    exit(0);
}

/* Sends all jobs first, each with a reply port of its own, then collects the answers. */
static noreturn void run_client(struct system *sys)
{
    struct mb_port *replies[JOBS];
    struct mb_msg m;
    uint32_t done;

    mb_port_destroy(sys->worker_box);
    mb_port_destroy(sys->counter_box);
    for (uint32_t j = 1; j <= JOBS; j++) {
        mb_msg_init(&m, JOB, j, NULL, 0);
        if ((replies[j - 1] = mb_port_create(1, &m.reply)) == NULL)
            die_errno("client: mb_port_create");
        if (mb_send(sys->to_worker, &m, 1000) == -1)
            die_errno("client: send job %u", (unsigned)j);
        mb_send_release(&m.reply); /* moved into the message */
    }
    printf("[client] sent jobs 1 to %d to the worker without waiting\n", JOBS);
    mb_send_release(&sys->to_worker);
    for (uint32_t j = 1; j <= JOBS; j++) {
        int r = mb_receive(replies[j - 1], &m, 5000), by;

        if (r == 1) {
            memcpy(&by, m.payload, sizeof by);
            printf("[client] job %u: done by worker %d\n", (unsigned)j, by);
        } else if (r == 0) {
            printf("[client] job %u: lost, its reply right died unanswered (the worker "
                   "crashed holding it)\n",
                   (unsigned)j);
        } else {
            die_errno("client: job %u", (unsigned)j);
        }
        mb_port_destroy(replies[j - 1]);
    }
    mb_msg_init(&m, GET, 0, NULL, 0);
    if (mb_call(sys->to_counter, &m, 5000) == -1)
        die_errno("client: ask the counter");
    memcpy(&done, m.payload, sizeof done);
    printf("[client] the counter says %u jobs completed: it kept its state through the "
           "restarts\n",
           (unsigned)done);
    mb_send_release(&sys->to_counter);
    exit(0);
}

/* The supervisor's loop: restart a worker that died of a signal, within the intensity. */
static void supervise(struct system *sys, pid_t worker, pid_t counter)
{
    uint64_t restarts[MAX_RESTARTS + 1];
    int nrestarts = 0, left = 3;

    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid == -1 && errno == EINTR)
            continue;
        if (pid == -1)
            die_errno("waitpid");
        printf("[supervisor] %s %d ended: %s\n",
               pid == worker    ? "worker"
               : pid == counter ? "counter"
                                : "client",
               (int)pid, fmt_wait_status(status).s);
        if (pid == worker && WIFSIGNALED(status)) {
            uint64_t now = now_ns();

            restarts[nrestarts++] = now;
            if (nrestarts > MAX_RESTARTS &&
                now - restarts[nrestarts - 1 - MAX_RESTARTS] < PERIOD_MS * 1000000ull) {
                printf("[supervisor] more than %d restarts in %d s: giving up on the worker "
                       "and closing its mailbox\n",
                       MAX_RESTARTS, PERIOD_MS / 1000);
                /* Jobs still queued die with it (their senders see their reply rights
                 * die); the counter ends when its last sender lets go. */
                mb_port_destroy(sys->worker_box);
                sys->worker_box = NULL;
                mb_send_release(&sys->to_counter);
                left--;
                continue;
            }
            printf("[supervisor] restarting the worker alone (one_for_one); its mailbox, "
                   "which I hold, still has %ld jobs\n",
                   mb_port_queued(sys->worker_box));
            if ((worker = fork_or_die()) == 0)
                run_worker(sys, nrestarts + 1);
            continue;
        }
        if (pid == worker) /* a clean exit: no restart, and no more need of the counter */
            mb_send_release(&sys->to_counter);
        left--;
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"poison", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct system sys = {.poison = 1};
    pid_t worker, counter, client;
    int c;

    while ((c = cli_getopt(argc, argv, "p:h", longopts, usage)) != -1)
        if (c == 'p')
            sys.poison = cli_long(optarg, 0, 4, "--poison", usage);
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((sys.worker_box = mb_port_create(16, &sys.to_worker)) == NULL ||
        (sys.counter_box = mb_port_create(16, &sys.to_counter)) == NULL)
        die_errno("mb_port_create");
    printf("[supervisor] mailboxes created; starting counter, worker and client\n");
    if ((counter = fork_or_die()) == 0)
        run_counter(&sys);
    if ((worker = fork_or_die()) == 0)
        run_worker(&sys, 1);
    if ((client = fork_or_die()) == 0)
        run_client(&sys);
    /* The supervisor keeps the receive rights, and a send right to the counter for the
     * workers it may have to start; it has no use for one to the worker. */
    mb_send_release(&sys.to_worker);
    supervise(&sys, worker, counter);
    mb_send_release(&sys.to_counter);
    mb_port_destroy(sys.worker_box);
    mb_port_destroy(sys.counter_box);
    printf("[supervisor] every actor has stopped\n");
    return 0;
}
