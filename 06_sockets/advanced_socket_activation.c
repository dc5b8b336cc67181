/* advanced_socket_activation.c - systemd-style socket activation: the service inherits its socket
 *
 * Real-world pattern: systemd creates a service's listening sockets itself (from a .socket
 * unit), starts the service only when needed, and hands the sockets over as descriptors 3,
 * 4, ... with three environment variables, as sd_listen_fds(3) documents: LISTEN_FDS (how many),
 * LISTEN_PID (the pid they are meant for: a child that inherits the environment must not take
 * them) and LISTEN_FDNAMES (names, colon-separated).  The service never binds: clients can
 * connect before it even runs, and the socket survives its restarts.  Here the parent plays
 * systemd for one UNIX stream socket, the child execs this program as the service, which checks
 * the variables, unsets them and serves.  Left out: the unit files, several sockets, Accept=yes,
 * the notify socket, sd_listen_fds_with_names() itself (libsystemd is not used).
 * Guide part: real-world (systemd socket activation).
 * Run: ./advanced_socket_activation
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SD_LISTEN_FDS_START 3 /* the first passed descriptor, as in sd-daemon.h */

static const char usage[] = "[--service]    (--service: run as the activated service)";

/* The service's side of sd_listen_fds(): returns the number of sockets passed to *this*
 * process, and unsets the variables so that children of ours do not take them too. */
static int listen_fds(void)
{
    const char *pid_text = getenv("LISTEN_PID"), *fds_text = getenv("LISTEN_FDS");
    long pid, fds;

    if (pid_text == NULL || fds_text == NULL || parse_long(pid_text, 1, INT32_MAX, &pid) == -1 ||
        parse_long(fds_text, 0, 64, &fds) == -1)
        return 0;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if ((pid_t)pid != getpid()) /* meant for another process */
        return 0;
    return (int)fds;
}

static noreturn void run_service(void)
{
    const char *names = getenv("LISTEN_FDNAMES");
    int n = listen_fds(), fd = SD_LISTEN_FDS_START, accepting = 0;
    socklen_t len = sizeof accepting;
    struct stat st;
    char buf[256];

    printf("[service] pid %d: LISTEN_FDS says %d socket(s) for me, named \"%s\"\n", (int)getpid(),
           n, names != NULL ? names : "");
    if (n != 1)
        die("expected exactly one socket from the service manager");
    /* Trust but check: descriptor 3 must be a listening stream socket. */
    if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == -1 || !accepting)
        die("descriptor %d is not a listening socket", fd);
    printf("[service] descriptor %d is a listening socket; no bind() needed, serving\n", fd);
    for (int served = 0; served < 2; served++) {
        int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        ssize_t got;

        if (conn == -1)
            die_errno("accept");
        got = read(conn, buf, sizeof buf);
        if (got > 0) {
            const char *nl = memchr(buf, '\n', (size_t)got);

            printf("[service] request \"%.*s\"\n", (int)(nl != NULL ? nl - buf : got), buf);
            if (write_full(conn, "served by the activated service\n", 32) == -1)
                die_errno("write");
        }
        close(conn);
    }
    close(fd);
    exit(0);
}

static int connect_client(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    return fd;
}

static void talk(int fd, const char *request)
{
    char reply[64];
    ssize_t n;

    if (write_str(fd, request) == -1 || (n = read_full(fd, reply, sizeof reply)) <= 0)
        die_errno("talk to the service");
    printf("[client] got \"%.*s\"\n", (int)(n - 1), reply);
    close(fd);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"service", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct sockaddr_un addr;
    char sock_path[300];
    char dir[256], pid_text[16], self[4096];
    ssize_t self_len;
    sigset_t saved;
    int listener, early;
    pid_t service;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (cli_getopt(argc, argv, "h", longopts, usage) == 's')
        run_service();
    cli_no_operands(argc, argv, usage);

    /* The service is this program again: its path, read before anything else runs (and what
     * valgrind reports as the program, not itself). */
    self_len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (self_len == -1)
        die_errno("readlink /proc/self/exe");
    self[self_len] = '\0';
    make_temp_dir(dir, sizeof dir, "advanced_socket_activation");
    snprintf(sock_path, sizeof sock_path, "%s/echo.sock", dir);
    /* What a .socket unit's ListenStream= makes: socket, bind, listen, all before the service. */
    listener = unix_listener_registered(sock_path, SOCK_STREAM | SOCK_CLOEXEC, 8);
    if (listener == -1)
        die_errno("listen on %s", sock_path);
    unix_address(&addr, sock_path); /* the clients' address: it fits, the listener has it */
    printf("[systemd] listening on %s before any service runs\n", addr.sun_path);
    /* A client may connect now: the kernel queues it in the backlog until someone accepts. */
    early = connect_client(&addr);
    printf("[client] connected before the service exists: queued in the listen backlog\n");

    stop_signals_hold(&saved);
    service = fork_or_die();
    if (service == 0) {
        /* In the child: the socket moves to descriptor 3 (dup2 clears FD_CLOEXEC), the
         * variables name this very pid, and the service program is exec'd. */
        stop_signals_release(&saved);
        close(early);
        if (listener == SD_LISTEN_FDS_START) {
            /* dup2(3, 3) would change nothing, FD_CLOEXEC included: clear it by hand. */
            if (fcntl(listener, F_SETFD, 0) == -1)
                die_errno("fcntl F_SETFD");
        } else if (dup2(listener, SD_LISTEN_FDS_START) == -1 || close(listener) == -1) {
            die_errno("dup2");
        }
        snprintf(pid_text, sizeof pid_text, "%d", (int)getpid());
        if (setenv("LISTEN_PID", pid_text, 1) == -1 || setenv("LISTEN_FDS", "1", 1) == -1 ||
            setenv("LISTEN_FDNAMES", "echo", 1) == -1)
            die_errno("setenv");
        execl(self, argv[0], "--service", (char *)NULL);
        die_errno("exec the service");
    }
    if (cleanup_add_child(service) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(listener); /* systemd keeps its copy; here the service's is enough */
    printf("[systemd] the service runs as pid %d, given LISTEN_FDS=1 LISTEN_PID=%d\n", (int)service,
           (int)service);
    talk(early, "first request\n");
    talk(connect_client(&addr), "second request\n");
    reap_child(service, "systemd");
    return 0;
}
