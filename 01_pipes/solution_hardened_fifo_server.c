/* solution_hardened_fifo_server.c - a FIFO server that no client can block, flood or confuse
 *
 * Exercise (advanced; the server of TLPI 44.8 and UNP vol. 2 4.7, hardened): clients send
 * "REPLY TEXT" lines into the server's FIFO and read TEXT in upper case from their FIFO REPLY.
 * A naive server blocks for ever in open() on a dead client's FIFO, in write() on a client that
 * stopped reading, in read() on half a request.  This one never blocks on a client, bounds each
 * request in size, time and rate, drops what is malformed, and logs a verdict per request.
 * Guide part: exercise 7 (advanced).
 * Run: ./solution_hardened_fifo_server                    (demo with its own clients)
 *      two terminals: ./solution_hardened_fifo_server /tmp/s.fifo
 *      and then: mkfifo /tmp/r.fifo; cat /tmp/r.fifo & sleep .1; echo /tmp/r.fifo hi >/tmp/s.fifo
 */
#define _GNU_SOURCE /* ppoll() */
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--rate N] [--timeout MS] [FIFO]    (N 1..10000 requests a second,"
                            " default 100; MS 10..60000, default 1000; no FIFO: demo)";

enum { MAX_REQUEST = 256 }; /* bytes, the '\n' included: well within PIPE_BUF */

struct server {
    int fd;    /* the server's FIFO, read end (a write end is held too) */
    dev_t dev; /* of that FIFO: a reply into it would loop */
    ino_t ino;
    long rate, timeout_ms, requests; /* the bounds; the requests so far */
    double tokens;                   /* the rate's bucket: up to `rate`, `rate` more each second */
    uint64_t refilled_ns, deadline_ns; /* the current request's '\n' is due by then */
    char req[MAX_REQUEST];
    size_t len;    /* of the request so far */
    bool skipping; /* the tail of a request too long, up to its '\n' */
    FILE *log;     /* stderr; stdout in the demo */
};

static void log_verdict(struct server *s, const char *what)
{
    fprintf(s->log, "[server] request %ld: %s\n", ++s->requests, what);
}

/* One write(), never blocking: a client that does not read loses its reply. */
static const char *reply(struct server *s, const char *path, const char *text, size_t len)
{
    char out[MAX_REQUEST];
    struct stat st = {0};
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    ssize_t n;

    if (fd == -1)
        return errno == ENXIO ? "dropped: no reader" : "dropped: cannot open";
    if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode) ||
        (st.st_dev == s->dev && st.st_ino == s->ino)) {
        close(fd); /* opened without O_CREAT or O_TRUNC: a file is untouched */
        return S_ISFIFO(st.st_mode) ? "dropped: own FIFO" : "dropped: not a FIFO";
    }
    for (size_t i = 0; i < len; i++)
        out[i] = text[i] >= 'a' && text[i] <= 'z' ? (char)(text[i] - 'a' + 'A') : text[i];
    out[len] = '\n';
    n = write(fd, out, len + 1); /* EAGAIN when full, EPIPE when the reader just left */
    close(fd);
    return n == (ssize_t)(len + 1) ? "replied" : "dropped: cannot write";
}

/* A whole line, without its '\n': "REPLY TEXT", printable ASCII only. */
static void handle(struct server *s, char *line, size_t len)
{
    char *space = memchr(line, ' ', len);
    uint64_t now = now_ns();

    for (size_t i = 0; i < len; i++)
        if (line[i] < 0x20 || line[i] > 0x7e)
            space = NULL;
    if (space == NULL || space == line || space == line + len - 1) {
        log_verdict(s, "dropped: malformed");
        return;
    }
    s->tokens = fmin((double)s->rate, s->tokens + (double)(now - s->refilled_ns) * s->rate / 1e9);
    s->refilled_ns = now;
    if (s->tokens < 1) {
        log_verdict(s, "dropped: rate");
        return;
    }
    s->tokens -= 1;
    *space = '\0';
    log_verdict(s, reply(s, line, space + 1, (size_t)(line + len - space - 1)));
}

/* Bytes as they come: a request ends at '\n', or is dropped when too long or
 * when its '\n' has not come TIMEOUT ms after its first byte. */
static void feed(struct server *s, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl != NULL ? (size_t)(nl - p) : n;

        if (s->len == 0 && !s->skipping)
            s->deadline_ns = now_ns() + (uint64_t)s->timeout_ms * 1000000;
        if (!s->skipping && s->len + take >= MAX_REQUEST) { /* no room for its '\n' */
            log_verdict(s, "dropped: too long");
            s->skipping = true;
        }
        if (!s->skipping)
            memcpy(s->req + s->len, p, take);
        s->len += take;
        if (nl != NULL) {
            if (!s->skipping)
                handle(s, s->req, s->len);
            s->len = 0;
            s->skipping = false;
            take++;
        }
        p += take;
        n -= take;
    }
}

