/* advanced_http_unix_api.c - a Docker-style HTTP API on a UNIX socket, queried with curl
 *
 * Real-world pattern: Docker Engine (dockerd) serves its REST API as HTTP/1.1 over the UNIX
 * socket /var/run/docker.sock; the docker CLI and `curl --unix-socket /var/run/docker.sock
 * http://localhost/_ping` are its clients.  The socket file's owner, group and mode are the
 * access control.  This server answers three of the Engine API's endpoints the way the API
 * reference describes them: GET /_ping (text "OK"), GET /version (a JSON object), and
 * GET /containers/json (a JSON array), each also under a version prefix such as /v1.47/;
 * anything else is a 404 with a JSON "message".  Left out: every other endpoint, keep-alive
 * (one request per connection, Connection: close), chunked bodies, streaming, TLS.
 * Guide part: real-world (HTTP over UNIX sockets: Docker Engine API).
 * Run: ./advanced_http_unix_api [--curl]
 *      two terminals: ./advanced_http_unix_api --server /tmp/api.sock   (Ctrl-C stops it)
 *                     curl --unix-socket /tmp/api.sock http://localhost/version
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define API_VERSION "1.47"
#define MAX_REQUEST 8192

static const char usage[] = "[--curl] | --server PATH";

static int listen_unix(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sigset_t saved;

    if (len == -1)
        die_usage(usage, "socket path '%s': %s", path, strerror(errno));
    if (fd == -1)
        die_errno("socket");
    stop_signals_hold(&saved);
    if (bind(fd, (struct sockaddr *)&addr, len) == -1)
        die_errno("bind %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path");
    stop_signals_release(&saved);
    if (listen(fd, 16) == -1)
        die_errno("listen");
    printf("[dockerd] serving the API on %s\n", path);
    return fd;
}

/* Strips an API version prefix ("/v1.47/version" -> "/version"), as the Engine accepts both. */
static const char *without_version(const char *path)
{
    if (path[0] == '/' && path[1] == 'v' && strchr(path + 2, '/') != NULL &&
        strspn(path + 2, "0123456789.") == (size_t)(strchr(path + 2, '/') - (path + 2)))
        return strchr(path + 2, '/');
    return path;
}

static void respond(int conn, int status, const char *type, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nApi-Version: " API_VERSION "\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status,
                     status == 200   ? "OK"
                     : status == 404 ? "Not Found"
                                     : "Bad Request",
                     type, strlen(body));

    if (write_full(conn, head, (size_t)n) == -1 || write_full(conn, body, strlen(body)) == -1)
        warn_errno("write the response");
}

/* One request per connection: read up to the blank line, route, answer, close. */
static void handle(int conn)
{
    char req[MAX_REQUEST + 1], method[16], target[256];
    size_t len = 0;
    const char *path;

    while (len < MAX_REQUEST && memmem(req, len, "\r\n\r\n", 4) == NULL) {
        ssize_t n = read(conn, req + len, MAX_REQUEST - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    req[len] = '\0';
    if (sscanf(req, "%15s %255s HTTP/1.", method, target) != 2) {
        printf("[dockerd] malformed request: 400\n");
        respond(conn, 400, "application/json", "{\"message\":\"malformed request\"}\n");
        return;
    }
    path = without_version(target);
    printf("[dockerd] %s %s\n", method, target);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        respond(conn, 404, "application/json", "{\"message\":\"page not found\"}\n");
    else if (strcmp(path, "/_ping") == 0)
        respond(conn, 200, "text/plain; charset=utf-8", "OK");
    else if (strcmp(path, "/version") == 0)
        respond(conn, 200, "application/json",
                "{\"Version\":\"0.0.0-example\",\"ApiVersion\":\"" API_VERSION "\","
                "\"MinAPIVersion\":\"1.24\",\"Os\":\"linux\",\"Arch\":\"example\"}\n");
    else if (strcmp(path, "/containers/json") == 0)
        respond(conn, 200, "application/json", "[]\n");
    else
        respond(conn, 404, "application/json", "{\"message\":\"page not found\"}\n");
}

static void serve(int listener, long requests)
{
    for (long served = 0; requests == 0 || served < requests; served++) {
        int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

        if (conn == -1) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die_errno("accept");
        }
        handle(conn);
        close(conn);
    }
}

/* A hand-written client: the request is just text on the socket. */
static void raw_get(const char *path, const char *target)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char req[512], resp[2048];
    const char *body;
    ssize_t n;

    if (len == -1)
        die_usage(usage, "socket path '%s': %s", path, strerror(errno));
    if (fd == -1 || connect(fd, (struct sockaddr *)&addr, len) == -1)
        die_errno("connect %s", path);
    n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: docker\r\n\r\n", target);
    printf("[client] GET %s\n", target);
    if (write_full(fd, req, (size_t)n) == -1)
        die_errno("write");
    n = read_full(fd, resp, sizeof resp - 1); /* Connection: close: read to EOF */
    if (n <= 0)
        die("no response");
    resp[n] = '\0';
    body = strstr(resp, "\r\n\r\n");
    body = body != NULL ? body + 4 : "";
    printf("[client] status line: %.*s; body: %.*s\n", (int)strcspn(resp, "\r"), resp,
           (int)strcspn(body, "\n"), body);
    close(fd);
}

static int run_curl(const char *path, const char *url)
{
    int status;
    pid_t pid;

    printf("[client] curl -s -S -w '\\n[curl] HTTP status %%{http_code}\\n' --unix-socket %s %s\n",
           path, url);
    pid = fork_or_die();
    if (pid == 0) {
        execlp("curl", "curl", "-s", "-S", "-w", "\n[curl] HTTP status %{http_code}\n",
               "--unix-socket", path, url, (char *)NULL);
        die_errno("exec curl");
    }
    if (waitpid(pid, &status, 0) == -1)
        die_errno("waitpid");
    printf("[client] curl ended with %s\n", fmt_wait_status(status).s);
    return status;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"curl", no_argument, NULL, 'c'},
                                             {"server", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    static const char *const targets[] = {"/_ping", "/v" API_VERSION "/version", "/containers/json",
                                          "/no/such/endpoint"};
    const char *server_path = NULL;
    char dir[256], path[320];
    bool use_curl = false;
    int opt, listener;
    pid_t server;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'c')
            use_curl = true;
        else
            server_path = optarg;
    }
    cli_no_operands(argc, argv, usage);
    if (server_path != NULL && (use_curl || server_path[0] == '\0'))
        die_usage(usage, "--server takes a non-empty path and no other option");
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) /* a client that leaves early: EPIPE, not death */
        die_errno("signal");
    if (server_path != NULL) {
        serve(listen_unix(server_path), 0);
        return 0;
    }

    make_temp_dir(dir, sizeof dir, "advanced_http_unix_api");
    snprintf(path, sizeof path, "%s/docker.sock", dir);
    listener = listen_unix(path);
    server = fork_or_die();
    if (server == 0) {
        serve(listener, 4);
        close(listener);
        exit(0);
    }
    close(listener);
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char url[300];

        snprintf(url, sizeof url, "http://localhost%s", targets[i]);
        if (!use_curl)
            raw_get(path, targets[i]);
        else if (run_curl(path, url) != 0) {
            kill(server, SIGTERM); /* curl may not have connected: the server still waits */
            break;
        }
    }
    reap_child(server, "client");
    return 0;
}
