/* pitfall_queue_persists.c - a queue never unlinked outlives its program: stale messages next run
 *
 * A message queue is a kernel object with a name, not a part of the process:
 * when every process has exited, a queue that nobody unlinked is still there,
 * with whatever was left in it.  Here run 1 of an app sends three jobs and its
 * worker stops after two, as a crash would.  Run 2 opens the same name with
 * O_CREAT, gets the old queue, and its worker takes run 1's leftover job first.
 * --fixed: create with O_EXCL, and mq_unlink() as soon as the worker has the
 * queue open: the name is gone at once, the queue with the last descriptor,
 * so nothing can outlive the run, however it ends.
 *
 * Guide part: pitfall (queue persistence, when to unlink).
 * Run: ./pitfall_queue_persists [--fixed]
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
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { MAXMSG = 8, MSGSIZE = 64, JOBS = 3 };

static long queued(mqd_t mq)
{
    struct mq_attr attr;

    if (mq_getattr(mq, &attr) == -1)
        die_errno("mq_getattr");
    return attr.mq_curmsgs;
}

/* The worker, a process of its own that finds the queue by name. */
static noreturn void run_worker(const char *name, int run, int ready_fd, int jobs)
{
    char buf[MSGSIZE + 1];
    mqd_t mq = mq_open(name, O_RDONLY);
    ssize_t n;

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if (write(ready_fd, "r", 1) != 1)
        die_errno("tell the app the worker is ready");
    close(ready_fd);
    for (int i = 0; i < jobs; i++) {
        if ((n = mq_receive(mq, buf, MSGSIZE, NULL)) == -1)
            die_errno("mq_receive");
        buf[n] = '\0';
        if (atoi(buf + strlen("run ")) != run)
            printf("[worker %d] got \"%s\": a stale message from an earlier run\n", run, buf);
        else
            printf("[worker %d] got \"%s\"\n", run, buf);
    }
    if (jobs < JOBS)
        printf("[worker %d] stops after %d of %d jobs, as a crash would\n", run, jobs, JOBS);
    mq_close(mq);
    exit(0);
}

/* One run of the app: opens the queue, starts its worker, sends its jobs. */
static noreturn void run_app(const char *name, int run, bool fixed)
{
    struct mq_attr attr = {.mq_maxmsg = MAXMSG, .mq_msgsize = MSGSIZE};
    int flags = O_CREAT | O_WRONLY | (fixed ? O_EXCL : 0), ready[2], slot = -1;
    char byte, role[16];
    sigset_t saved;
    pid_t worker;
    mqd_t mq;

    stop_signals_hold(&saved);
    if ((mq = mq_open(name, flags, 0600, &attr)) == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if (fixed && (slot = cleanup_add_mq(name)) == -1)
        die_errno("cleanup_add_mq %s", name);
    stop_signals_release(&saved);
    printf("[run %d] mq_open(O_CREAT%s): %ld message(s) already queued\n", run,
           fixed ? "|O_EXCL" : "", queued(mq));

    if (pipe(ready) == -1)
        die_errno("pipe");
    if ((worker = fork_or_die()) == 0) {
        mq_close(mq);
        close(ready[0]);
        run_worker(name, run, ready[1], run == 1 ? JOBS - 1 : JOBS);
    }
    close(ready[1]);
    if (read(ready[0], &byte, 1) != 1)
        die("the worker did not start");
    close(ready[0]);
    if (fixed) {
        /* THE FIX: every party has it open, so the name has done its job. */
        if (mq_unlink(name) == -1)
            die_errno("mq_unlink %s", name);
        cleanup_forget(slot);
        printf("[run %d] the worker has the queue open: mq_unlink now, the queue lives on "
               "only through open descriptors\n",
               run);
    }
    printf("[run %d] sending %d jobs\n", run, JOBS);
    for (int i = 1; i <= JOBS; i++) {
        char job[MSGSIZE];
        int len = snprintf(job, sizeof job, "run %d job %d", run, i);

        if (mq_send(mq, job, (size_t)len, 0) == -1)
            die_errno("mq_send");
    }
    snprintf(role, sizeof role, "run %d", run);
    if (reap_child(worker, role) != 0)
        die("the worker failed");
    printf("[run %d] exits%s\n", run, fixed ? "" : " without mq_unlink (nobody ever calls it)");
    mq_close(mq);
    exit(0);
}

int main(int argc, char *argv[])
{
    char name[64];
    bool fixed;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    /* The app's well-known name; the pid keeps two demos apart.  The demo
     * itself removes whatever the broken app leaves, however it ends. */
    snprintf(name, sizeof name, "/pitfall_queue_persists.%d", (int)getpid());
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq %s", name);
    for (int run = 1; run <= 2; run++) {
        pid_t app = fork_or_die();

        if (app == 0)
            run_app(name, run, fixed);
        if (reap_child(app, "demo") != 0)
            die("run %d failed", run);
    }
    if ((mq = mq_open(name, O_RDONLY)) != (mqd_t)-1) {
        printf("[demo] after both runs %s still exists with %ld message(s): removing it\n", name,
               queued(mq));
        mq_close(mq);
    } else if (errno == ENOENT) {
        printf("[demo] after both runs %s does not exist: nothing outlived the app\n", name);
    } else {
        die_errno("mq_open %s", name);
    }
    return 0; /* exit() unlinks the name if it is still there */
}
