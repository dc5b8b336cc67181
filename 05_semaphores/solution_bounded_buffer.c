/* solution_bounded_buffer.c - exercise 2: a bounded buffer between P producers and C consumers
 *
 * The ring lives in a MAP_SHARED page; a System V set of three semaphores guards it:
 * EMPTY counts free slots, FULL filled ones, MUTEX lets one process move an index.  Each
 * consumer reports every item it takes as one line written with one write(2), so lines of
 * different consumers never mix.  A STOP item per consumer ends them; the parent prints
 * the total once every child is reaped.  On a stop signal the parent stops and reaps them all,
 * removes the set and dies of that signal.
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_bounded_buffer [--producers P] [--consumers C] [--items K] [--slots S]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SLOTS 1024
#define MAX_PROCS 16

enum { EMPTY, FULL, MUTEX, NSEMS };

static const char usage[] = "[--producers P] [--consumers C] [--items K] [--slots S]    (P, C "
                            "1 to 16; K 0 to 1000000; S 1 to 1024)";

struct ring {
    long in, out, slots;
    struct {
        long producer, seq; /* producer -1: STOP */
    } slot[MAX_SLOTS];
};

static int semid;

static void op(int num, int delta)
{
    struct sembuf sop = {.sem_num = (unsigned short)num, .sem_op = (short)delta, .sem_flg = 0};

    while (semop(semid, &sop, 1) == -1)
        if (errno != EINTR)
            die_errno("semop");
}

static void produce(struct ring *r, long producer, long seq)
{
    op(EMPTY, -1);
    op(MUTEX, -1);
    r->slot[r->in].producer = producer;
    r->slot[r->in].seq = seq;
    r->in = (r->in + 1) % r->slots;
    op(MUTEX, +1);
    op(FULL, +1);
}

static noreturn void consumer(struct ring *r, long id)
{
    char line[80];

    for (;;) {
        long producer, seq;
        int len;

        op(FULL, -1);
        op(MUTEX, -1);
        producer = r->slot[r->out].producer;
        seq = r->slot[r->out].seq;
        r->out = (r->out + 1) % r->slots;
        op(MUTEX, +1);
        op(EMPTY, +1);
        if (producer < 0)
            exit(0);
        len = snprintf(line, sizeof line, "consumer %ld took %ld:%ld\n", id, producer, seq);
        if (write_full(STDOUT_FILENO, line, (size_t)len) == -1)
            die_errno("write to stdout");
    }
}

static pid_t children[2 * MAX_PROCS]; /* 0 once reaped */
static int nchildren;

/* SIGTERM, SIGINT or SIGHUP: stop and reap every child still there, let the registry remove
 * the set, die of the signal.  Up to 32 children and the set are one entry more than the
 * registry holds, so the children are this handler's, not cleanup_add_child's. */
static void on_stop(int sig)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            kill(children[i], SIGTERM);
    for (int i = 0; i < nchildren; i++)
        while (children[i] > 0 && waitpid(children[i], NULL, 0) == -1 && errno == EINTR)
            ;
    cleanup_run();
    signal(sig, SIG_DFL);
    raise(sig);
}

static pid_t start_child(void)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigset_t saved;
    pid_t pid;

    stop_signals_hold(&saved); /* the handler must know every child it may have to stop */
    pid = fork_or_die();
    if (pid > 0) {
        children[nchildren++] = pid;
        sigfillset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
    } else {
        signal(SIGTERM, SIG_DFL); /* a child just dies of it */
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
    }
    stop_signals_release(&saved);
    return pid;
}

/* Waits for child i without reaping it (WNOWAIT), then reaps it with the stop signals held,
 * so the handler never signals a pid that is no longer ours. */
static void reap_child_at(int i)
{
    siginfo_t info;
    sigset_t saved;
    int status;

    while (waitid(P_PID, (id_t)children[i], &info, WEXITED | WNOWAIT) == -1)
        if (errno != EINTR)
            die_errno("waitid");
    stop_signals_hold(&saved);
    status = reap_quietly(children[i]);
    children[i] = 0;
    stop_signals_release(&saved);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("a child: %s", fmt_wait_status(status).s);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"producers", required_argument, NULL, 'p'},
        {"consumers", required_argument, NULL, 'c'},
        {"items", required_argument, NULL, 'n'},
        {"slots", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long producers = 2, consumers = 2, items = 1000, slots = 4;
    unsigned short values[NSEMS];
    struct ring *r;
    int c;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'p')
            producers = cli_long(optarg, 1, MAX_PROCS, "--producers", usage);
        else if (c == 'c')
            consumers = cli_long(optarg, 1, MAX_PROCS, "--consumers", usage);
        else if (c == 'n')
            items = cli_long(optarg, 0, 1000000, "--items", usage);
        else
            slots = cli_long(optarg, 1, MAX_SLOTS, "--slots", usage);
    }
    cli_no_operands(argc, argv, usage);

    r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        die_errno("mmap");
    r->slots = slots;
    values[EMPTY] = (unsigned short)slots;
    values[FULL] = 0;
    values[MUTEX] = 1;
    semid = sysv_sem_create(NSEMS, values);
    if (argc == 1) /* narration only in the demo: with options stdout is the result alone */
        printf("[parent] %ld producers x %ld items, %ld consumers, %ld slots\n", producers, items,
               consumers, slots);
    fflush(stdout);                      /* before fork, and before the children's write(2) lines */
    for (long i = 0; i < consumers; i++) /* children 0 .. C-1 */
        if (start_child() == 0)
            consumer(r, i);
    for (long i = 0; i < producers; i++) /* children C .. C+P-1 */
        if (start_child() == 0) {
            for (long s = 0; s < items; s++)
                produce(r, i, s);
            exit(0);
        }
    for (long i = 0; i < producers; i++)
        reap_child_at((int)(consumers + i));
    for (long i = 0; i < consumers; i++)
        produce(r, -1, 0); /* one STOP for each consumer */
    for (long i = 0; i < consumers; i++)
        reap_child_at((int)i);
    printf("total %ld\n", producers * items);
    munmap(r, sizeof *r);
    return 0;
}
