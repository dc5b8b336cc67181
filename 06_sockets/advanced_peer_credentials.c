/* advanced_peer_credentials.c - SO_PEERCRED and SCM_CREDENTIALS: a server that knows its client
 *
 * On a UNIX socket the kernel can tell a server who is at the other end, with nothing the
 * client could forge.  SO_PEERCRED (getsockopt on the connection) returns the pid, uid and gid
 * the client had when it called connect().  SCM_CREDENTIALS is per message: with SO_PASSCRED
 * set on the receiving socket, every message carries the sender's pid/uid/gid, which the
 * sender may fill in but the kernel checks (__scm_send() -> scm_check_creds() in
 * net/core/scm.c): without CAP_SYS_ADMIN a process cannot claim another pid, nor without
 * CAP_SETUID another uid.  The server here admits only clients of its own uid.
 * Guide part: advanced (UNIX sockets: credentials; Linux-specific).
 * Run: ./advanced_peer_credentials
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char usage[] = "";

/* Sends `text` with an SCM_CREDENTIALS message claiming `claimed`; returns send's result. */
static ssize_t send_with_credentials(int fd, const char *text, struct ucred claimed)
{
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg;

    memset(&control, 0, sizeof control);
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_CREDENTIALS;
    cmsg->cmsg_len = CMSG_LEN(sizeof claimed);
    memcpy(CMSG_DATA(cmsg), &claimed, sizeof claimed);
    return sendmsg(fd, &msg, 0);
}

static noreturn void run_client(const struct sockaddr_un *addr)
{
    struct ucred mine = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    struct ucred lie = mine;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    lie.pid = 1;
    printf("[client] sendmsg claiming to be pid 1 (init)\n");
    if (send_with_credentials(fd, "from init", lie) == -1)
        printf("[client] the kernel refused the false pid: %s\n", strerror(errno));
    else
        printf("[client] the kernel let the false pid through: this process has "
               "CAP_SYS_ADMIN\n");
    printf("[client] sendmsg with my true credentials, pid %d\n", (int)mine.pid);
    if (send_with_credentials(fd, "hello", mine) == -1)
        die_errno("sendmsg");
    close(fd);
    exit(0);
}

/* Receives one message and the credentials the kernel attached to it. */
static bool receive_with_credentials(int fd, char *text, size_t size, struct ucred *cred)
{
    struct iovec iov = {.iov_base = text, .iov_len = size - 1};
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg;
    ssize_t n = recvmsg(fd, &msg, 0);

    if (n == -1)
        die_errno("recvmsg");
    if (n == 0)
        return false;
    text[n] = '\0';
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_CREDENTIALS)
        die("a message came without credentials (SO_PASSCRED is set)");
    memcpy(cred, CMSG_DATA(cmsg), sizeof *cred);
    return true;
}

static void serve_one(int listener, pid_t expected_pid)
{
    struct ucred peer, cred;
    socklen_t len = sizeof peer;
    char text[64];
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

    if (conn == -1)
        die_errno("accept");
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) == -1)
        die_errno("getsockopt SO_PEERCRED");
    printf("[server] SO_PEERCRED: pid %d uid %d gid %d (the child I forked was %d)\n",
           (int)peer.pid, (int)peer.uid, (int)peer.gid, (int)expected_pid);
    if (peer.uid != getuid()) {
        printf("[server] uid %d is not mine: closing the connection\n", (int)peer.uid);
        close(conn);
        return;
    }
    printf("[server] same uid as mine (%d): admitted, as PostgreSQL's peer authentication "
           "would\n",
           (int)getuid());
    while (receive_with_credentials(conn, text, sizeof text, &cred))
        printf("[server] message \"%s\" with SCM_CREDENTIALS pid %d uid %d\n", text, (int)cred.pid,
               (int)cred.uid);
    close(conn);
}

int main(int argc, char *argv[])
{
    char dir[256];
    struct sockaddr_un addr;
    char sock_path[300];
    int listener, one = 1;
    pid_t client;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "advanced_peer_credentials");
    snprintf(sock_path, sizeof sock_path, "%s/server.sock", dir);
    listener = unix_listener_registered(sock_path, SOCK_STREAM | SOCK_CLOEXEC, 4);
    if (listener == -1)
        die_errno("listen on %s", sock_path);
    unix_address(&addr, sock_path); /* the client's address: it fits, the listener has it */
    /* On the listener, before any client can connect: each accepted connection inherits it
     * (through unix_sock_inherit_flags() in net/unix/af_unix.c until 2025, when the flag
     * moved into struct sock as sk_scm_credentials; 6.18 still passes it on, as seen here). */
    if (setsockopt(listener, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == -1)
        die_errno("setsockopt SO_PASSCRED");
    printf("[server] listening on %s as uid %d\n", addr.sun_path, (int)getuid());

    client = fork_or_die();
    if (client == 0) {
        close(listener);
        run_client(&addr);
    }
    serve_one(listener, client);
    close(listener);
    reap_child(client, "server");
    return 0;
}
