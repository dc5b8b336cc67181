/* advanced_jobserver.c - GNU make's jobserver: a pipe full of tokens as a counting semaphore
 *
 * Real-world pattern: GNU make (since 3.78) caps `make -jJ` across recursive sub-makes with
 * one pipe pre-loaded with J-1 one-byte tokens; each make also owns one implicit token.  A
 * make takes a byte before it starts a second, third... job and writes it back once it has
 * reaped that job.  Sub-makes find the pipe through MAKEFLAGS: `--jobserver-auth=R,W`
 * (inherited fds) or, since make 4.4, `--jobserver-auth=fifo:PATH`.  Here: the top "make",
 * one recursive sub-make (job 4), a shared counter that measures real concurrency.
 * Guide part: real-world (GNU make jobserver: token pipe, acquire/release, MAKEFLAGS).
 * Run: ./advanced_jobserver [--jobs J] [--tasks N]
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TASKS 32
#define MAX_SLOTS 16    /* the largest -j, so the most children one make has at once */
#define SUB_JOBS 3      /* how many jobs the recursive sub-make runs */
#define SUB_TASK 4      /* which top-level job is `$(MAKE) -C sub` */

static const char usage[] = "[--jobs J] [--tasks N]    (J 1-16, default 3; N 1-32, default 8)";

struct meter { atomic_int running, max; };     /* in a MAP_SHARED page: every process sees it */

struct make {
    const char *role;           /* "make" or "sub-make" */
    long jobs;                  /* -jJ, only passed on in MAKEFLAGS */
    int rfd, wfd;               /* the jobserver pipe */
    pid_t pid[MAX_SLOTS];       /* running children, 0 = free entry */
    bool token[MAX_SLOTS];      /* true: that child runs on a token from the pipe */
    bool implicit_busy;         /* our own free token is in use */
    sigset_t wait_mask;         /* the signal mask during ppoll(): SIGCHLD let through */
};

static struct meter *meter;

static void on_sigchld(int sig) { (void)sig; }  /* only there to interrupt ppoll() */

/* A leaf job: the real work (here a sleep) and the concurrency measurement around it. */
static noreturn void run_job(const char *name, unsigned ms)
{
    int now = atomic_fetch_add(&meter->running, 1) + 1;
    int seen = atomic_load(&meter->max);

    while (now > seen && !atomic_compare_exchange_weak(&meter->max, &seen, now))
        ;
    printf("[job %s] start, %d running now\n", name, now);
    sleep_ms(ms);
    now = atomic_fetch_sub(&meter->running, 1) - 1;
    printf("[job %s] end after %u ms, %d running now\n", name, ms, now);
    exit(0);
}

/* Reap finished children and give their slots back: a pipe token to the pipe, the
 * implicit one to ourselves.  GNU make, too, returns a token only after waitpid(), so a
 * job that crashes cannot lose one. */
static int reap_finished(struct make *m, int options)
{
    int status, reaped = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, options)) > 0) {
        for (int i = 0; i < MAX_SLOTS; i++) {
            if (m->pid[i] != pid)
                continue;
            if (!m->token[i])
                m->implicit_busy = false;
            else if (write_full(m->wfd, "+", 1) == -1)
                die_errno("write token");
            m->pid[i] = 0;
        }
        if (status != 0)        /* anything but "exit status 0" */
            die("%s: a job failed (%s)", m->role, fmt_wait_status(status).s);
        reaped++;
        options = WNOHANG;
    }
    if (pid == -1 && errno != ECHILD)
        die_errno("waitpid");
    return reaped;
}

/* Get a slot for the next job: the implicit token if it is free, else a byte from the pipe.
 * While waiting, children that end must still be reaped (their tokens returned), so wait
 * in ppoll() with SIGCHLD unblocked only there: no signal can slip in before the sleep. */
static bool acquire_slot(struct make *m, const char *job)
{
    int waits = 0;
    char tok;

    for (;;) {
        reap_finished(m, WNOHANG);
        if (!m->implicit_busy) {
            m->implicit_busy = true;
            return false;
        }
        ssize_t n = read(m->rfd, &tok, 1);
        if (n == 1)
            return true;
        if (n == 0)
            die("%s: the jobserver pipe has no writer left", m->role);
        if (errno != EAGAIN && errno != EINTR)
            die_errno("read token");
        if (waits++ == 0)
            printf("[%s] job %s waits for a token\n", m->role, job);
        struct pollfd p = {.fd = m->rfd, .events = POLLIN};
        if (ppoll(&p, 1, NULL, &m->wait_mask) == -1 && errno != EINTR)
            die_errno("ppoll");
    }
}

static void run_make(struct make *m, const char *prefix, int tasks);

