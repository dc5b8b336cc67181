/* advanced_sysv_server.c - one System V queue, one server, many clients: replies addressed by mtype
 *
 * The classic design of System V queues (UNP vol. 2, ch. 6): a single queue
 * carries both directions.  Requests use mtype 1, the server's type; each
 * request names the client's pid, and the reply goes back with mtype = that
 * pid, so every client's msgrcv(msgtyp = getpid()) takes only its own
 * answers while other clients' replies wait in the same queue.  The server
 * sends replies with IPC_NOWAIT: a client that stopped reading must not
 * block it.  SIGTERM or Ctrl-C stops the server: its handler removes the
 * queue, which wakes every process waiting on it with EIDRM.  msgrcv() has
 * no timeout of its own, so clients bound their wait with alarm().
 *
 * Guide part: theory (System V queues: multiplexing by message type).
 * Run: ./advanced_sysv_server
 *      two terminals: ./advanced_sysv_server --server            (prints its msqid; Ctrl-C stops
 * it)
 *                     ./advanced_sysv_server --client MSQID [N]  (N requests, default 3)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "scaffold.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char usage[] = "[--server | --client MSQID [N]]    (N requests, 1 to 1000)";

enum { SERVER_TYPE = 1, CLIENTS = 3, TEXT_MAX = 64, REPLY_TIMEOUT_S = 2 };

struct request {
    long mtype;  /* SERVER_TYPE */
    int32_t pid; /* the reply's mtype */
    int32_t seq;
    char text[TEXT_MAX];
};

struct reply {
    long mtype; /* the client's pid */
    int32_t seq;
    char text[TEXT_MAX];
};

/* msgsz counts what follows mtype. */
#define BODY_SIZE(type) (sizeof(type) - sizeof(long))

/* stop_signal (cleanup.h): the signal that came */
static int served_msqid = -1, served_slot = -1;

/* Removing the queue from the handler closes the gap between testing a flag
 * and calling msgrcv(): wherever the server is, its msgrcv() fails with
 * EIDRM (waiting) or EINVAL (called after).  The cleanup registry does the
 * same system call from its handler. */
static void on_stop(int sig)
{
    stop_signal = sig;
    msgctl(served_msqid, IPC_RMID, NULL);
    cleanup_forget(served_slot);
}

static void on_alarm(int sig)
{
    (void)sig;
} /* only to interrupt msgrcv() */

