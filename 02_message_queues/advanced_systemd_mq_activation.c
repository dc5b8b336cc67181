/* advanced_systemd_mq_activation.c - systemd's ListenMessageQueue=: a queue handed over on demand
 *
 * Real-world pattern: systemd's socket units (systemd.socket(5)) can listen
 * on a POSIX message queue.  The manager creates the queue itself, with the
 * unit's MessageQueueMaxMessages=, MessageQueueMessageSize= and SocketMode=,
 * checks with fstat() that the queue it got is its own, and watches it for
 * POLLIN.  When the first message arrives it starts the service and hands
 * the open queue over as descriptor 3, with LISTEN_PID and LISTEN_FDS set
 * (the sd_listen_fds(3) protocol); the service never opens the queue by name.
 * Here the service drains the queue and exits after 200 ms idle; the next
 * message starts it again.  RemoveOnStop= unlinks the queue when the unit stops.
 * Left out: unit files and D-Bus, Accept= (not allowed for queues),
 * FileDescriptorStoreMax=, SELinux labels, and libsystemd (its two checks,
 * sd_listen_fds and sd_is_mq, are written out here).
 *
 * Guide part: real-world (systemd socket activation with a message queue).
 * Run: ./advanced_systemd_mq_activation
 *      under systemd: see the README for a .socket and .service pair that runs
 *      ./advanced_systemd_mq_activation --service
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--service]    (--service: the service side, started with LISTEN_FDS)";

/* The socket unit of this demo, as its settings would read in a .socket file. */
enum { MAX_MESSAGES = 8, MESSAGE_SIZE = 256, SOCKET_MODE = 0600, IDLE_MS = 200 };
static const char fd_name[] = "demo-mq"; /* FileDescriptorName= */
enum { LISTEN_FDS_START = 3 };           /* SD_LISTEN_FDS_START */

/* ---- the service ---------------------------------------------------------- */

/* What sd_listen_fds(1) does: the variables must be meant for this very
 * process, the descriptors start at 3 and get FD_CLOEXEC, the variables go. */
static int listen_fds(char *names, size_t size)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    const char *fdnames = getenv("LISTEN_FDNAMES");
    long n;

    if (pid == NULL || fds == NULL)
        die("not started by socket activation: LISTEN_PID or LISTEN_FDS is not set");
    if (parse_long(pid, 1, INT_MAX, &n) == -1 || n != getpid())
        die("LISTEN_PID=%s is not this process (%d)", pid, (int)getpid());
    if (parse_long(fds, 1, 64, &n) == -1)
        die("LISTEN_FDS=%s is not a count of descriptors", fds);
    for (int fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + n; fd++)
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
            die_errno("descriptor %d", fd);
    snprintf(names, size, "%s", fdnames != NULL ? fdnames : "(none)");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

static noreturn void run_service(void)
{
    char names[128];
    int n = listen_fds(names, sizeof names), fd = LISTEN_FDS_START;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    struct mq_attr attr;
    char buf[MESSAGE_SIZE + 1];
    ssize_t len;

    /* What sd_is_mq(3) checks: mq_getattr() works only on a queue (EBADF otherwise). */
    if (mq_getattr(fd, &attr) == -1)
        die_errno("descriptor %d is not a message queue: mq_getattr", fd);
    printf("[service] pid %d: LISTEN_FDS=%d LISTEN_FDNAMES=%s; fd %d is a message queue (maxmsg "
           "%ld, msgsize %ld, %ld queued)\n",
           (int)getpid(), n, names, fd, attr.mq_maxmsg, attr.mq_msgsize, attr.mq_curmsgs);
    while (poll(&pfd, 1, IDLE_MS) == 1) {
        /* systemd opened it O_NONBLOCK: the drain ends at EAGAIN. */
        while ((len = mq_receive(fd, buf, MESSAGE_SIZE, NULL)) != -1) {
            buf[len] = '\0';
            printf("[service] got \"%s\"\n", buf);
        }
        if (errno != EAGAIN)
            die_errno("mq_receive");
    }
    printf("[service] idle for %d ms: exiting; the manager watches the queue again\n", IDLE_MS);
    close(fd);
    exit(0);
}

/* ---- the manager ---------------------------------------------------------- */

/* As systemd's mq_address_create(): read-only, non-blocking, the unit's
 * sizes and mode; then fstat() to refuse a queue that is not ours.  (systemd
 * uses O_CREAT alone and relies on that check; O_EXCL here, as everywhere.) */
