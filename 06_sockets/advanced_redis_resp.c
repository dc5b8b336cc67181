/* advanced_redis_resp.c - Redis's RESP framing: commands as arrays of bulk strings
 *
 * Real-world pattern: Redis's wire protocol (RESP2).  A command is an array of bulk strings,
 * "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n": the count, then each argument as its length and its
 * bytes, so an argument may hold any byte, CR LF included.  A reply's first byte tells its
 * type: + status, - error, $ bulk ($-1: none).  Commands may be sent several at once
 * (pipelining) and are answered in order.  This server answers PING, ECHO, SET and GET.
 * Left out: RESP3, inline commands, other commands and reply types, expiry, persistence,
 * concurrency (Redis serves all clients from one event loop; this takes one at a time).
 * Guide part: real-world (framing: Redis).
 * Run: ./advanced_redis_resp [--stdin]      (--stdin: the client sends its stdin, raw)
 *      ./advanced_redis_resp --server       then: redis-cli -p PORT ping, or
 *      printf '*1\r\n$4\r\nPING\r\n' | socat -t 2 - TCP:127.0.0.1:PORT
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ARGS 8
#define MAX_BULK 65536 /* Redis allows 512 MB (proto-max-bulk-len); a sketch needs less */
#define MAX_KEYS 64
#define MAX_KEY 64
#define MAX_VALUE 4096

static const char usage[] = "[--stdin] | --server";

/* A command's arguments, each a pointer into one arena and a length. */
struct command {
    int argc;
    size_t len[MAX_ARGS];
    char *argv[MAX_ARGS];
    char arena[MAX_BULK + MAX_ARGS * 2];
};

/* A line ended by CR LF (dropped); 1, 0 at the end of the stream, -1 without CR LF. */
static int read_line(FILE *in, char **line, size_t *cap)
{
    ssize_t n = getline(line, cap, in);

    if (n == -1 && !ferror(in))
        return 0;
    if (n < 2 || (*line)[n - 2] != '\r' || (*line)[n - 1] != '\n')
        return -1;
    (*line)[n - 2] = '\0';
    return 1;
}

/* One command: "*N", then N times "$LEN", LEN bytes, CR LF.  Returns 1; 0 at a clean end
 * of stream; -1 for a protocol error, with Redis's words for it in *error. */
static int read_command(FILE *in, struct command *cmd, char **line, size_t *cap, const char **error)
{
    long count, len;
    size_t used = 0;
    int got = read_line(in, line, cap);

    *error = "Protocol error: a line not ended by CR LF";
    if (got != 1)
        return got;
    *error = "Protocol error: invalid multibulk length";
    if ((*line)[0] != '*' || parse_long(*line + 1, 1, MAX_ARGS, &count) == -1)
        return -1;
    for (cmd->argc = 0; cmd->argc < count; cmd->argc++) {
        char *arg = cmd->arena + used;

        *error = "Protocol error: expected '$' before a bulk string";
        if (read_line(in, line, cap) != 1 || (*line)[0] != '$')
            return -1;
        *error = "Protocol error: invalid bulk length";
        if (parse_long(*line + 1, 0, (long)(MAX_BULK - used), &len) == -1)
            return -1;
        /* LEN bytes, whatever they are, then CR LF: what makes bulk strings binary-safe. */
        *error = "Protocol error: a bulk string not ended by CR LF";
        if (fread(arg, 1, (size_t)len + 2, in) != (size_t)len + 2 || arg[len] != '\r' ||
            arg[len + 1] != '\n')
            return -1;
        arg[len] = '\0';
        cmd->argv[cmd->argc] = arg;
        cmd->len[cmd->argc] = (size_t)len;
        used += (size_t)len + 2;
    }
    return 1;
}

/* The table that SET fills and GET reads; it outlives each connection. */
struct entry {
    char key[MAX_KEY + 1], value[MAX_VALUE];
    size_t key_len, value_len;
};
static struct entry store[MAX_KEYS];
static int stored;

static struct entry *find(const char *key, size_t len)
{
    for (int i = 0; i < stored; i++)
        if (store[i].key_len == len && memcmp(store[i].key, key, len) == 0)
            return &store[i];
    return NULL;
}

/* A bulk reply: its length, its bytes, CR LF (the other replies are one line). */
static void send_bulk(FILE *out, const char *data, size_t len)
{
    fprintf(out, "$%zu\r\n", len);
    fwrite(data, 1, len, out);
    fputs("\r\n", out);
}

/* Runs one command and answers it; the reply's first byte tells its type. */
static void execute(FILE *out, const struct command *cmd)
{
    const char *name = cmd->argv[0];
    struct entry *e;

    if (strcasecmp(name, "PING") == 0 && cmd->argc <= 2) {
        if (cmd->argc == 1)
            fprintf(out, "+PONG\r\n");
        else
            send_bulk(out, cmd->argv[1], cmd->len[1]);
    } else if (strcasecmp(name, "ECHO") == 0 && cmd->argc == 2) {
        send_bulk(out, cmd->argv[1], cmd->len[1]);
    } else if (strcasecmp(name, "SET") == 0 && cmd->argc == 3) {
        e = find(cmd->argv[1], cmd->len[1]);
        if (cmd->len[1] > MAX_KEY || cmd->len[2] > MAX_VALUE || (e == NULL && stored == MAX_KEYS)) {
            fprintf(out, "-ERR this sketch keeps %d keys of %d bytes, values of %d\r\n", MAX_KEYS,
                    MAX_KEY, MAX_VALUE);
            return;
        }
        if (e == NULL) {
            e = &store[stored++];
            memcpy(e->key, cmd->argv[1], cmd->len[1]);
            e->key_len = cmd->len[1];
        }
        memcpy(e->value, cmd->argv[2], cmd->len[2]);
        e->value_len = cmd->len[2];
        fprintf(out, "+OK\r\n");
    } else if (strcasecmp(name, "GET") == 0 && cmd->argc == 2) {
        e = find(cmd->argv[1], cmd->len[1]);
        if (e == NULL)
            fprintf(out, "$-1\r\n"); /* RESP2's null bulk string: no such key */
        else
            send_bulk(out, e->value, e->value_len);
    } else if (strcasecmp(name, "PING") == 0 || strcasecmp(name, "ECHO") == 0 ||
               strcasecmp(name, "SET") == 0 || strcasecmp(name, "GET") == 0) {
        fprintf(out, "-ERR wrong number of arguments for '%s' command\r\n", name);
    } else {
        /* Redis also lists the first arguments after this text. */
        fprintf(out, "-ERR unknown command '%.40s'\r\n", name);
    }
}

