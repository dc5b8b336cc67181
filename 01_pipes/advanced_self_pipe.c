/* advanced_self_pipe.c - wake a poll() loop on a signal: the self-pipe trick, then signalfd
 *
 * A flag set by a handler can be missed by an event loop: a signal landing
 * between "check the flag" and "block in poll()" waits for the next event.
 * The self-pipe trick has the handler write one byte to a non-blocking pipe
 * that poll() watches, so no wake-up is lost; Linux's signalfd() turns the
 * signals into readable records with no handler at all.  libuv keeps such a
 * signal pipe; systemd's sd-event reads a signalfd.
 *
 * Guide part: real-world (signals in event loops: self-pipe and signalfd).
 * Run: ./advanced_self_pipe [--signals N] [--mode self-pipe|signalfd|both]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "[--signals N] [--mode self-pipe|signalfd|both]    (N from 1 to 10, default 3)";

static const int watched[] = {SIGUSR1, SIGCHLD, SIGALRM};

struct tally {
    long usr1;            /* SIGUSR1 seen (standard signals do not queue) */
    unsigned eintr;       /* poll() calls a handler interrupted */
    bool reaped, alarmed; /* the loop ends when both are true */
};

static int wake_fd = -1; /* the self-pipe's write end, for the handler */

static const char *sig_name(unsigned signo)
{
    return signo == SIGUSR1   ? "SIGUSR1"
           : signo == SIGCHLD ? "SIGCHLD"
           : signo == SIGALRM ? "SIGALRM"
                              : "?";
}

static void on_signal(int signo)
{
    int saved = errno; /* write() may change errno under the interrupted code */
    unsigned char byte = (unsigned char)signo;

    /* Non-blocking: a full pipe means thousands of wake-ups are already
     * pending, and a handler that blocked would hang the process. */
    ssize_t r = write(wake_fd, &byte, 1);

    (void)r; /* a failed wake-up has nothing safe to report */
    errno = saved;
}

static void set_handlers(void (*handler)(int))
{
    /* SA_RESTART spares read() and write() (printf too) EINTR; poll() fails anyway. */
    struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART};

    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        if (sigaction(watched[i], &sa, NULL) == -1)
            die_errno("sigaction %s", sig_name((unsigned)watched[i]));
}

/* Three kinds of signal for the loop: a child sends SIGUSR1 every 20 ms
 * and exits (SIGCHLD follows), and a one-shot timer raises SIGALRM. */
static void start_sources(const char *role, long signals, const sigset_t *child_mask,
                          const int *loop_fds, int nfds)
{
    struct itimerval timer = {.it_value = {.tv_sec = 0, .tv_usec = 100 * 1000}};
    pid_t pid = fork_or_die();

    if (pid == 0) {
        for (int i = 0; i < nfds; i++)
            close(loop_fds[i]); /* the event loop's fds are no use here */
        /* The blocked mask is inherited through fork() and exec(): a child
         * of a signalfd user must unblock, or it never sees these signals. */
        if (child_mask != NULL && sigprocmask(SIG_SETMASK, child_mask, NULL) == -1)
            die_errno("sigprocmask");
        for (long i = 0; i < signals; i++) {
            sleep_ms(20);
            if (kill(getppid(), SIGUSR1) == -1)
                die_errno("kill");
        }
        printf("[child] sent %ld x SIGUSR1, exiting: the kernel sends SIGCHLD to the parent\n",
               signals);
        exit(0);
    }
    if (setitimer(ITIMER_REAL, &timer, NULL) == -1)
        die_errno("setitimer");
    printf("[%s] child %d will send %ld x SIGUSR1; SIGALRM is due in 100 ms\n", role, (int)pid,
           signals);
}

static void count_signal(const char *role, unsigned signo, struct tally *t)
{
    int status;
    pid_t pid;

    t->usr1 += signo == SIGUSR1;
    t->alarmed |= signo == SIGALRM;
    /* One SIGCHLD may stand for several exits: reap until none is left. */
    while (signo == SIGCHLD && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
        printf("[%s] reaped child %d: %s\n", role, (int)pid, fmt_wait_status(status).s);
        t->reaped = true;
    }
}

static void drain_self_pipe(int fd, struct tally *t)
{
    unsigned char bytes[64];
    ssize_t n = read(fd, bytes, sizeof bytes);

    if (n == -1 && errno != EAGAIN)
        die_errno("read the self-pipe");
    for (ssize_t i = 0; i < n; i++) {
        printf("[self-pipe] woke up: byte %d = %s\n", bytes[i], sig_name(bytes[i]));
        count_signal("self-pipe", bytes[i], t);
    }
}

