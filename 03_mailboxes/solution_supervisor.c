/* solution_supervisor.c - exercise 4: a supervisor that restarts crashed workers and replays
 * requests
 *
 * N worker processes square numbers.  The supervisor sends request r to worker slot
 * ((r - 1) mod N) + 1, keeps every request until its answer comes, and watches each
 * worker's port for a dead name.  A worker crashes (SIGKILL to itself) on the K-th
 * request of its life.  When one dies, its port dies with it, queue and all, so the
 * supervisor starts a new worker in the slot, with a new port, and resends the slot's
 * unanswered requests, oldest first: every request is answered exactly once.  Answers
 * outrank death notices in the port set, so an answer sent just before a crash is
 * counted before the crash is handled.
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_supervisor [--workers N] [--requests M] [--crash-every K]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char usage[] = "[--workers N] [--requests M] [--crash-every K]    (N 1 to 8, "
                            "default 3; M 1 to 10000, default 20; K 0 = never, or 2 to 100, "
                            "default 4)";

enum { REQUEST = 1, ANSWER, MAX_WORKERS = 8, WINDOW = 8, TIMEOUT_MS = 10000 };

struct slot {
    pid_t pid;
    mb_send_t port;  /* the current worker's mailbox */
    uint32_t next;   /* the next request of this slot never sent yet */
    uint32_t resend; /* requests before `next` to (re)send from, after a restart */
    int outstanding; /* sent, not answered */
};

static struct {
    long workers, requests, crash_every;
    uint64_t *answer; /* 0: not answered yet */
    struct mb_port *answers;
    mb_send_t to_answers;
    struct slot slot[MAX_WORKERS];
    struct mb_set *set;
    long restarts;
} sup;

static noreturn void run_worker(struct mb_port *mailbox)
{
    long received = 0;
    struct mb_msg m;

    while (mb_receive(mailbox, &m, MB_FOREVER) == 1) {
        uint64_t r = m.id;

        if (++received == sup.crash_every) {
            /* The crash: no answer.  The kernel would close the descriptors anyway;
             * closing them first keeps valgrind, which sees a SIGKILL sent to oneself
             * as an exit, from reporting them. */
            mb_port_destroy(mailbox);
            mb_send_release(&sup.to_answers);
            kill(getpid(), SIGKILL);
        }
        r *= r;
        mb_msg_init(&m, ANSWER, m.id, &r, sizeof r);
        if (mb_send(sup.to_answers, &m, MB_FOREVER) == -1)
            die_errno("worker: answer");
    }
    mb_port_destroy(mailbox); /* no senders: the supervisor is done with us */
    mb_send_release(&sup.to_answers);
    exit(0);
}

static void start_worker(int w)
{
    struct mb_port *mailbox = mb_port_create(2 * WINDOW, &sup.slot[w].port);

    if (mailbox == NULL)
        die_errno("mb_port_create");
    if ((sup.slot[w].pid = fork_or_die()) == 0) {
        for (int k = 0; k < sup.workers; k++) /* a worker holds no one's mailbox right */
            mb_send_release(&sup.slot[k].port);
        mb_port_destroy(sup.answers);
        mb_set_destroy(sup.set);
        free(sup.answer);
        run_worker(mailbox);
    }
    mb_port_destroy(mailbox);
    if (mb_set_watch(sup.set, sup.slot[w].port, 0, &sup.slot[w]) == -1)
        die_errno("mb_set_watch");
}

/* Sends the slot's unanswered requests from `resend`, then new ones, up to the window. */
static void feed(struct slot *s)
{
    uint32_t step = (uint32_t)sup.workers;

    for (; s->resend < s->next && s->outstanding < WINDOW; s->resend += step) {
        struct mb_msg m;

        if (sup.answer[s->resend] != 0)
            continue;
        mb_msg_init(&m, REQUEST, s->resend, NULL, 0);
        if (mb_send(s->port, &m, MB_FOREVER) == -1 && errno != EPIPE)
            die_errno("resend");
        s->outstanding++;
    }
    while (s->next <= sup.requests && s->outstanding < WINDOW) {
        struct mb_msg m;

        mb_msg_init(&m, REQUEST, s->next, NULL, 0);
        /* EPIPE: the worker has just died; its death notice will resend this. */
        if (mb_send(s->port, &m, MB_FOREVER) == -1 && errno != EPIPE)
            die_errno("send");
        s->next += step;
        s->resend = s->next;
        s->outstanding++;
    }
}