/* Until SIGINT or SIGTERM, which are blocked but inside ppoll(): no race. */
static void serve(struct server *s, const sigset_t *wait_mask)
{
    char buf[4096];

    while (!stop_signal) {
        struct pollfd in = {.fd = s->fd, .events = POLLIN};
        bool pending = s->len > 0 || s->skipping;
        uint64_t now = now_ns(), left = s->deadline_ns > now ? s->deadline_ns - now : 0;
        struct timespec wait = {(time_t)(left / 1000000000), (long)(left % 1000000000)};
        int ready = ppoll(&in, 1, pending ? &wait : NULL, wait_mask);
        ssize_t n;

        if (ready == -1 && errno != EINTR)
            die_errno("ppoll");
        if (ready == 0) { /* half a request, and no more of it: a dead or slow client */
            if (!s->skipping)
                log_verdict(s, "dropped: incomplete");
            s->len = 0;
            s->skipping = false;
        }
        if (ready > 0 && (n = read(s->fd, buf, sizeof buf)) > 0)
            feed(s, buf, (size_t)n);
    }
    fprintf(s->log, "[server] stopped by SIG%s\n", sigabbrev_np(stop_signal));
}

/* The server's FIFO: created (and removed at exit) if missing, else it must be one.
 * A write end of our own keeps read() from EOF while no client has it open. */
static int open_server_fifo(const char *path, struct server *s)
{
    struct stat st;
    sigset_t saved;
    bool made;
    int keep;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the FIFO */
    made = mkfifo(path, 0600) == 0;
    if (!made && errno != EEXIST)
        die_errno("mkfifo %s", path);
    if (made && cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    stop_signals_release(&saved);
    if ((s->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
        die_errno("%s", path);
    if (fstat(s->fd, &st) == -1 || !S_ISFIFO(st.st_mode)) {
        close(s->fd);
        die("%s: not a FIFO", path);
    }
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if ((keep = open(path, O_WRONLY | O_CLOEXEC)) == -1)
        die_errno("%s: open for writing", path);
    return keep;
}

static void run_server(const char *path, long rate, long timeout_ms, FILE *log)
{
    struct server s = {.rate = rate, .timeout_ms = timeout_ms, .log = log};
    sigset_t wait_mask;
    int keep;

    stop_signals_to_flag(&wait_mask); /* SIGINT, SIGTERM (and SIGHUP) set stop_signal */
    signal(SIGPIPE, SIG_IGN); /* a reader that leaves mid-reply is an EPIPE, not our death */
    keep = open_server_fifo(path, &s);
    s.tokens = (double)rate; /* the bucket starts full */
    s.refilled_ns = now_ns();
    serve(&s, &wait_mask);
    close(keep);
    close(s.fd);
}

/* ---- the demo: one server, four clients -------------------------------------------- */

static char demo_dir[PATH_MAX], demo_fifo[PATH_MAX + 32];

static void send_request(const char *bytes, size_t len, const char *who, const char *what)
{
    int fd = open(demo_fifo, O_WRONLY | O_CLOEXEC);

    printf("[%s] sends %s (%zu bytes)\n", who, what, len);
    if (fd == -1 || write(fd, bytes, len) != (ssize_t)len)
        die_errno("[%s] write %s", who, demo_fifo);
    close(fd);
}

/* A live client opens its reply FIFO before it asks, so the reply finds a reader; then
 * it leaves its FIFO behind, with no reader, as a client that died would. */
static void live_client(char *path, size_t size)
{
    char req[PATH_MAX + 64], got[MAX_REQUEST];
    struct pollfd in = {.events = POLLIN};
    ssize_t n;

    snprintf(path, size, "%s/reply.fifo", demo_dir);
    mkfifo_registered(path);
    if ((in.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
        die_errno("open %s", path);
    snprintf(req, sizeof req, "%s hello, server\n", path);
    send_request(req, strlen(req), "client 1", "\"REPLY hello, server\"");
    if (poll(&in, 1, 2000) == 1 && (n = read(in.fd, got, sizeof got)) > 0)
        printf("[client 1] reply: %.*s\n", (int)n - (got[n - 1] == '\n'), got);
    close(in.fd);
}

static void demo(void)
{
    char path[PATH_MAX + 32], req[PATH_MAX + 64];
    pid_t pid;

    make_temp_dir(demo_dir, sizeof demo_dir, "hardened_fifo_server");
    snprintf(demo_fifo, sizeof demo_fifo, "%s/server.fifo", demo_dir);
    if ((pid = fork_or_die()) == 0) {
        run_server(demo_fifo, 100, 100, stdout);
        exit(0);
    }
    while (access(demo_fifo, F_OK) == -1) /* the server makes its FIFO */
        sleep_ms(1);
    live_client(path, sizeof path);
    snprintf(req, sizeof req, "%s are you there?\n", path);
    send_request(req, strlen(req), "client 2", "a request whose reply FIFO has no reader");
    send_request("\x01\xff garbage\n", 11, "client 3", "binary garbage");
    send_request("/tmp/x half a request", 21, "client 4", "half a request, and dies");
    sleep_ms(400); /* well past the 100 ms the demo's server waits for the rest */
    printf("[main] SIGTERM to the server\n");
    kill(pid, SIGTERM);
    reap_child(pid, "main");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long rate = 100, timeout_ms = 1000;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "r:t:h", longopts, usage)) != -1)
        if (c == 'r')
            rate = cli_long(optarg, 1, 10000, "--rate", usage);
        else if (c == 't')
            timeout_ms = cli_long(optarg, 10, 60000, "--timeout", usage);
    if (argc - optind > 1)
        die_usage(usage, "one FIFO at most, got %d operands", argc - optind);
    if (argc - optind == 0)
        demo();
    else
        run_server(argv[optind], rate, timeout_ms, stderr);
    return 0;
}
