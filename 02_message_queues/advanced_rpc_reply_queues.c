/* advanced_rpc_reply_queues.c - request/reply over POSIX queues: a private reply queue per client
 *
 * Each client creates its own reply queue (named after its pid, O_EXCL) and
 * names it in every request sent to the server's well-known queue; the server
 * opens that name to answer.  Nothing may wait for ever: a client bounds each
 * call with mq_timedreceive(), the server bounds each reply with
 * mq_timedsend() (a client that stopped reading must not stall it), and the
 * server's own receive wakes every 100 ms to check for a stop signal.  When a
 * client goes away mid-call the server finds out at reply time: its reply
 * queue is gone (ENOENT: it exited cleanly), or still there while the pid is
 * dead (ESRCH: killed, nothing of it ran), and then the server removes it.
 *
 * Guide part: theory (message queues: request/reply, timeouts, dead clients).
 * Run: ./advanced_rpc_reply_queues
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"
#include "scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "";

enum { SLOW_MS = 150, CALL_TIMEOUT_MS = 60, REPLY_TIMEOUT_MS = 100, MSGSIZE = 128 };

struct request {
    int32_t pid, seq;
    char op[8]; /* "add" or "sleep" */
    int32_t a, b;
    char reply_queue[96];
};

struct reply {
    int32_t seq, result;
};

static char server_name[48];

/* The only reply queue a request from `pid` may name: a client cannot make the
 * server write to, or remove, anyone else's queue. */
static void reply_name_of(pid_t pid, char *buf, size_t size)
{
    snprintf(buf, size, "%s.reply.%d", server_name, (int)pid);
}

static void answer(const struct request *req)
{
    struct reply rep = {.seq = req->seq};
    struct timespec ts;
    mqd_t mq;

    if (strcmp(req->op, "sleep") == 0) {
        sleep_ms((unsigned)req->a);
        rep.result = 0;
    } else {
        rep.result = req->a + req->b;
    }
    if ((mq = mq_open(req->reply_queue, O_WRONLY)) == (mqd_t)-1) {
        if (errno != ENOENT)
            die_errno("mq_open %s", req->reply_queue);
        printf("[server] call %d of pid %d: its reply queue is gone (the client left): reply "
               "dropped\n",
               (int)req->seq, (int)req->pid);
        return;
    }
    if (kill(req->pid, 0) == -1 && errno == ESRCH) {
        printf("[server] call %d of pid %d: the client died mid-call and left its reply queue: "
               "removing it\n",
               (int)req->seq, (int)req->pid);
        mq_unlink(req->reply_queue);
        mq_close(mq);
        return;
    }
    ts = deadline_after_ms(REPLY_TIMEOUT_MS);
    if (mq_timedsend(mq, (char *)&rep, sizeof rep, 0, &ts) == 0)
        printf("[server] call %d of pid %d: %s %d %d = %d, sent\n", (int)req->seq, (int)req->pid,
               req->op, (int)req->a, (int)req->b, (int)rep.result);
    else if (errno == ETIMEDOUT)
        printf("[server] call %d of pid %d: its reply queue stayed full for %d ms: reply "
               "dropped, next request\n",
               (int)req->seq, (int)req->pid, REPLY_TIMEOUT_MS);
    else
        die_errno("mq_timedsend");
    mq_close(mq);
}

static noreturn void run_server(mqd_t requests, int ready_fd)
{
    char expected[sizeof((struct request *)0)->reply_queue];
    struct request req;

    catch_stop_signals(); /* stop_signal (cleanup.h): the signal that came */
    printf("[server] serving %s\n", server_name);
    if (write(ready_fd, "r", 1) != 1 || close(ready_fd) == -1)
        die_errno("tell the demo the server is ready");
    while (!stop_signal) {
        struct timespec ts = deadline_after_ms(100); /* wake up to look at stop_signal */
        ssize_t n = mq_timedreceive(requests, (char *)&req, MSGSIZE, NULL, &ts);

        if (n == -1 && (errno == ETIMEDOUT || errno == EINTR))
            continue;
        if (n == -1)
            die_errno("mq_timedreceive");
        req.op[sizeof req.op - 1] = '\0'; /* never trust a peer's strings */
        req.reply_queue[sizeof req.reply_queue - 1] = '\0';
        reply_name_of(req.pid, expected, sizeof expected);
        if (n != (ssize_t)sizeof req || req.pid <= 0 || strcmp(req.reply_queue, expected) != 0) {
            printf("[server] ignored a malformed request (%zd bytes)\n", n);
            continue;
        }
        answer(&req);
    }
    printf("[server] SIGTERM: stopping\n");
    mq_close(requests);
    exit(0);
}

/* Waits for the reply to call `seq`; false if none came in time.  A late
 * reply to an earlier call is recognised by its seq and discarded. */
static bool await_reply(int id, mqd_t replies, int32_t seq, int32_t *result)
{
    struct reply rep;

    for (;;) {
        struct timespec ts = deadline_after_ms(CALL_TIMEOUT_MS);

        if (mq_timedreceive(replies, (char *)&rep, MSGSIZE, NULL, &ts) == -1) {
            if (errno != ETIMEDOUT)
                die_errno("mq_timedreceive");
            printf("[client %d] call %d: no reply within %d ms\n", id, (int)seq, CALL_TIMEOUT_MS);
            return false;
        }
        if (rep.seq == seq)
            break;
        printf("[client %d] discarded a late reply to call %d\n", id, (int)rep.seq);
    }
    *result = rep.result;
    return true;
}