static void restart(struct slot *s)
{
    int w = (int)(s - sup.slot), status;
    uint32_t oldest = s->next;

    while (waitpid(s->pid, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid");
    mb_send_release(&s->port);
    sup.restarts++;
    for (uint32_t r = (uint32_t)w + 1; r < s->next; r += (uint32_t)sup.workers)
        if (sup.answer[r] == 0 && r < oldest)
            oldest = r;
    s->resend = oldest;
    s->outstanding = 0;
    if (WIFSIGNALED(status))
        printf("worker %d killed by signal %d, restarted\n", w + 1, WTERMSIG(status));
    else
        printf("worker %d exited with status %d, restarted\n", w + 1, WEXITSTATUS(status));
    printf("[supervisor] slot %d: a new worker, replaying from request %u\n", w + 1,
           (unsigned)oldest);
    start_worker(w);
    feed(s);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"requests", required_argument, NULL, 'r'},
        {"crash-every", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long answered = 0;
    int c;

    sup.workers = 3;
    sup.requests = 20;
    sup.crash_every = 4;
    while ((c = cli_getopt(argc, argv, "w:r:k:h", longopts, usage)) != -1) {
        if (c == 'w')
            sup.workers = cli_long(optarg, 1, MAX_WORKERS, "--workers", usage);
        else if (c == 'r')
            sup.requests = cli_long(optarg, 1, 10000, "--requests", usage);
        else if ((sup.crash_every = cli_long(optarg, 0, 100, "--crash-every", usage)) == 1)
            die_usage(usage, "--crash-every must be 0 (never) or 2 to 100: 1 crashes for ever");
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((sup.answer = calloc((size_t)sup.requests + 1, sizeof *sup.answer)) == NULL)
        die("out of memory");
    if ((sup.answers = mb_port_create(MAX_WORKERS * 2 * WINDOW, &sup.to_answers)) == NULL ||
        (sup.set = mb_set_create()) == NULL || mb_set_add(sup.set, sup.answers, 1, NULL) == -1)
        die_errno("set up the supervisor");
    for (int w = 0; w < sup.workers; w++) {
        sup.slot[w].next = sup.slot[w].resend = (uint32_t)w + 1;
        start_worker(w);
    }
    for (int w = 0; w < sup.workers; w++)
        feed(&sup.slot[w]);
    while (answered < sup.requests) {
        struct mb_event ev;
        struct mb_msg m;

        if (mb_set_receive(sup.set, &m, &ev, TIMEOUT_MS) != 1)
            die_errno("mb_set_receive");
        if (ev.kind == MB_EV_DEAD_NAME) {
            restart(ev.cookie);
        } else if (ev.kind == MB_EV_MESSAGE && m.id >= 1 && m.id <= sup.requests &&
                   sup.answer[m.id] == 0) {
            struct slot *s = &sup.slot[(m.id - 1) % (uint32_t)sup.workers];

            memcpy(&sup.answer[m.id], m.payload, sizeof(uint64_t));
            answered++;
            s->outstanding--;
            feed(s);
        }
    }
    for (long r = 1; r <= sup.requests; r++)
        printf("request %ld: %llu\n", r, (unsigned long long)sup.answer[r]);
    printf("restarts=%ld\n", sup.restarts);
    for (int w = 0; w < sup.workers; w++) { /* no senders: each worker exits */
        mb_set_unwatch(sup.set, sup.slot[w].port);
        mb_send_release(&sup.slot[w].port);
        reap_child(sup.slot[w].pid, "supervisor");
    }
    mb_set_destroy(sup.set);
    mb_send_release(&sup.to_answers);
    mb_port_destroy(sup.answers);
    free(sup.answer);
    return 0;
}