static void serve_connection(int conn, int number)
{
    FILE *in = fdopen(conn, "r"), *out = fdopen(dup(conn), "w"); /* one each way */
    static struct command cmd;
    const char *error;
    char *line = NULL;
    size_t cap = 0;
    int got, commands = 0;

    if (in == NULL || out == NULL)
        die_errno("fdopen");
    while ((got = read_command(in, &cmd, &line, &cap, &error)) == 1) {
        commands++;
        execute(out, &cmd);
        if (fflush(out) == EOF)
            die_errno("send a reply");
    }
    free(line);
    if (got == -1) {
        /* As Redis does: the error is sent, then the connection closed, since the reader
         * no longer knows where the next command would start. */
        fprintf(out, "-ERR %s\r\n", error);
        printf("[server] connection %d: %s: connection closed\n", number, error);
    }
    printf("[server] connection %d: %d commands answered\n", number, commands);
    if (fclose(out) == EOF)
        die_errno("send the last reply");
    fclose(in); /* closes conn */
}

/* Serves `limit` connections one after another (0: until a signal ends it). */
static noreturn void run_server(int listener, int limit)
{
    for (int number = 1; limit == 0 || number <= limit; number++) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        if (conn == -1)
            die_errno("accept");
        serve_connection(conn, number);
    }
    close(listener);
    exit(0);
}

/* CR and LF shown as \r and \n; a new "[who] " line after each LF if who is not NULL. */
static void put_visible(const char *who, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r')
            fputs("\\r", stdout);
        else if (p[i] == '\n' && who == NULL)
            fputs("\\n", stdout);
        else if (p[i] == '\n')
            printf("\\n\n[%s] ", who);
        else
            putchar(p[i]);
    }
}

/* Our own client: the raw request in one write (several commands: pipelining), shutdown
 * (SHUT_WR) as its end, then every reply until the server closes, one line per line. */
static void exchange(uint16_t port, const char *request, size_t len)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    static char replies[MAX_BULK];
    ssize_t n;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("[client] connect to 127.0.0.1:%u", port);
    printf("[client] sends %zu bytes in one write: ", len);
    put_visible(NULL, request, len);
    putchar('\n');
    if (write_full(fd, request, len) == -1 || shutdown(fd, SHUT_WR) == -1)
        die_errno("[client] send");
    n = read_full(fd, replies, sizeof replies);
    if (n == -1)
        die_errno("[client] read the replies");
    close(fd);
    printf("[reply] ");
    put_visible("reply", replies, (size_t)n);
    printf("(end of stream)\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"stdin", no_argument, NULL, 'i'},
                                             {"server", no_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    int listener, opt, mode = 0;
    pid_t server;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (mode != 0)
            die_usage(usage, "give only one of --stdin and --server");
        mode = opt;
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, 8) == -1 || getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen on 127.0.0.1");
    printf("[server] RESP on 127.0.0.1:%u (port 0 asked; Redis uses 6379)\n", ntohs(addr.sin_port));
    if (mode == 's')
        run_server(listener, 0);
    server = fork_or_die();
    if (server == 0)
        run_server(listener, mode == 'i' ? 1 : 2);
    if (cleanup_add_child(server) == -1)
        die_errno("cleanup_add_child");
    close(listener);
    if (mode == 'i') {
        static char request[MAX_BULK]; /* the request is standard input, raw */
        ssize_t n = read_full(STDIN_FILENO, request, sizeof request);

        if (n == -1)
            die_errno("read standard input");
        exchange(ntohs(addr.sin_port), request, (size_t)n);
    } else { /* the demo: six commands at once, then one on a new connection */
        static const char first[] = "*1\r\n$4\r\nPING\r\n"
                                    "*2\r\n$4\r\nECHO\r\n$10\r\ntwo\r\nlines\r\n"
                                    "*3\r\n$3\r\nSET\r\n$8\r\ngreeting\r\n$5\r\nhello\r\n"
                                    "*2\r\n$3\r\nGET\r\n$8\r\ngreeting\r\n"
                                    "*2\r\n$3\r\nGET\r\n$7\r\nnothing\r\n"
                                    "*1\r\n$8\r\nFLUSHALL\r\n";
        static const char second[] = "*2\r\n$3\r\nget\r\n$8\r\ngreeting\r\n";

        exchange(ntohs(addr.sin_port), first, sizeof first - 1);
        printf("[client] a new connection: the table outlives the first one\n");
        exchange(ntohs(addr.sin_port), second, sizeof second - 1);
    }
    reap_child(server, "client");
    return 0;
}
