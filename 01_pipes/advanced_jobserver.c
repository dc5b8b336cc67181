/* advanced_jobserver.c - GNU make's jobserver: a pipe full of tokens as a counting semaphore
 *
 * Real-world pattern: GNU make (since 3.78) caps `make -jJ` across recursive sub-makes with
 * one pipe pre-loaded with J-1 one-byte tokens; each make also owns one implicit token.  A
 * make takes a byte before it starts a second, third... job and writes it back once it has
 * reaped that job.  A sub-make is a new program that finds the pipe in MAKEFLAGS as
 * `--jobserver-auth=R,W`, fds kept open through exec (so never O_CLOEXEC; make 4.4 adds
 * `fifo:PATH`).  Job 4 here re-executes this program as a sub-make; a shared counter measures.
 * Guide part: real-world (GNU make jobserver: token pipe, acquire/release, MAKEFLAGS).
 * Run: ./advanced_jobserver [--jobs J] [--tasks N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TASKS 32
#define MAX_SLOTS 16 /* the largest -j, so the most children one make has at once */
#define SUB_JOBS 3   /* how many jobs the recursive sub-make runs */
#define SUB_TASK 4   /* which top-level job is `$(MAKE) -C sub` */

static const char usage[] = "[--jobs J] [--tasks N]    (J 1-16, default 3; N 1-32, default 8)";

/* In a memfd: every process maps the same page. */
struct meter {
    atomic_int running, max;
};

struct make {
    const char *role;      /* "make" or "sub-make" */
    long jobs;             /* -jJ, only passed on in MAKEFLAGS */
    int rfd, wfd;          /* the jobserver pipe */
    pid_t pid[MAX_SLOTS];  /* running children, 0 = free entry */
    bool token[MAX_SLOTS]; /* true: that child runs on a token from the pipe */
    bool implicit_busy;    /* our own free token is in use */
    sigset_t wait_mask;    /* the signal mask during ppoll(): SIGCHLD let through */
};

static struct meter *meter;
static int meter_fd = -1;

/* Only there to interrupt ppoll(). */
static void on_sigchld(int sig)
{
    (void)sig;
}

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

/* Reap finished children and give their slots back: a pipe token to the pipe, the implicit
 * one to ourselves.  As in GNU make, only after waitpid(): a crashed job loses no token. */
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
        if (status != 0) /* anything but "exit status 0" */
            die("%s: a job failed (%s)", m->role, fmt_wait_status(status).s);
        reaped++;
        options = WNOHANG;
    }
    if (pid == -1 && errno != ECHILD)
        die_errno("waitpid");
    return reaped;
}

/* Get a slot for the next job: the implicit token if it is free, else a byte from the pipe.
 * Waiting, we must still reap (and return tokens): ppoll() lets SIGCHLD in, only there. */
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

/* `$(MAKE) -C sub`: make's own argv[0] again, knowing only its environment and open fds. */
static noreturn void exec_sub_make(const struct make *m, const char *job)
{
    char flags[64], fd[16];

    snprintf(flags, sizeof flags, " -j%ld --jobserver-auth=%d,%d", m->jobs, m->rfd, m->wfd);
    snprintf(fd, sizeof fd, "%d", meter_fd);
    if (setenv("MAKEFLAGS", flags, 1) == -1)
        die_errno("setenv MAKEFLAGS");
    execlp(program_invocation_name, program_invocation_name, "--sub-make", job, "--meter-fd", fd,
           (char *)NULL);
    die_errno("exec %s", program_invocation_name);
}

static unsigned job_ms(const char *job) /* 30-60 ms, fixed per name: end out of order */
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
        exec_sub_make(m, job);
    if (m->pid[i] == 0) {
        /* A plain command gets no jobserver, as in GNU make; the counter is mapped. */
        close(m->rfd);
        close(m->wfd);
        close(meter_fd);
        run_job(job, job_ms(job));
    }
    m->token[i] = token;
}

