/* solution_job_queue.c - exercise 3: a bounded job queue, K worker processes, every result once
 *
 * A feeder process reads jobs, one per line of standard input, into a POSIX
 * queue of 8 messages; K workers take them, hash each line (FNV-1a, 32 bits)
 * and send the result with its line number to a second queue of 8; the
 * collector gathers every result exactly once and writes them to FILE in
 * input order.  The feeder's last message to the collector says how many
 * jobs there were; poison messages stop the workers.  Both queues are
 * bounded, so a fast feeder waits for the workers, never the other way round.
 *
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_job_queue [--workers K] [--out FILE]    (K from 1 to 16, default 4)
 *      without --out: 20 built-in jobs, narrated.
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--workers K] [--out FILE] < JOBS    (K from 1 to 16, default 4)";

enum { MAX_WORKERS = 16, DEPTH = 8, LINE_MAX_BYTES = 8000, POISON = 0 };

struct job {
    uint32_t line; /* 1.. ; POISON stops a worker */
    char bytes[LINE_MAX_BYTES];
};
struct result {
    uint32_t line; /* 0: from the feeder, `hash` holds the number of jobs */
    uint32_t hash;
};

static pid_t children[MAX_WORKERS + 1];
static int nchildren;
/* Whatever this process still holds, closed however it ends (an error's
 * exit() included): no descriptor may be left open at exit. */
static mqd_t held_jobs = (mqd_t)-1, held_results = (mqd_t)-1;
static int held_out = -1;

static void close_held(void)
{
    if (held_jobs != (mqd_t)-1)
        close(held_jobs); /* mq_close() is close() on Linux: safe in a handler too */
    if (held_results != (mqd_t)-1)
        close(held_results);
    if (held_out != -1)
        close(held_out);
    held_jobs = held_results = (mqd_t)-1;
    held_out = -1;
}

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
}

static noreturn void run_worker(mqd_t jobs, mqd_t results)
{
    struct job j;
    ssize_t n;

    while ((n = mq_receive(jobs, (char *)&j, sizeof j, NULL)) >= (ssize_t)sizeof j.line &&
           j.line != POISON) {
        struct result r = {.line = j.line, .hash = fnv1a(j.bytes, (size_t)n - sizeof j.line)};

        if (mq_send(results, (char *)&r, sizeof r, 0) == -1)
            die_errno("worker: mq_send");
    }
    if (n == -1)
        die_errno("worker: mq_receive");
    mq_close(jobs);
    mq_close(results);
    exit(0);
}

/* Reads the jobs from `in`, one per line, then the poison and the count. */
static noreturn void run_feeder(FILE *in, mqd_t jobs, mqd_t results, int workers)
{
    char *line = NULL;
    size_t cap = 0;
    uint32_t count = 0;
    struct result total;
    ssize_t len;
    struct job j;

    while ((len = getline(&line, &cap, in)) > 0) {
        if (line[len - 1] == '\n')
            len--;
        if (len > LINE_MAX_BYTES)
            die("line %u: longer than %d bytes", count + 1, LINE_MAX_BYTES);
        j.line = ++count;
        memcpy(j.bytes, line, (size_t)len);
        if (mq_send(jobs, (char *)&j, sizeof j.line + (size_t)len, 0) == -1)
            die_errno("feeder: mq_send");
    }
    if (ferror(in))
        die_errno("read the jobs");
    free(line);
    for (int i = 0; i < workers; i++) {
        struct job stop = {.line = POISON};

        if (mq_send(jobs, (char *)&stop, sizeof stop.line, 0) == -1)
            die_errno("feeder: mq_send");
    }
    total = (struct result){.line = 0, .hash = count};
    if (mq_send(results, (char *)&total, sizeof total, 0) == -1)
        die_errno("feeder: mq_send");
    mq_close(jobs);
    mq_close(results);
    exit(0);
}

/* Every 100 ms without a result: has a child failed (its message is on stderr)? */
static void check_children(void)
{
    int status;

    for (int i = 0; i < nchildren; i++) {
        if (children[i] <= 0 || waitpid(children[i], &status, WNOHANG) != children[i])
            continue;
        children[i] = 0;
        if (status != 0)
            exit(1); /* exit() stops the other children, then removes the queues */
    }
}