/* A recursive make: it learns the jobserver from MAKEFLAGS, as a real sub-make would. */
static noreturn void run_sub_make(const struct make *parent, const char *job)
{
    struct make sub = {.role = "sub-make", .jobs = parent->jobs, .wait_mask = parent->wait_mask};
    char flags[64];

    snprintf(flags, sizeof flags, " -j%ld --jobserver-auth=%d,%d", parent->jobs, parent->rfd,
             parent->wfd);
    if (sscanf(strstr(flags, "--jobserver-auth="), "--jobserver-auth=%d,%d", &sub.rfd,
               &sub.wfd) != 2)
        die("bad MAKEFLAGS");
    printf("[sub-make] MAKEFLAGS='%s': joined the jobserver; make's slot for job %s is my "
           "implicit token\n", flags, job);
    run_make(&sub, job, SUB_JOBS);
    exit(0);
}

/* 30-60 ms, fixed per job name, so runs are alike but jobs end out of order. */
static unsigned job_ms(const char *job)
{
    unsigned h = 5381;

    for (const char *p = job; *p != '\0'; p++)
        h = h * 33 + (unsigned char)*p;
    return 30 + (h * 2654435761u >> 20) % 31;
}

static void start(struct make *m, const char *job, bool token, bool recursive)
{
    int i = 0;

    while (m->pid[i] != 0)
        i++;
    printf("[%s] job %s starts on %s\n", m->role, job,
           token ? "a token from the pipe" : "the implicit token");
    m->pid[i] = fork_or_die();
    if (m->pid[i] == 0 && recursive)
        run_sub_make(m, job);
    if (m->pid[i] == 0)
        run_job(job, job_ms(job));
    m->token[i] = token;
}

static void run_make(struct make *m, const char *prefix, int tasks)
{
    char job[16];

    for (int t = 1; t <= tasks; t++) {
        snprintf(job, sizeof job, "%s%s%d", prefix, *prefix ? "." : "", t);
        bool token = acquire_slot(m, job);
        start(m, job, token, *prefix == '\0' && t == SUB_TASK);
    }
    while (reap_finished(m, 0) > 0)
        ;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"tasks", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sigaction sa = {.sa_handler = on_sigchld};
    long jobs = 3, tasks = 8;
    int fds[2], c, queued = 0, back = 0;
    sigset_t chld;

    setvbuf(stdout, NULL, _IOLBF, 0);   /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "j:n:h", longopts, usage)) != -1) {
        if (c == 'j')
            jobs = cli_long(optarg, 1, MAX_SLOTS, "--jobs", usage);
        else if (c == 'n')
            tasks = cli_long(optarg, 1, MAX_TASKS, "--tasks", usage);
    }
    cli_no_operands(argc, argv, usage);

    meter = mmap(NULL, sizeof *meter, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (meter == MAP_FAILED)
        die_errno("mmap");
    /* Non-blocking reads let a make that lost the race for a byte go back to ppoll(). */
    if (pipe2(fds, O_NONBLOCK) == -1)
        die_errno("pipe2");
    struct make top = {.role = "make", .jobs = jobs, .rfd = fds[0], .wfd = fds[1]};
    for (long i = 0; i < jobs - 1; i++)
        if (write_full(top.wfd, "+", 1) == -1)
            die_errno("preload token");
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &top.wait_mask) == -1 ||
        sigaction(SIGCHLD, &sa, NULL) == -1)
        die_errno("SIGCHLD setup");
    sigdelset(&top.wait_mask, SIGCHLD);
    printf("[make] -j%ld: jobserver pipe (read fd %d, write fd %d) preloaded with %ld tokens, "
           "plus 1 implicit token\n", jobs, top.rfd, top.wfd, jobs - 1);
    if (tasks >= SUB_TASK)
        printf("[make] job %d is a recursive sub-make running %d jobs of its own\n", SUB_TASK,
               SUB_JOBS);

    run_make(&top, "", (int)tasks);

    int max = atomic_load(&meter->max);
    printf("[make] maximum concurrency observed: %d (limit -j%ld)\n", max, jobs);
    /* Count the tokens twice: what the kernel says is queued, then by draining them. */
    if (ioctl(top.rfd, FIONREAD, &queued) == -1)
        die_errno("ioctl FIONREAD");
    for (char tok; read(top.rfd, &tok, 1) == 1;)
        back++;
    printf("[make] FIONREAD: %d bytes queued in the pipe; drained %d tokens\n", queued, back);
    printf("[make] tokens back in the pipe: %d of %ld%s\n", back, jobs - 1,
           back == jobs - 1 ? ": the jobserver is whole" : ": TOKENS LOST");
    close(top.rfd);
    close(top.wfd);
    munmap(meter, sizeof *meter);
    if (max > jobs || back != jobs - 1)
        die("the jobserver did not keep its limit");
    return 0;
}