static void drain_signalfd(int fd, struct tally *t)
{
    struct signalfd_siginfo si[8];
    ssize_t n = read(fd, si, sizeof si);

    if (n == -1 && errno != EAGAIN)
        die_errno("read the signalfd");
    for (ssize_t i = 0; i < n / (ssize_t)sizeof si[0]; i++) {
        if (si[i].ssi_signo == SIGCHLD)
            printf("[signalfd] read a record: SIGCHLD, child %u %s %d\n", si[i].ssi_pid,
                   si[i].ssi_code == CLD_EXITED ? "exited with status" : "killed by signal",
                   si[i].ssi_status);
        else
            printf("[signalfd] read a record: %s, sent by %s %u\n", sig_name(si[i].ssi_signo),
                   si[i].ssi_code == SI_KERNEL ? "the kernel (our timer), pid" : "pid",
                   si[i].ssi_pid);
        count_signal("signalfd", si[i].ssi_signo, t);
    }
}

/* The loop both variants share: sleep in poll() until the fd is readable,
 * then let `drain` read it, until the child is reaped and the timer fired. */
static void event_loop(const char *role, int fd, void (*drain)(int, struct tally *), long signals)
{
    struct tally t = {0};

    while (!t.reaped || !t.alarmed) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, 1000);

        if (ready == -1 && errno == EINTR) {
            /* poll() is never restarted after a handler, SA_RESTART or not. */
            if (t.eintr++ == 0)
                printf("[%s] poll() failed with EINTR: a handler ran; the byte it wrote makes the "
                       "next poll() return at once\n",
                       role);
            continue;
        }
        if (ready == -1)
            die_errno("poll");
        if (ready == 0)
            die("no signal arrived for 1 s");
        drain(fd, &t);
    }
    printf(
        "[%s] done: %ld of %ld SIGUSR1 seen%s, child reaped, alarm seen; %u poll() calls failed with EINTR\n",
        role, t.usr1, signals, t.usr1 < signals ? " (some merged while pending)" : "", t.eintr);
}

static void demo_self_pipe(long signals)
{
    int sp[2];

    if (pipe2(sp, O_NONBLOCK | O_CLOEXEC) == -1)
        die_errno("pipe2");
    wake_fd = sp[1];
    set_handlers(on_signal);
    printf("[self-pipe] pipe fds %d/%d, non-blocking; the handler of SIGUSR1, SIGCHLD and SIGALRM "
           "writes the signal number as one byte\n",
           sp[0], sp[1]);
    start_sources("self-pipe", signals, NULL, sp, 2);
    event_loop("self-pipe", sp[0], drain_self_pipe, signals);
    set_handlers(SIG_DFL);
    close(sp[0]);
    close(sp[1]);
}

static void demo_signalfd(long signals)
{
    sigset_t mask, old;
    int sfd;

    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++)
        sigaddset(&mask, watched[i]);
    /* Blocked, the signals stay pending until read() takes them from the fd. */
    if (sigprocmask(SIG_BLOCK, &mask, &old) == -1)
        die_errno("sigprocmask");
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd == -1)
        die_errno("signalfd");
    printf(
        "[signalfd] fd %d reads SIGUSR1, SIGCHLD and SIGALRM; they are blocked, no handler runs\n",
        sfd);
    start_sources("signalfd", signals, &old, &sfd, 1);
    event_loop("signalfd", sfd, drain_signalfd, signals);
    close(sfd);
    if (sigprocmask(SIG_SETMASK, &old, NULL) == -1)
        die_errno("sigprocmask");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"signals", required_argument, NULL, 's'},
        {"mode", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool self_pipe = true, use_signalfd = true;
    long signals = 3;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "s:m:h", longopts, usage)) != -1) {
        if (c == 's')
            signals = cli_long(optarg, 1, 10, "--signals", usage);
        if (c == 'm') {
            self_pipe = strcmp(optarg, "self-pipe") == 0 || strcmp(optarg, "both") == 0;
            use_signalfd = strcmp(optarg, "signalfd") == 0 || strcmp(optarg, "both") == 0;
            if (!self_pipe && !use_signalfd)
                die_usage(usage, "--mode must be self-pipe, signalfd or both, not '%s'", optarg);
        }
    }
    cli_no_operands(argc, argv, usage);

    if (self_pipe)
        demo_self_pipe(signals);
    if (use_signalfd)
        demo_signalfd(signals);
    if (self_pipe && use_signalfd) {
        printf(
            "[compare] self-pipe: portable POSIX; costs a handler, two fds, a write() per signal and "
            "EINTR from poll(); the loop learns only the signal number\n");
        printf(
            "[compare] signalfd: Linux only; one fd, no handler, no EINTR, and records with the sender's "
            "pid and a child's status; but the signals must stay blocked in every thread, and children "
            "inherit that mask until they unblock it\n");
        printf(
            "[compare] both: a standard signal sent while the same one is pending is lost, so count events "
            "with waitpid(WNOHANG) loops or a queue, never by counting signals\n");
    }
    return 0;
}
