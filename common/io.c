/* io.c - reads and writes that finish what they start, O_NONBLOCK, descriptor
 * passing, the FIFO check and opening a regular file. */
#define _GNU_SOURCE /* MSG_CMSG_CLOEXEC */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A pipe or socket may return fewer bytes than asked for (a "short" read or
 * write), and a signal handler may interrupt the call (EINTR).  Neither is
 * an error: both loops simply carry on. */
ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = read(fd, (char *)buf + done, n - done);

        if (r == 0)
            break; /* EOF: report the short count */
        if (r == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t write_full(int fd, const void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);

        if (w == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return (ssize_t)done;
}

ssize_t write_str(int fd, const char *s)
{
    return write_full(fd, s, strlen(s));
}

int set_nonblocking(int fd, bool on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    return fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

int send_fd(int sock, int fd, char tag)
{
    union { /* aligned for struct cmsghdr */
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control = {0};
    struct iovec iov = {.iov_base = &tag, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    for (;;) {
        if (sendmsg(sock, &msg, MSG_NOSIGNAL) == 1)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Every descriptor the message carried, closed unless it is the only one:
 * returns it, or -1 when there were none or several. */
static int only_descriptor(struct msghdr *msg)
{
    int found = -1, count = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t off = 0; CMSG_LEN(off + sizeof(int)) <= c->cmsg_len; off += sizeof(int)) {
            int fd;

            memcpy(&fd, CMSG_DATA(c) + off, sizeof fd);
            if (count++ > 0)
                close(fd);
            else
                found = fd;
        }
    }
    if (count > 1 && found != -1) {
        close(found);
        found = -1;
    }
    return found;
}

int recv_fd(int sock, char *tag)
{
    union { /* room for a few: a peer may send more than one */
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n;
    int fd;

    while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1)
        if (errno != EINTR)
            return -1;
    fd = only_descriptor(&msg); /* also closes the extras, even on EOF */
    if (n == 0 && fd == -1) {
        errno = ECONNRESET;
        return -1;
    }
    if (fd == -1 || (msg.msg_flags & MSG_CTRUNC)) { /* truncated: the rest were dropped */
        if (fd != -1)
            close(fd);
        errno = EBADMSG;
        return -1;
    }
    if (tag != NULL)
        *tag = byte;
    return fd;
}

int must_be_fifo(int fd, const char *path)
{
    struct stat st;

    (void)path;
    if (fstat(fd, &st) == -1)
        return -1;
    if (!S_ISFIFO(st.st_mode)) {
        errno = ENOTSUP;
        return -1;
    }
    return 0;
}

int open_regular(const char *path, int flags, struct stat *st)
{
    struct stat own;
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, 0600), saved;

    if (fd == -1)
        return -1;
    if (st == NULL)
        st = &own;
    if (fstat(fd, st) == -1)
        goto fail;
    if (!S_ISREG(st->st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    if ((flags & O_NONBLOCK) == 0 && set_nonblocking(fd, false) == -1)
        goto fail;
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

int unix_address(struct sockaddr_un *sun, const char *path)
{
    size_t len = strlen(path);

    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    if (len >= sizeof sun->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    return (int)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}
