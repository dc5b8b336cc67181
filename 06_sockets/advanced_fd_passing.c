/* advanced_fd_passing.c - SCM_RIGHTS: handing an open file to another process
 *
 * Over a UNIX socket a process can send not only bytes but open descriptors: sendmsg() with a
 * control message of type SCM_RIGHTS.  The kernel (scm_fp_copy() in net/core/scm.c, then
 * unix_attach_fds() in net/unix/) takes a reference to each open file, and
 * recvmsg() installs it in the receiver under the lowest free number there.  The receiver gets the
 * same open file description: same file, same offset, no need for the name or the right to open it.
 * Here the parent opens a file, unlinks it (nobody can open it by name any more) and passes
 * the descriptor; the child reads it, and the parent sees the offset the child moved.
 * Guide part: advanced (descriptor passing; privilege separation builds on it).
 * Run: ./advanced_fd_passing
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "";
static const char contents[] = "contents of a file that no longer has a name\n";

/* One data byte (a stream must carry at least one) and one descriptor in SCM_RIGHTS. */
static void send_descriptor(int sock, int fd)
{
    char tag = 'F';
    struct iovec iov = {.iov_base = &tag, .iov_len = 1};
    union { /* aligned as a cmsghdr must be */
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

    memset(&control, 0, sizeof control);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) != 1)
        die_errno("sendmsg SCM_RIGHTS");
}

/* Returns the received descriptor; anything but exactly one is refused (and closed). */
static int receive_descriptor(int sock)
{
    char tag;
    struct iovec iov = {.iov_base = &tag, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    int fd = -1;

    if (n == -1)
        die_errno("recvmsg");
    if (n == 0)
        die("the sender closed the socket without a descriptor");
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg != NULL && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
        cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    /* MSG_CTRUNC: more descriptors were sent than fit; the kernel closed the extra ones. */
    if (fd == -1 || (msg.msg_flags & MSG_CTRUNC))
        die("expected exactly one descriptor");
    return fd;
}

static noreturn void run_child(int sock)
{
    char buf[128];
    struct stat st;
    int fd = receive_descriptor(sock);
    ssize_t n;

    if (fstat(fd, &st) == -1)
        die_errno("fstat");
    printf("[child] received descriptor %d: a regular file of %lld bytes, %ld link(s) to it\n", fd,
           (long long)st.st_size, (long)st.st_nlink);
    n = read(fd, buf, 20);
    if (n == -1)
        die_errno("read");
    printf("[child] read %zd bytes from it: \"%.*s\"\n", n, (int)n, buf);
    close(fd);
    if (write(sock, "d", 1) != 1) /* tell the parent the read is done */
        die_errno("write");
    close(sock);
    exit(0);
}

int main(int argc, char *argv[])
{
    char dir[256], path[320], done;
    int ends[2], fd, slot;
    sigset_t saved;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "advanced_fd_passing");
    snprintf(path, sizeof path, "%s/secret.%d", dir, (int)getpid());
    stop_signals_hold(&saved);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || (slot = cleanup_add_path(path)) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, contents, sizeof contents - 1) == -1 || lseek(fd, 0, SEEK_SET) == -1)
        die_errno("write %s", path);
    if (unlink(path) == -1)
        die_errno("unlink %s", path);
    cleanup_forget(slot);
    printf("[parent] opened %s as descriptor %d, then unlinked it: no name is left\n", path, fd);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == -1)
        die_errno("socketpair");
    child = fork_or_die();
    if (child == 0) {
        close(ends[0]);
        close(fd); /* the child gets the file only through the socket */
        run_child(ends[1]);
    }
    close(ends[1]);
    printf("[parent] sending descriptor %d with SCM_RIGHTS\n", fd);
    send_descriptor(ends[0], fd);
    if (read(ends[0], &done, 1) != 1)
        die("the child did not report back");
    printf("[parent] my offset in the file is now %lld: the child's read moved it, since we "
           "share one open file description\n",
           (long long)lseek(fd, 0, SEEK_CUR));
    close(ends[0]);
    close(fd);
    reap_child(child, "parent");
    return 0;
}