/* The work: the words of the text in reverse order. */
static void reverse_words(const char *in, char *out, size_t size)
{
    char copy[TEXT_MAX], *words[TEXT_MAX / 2], *save;
    size_t n = 0, len = 0;

    snprintf(copy, sizeof copy, "%s", in);
    for (char *w = strtok_r(copy, " ", &save); w != NULL && n < TEXT_MAX / 2;
         w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    out[0] = '\0';
    while (n-- > 0)
        len += (size_t)snprintf(out + len, size - len, "%s%s", words[n], n > 0 ? " " : "");
}

static noreturn void run_server(int msqid, int slot, int ready_fd)
{
    struct request req;
    int served = 0;
    ssize_t n;

    served_msqid = msqid;
    served_slot = slot;
    /* No SA_RESTART: a signal makes a waiting msgrcv() return. */
    catch_signal(SIGTERM, on_stop, 0);
    catch_signal(SIGINT, on_stop, 0);
    printf("[server] serving msqid %d: requests are mtype %d, replies mtype = client pid%s\n",
           msqid, SERVER_TYPE, ready_fd < 0 ? "; Ctrl-C stops it" : "");
    if (ready_fd >= 0 && (write(ready_fd, "r", 1) != 1 || close(ready_fd) == -1))
        die_errno("tell the demo the server is ready");
    for (;;) {
        struct reply rep;

        n = msgrcv(msqid, &req, BODY_SIZE(struct request), SERVER_TYPE, 0);
        if (n == -1 && stop_signal && (errno == EIDRM || errno == EINVAL || errno == EINTR))
            break;
        if (n == -1)
            die_errno("msgrcv");
        if (n != (ssize_t)BODY_SIZE(struct request) || req.pid <= 0) {
            printf("[server] ignored a malformed request (%zd bytes)\n", n);
            continue;
        }
        req.text[TEXT_MAX - 1] = '\0'; /* never trust a peer's string */
        rep = (struct reply){.mtype = req.pid, .seq = req.seq};
        reverse_words(req.text, rep.text, sizeof rep.text);
        printf("[server] request %d: pid %d asked \"%s\", reply with mtype %d\n", ++served,
               (int)req.pid, req.text, (int)req.pid);
        if (msgsnd(msqid, &rep, BODY_SIZE(struct reply), IPC_NOWAIT) == -1)
            printf("[server] reply to pid %d dropped: %s\n", (int)req.pid, strerror(errno));
    }
    printf("[server] %s after %d requests: its handler removed msqid %d\n",
           stop_signal == SIGINT ? "SIGINT" : "SIGTERM", served, msqid);
    exit(0);
}

static noreturn void run_client(int msqid, int id, long requests)
{
    int32_t pid = (int32_t)getpid();

    catch_signal(SIGALRM, on_alarm, 0);
    for (int32_t seq = 1; seq <= requests; seq++) {
        struct request req = {.mtype = SERVER_TYPE, .pid = pid, .seq = seq};
        struct reply rep;
        ssize_t n;

        snprintf(req.text, sizeof req.text, "client %d says hello %d", id, (int)seq);
        if (msgsnd(msqid, &req, BODY_SIZE(struct request), 0) == -1)
            die_errno("msgsnd request");
        alarm(REPLY_TIMEOUT_S); /* msgrcv() itself would wait for ever */
        n = msgrcv(msqid, &rep, BODY_SIZE(struct reply), pid, 0);
        alarm(0);
        if (n == -1 && errno == EINTR)
            die("client %d: no reply to request %d within %d s", id, (int)seq, REPLY_TIMEOUT_S);
        if (n == -1 && errno == EIDRM)
            die("client %d: the server removed the queue before replying", id);
        if (n != (ssize_t)BODY_SIZE(struct reply) || rep.seq != seq)
            die_errno("msgrcv reply");
        rep.text[TEXT_MAX - 1] = '\0';
        printf("[client %d] reply %d (mtype %ld): \"%s\"\n", id, (int)seq, rep.mtype, rep.text);
    }
    exit(0);
}

static int run_demo(void)
{
    pid_t server, clients[CLIENTS], parent = getpid();
    int msqid, slot, ready[2];
    struct msqid_ds ds;
    bool failed = false;
    char byte;

    msqid = sysv_msg_create_slot(&slot); /* registered: if the server never removes it */
    if (pipe(ready) == -1)
        die_errno("pipe");
    if ((server = fork_or_die()) == 0) {
        close(ready[0]);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
            exit(1);
        run_server(msqid, -1, ready[1]);
    }
    close(ready[1]);
    if (read(ready[0], &byte, 1) != 1)
        die("the server did not start");
    close(ready[0]);
    for (int i = 0; i < CLIENTS; i++)
        if ((clients[i] = fork_or_die()) == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != parent)
                exit(1);
            run_client(msqid, i + 1, 3);
        }
    for (int i = 0; i < CLIENTS; i++)
        failed |= reap_child(clients[i], "parent") != 0;
    printf("[parent] all clients answered; sending SIGTERM to the server, pid %d\n", (int)server);
    kill(server, SIGTERM);
    failed |= reap_child(server, "parent") != 0;
    if (msgctl(msqid, IPC_STAT, &ds) == -1 && errno == EINVAL) {
        printf("[parent] msqid %d is gone: the server removed it on its way out\n", msqid);
        cleanup_forget(slot);
    } else {
        failed = true;
    }
    return failed ? 1 : 0;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"server", no_argument, NULL, 's'},
        {"client", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *client_arg = NULL;
    bool server = false;
    long requests = 3;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "sc:h", longopts, usage)) != -1)
        if (c == 's')
            server = true;
        else
            client_arg = optarg;
    if (server && client_arg != NULL)
        die_usage(usage, "--server and --client exclude each other");
    if (client_arg != NULL) {
        int msqid = (int)cli_long(client_arg, 0, INT32_MAX, "MSQID", usage);

        if (optind < argc)
            requests = cli_long(argv[optind++], 1, 1000, "N", usage);
        cli_no_operands(argc, argv, usage);
        run_client(msqid, (int)getpid(), requests);
    }
    cli_no_operands(argc, argv, usage);
    if (server) {
        int msqid, slot;

        /* Until run_server() catches the stop signals, the registry does. */
        msqid = sysv_msg_create_slot(&slot);
        run_server(msqid, slot, -1);
    }
    return run_demo();
}