/* One call, bounded on both legs: a full server queue, or no reply. */
static bool call(int id, mqd_t server, mqd_t replies, const struct request *req, int32_t *result)
{
    struct timespec ts = deadline_after_ms(CALL_TIMEOUT_MS);

    if (mq_timedsend(server, (const char *)req, sizeof *req, 0, &ts) == -1)
        die_errno("client %d: mq_timedsend (is the server stuck?)", id);
    return await_reply(id, replies, req->seq, result);
}

/* Client 4 sends two calls at once into a 1-slot reply queue, then stops
 * reading for a while: the server's second reply cannot get in. */
static void stuck_reader(mqd_t server, mqd_t replies, struct request *req)
{
    int32_t result;

    for (req->seq = 1; req->seq <= 2; req->seq++)
        if (mq_send(server, (char *)req, sizeof *req, 0) == -1)
            die_errno("mq_send");
    printf("[client 4] sent calls 1 and 2, and stops reading its 1-slot reply queue\n");
    for (int i = 0; i < 500 && mq_curmsgs_of(replies) < 1; i++)
        sleep_ms(10);               /* at most 5 s, for valgrind */
    sleep_ms(3 * REPLY_TIMEOUT_MS); /* the server gives up on reply 2 meanwhile */
    printf("[client 4] reading again\n");
    if (await_reply(4, replies, 1, &result))
        printf("[client 4] call 1: add %d %d = %d\n", (int)req->a, (int)req->b, (int)result);
    if (await_reply(4, replies, 2, &result))
        die("client 4: a reply the server should have dropped");
}

static noreturn void run_client(int id, int ready_fd)
{
    char name[96];
    struct request req = {.pid = (int32_t)getpid(), .a = 2, .b = 3};
    mqd_t server, replies;
    int32_t result;

    reply_name_of(getpid(), name, sizeof name);
    replies = mq_create_registered(name, O_RDONLY, id == 4 ? 1 : 4, MSGSIZE);
    snprintf(req.reply_queue, sizeof req.reply_queue, "%s", name);
    if ((server = mq_open(server_name, O_WRONLY)) == (mqd_t)-1)
        die_errno("mq_open %s", server_name);
    snprintf(req.op, sizeof req.op, "%s", id == 2 || id == 3 ? "sleep" : "add");
    if (id == 2 || id == 3)
        req.a = SLOW_MS;
    printf("[client %d] pid %d, reply queue %s\n", id, (int)req.pid, name);
    if (id == 4) {
        stuck_reader(server, replies, &req);
    } else if (id == 3) {
        req.seq = 1;
        printf("[client 3] sending call 1 (sleep %d ms), then waiting\n", SLOW_MS);
        if (mq_send(server, (char *)&req, sizeof req, 0) == -1 || write(ready_fd, "s", 1) != 1)
            die_errno("client 3: send the call");
        pause(); /* the demo kills us with SIGKILL here */
    } else {
        for (req.seq = 1; req.seq <= 2; req.seq++) {
            if (!call(id, server, replies, &req, &result))
                break; /* client 2: the call timed out, give up and leave */
            printf("[client %d] call %d: %s %d %d = %d\n", id, (int)req.seq, req.op, (int)req.a,
                   (int)req.b, (int)result);
            req.a = 40;
            req.b = 2;
        }
    }
    printf("[client %d] leaving: exit() removes its reply queue\n", id);
    mq_close(server);
    mq_close(replies);
    exit(0);
}

/* Starts client `id`; the parent registers its reply queue too, in case the
 * demo is cut short before the client or the server removes it. */
static pid_t start_client(int id, const int ready[2], mqd_t requests)
{
    char name[96];
    sigset_t saved;
    pid_t pid;

    stop_signals_hold(&saved);
    if ((pid = fork_or_die()) == 0) {
        stop_signals_release(&saved);
        mq_close(requests);
        close(ready[0]);
        if (id != 3) { /* only client 3 reports back */
            close(ready[1]);
            run_client(id, -1);
        }
        run_client(id, ready[1]);
    }
    reply_name_of(pid, name, sizeof name);
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq %s", name);
    stop_signals_release(&saved);
    return pid;
}

int main(int argc, char *argv[])
{
    pid_t server, clients[4];
    int ready[2], left = 0;
    mqd_t requests;
    char byte;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    snprintf(server_name, sizeof server_name, "/advanced_rpc_reply_queues.%d", (int)getpid());
    requests = mq_create_registered(server_name, O_RDONLY, 8, MSGSIZE);
    if (pipe(ready) == -1)
        die_errno("pipe");
    if ((server = fork_or_die()) == 0) {
        close(ready[0]);
        run_server(requests, ready[1]);
    }
    if (read(ready[0], &byte, 1) != 1)
        die("the server did not start");

    for (int id = 1; id <= 4; id++) {
        clients[id - 1] = start_client(id, ready, requests);
        if (id == 3) { /* kill it once its call is on its way */
            if (read(ready[0], &byte, 1) != 1)
                die("client 3 did not send its call");
            printf("[parent] SIGKILL to client 3 in the middle of its call\n");
            kill(clients[2], SIGKILL);
        }
        reap_child(clients[id - 1], "parent");
    }
    close(ready[0]);
    close(ready[1]);
    printf("[parent] SIGTERM to the server\n");
    kill(server, SIGTERM);
    reap_child(server, "parent");
    mq_close(requests);

    for (int id = 1; id <= 4; id++) {
        char name[96];
        mqd_t mq;

        reply_name_of(clients[id - 1], name, sizeof name);
        if ((mq = mq_open(name, O_RDONLY)) != (mqd_t)-1) {
            printf("[parent] client %d's reply queue is still there\n", id);
            mq_close(mq);
            left++;
        }
    }
    if (left == 0)
        printf("[parent] no reply queue is left: clients removed their own, the server the "
               "killed one's\n");
    return left == 0 ? 0 : 1; /* exit() unlinks the server's queue */
}
