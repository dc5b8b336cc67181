/* solution_rpc_calc.c - exercise 4: request/reply with a reply queue per client, timeouts, crashes
 *
 * One server process owns the request queue.  Each call read from standard
 * input is made by a new client process, which creates its own reply queue,
 * names it in the request and waits, up to --timeout, for the answer.  Every
 * send and receive has a deadline.  The server answers within 100 ms or
 * drops the reply; if the client is dead (killed mid-call), it removes the
 * client's reply queue itself and says so.  A client that timed out removes
 * its own.  The server takes a "stop" request last.
 *
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_rpc_calc [--timeout MS] < calls.txt    (MS from 50 to 5000, default 500)
 *      calls: "add A B", "mul A B" (|A|, |B| <= 1000000), "sleep MS" (0 to 5000), "crash"
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[--timeout MS] < CALLS    (MS from 50 to 5000, default 500)";

enum { OP_ADD, OP_MUL, OP_SLEEP, OP_STOP, REPLY_MS = 100, CRASH_SLEEP_MS = 200, MSGSIZE = 128 };

struct request {
    int32_t pid, op;
    int64_t a, b;
    char reply_queue[64];
};

static char server_name[48];
static mqd_t requests = (mqd_t)-1; /* the server's queue, as the parent holds it */

static void reply_name_of(pid_t pid, char *buf, size_t size)
{
    snprintf(buf, size, "%s.reply.%d", server_name, (int)pid);
}

/* ---- the server ------------------------------------------------------------ */

static void answer(const struct request *req)
{
    int64_t result = 0;
    struct timespec ts;
    mqd_t mq;

    if (req->op == OP_ADD)
        result = req->a + req->b;
    else if (req->op == OP_MUL)
        result = req->a * req->b; /* 64 bits: 1000000 * 1000000 fits */
    else
        sleep_ms((unsigned)req->a);
    if ((mq = mq_open(req->reply_queue, O_WRONLY)) == (mqd_t)-1)
        return; /* the client gave up and left: nobody to answer */
    if (kill(req->pid, 0) == -1 && errno == ESRCH) {
        if (mq_unlink(req->reply_queue) == 0) /* it died mid-call */
            printf("[server] removed the reply queue of pid %d\n", (int)req->pid);
    } else {
        ts = deadline_after_ms(REPLY_MS); /* a client that stopped reading must not stall us */
        mq_timedsend(mq, (const char *)&result, sizeof result, 0, &ts);
    }
    mq_close(mq);
}

static noreturn void run_server(mqd_t queue)
{
    char expected[sizeof((struct request *)0)->reply_queue];
    struct request req;

    for (;;) {
        struct timespec ts = deadline_after_ms(1000);
        ssize_t n = mq_timedreceive(queue, (char *)&req, MSGSIZE, NULL, &ts);

        if (n == -1 && (errno == ETIMEDOUT || errno == EINTR))
            continue;
        if (n == -1)
            die_errno("server: mq_timedreceive");
        if (n != (ssize_t)sizeof req)
            continue;
        if (req.op == OP_STOP)
            break;
        req.reply_queue[sizeof req.reply_queue - 1] = '\0';
        reply_name_of(req.pid, expected, sizeof expected);
        if (req.pid > 0 && strcmp(req.reply_queue, expected) == 0)
            answer(&req); /* only the queue named after the sender: never another's */
    }
    mq_close(queue);
    exit(0);
}

/* ---- a client: one call ---------------------------------------------------- */

static noreturn void run_client(long n, struct request *req, bool crash, long timeout_ms)
{
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = sizeof(int64_t)};
    mqd_t server_mq, replies;
    struct timespec ts;
    int64_t result;

    req->pid = (int32_t)getpid();
    reply_name_of(getpid(), req->reply_queue, sizeof req->reply_queue);
    if ((replies = mq_open(req->reply_queue, O_CREAT | O_EXCL | O_RDONLY, 0600, &attr)) ==
        (mqd_t)-1)
        die_errno("mq_open %s", req->reply_queue);
    if ((server_mq = mq_open(server_name, O_WRONLY)) == (mqd_t)-1)
        die_errno("mq_open %s", server_name);
    ts = deadline_after_ms(timeout_ms);
    if (mq_timedsend(server_mq, (char *)req, sizeof *req, 0, &ts) == -1) {
        printf("%ld timeout\n", n); /* the server's queue stayed full */
    } else if (crash) {
        /* Mid-call: nothing of ours runs after this, the server must clean up.  (The
         * descriptors are closed first only to keep valgrind quiet; a crash closes them.) */
        mq_close(server_mq);
        mq_close(replies);
        raise(SIGKILL);
    } else {
        ts = deadline_after_ms(timeout_ms);
        if (mq_timedreceive(replies, (char *)&result, sizeof result, NULL, &ts) ==
            (ssize_t)sizeof result)
            printf("%ld %lld\n", n, (long long)result);
        else if (errno == ETIMEDOUT)
            printf("%ld timeout\n", n);
        else
            die_errno("mq_timedreceive");
    }
    mq_close(server_mq);
    mq_close(replies);
    if (mq_unlink(req->reply_queue) == -1) /* answered or timed out: ours to remove */
        die_errno("mq_unlink %s", req->reply_queue);
    exit(0);
}