static mqd_t create_queue(const char *name, int *slot)
{
    struct mq_attr attr = {
        .mq_flags = O_NONBLOCK, .mq_maxmsg = MAX_MESSAGES, .mq_msgsize = MESSAGE_SIZE};
    struct stat st;
    sigset_t saved;
    mqd_t mq;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    mq = mq_open(name, O_RDONLY | O_NONBLOCK | O_CREAT | O_EXCL, SOCKET_MODE, &attr);
    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if ((*slot = cleanup_add_mq(name)) == -1)
        die_errno("cleanup_add_mq %s", name);
    stop_signals_release(&saved);
    if (fstat(mq, &st) == -1)
        die_errno("fstat %s", name);
    if ((st.st_mode & 0777) != SOCKET_MODE || st.st_uid != getuid() || st.st_gid != getgid())
        die("%s: mode %o or owner %d is not ours", name, st.st_mode & 0777, (int)st.st_uid);
    printf("[manager] ListenMessageQueue=%s: created, mode %03o, owner %d; the kernel made the "
           "descriptor close-on-exec: %s\n",
           name, st.st_mode & 0777, (int)st.st_uid,
           (proc_fd_flags(getpid(), mq) & O_CLOEXEC) ? "yes" : "no");
    return mq;
}

/* Starts the service with the queue as descriptor 3, and waits until it exits. */
static void activate(mqd_t mq, const char *self, int activation)
{
    pid_t service;
    char pid[16];

    printf("[manager] POLLIN on the queue: starting the service (activation %d)\n", activation);
    if ((service = fork_or_die()) == 0) {
        /* dup2() gives a descriptor without FD_CLOEXEC, so it survives exec
         * (POSIX closes queue descriptors at exec; on Linux a queue is a file). */
        if (mq != LISTEN_FDS_START && dup2(mq, LISTEN_FDS_START) == -1)
            die_errno("dup2");
        if (mq == LISTEN_FDS_START && fcntl(mq, F_SETFD, 0) == -1)
            die_errno("fcntl F_SETFD");
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if (setenv("LISTEN_PID", pid, 1) == -1 || setenv("LISTEN_FDS", "1", 1) == -1 ||
            setenv("LISTEN_FDNAMES", fd_name, 1) == -1)
            die_errno("setenv");
        execl(self, self, "--service", (char *)NULL);
        die_errno("exec %s", self);
    }
    reap_child(service, "manager");
}

/* A client of the service: two bursts of messages; the second once the
 * first activation is over (the manager says so on `gone_fd`). */
static noreturn void run_client(const char *name, int gone_fd)
{
    static const char *const burst[2][3] = {{"first", "second", "third"}, {"fourth", "fifth"}};
    mqd_t mq = mq_open(name, O_WRONLY);
    char byte;

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", name);
    for (int b = 0; b < 2; b++) {
        if (b == 1 && read(gone_fd, &byte, 1) != 1)
            die("the manager did not report the end of the first activation");
        printf("[client] sending burst %d\n", b + 1);
        for (int i = 0; i < 3 && burst[b][i] != NULL; i++)
            if (mq_send(mq, burst[b][i], strlen(burst[b][i]), 0) == -1)
                die_errno("mq_send");
    }
    close(gone_fd);
    mq_close(mq);
    exit(0);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"service", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char name[64], self[PATH_MAX];
    int c, slot, gone[2], activations = 0;
    bool client_done = false;
    struct mq_attr attr;
    pid_t client;
    ssize_t len;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "sh", longopts, usage)) != -1)
        run_service();
    cli_no_operands(argc, argv, usage);
    if ((len = readlink("/proc/self/exe", self, sizeof self - 1)) == -1)
        die_errno("readlink /proc/self/exe");
    self[len] = '\0';

    snprintf(name, sizeof name, "/advanced_systemd_mq_activation.%d", (int)getpid());
    mq = create_queue(name, &slot);
    if (pipe2(gone, O_CLOEXEC) == -1) /* O_CLOEXEC: not for the service */
        die_errno("pipe2");
    if ((client = fork_or_die()) == 0) {
        mq_close(mq);
        close(gone[1]);
        run_client(name, gone[0]);
    }
    close(gone[0]);
    printf("[manager] watching the queue; no service runs until a message arrives\n");
    for (;;) {
        struct pollfd pfd = {.fd = mq, .events = POLLIN};
        int n = poll(&pfd, 1, 100);

        if (n == -1)
            die_errno("poll");
        if (n == 1) {
            activate(mq, self, ++activations);
            if (activations == 1 && (write(gone[1], "g", 1) != 1 || close(gone[1]) == -1))
                die_errno("tell the client");
            continue;
        }
        if (!client_done && waitpid(client, NULL, WNOHANG) == client)
            client_done = true;
        if (client_done && mq_getattr(mq, &attr) == 0 && attr.mq_curmsgs == 0)
            break;
    }
    printf("[manager] stopping the unit after %d activations: RemoveOnStop=yes unlinks %s\n",
           activations, name);
    mq_close(mq);
    if (mq_unlink(name) == -1)
        die_errno("mq_unlink %s", name);
    cleanup_forget(slot);
    return 0;
}
