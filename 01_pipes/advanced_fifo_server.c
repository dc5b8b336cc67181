/* advanced_fifo_server.c - one server FIFO, many clients, a private reply FIFO each
 *
 * Clients write fixed-size requests (pid and query, at most PIPE_BUF bytes, so
 * each write() is atomic and concurrent clients never mix) into the server's
 * well-known FIFO; the server answers on the FIFO named after the client's
 * pid and never blocks on a client that has gone, nor writes into a path that is
 * not a FIFO.  However the demo ends, even cut short by a signal or `| head -1`,
 * every process removes its FIFO and none outlives the demo.
 * Guide part: theory (FIFOs: the client/server design with reply FIFOs).
 * Run: ./advanced_fifo_server
 *      two terminals: ./advanced_fifo_server --server DIR   (Ctrl-C stops it)
 *                     ./advanced_fifo_server --client DIR [N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--server DIR | --client DIR [N]]    (N requests, 1 to 1000)";

enum { CLIENTS = 3, REPLY_TIMEOUT_MS = 2000 };

/* Both directions.  Fixed size, at most PIPE_BUF: one write() is one atomic
 * record, so the server reads back whole requests however many clients write. */
struct message {
    int32_t pid; /* names the reply FIFO: DIR/reply.<pid> */
    int32_t seq;
    char text[120];
};
_Static_assert(sizeof(struct message) <= PIPE_BUF, "a message must be one atomic write");

/* A FIFO this program opened must really be one: a regular file or a device in its place
 * (planted in a shared directory, or a mistyped path) is refused, never written into. */
static void fifo_or_die(int fd, const char *path)
{
    if (must_be_fifo(fd, path) == -1) {
        int err = errno;

        close(fd); /* no descriptor left open, even on the way out */
        if (err == ENOTSUP)
            die("%s is not a FIFO: refusing to use it", path);
        die_errnum(err, "fstat %s", path);
    }
}

/* Creates FIFO `path` (exit() removes it), opens it for reading without waiting, then for
 * writing: that dummy end, never written, keeps the writer count above zero, or read() gives
 * EOF and poll() POLLHUP whenever the last peer closes.  Reads follow poll(): non-blocking. */
static int create_fifo_with_dummy_writer(const char *path, int *dummy)
{
    int fd;

    mkfifo_registered(path);
    if ((fd = open(path, O_RDONLY | O_NONBLOCK)) == -1)
        die_errno("open %s for reading", path);
    fifo_or_die(fd, path); /* still the one mkfifo() made, not a file swapped in */
    if ((*dummy = open(path, O_WRONLY)) == -1) /* a reader exists: no wait */
        die_errno("open %s for writing", path);
    return fd;
}

static void answer(const char *dir, struct message *msg, int served)
{
    struct message rep = {.pid = msg->pid, .seq = msg->seq};
    char path[PATH_MAX];
    int fd;

    msg->text[sizeof msg->text - 1] = '\0'; /* never trust a peer's string */
    for (size_t i = 0; msg->text[i] != '\0'; i++)
        rep.text[i] = (char)toupper((unsigned char)msg->text[i]);
    snprintf(path, sizeof path, "%s/reply.%d", dir, (int)msg->pid);
    /* O_NONBLOCK: a client that is gone (no reader) gives ENXIO at once instead of blocking
     * the server, and every other client, forever.  O_NOFOLLOW: a symlink planted under
     * that name does not lead our reply to some other file. */
    if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW)) == -1) {
        printf("[server] request of pid %d dropped: %s: %s\n", (int)msg->pid, path,
               strerror(errno));
        return;
    }
    if (must_be_fifo(fd, path) == -1) {
        printf("[server] request of pid %d dropped: %s is not a FIFO\n", (int)msg->pid, path);
        close(fd);
        return;
    }
    printf("[server] request %d: pid %d asked \"%s\", replying on reply.%d\n", served,
           (int)msg->pid, msg->text, (int)msg->pid);
    /* At most PIPE_BUF and non-blocking: all or nothing, EAGAIN if full. */
    if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
        printf("[server] reply to pid %d lost: %s\n", (int)msg->pid, strerror(errno));
    close(fd);
}

