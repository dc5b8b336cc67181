/* solution_poll_chat_clients.c - the checker's clients for exercise 2 (the poll chat server)
 *
 * Not an answer: the program that check-exercise runs beside a chat server (its --exec), to
 * drive it with several clients at once, through the socket named in $CHAT_SOCKET.  Each
 * scenario checks one clause of the statement and prints "chat-check: SCENARIO: OK", or
 * "chat-check: FAIL: what went wrong" and exits 1.  It never calls poll, select or epoll (it
 * retries non-blocking calls every millisecond), so a strace of the run counts only the
 * server's.  Scenarios: basic (demo), binary, leave, slow, wait.
 * Guide part: exercise 2 (the checker).
 * Run: ./solution_poll_chat --exec ./solution_poll_chat_clients basic
 *      ./solution_poll_chat_clients       (runs ./solution_poll_chat --exec with itself)
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[demo|basic|binary|leave|slow|wait]";

/* A byte buffer of fixed room: a scenario knows how much it moves (2 MiB at most), and an
 * untouched buffer costs no memory. */
#define ROOM (4u << 20)
struct bytes {
    char data[ROOM];
    size_t len;
};

static void append(struct bytes *b, const char *p, size_t n)
{
    if (n > ROOM - b->len)
        die("a scenario moved more than %u bytes", ROOM);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

struct peer {
    int fd;
    bool reads;           /* false: a slow client that does not read for now */
    struct bytes in, out; /* what it received; what it has yet to send */
};
static struct peer peers[5];
static int npeers;

static void close_all(void)
{
    for (int i = 0; i < npeers; i++)
        close(peers[i].fd);
    npeers = 0;
}

static noreturn void PRINTF_LIKE(1, 2) fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("chat-check: FAIL: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    close_all();
    exit(1);
}

/* Does peer p hold the whole line `line` (without its '\n')? */
static bool holds(const struct peer *p, const char *line, size_t len)
{
    static struct bytes needle; /* "\n" line "\n" */
    const char *hit;

    if (p->in.len <= len)
        return false;
    if (memcmp(p->in.data, line, len) == 0 && p->in.data[len] == '\n')
        return true;
    needle.len = 0;
    append(&needle, "\n", 1);
    append(&needle, line, len);
    append(&needle, "\n", 1);
    hit = memmem(p->in.data, p->in.len, needle.data, needle.len);
    return hit != NULL;
}

/* Moves bytes both ways, without poll (the checker's calls must not be counted as the
 * server's), until every reading peer but `from` holds `line`; 5 s at most. */
static void pump_until(int from, const char *line, size_t len, const char *what)
{
    for (int tries = 0; tries < 5000; tries++) {
        bool all = true;

        for (int i = 0; i < npeers; i++) {
            struct peer *p = &peers[i];
            char buf[65536];
            ssize_t n;

            if (p->out.len > 0 && (n = send(p->fd, p->out.data, p->out.len, MSG_DONTWAIT)) > 0) {
                memmove(p->out.data, p->out.data + n, p->out.len - (size_t)n);
                p->out.len -= (size_t)n;
            }
            while (p->reads && (n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
                append(&p->in, buf, (size_t)n);
            if (p->reads && n == 0)
                fail("the server closed a client's connection (did it die?) while %s", what);
            if (i != from && p->reads && line != NULL && !holds(p, line, len))
                all = false;
        }
        if (all && peers[from].out.len == 0)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    fail("not delivered within 5 s: %s", what);
}

static void say(int from, const char *line)
{
    append(&peers[from].out, line, strlen(line));
    append(&peers[from].out, "\n", 1);
    pump_until(from, line, strlen(line), line);
}

static void join(void)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, getenv("CHAT_SOCKET"));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char line[32];

    if (len == -1 || fd == -1 || connect(fd, (struct sockaddr *)&addr, (socklen_t)len) == -1)
        fail("cannot connect to CHAT_SOCKET: %s", strerror(errno));
    peers[npeers].fd = fd; /* the buffers are empty: a peer that left has emptied its own */
    peers[npeers].reads = true;
    snprintf(line, sizeof line, "client %d joined", ++npeers); /* reached all: accepted */
    say(npeers - 1, line);
}

/* Peer i holds exactly `count` lines, none of its own (its lines start "from I ") and no
 * partial line of a client that left. */
static void expect_lines(int i, int count, const char *scenario)
{
    char own[16];
    int lines = 0;

    snprintf(own, sizeof own, "from %d ", i + 1);
    for (size_t at = 0; at < peers[i].in.len; at++) {
        if (at > 0 && peers[i].in.data[at - 1] != '\n')
            continue;
        lines++;
        if (strncmp(peers[i].in.data + at, own, strlen(own)) == 0)
            fail("%s: a client got its own line back (send only to the others)", scenario);
    }
    if (memmem(peers[i].in.data, peers[i].in.len, "half a line", 11) != NULL)
        fail("%s: the partial line of a client that left was sent on", scenario);
    if (lines != count)
        fail("%s: a client got a wrong number of lines (lost, doubled or split lines?)", scenario);
}

static int drive(const char *scenario)
{
    static const char done[] = "from 1 done (a client that does not read holds up no other)";
    static char big[262144];
    char line[64];

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("CHAT_SOCKET") == NULL)
        fail("%s: CHAT_SOCKET is not set", scenario);
    for (int i = 0; i < 3; i++)
        join(); /* client 1 gets 2 "joined" lines, client 2 one, client 3 none */
    if (strcmp(scenario, "demo") == 0 || strcmp(scenario, "basic") == 0) {
        for (int n = 1; n <= 40; n++) /* queued at once: many lines in one read */
            for (int i = 0; i < 3; i++) {
                snprintf(line, sizeof line, "from %d line %d\n", i + 1, n);
                append(&peers[i].out, line, strlen(line));
            }
        say(0, "from 1 last");
        say(1, "from 2 last");
        say(2, "from 3 last");
        say(0, "from 1 end"); /* after it, any echo to client 3 has come too */
        for (int i = 0; i < 3; i++)
            expect_lines(i, 2 - i + 82 + (i > 0), scenario);
    } else if (strcmp(scenario, "binary") == 0) {
        memcpy(big, "from 1 ", 7);
        for (size_t i = 7; i < sizeof big; i++)
            big[i] = (char)(i % 251 == '\n' ? 0 : i % 251); /* every byte but '\n' */
        append(&peers[0].out, big, sizeof big);
        append(&peers[0].out, "\n", 1);
        pump_until(0, big, sizeof big, "a line of 256 KiB with every byte value but \\n");
        expect_lines(1, 1 + 1, scenario);
    } else if (strcmp(scenario, "leave") == 0) {
        append(&peers[2].out, "from 3 half a line", 18);
        pump_until(2, NULL, 0, "the partial line");
        close(peers[2].fd); /* client 3 leaves in the middle of a line */
        peers[2].in.len = peers[2].out.len = 0;
        npeers--;
        say(0, "from 1 after client 3 left");
        shutdown(peers[1].fd, SHUT_RD); /* client 2 can no longer receive: EPIPE */
        peers[1].reads = false;
        join();
        say(2, "from 3 still served");
        expect_lines(0, 2 + 1 + 1, scenario);
    } else if (strcmp(scenario, "slow") == 0) {
        peers[2].reads = false; /* client 3 reads nothing for now */
        memset(line, 'x', sizeof line);
        for (int n = 0; n < 32768; n++) { /* 2 MiB in lines of 64 bytes */
            append(&peers[0].out, "from 1 ", 7);
            append(&peers[0].out, line, sizeof line - 8);
            append(&peers[0].out, "\n", 1);
        }
        say(0, done);
        peers[2].reads = true;
        pump_until(0, done, strlen(done), "2 MiB to the client that was slow");
        expect_lines(2, 32769, scenario);
    } else if (strcmp(scenario, "wait") == 0) {
        printf("chat-check: waiting\n");
        pause();
    } else {
        fail("no scenario \"%s\"", scenario);
    }
    printf("chat-check: %s: OK\n", scenario);
    close_all();
    return 0;
}

int main(int argc, char *argv[])
{
    char self[4096], server[4200], *slash;
    ssize_t n;

    cli_getopt(argc, argv, "+h",
               (const struct option[]){{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}},
               usage);
    if (argc - optind > 1)
        die_usage(usage, "one scenario at most");
    if (optind < argc) {
        static const char *const scenarios[] = {"demo", "basic", "binary", "leave", "slow", "wait"};
        size_t i = 0;

        while (i < sizeof scenarios / sizeof scenarios[0] && strcmp(argv[optind], scenarios[i]))
            i++;
        if (i == sizeof scenarios / sizeof scenarios[0])
            die_usage(usage, "no scenario \"%s\"", argv[optind]);
        return drive(argv[optind]);
    }
    /* No scenario: the demo, through the reference server in the same folder. */
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n == -1)
        die_errno("readlink /proc/self/exe");
    self[n] = '\0';
    slash = strrchr(self, '/');
    snprintf(server, sizeof server, "%.*s/solution_poll_chat", (int)(slash - self), self);
    printf("[clients] no scenario: running %s --exec with this program, scenario basic\n", server);
    fflush(stdout);
    execl(server, server, "--exec", self, "basic", (char *)NULL);
    die_errno("exec %s", server);
}