static void run_make(struct make *m, const char *prefix, int tasks)
{
    char job[16];

    for (int t = 1; t <= tasks; t++) {
        snprintf(job, sizeof job, "%s%s%d", prefix, *prefix ? "." : "", t);
        start(m, job, acquire_slot(m, job), *prefix == '\0' && t == SUB_TASK);
    }
    while (reap_finished(m, 0) > 0)
        ;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},     {"tasks", required_argument, NULL, 'n'},
        {"sub-make", required_argument, NULL, 'S'}, /* internal: job 4's recipe */
        {"meter-fd", required_argument, NULL, 'M'}, /* internal: where the counter is */
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *sub_job = NULL, *flags;
    long jobs = 3, tasks = 8;
    int fds[2], c, back = 0;
    sigset_t chld, wait_mask;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "j:n:h", longopts, usage)) != -1)
        switch (c) {
        case 'j': jobs = cli_long(optarg, 1, MAX_SLOTS, "--jobs", usage); break;
        case 'n': tasks = cli_long(optarg, 1, MAX_TASKS, "--tasks", usage); break;
        case 'S': sub_job = optarg; break;
        case 'M': meter_fd = (int)cli_long(optarg, 0, INT_MAX, "--meter-fd", usage); break;
        }
    cli_no_operands(argc, argv, usage);

    /* The counter is in a memfd, not MAP_ANONYMOUS: a mapping does not survive exec, an fd does. */
    if (sub_job == NULL &&
        ((meter_fd = memfd_create("meter", 0)) == -1 || ftruncate(meter_fd, sizeof *meter) == -1))
        die_errno("memfd_create");
    meter = mmap(NULL, sizeof *meter, PROT_READ | PROT_WRITE, MAP_SHARED, meter_fd, 0);
    if (meter == MAP_FAILED)
        die_errno("mmap the counter");
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &wait_mask) == -1 || signal(SIGCHLD, on_sigchld) == SIG_ERR)
        die_errno("SIGCHLD setup");
    sigdelset(&wait_mask, SIGCHLD); /* the mask for ppoll() */

    if (sub_job != NULL) {
        /* MAKEFLAGS holds mere numbers.  They name the pipe only because it was made without
         * O_CLOEXEC; else they are closed (GNU make then warns "jobserver unavailable: using
         * -j1"), or worse, reused by some unrelated file. */
        if ((flags = getenv("MAKEFLAGS")) == NULL ||
            sscanf(flags, " -j%ld --jobserver-auth=%d,%d", &jobs, &fds[0], &fds[1]) != 3)
            die("sub-make: no jobserver in MAKEFLAGS");
        if (fcntl(fds[0], F_GETFD) == -1 || fcntl(fds[1], F_GETFD) == -1)
            die_errno("sub-make: jobserver fds %d,%d", fds[0], fds[1]);
        printf("[sub-make] pid %d, a new program: MAKEFLAGS='%s', fds %d,%d open: joined the "
               "jobserver; make's slot for job %s is my implicit token\n",
               (int)getpid(), flags, fds[0], fds[1], sub_job);
    } else {
        /* Non-blocking reads let a make that lost the race for a byte go back to ppoll().  No
         * O_CLOEXEC: the sub-make inherits both fds through exec. */
        if (pipe2(fds, O_NONBLOCK) == -1)
            die_errno("pipe2");
        for (long i = 0; i < jobs - 1; i++)
            if (write_full(fds[1], "+", 1) == -1)
                die_errno("preload token");
        printf("[make] -j%ld: jobserver pipe (read fd %d, write fd %d) preloaded with %ld tokens, "
               "plus 1 implicit token\n",
               jobs, fds[0], fds[1], jobs - 1);
    }
    struct make m = {.role = sub_job ? "sub-make" : "make",
                     .jobs = jobs,
                     .rfd = fds[0],
                     .wfd = fds[1],
                     .wait_mask = wait_mask};
    run_make(&m, sub_job ? sub_job : "", sub_job ? SUB_JOBS : (int)tasks);
    close(meter_fd); /* the mapping stays */
    if (sub_job != NULL) {
        close(m.rfd);
        close(m.wfd);
        return 0;
    }

    int max = atomic_load(&meter->max);
    printf("[make] maximum concurrency observed: %d (limit -j%ld)\n", max, jobs);
    for (char tok; read(m.rfd, &tok, 1) == 1;) /* drain: count what came back */
        back++;
    printf("[make] tokens back in the pipe: %d of %ld%s\n", back, jobs - 1,
           back == jobs - 1 ? ": the jobserver is whole" : ": TOKENS LOST");
    close(m.rfd);
    close(m.wfd);
    munmap(meter, sizeof *meter);
    if (max > jobs || back != jobs - 1)
        die("the jobserver did not keep its limit");
    return 0;
}