/* Demo only, else -1: ready_fd gets a byte once listening; life_fd, see run_demo(). */
static noreturn void run_server(const char *dir, int ready_fd, int life_fd)
{
    char path[PATH_MAX];
    int fd, dummy, served = 0;
    sigset_t waiting;

    /* A client vanishing mid-reply is EPIPE, not our death.  So is a closed stdout: the demo
     * server then serves on unheard, until its lifeline ends it. */
    signal(SIGPIPE, SIG_IGN);
    /* SIGINT and SIGTERM set stop_signal, and stay blocked except inside ppoll(): one that
     * arrives between the flag test and the wait is not lost, ppoll() returns EINTR. */
    stop_signals_to_flag(&waiting);

    snprintf(path, sizeof path, "%s/server.fifo", dir);
    fd = create_fifo_with_dummy_writer(path, &dummy);
    printf("[server] listening on %s (read fd %d, dummy write fd %d)%s\n", path, fd, dummy,
           ready_fd < 0 ? ", Ctrl-C stops it" : "");
    if (ready_fd >= 0 && (write_full(ready_fd, "!", 1) == -1 || close(ready_fd) == -1))
        die_errno("tell the demo that the server is ready");

    while (!stop_signal) {
        /* poll() skips a negative fd: no lifeline, nothing watched in the second slot. */
        struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = life_fd, .events = 0}};
        struct message msg;
        ssize_t n;

        if (ppoll(pfd, 2, NULL, &waiting) == -1 && errno != EINTR)
            die_errno("ppoll");
        if (pfd[1].revents & POLLHUP) { /* reported even with events = 0 */
            /* The demo is over: its parent died (`| head -1`, kill -9) and nobody reads our
             * stdout or our status any more.  Remove server.fifo (and the directory, if
             * empty) and go, without exit()'s report of a stdout that may be gone too. */
            printf("[server] lifeline hung up: the demo's parent is gone, stopping\n");
            fflush(stdout);
            cleanup_run();
            _exit(0);
        }
        n = read(fd, &msg, sizeof msg); /* one whole request, or EAGAIN */
        if (n == (ssize_t)sizeof msg && msg.pid > 0)
            answer(dir, &msg, ++served);
        else if (n != -1 || errno != EAGAIN)
            printf("[server] ignored a malformed request (read returned %zd)\n", n);
    }
    printf("[server] SIG%s received after %d requests: leaving through exit(), "
           "which removes server.fifo\n",
           sigabbrev_np(stop_signal), served);
    close(fd);
    close(dummy);
    if (life_fd >= 0)
        close(life_fd);
    exit(0);
}

static noreturn void run_client(const char *dir, int id, long requests)
{
    char path[PATH_MAX], reply_path[PATH_MAX];
    pid_t pid = getpid();
    int rfd, dummy, sfd;

    snprintf(path, sizeof path, "%s/server.fifo", dir);
    if ((sfd = open(path, O_WRONLY | O_NONBLOCK)) == -1) /* no server: ENXIO, no wait */
        die_errno("open %s (is the server running?)", path);
    fifo_or_die(sfd, path); /* a regular file opens too: never write requests into one */
    /* Then clear O_NONBLOCK: if the FIFO is full, a request waits. */
    if (set_nonblocking(sfd, false) == -1)
        die_errno("fcntl %s", path);
    snprintf(reply_path, sizeof reply_path, "%s/reply.%d", dir, (int)pid);
    /* Our own dummy writer: between two replies the server has closed its
     * end, and read() must wait for the next reply, not report EOF. */
    rfd = create_fifo_with_dummy_writer(reply_path, &dummy);

    for (int seq = 1; seq <= requests; seq++) {
        struct message msg = {.pid = pid, .seq = seq}, rep;
        struct pollfd pfd = {.fd = rfd, .events = POLLIN};

        snprintf(msg.text, sizeof msg.text, "hello from client %d, request %d", id, seq);
        if (write(sfd, &msg, sizeof msg) != (ssize_t)sizeof msg)
            die_errno("write request");
        if (poll(&pfd, 1, REPLY_TIMEOUT_MS) != 1 || /* a dead server must not hang us */
            read_full(rfd, &rep, sizeof rep) != (ssize_t)sizeof rep || rep.seq != seq)
            die("client %d: no reply to request %d within %d ms", id, seq, REPLY_TIMEOUT_MS);
        printf("[client %d] request %d answered: \"%.*s\"\n", id, seq, (int)sizeof rep.text,
               rep.text); /* bounded: the peer may not end it */
    }
    printf("[client %d] done; closing its ends, exit() removes reply.%d\n", id, (int)pid);
    close(sfd);
    close(rfd);
    close(dummy);
    exit(0);
}

