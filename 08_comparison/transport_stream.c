/* transport_stream.c - the byte streams: pipe, FIFO, socketpair, UNIX stream, TCP loopback.
 *
 * A stream keeps no message boundaries, so nothing is chunked: a send writes all n bytes
 * (the kernel may take them in several pieces) and a receive reads until n have come.  The
 * end of file of a closed or dead peer is the only error a receive needs to tell.
 */
#define _GNU_SOURCE
#include "transport_impl.h"
#include "cleanup.h"
#include "common.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fd_send(struct transport *t, const unsigned char *p, size_t n)
{
    return write_full(t->fd[t->side][1], p, n) == -1 ? -1 : 0;
}

/* read_full returns fewer than n bytes only at end of file: the peer closed or died. */
static int fd_read_all(int fd, unsigned char *p, size_t n)
{
    ssize_t got = read_full(fd, p, n);

    if (got == -1)
        return -1;
    if ((size_t)got != n) {
        errno = ECONNRESET;
        return -1;
    }
    return 0;
}

static int fd_recv(struct transport *t, unsigned char *p, size_t n)
{
    return fd_read_all(t->fd[1 - t->side][0], p, n);
}

/* MSG_NOSIGNAL: a vanished peer is EPIPE here, not a SIGPIPE that kills the benchmark. */
static int sock_send(struct transport *t, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t sent = send(t->sock[t->side], p, n, MSG_NOSIGNAL);

        if (sent == -1 && errno != EINTR)
            return -1;
        if (sent > 0) {
            p += sent;
            n -= (size_t)sent;
        }
    }
    return 0;
}

static int sock_recv(struct transport *t, unsigned char *p, size_t n)
{
    return fd_read_all(t->sock[t->side], p, n);
}

static int open_pipes(struct transport *t)
{
    if (pipe2(t->fd[0], O_CLOEXEC) == -1)
        return -1;
    return pipe2(t->fd[1], O_CLOEXEC);
}

/* Both ends of a FIFO in one process: the read end opened with O_NONBLOCK does not wait for
 * a writer (fifo(7)), and then the write end does not wait either, since a reader exists.
 * The read end goes back to blocking, like a pipe's. */
static int open_fifo_ends(const char *path, int ends[2])
{
    struct stat st;

    ends[0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (ends[0] == -1)
        return -1;
    if (fstat(ends[0], &st) == -1)
        return -1;
    if (!S_ISFIFO(st.st_mode)) { /* the directory is ours, but say what was expected */
        errno = ENOTSUP;
        return -1;
    }
    ends[1] = open(path, O_WRONLY | O_CLOEXEC);
    if (ends[1] == -1)
        return -1;
    return set_nonblocking(ends[0], false);
}

/* Two FIFOs (one per direction) in a private mkdtemp directory, mode 0600, registered while
 * they have names and unlinked once both ends of both are open. */
static int open_fifo(struct transport *t)
{
    char dir[256], path[2][300];
    int dir_slot, path_slot[2] = {-1, -1}, rc = 0;

    if (transport_private_dir(dir, sizeof dir, &dir_slot) == -1)
        return -1;
    for (int d = 0; d < 2 && rc == 0; d++) {
        sigset_t saved;

        snprintf(path[d], sizeof path[d], "%s/dir%d", dir, d);
        stop_signals_hold(&saved);
        rc = mkfifo(path[d], 0600); /* fails with EEXIST: exclusive, like O_EXCL */
        if (rc == 0)
            path_slot[d] = cleanup_add_path(path[d]);
        stop_signals_release(&saved);
        if (rc == 0)
            rc = open_fifo_ends(path[d], t->fd[d]);
    }
    for (int d = 0; d < 2; d++)
        if (path_slot[d] != -1) {
            int saved_errno = errno;

            unlink(path[d]); /* the open descriptors keep the FIFO */
            cleanup_forget(path_slot[d]);
            errno = saved_errno;
        }
    transport_private_dir_remove(dir, dir_slot);
    return rc;
}

static int open_socketpair(struct transport *t)
{
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, t->sock);
}

/* A listening socket connected to itself: connect() completes from the backlog before
 * accept(), so one process can make both ends. */
static int connect_pair(struct transport *t, int listener, const struct sockaddr *addr,
                        socklen_t len)
{
    if (listen(listener, 1) == -1)
        return -1;
    t->sock[1] = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->sock[1] == -1 || connect(t->sock[1], addr, len) == -1)
        return -1;
    t->sock[0] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    return t->sock[0] == -1 ? -1 : 0;
}

static int open_unix_stream(struct transport *t)
{
    char dir[256];
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    sigset_t saved;
    int listener = -1, dir_slot, path_slot = -1, rc = -1, saved_errno;

    if (transport_private_dir(dir, sizeof dir, &dir_slot) == -1)
        return -1;
    if (strlen(dir) + sizeof "/sock" > sizeof addr.sun_path)
        errno = ENAMETOOLONG; /* a long $TMPDIR: sun_path holds 108 bytes */
    else
        listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener != -1) {
        memcpy(addr.sun_path, dir, strlen(dir));
        strcat(addr.sun_path, "/sock");
        stop_signals_hold(&saved);
        if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0) {
            path_slot = cleanup_add_path(addr.sun_path);
            stop_signals_release(&saved);
            rc = connect_pair(t, listener, (struct sockaddr *)&addr, sizeof addr);
        } else {
            stop_signals_release(&saved);
        }
    }
    saved_errno = errno;
    if (listener != -1)
        close(listener);
    /* The connected pair no longer needs the name. */
    if (path_slot != -1) {
        unlink(addr.sun_path);
        cleanup_forget(path_slot);
    }
    errno = saved_errno;
    transport_private_dir_remove(dir, dir_slot);
    return rc;
}

static int open_tcp(struct transport *t)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int one = 1, rc = -1, saved_errno;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (listener != -1 && bind(listener, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(listener, (struct sockaddr *)&addr, &len) == 0 &&
        connect_pair(t, listener, (struct sockaddr *)&addr, len) == 0 &&
        setsockopt(t->sock[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
        setsockopt(t->sock[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
        rc = 0;
    saved_errno = errno;
    if (listener != -1)
        close(listener);
    errno = saved_errno;
    return rc;
}

const struct transport_ops pipe_ops = {"pipe", open_pipes, fd_send, fd_recv, NULL, NULL};
const struct transport_ops fifo_ops = {"fifo", open_fifo, fd_send, fd_recv, NULL, NULL};
const struct transport_ops socketpair_ops = {
    "socketpair", open_socketpair, sock_send, sock_recv, NULL, NULL};
const struct transport_ops unix_stream_ops = {
    "unix-stream", open_unix_stream, sock_send, sock_recv, NULL, NULL};
const struct transport_ops tcp_ops = {"tcp", open_tcp, sock_send, sock_recv, NULL, NULL};