/* "add A B", "mul A B", "sleep MS" or "crash", words one space apart. */
static bool parse_call(char *line, struct request *req, bool *crash)
{
    char *words[4], *save;
    size_t len = strlen(line);
    long a, b;
    int n = 0;

    *crash = false;
    if (len == 0 || line[0] == ' ' || line[len - 1] == ' ' || strstr(line, "  ") != NULL)
        return false;
    for (char *w = strtok_r(line, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
        if (n < 4)
            words[n++] = w;
        else
            return false;
    if (n == 1 && strcmp(words[0], "crash") == 0) {
        *req = (struct request){.op = OP_SLEEP, .a = CRASH_SLEEP_MS};
        *crash = true;
        return true;
    }
    if (n == 2 && strcmp(words[0], "sleep") == 0 && parse_long(words[1], 0, 5000, &a) == 0) {
        *req = (struct request){.op = OP_SLEEP, .a = a};
        return true;
    }
    if (n != 3 || (strcmp(words[0], "add") != 0 && strcmp(words[0], "mul") != 0) ||
        parse_long(words[1], -1000000, 1000000, &a) == -1 ||
        parse_long(words[2], -1000000, 1000000, &b) == -1)
        return false;
    *req = (struct request){.op = words[0][0] == 'a' ? OP_ADD : OP_MUL, .a = a, .b = b};
    return true;
}

/* Starts the client of call `n` and waits for it; the parent registers the
 * client's reply queue as well: a client killed mid-call cannot remove it. */
static void call_in_a_client(long n, struct request *req, bool crash, long timeout_ms)
{
    char name[64];
    sigset_t saved;
    int status, slot, child_slot;
    pid_t client;

    stop_signals_hold(&saved);
    if ((client = fork_or_die()) == 0) {
        signal(SIGINT, SIG_DFL); /* the parent's handler is not ours */
        signal(SIGTERM, SIG_DFL);
        stop_signals_release(&saved);
        mq_close(requests); /* the parent's */
        run_client(n, req, crash, timeout_ms);
    }
    reply_name_of(client, name, sizeof name);
    /* Registered after its queue: a stop signal ends the client before the queue goes. */
    if ((slot = cleanup_add_mq(name)) == -1 || (child_slot = cleanup_add_child(client)) == -1)
        die_errno("cleanup_add_mq/child %s", name);
    stop_signals_release(&saved);
    status = reap_quietly(client);
    cleanup_forget(child_slot);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        printf("%ld crashed\n", n);
    else if (status != 0)
        die("the client of call %ld failed (%s)", n, fmt_wait_status(status).s);
    if (!crash)
        cleanup_forget(slot); /* the client removed its own; the server a dead one's */
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct request req, stop = {.op = OP_STOP};
    long timeout_ms = 500, n = 0;
    char *line = NULL;
    size_t cap = 0;
    struct timespec ts;
    sigset_t saved;
    ssize_t len;
    pid_t server;
    bool crash;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:h", longopts, usage)) != -1)
        timeout_ms = cli_long(optarg, 50, 5000, "--timeout", usage);
    cli_no_operands(argc, argv, usage);

    snprintf(server_name, sizeof server_name, "/solution_rpc_calc.%d", (int)getpid());
    requests = mq_create_registered(server_name, O_RDWR, 8, MSGSIZE);
    /* SIGINT, SIGTERM: the registry stops the server (and a client) before the queues go. */
    stop_signals_hold(&saved); /* until the server is registered */
    if ((server = fork_or_die()) == 0) {
        signal(SIGINT, SIG_DFL); /* the registry's handler is the parent's */
        signal(SIGTERM, SIG_DFL);
        stop_signals_release(&saved);
        run_server(requests);
    }
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    printf("[rpc] server pid %d on %s; calls time out after %ld ms\n", (int)server, server_name,
           timeout_ms);

    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        if (parse_call(line, &req, &crash))
            call_in_a_client(++n, &req, crash, timeout_ms);
        else
            printf("%ld invalid\n", ++n);
    }
    free(line);
    ts = deadline_after_ms(5000); /* after every request sent before it */
    if (mq_timedsend(requests, (char *)&stop, sizeof stop, 0, &ts) == -1)
        die_errno("stop the server");
    reap_child(server, "rpc");
    mq_close(requests);
    return 0; /* exit() unlinks the server's queue */
}