static int run_demo(void)
{
    pid_t server, clients[CLIENTS], parent = getpid();
    char dir[PATH_MAX], byte;
    int ready[2], life[2];
    bool failed = false;

    make_temp_dir(dir, sizeof dir, "fifo_server");
    /* Lifeline: only this process keeps life[1]; however it ends, the server sees POLLHUP. */
    if (pipe(ready) == -1 || pipe(life) == -1)
        die_errno("pipe");
    /* Last one out removes the directory: each child registers it before its FIFO, so
     * its cleanup unlinks the FIFO, then tries rmdir(), which only works once it is empty. */
    if ((server = fork_or_die()) == 0) {
        close(ready[0]);
        close(life[1]);
        if (cleanup_add_dir(dir) == -1)
            die_errno("cleanup_add_dir %s", dir);
        run_server(dir, ready[1], life[0]);
    }
    close(ready[1]);
    close(life[0]);
    /* Clients start once server.fifo has its reader; a server that died sends no byte. */
    if (read(ready[0], &byte, 1) != 1)
        die("the server did not start");
    close(ready[0]);
    for (int i = 0; i < CLIENTS; i++) {
        if ((clients[i] = fork_or_die()) == 0) {
            /* Nor may a client outlive the parent: the kernel then sends it SIGTERM, whose
             * cleanup handler removes reply.<pid>; getppid() sees a parent gone before. */
            close(life[1]);
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent ||
                cleanup_add_dir(dir) == -1)
                exit(1);
            run_client(dir, i + 1, 3);
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        failed |= reap_child(clients[i], "parent") != 0;
    printf("[parent] all clients answered; sending SIGTERM to the server, pid %d\n", (int)server);
    kill(server, SIGTERM);
    failed |= reap_child(server, "parent") != 0;
    close(life[1]);
    if (access(dir, F_OK) == 0) /* rmdir() only removes an empty directory */
        die("%s is still there: a FIFO was left behind", dir);
    printf("[parent] %s is gone: the server, last out, could rmdir() it\n", dir);
    return failed ? 1 : 0;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"client", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server_dir = NULL, *client_dir = NULL;
    long requests = 3;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "s:c:h", longopts, usage)) != -1)
        if (c == 's')
            server_dir = optarg;
        else if (c == 'c')
            client_dir = optarg;
    if (server_dir != NULL && client_dir != NULL)
        die_usage(usage, "--server and --client exclude each other");
    /* An empty DIR would put the FIFOs in the root directory ("/server.fifo"). */
    if ((server_dir != NULL && *server_dir == '\0') || (client_dir != NULL && *client_dir == '\0'))
        die_usage(usage, "DIR must not be empty");
    if (client_dir != NULL && optind < argc)
        requests = cli_long(argv[optind++], 1, 1000, "N", usage);
    cli_no_operands(argc, argv, usage);

    if (server_dir != NULL)
        run_server(server_dir, -1, -1);
    if (client_dir != NULL)
        run_client(client_dir, (int)getpid(), requests);
    return run_demo();
}
