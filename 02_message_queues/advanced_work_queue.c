/* advanced_work_queue.c - a job queue feeding a pool of worker processes, results on a second queue
 *
 * A feeder sends jobs into one queue; K workers compete for them (each
 * mq_receive() hands a message to exactly one process); each result goes to
 * a second queue, where the collector checks that every job came back once,
 * with the right answer.  Shutdown is by poison messages: after the last job
 * the feeder sends one "stop" per worker, and FIFO order within a priority
 * puts them after every job.  The feeder is a process of its own: if the
 * collector also fed jobs, a full job queue and a full result queue could
 * block each other for ever.  --crash shows the limit of the design: the worker
 * that takes job 3 dies holding it, and the job is lost, since a received message is gone (no
 * acknowledgment, no redelivery): at most once, not exactly once.
 *
 * Guide part: theory (message queues: work distribution, poison messages).
 * Run: ./advanced_work_queue [--jobs N] [--workers K] [--crash]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "[--jobs N] [--workers K] [--crash]    (N 1 to 10000, default 40; K 1 to 16, default 4)";

enum { MAXMSG = 10, MAX_WORKERS = 16, POISON = 0, CRASH_JOB = 3 };

struct job {
    uint32_t id; /* 1..N; POISON (0) tells a worker to stop */
    uint32_t n;
};

struct result {
    uint32_t id;
    int32_t worker;
    uint64_t answer;
};

static uint64_t work(uint32_t n)
{
    return (uint64_t)n * n;
}

static noreturn void run_feeder(mqd_t jobs, long njobs, int nworkers)
{
    for (uint32_t id = 1; id <= njobs; id++) {
        struct job j = {.id = id, .n = id + 1000};

        if (mq_send(jobs, (char *)&j, sizeof j, 0) == -1)
            die_errno("mq_send job");
    }
    printf("[feeder] sent %ld jobs, now %d poison messages, one per worker\n", njobs, nworkers);
    for (int i = 0; i < nworkers; i++) {
        struct job stop = {.id = POISON};

        if (mq_send(jobs, (char *)&stop, sizeof stop, 0) == -1)
            die_errno("mq_send poison");
    }
    mq_close(jobs);
    exit(0);
}

static noreturn void run_worker(int w, mqd_t jobs, mqd_t results, bool crash)
{
    int done = 0;

    for (;;) {
        struct job j;
        struct result r;

        if (mq_receive(jobs, (char *)&j, sizeof j, NULL) != (ssize_t)sizeof j)
            die_errno("worker %d: mq_receive", w);
        if (j.id == POISON)
            break;
        if (crash && j.id == CRASH_JOB) {
            printf("[worker %d] took job %u and crashes before answering\n", w, j.id);
            mq_close(jobs);
            mq_close(results);
            _exit(3);
        }
        r = (struct result){.id = j.id, .worker = w, .answer = work(j.n)};
        if (mq_send(results, (char *)&r, sizeof r, 0) == -1)
            die_errno("worker %d: mq_send", w);
        done++;
    }
    printf("[worker %d] poison message: stopping after %d jobs\n", w, done);
    mq_close(jobs);
    mq_close(results);
    exit(0);
}

/* Receives results until every worker has exited and nothing is left. */
static void collect(mqd_t results, long njobs, int nworkers, pid_t *workers)
{
    unsigned char *seen = calloc((size_t)njobs + 1, 1);
    int per_worker[MAX_WORKERS] = {0}, running = nworkers;
    long received = 0, twice = 0, wrong = 0, lost = 0;

    if (seen == NULL)
        die_errno("calloc");
    while (running > 0 || received < njobs) {
        struct timespec ts;
        struct result r;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (mq_timedreceive(results, (char *)&r, sizeof r, NULL, &ts) == (ssize_t)sizeof r) {
            received++;
            if (r.id < 1 || r.id > njobs || seen[r.id]++)
                twice++;
            else if (r.answer != work(r.id + 1000))
                wrong++;
            if (r.worker >= 1 && r.worker <= nworkers)
                per_worker[r.worker - 1]++;
            continue;
        }
        if (errno != ETIMEDOUT)
            die_errno("mq_timedreceive");
        if (running == 0)
            break; /* every worker gone and nothing came for 100 ms */
        for (int w = 0; w < nworkers; w++) {
            int status;

            if (workers[w] > 0 && waitpid(workers[w], &status, WNOHANG) == workers[w]) {
                printf("[collector] worker %d ended: %s\n", w + 1, fmt_wait_status(status).s);
                workers[w] = 0;
                running--;
            }
        }
    }
    for (int w = 0; w < nworkers; w++)
        printf("[collector] worker %d did %d jobs\n", w + 1, per_worker[w]);
    for (long id = 1; id <= njobs; id++)
        if (!seen[id]) {
            printf("[collector] job %ld never came back\n", id);
            lost++;
        }
    printf("[collector] %ld results for %ld jobs: %ld lost, %ld twice, %ld wrong\n", received,
           njobs, lost, twice, wrong);
    free(seen);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"workers", required_argument, NULL, 'w'},
        {"crash", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char jobs_name[64], results_name[64];
    pid_t workers[MAX_WORKERS], feeder;
    long njobs = 40;
    int c, nworkers = 4;
    bool crash = false;
    mqd_t jobs, results;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "j:w:ch", longopts, usage)) != -1)
        if (c == 'j')
            njobs = cli_long(optarg, 1, 10000, "--jobs", usage);
        else if (c == 'w')
            nworkers = (int)cli_long(optarg, 1, MAX_WORKERS, "--workers", usage);
        else
            crash = true;
    cli_no_operands(argc, argv, usage);

    snprintf(jobs_name, sizeof jobs_name, "/advanced_work_queue.%d.jobs", (int)getpid());
    snprintf(results_name, sizeof results_name, "/advanced_work_queue.%d.results", (int)getpid());
    jobs = mq_create_registered(jobs_name, O_RDWR, MAXMSG, sizeof(struct job));
    results = mq_create_registered(results_name, O_RDWR, MAXMSG, sizeof(struct result));
    printf("[collector] %s and %s: %d slots each; %ld jobs for %d workers%s\n", jobs_name,
           results_name, MAXMSG, njobs, nworkers,
           crash ? ", the worker that takes job 3 will crash" : "");

    for (int w = 0; w < nworkers; w++)
        if ((workers[w] = fork_or_die()) == 0) {
            run_worker(w + 1, jobs, results, crash);
        }
    if ((feeder = fork_or_die()) == 0) {
        mq_close(results);
        run_feeder(jobs, njobs, nworkers);
    }
    mq_close(jobs);
    collect(results, njobs, nworkers, workers);
    reap_child(feeder, "collector");
    mq_close(results);
    return 0; /* exit() unlinks both queues */
}