/* Gathers the results; returns the hashes by line number, *njobs of them. */
static uint32_t *collect(mqd_t results, uint32_t *njobs)
{
    uint32_t *hashes = NULL, got = 0;
    unsigned char *seen = NULL;
    size_t cap = 0;
    long total = -1;

    while (total < 0 || got < (uint32_t)total) {
        struct timespec ts;
        struct result r;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        if (mq_timedreceive(results, (char *)&r, sizeof r, NULL, &ts) != (ssize_t)sizeof r) {
            if (errno != ETIMEDOUT)
                die_errno("collector: mq_timedreceive");
            check_children();
            continue;
        }
        if (r.line == 0) {
            total = r.hash;
            continue;
        }
        if (r.line >= cap) { /* grow both arrays, new entries unseen */
            size_t more = cap == 0 ? 1024 : cap * 2;

            while (more <= r.line)
                more *= 2;
            if ((hashes = realloc(hashes, more * sizeof *hashes)) == NULL ||
                (seen = realloc(seen, more)) == NULL)
                die_errno("realloc");
            memset(seen + cap, 0, more - cap);
            cap = more;
        }
        if (seen[r.line]++)
            die("the result of line %u came twice", r.line);
        hashes[r.line] = r.hash;
        got++;
    }
    free(seen);
    *njobs = got;
    return hashes;
}

static pid_t start(const sigset_t *saved)
{
    pid_t pid = fork_or_die();

    if (pid == 0) {
        signal(SIGINT, SIG_DFL); /* the parent's handler is not ours */
        signal(SIGTERM, SIG_DFL);
        stop_signals_release(saved);
        return 0;
    }
    children[nchildren++] = pid;
    /* At exit() or a stop signal, the registry stops and reaps it before the queues go. */
    if (cleanup_add_child(pid) == -1)
        die_errno("cleanup_add_child");
    return pid;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char demo[] = "job 1\njob 2\njob 3\njob 4\njob 5\njob 6\njob 7\njob 8\njob 9\n"
                         "job 10\njob 11\njob 12\njob 13\njob 14\njob 15\njob 16\njob 17\n"
                         "job 18\njob 19\njob 20\n";
    char jobs_name[64], results_name[64];
    const char *out_path = NULL;
    int c, workers = 4;
    uint32_t *hashes, njobs;
    sigset_t saved;
    FILE *out = stdout, *in = stdin;
    mqd_t jobs, results;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "w:o:h", longopts, usage)) != -1)
        if (c == 'w')
            workers = (int)cli_long(optarg, 1, MAX_WORKERS, "--workers", usage);
        else
            out_path = optarg;
    cli_no_operands(argc, argv, usage);
    if (out_path != NULL && (out = fopen(out_path, "we")) == NULL)
        die_errno("open %s", out_path);
    held_out = out != stdout ? fileno(out) : -1;
    atexit(close_held);
    if (out_path == NULL && (in = fmemopen(demo, strlen(demo), "r")) == NULL)
        die_errno("fmemopen");
    if (out_path == NULL)
        printf("[collector] no --out: 20 built-in jobs, results here\n");

    snprintf(jobs_name, sizeof jobs_name, "/solution_job_queue.%d.jobs", (int)getpid());
    snprintf(results_name, sizeof results_name, "/solution_job_queue.%d.results", (int)getpid());
    stop_signals_hold(&saved); /* until the queues are registered and the children known */
    held_jobs = jobs = mq_create_registered(jobs_name, O_RDWR, DEPTH, sizeof(struct job));
    held_results = results =
        mq_create_registered(results_name, O_RDWR, DEPTH, sizeof(struct result));
    for (int i = 0; i < workers; i++)
        if (start(&saved) == 0) {
            if (in != stdin)
                fclose(in);
            if (out != stdout)
                fclose(out); /* nothing written yet: nothing flushed twice */
            run_worker(jobs, results);
        }
    if (start(&saved) == 0) {
        if (out != stdout)
            fclose(out);
        held_out = -1;
        run_feeder(in, jobs, results, workers);
    }
    stop_signals_release(&saved);
    if (in != stdin)
        fclose(in);
    mq_close(jobs);
    held_jobs = (mqd_t)-1;

    hashes = collect(results, &njobs);
    for (uint32_t line = 1; line <= njobs; line++)
        fprintf(out, "%s%u %08x\n", out == stdout ? "[collector] " : "", line, hashes[line]);
    held_out = -1; /* fclose() closes it */
    if (out != stdout && fclose(out) == EOF)
        die_errno("write %s", out_path);
    free(hashes);
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            reap_quietly(children[i]);
    printf("jobs=%u workers=%d\n", njobs, workers);
    mq_close(results);
    held_results = (mqd_t)-1;
    return 0; /* exit() unlinks both queues */
}
