/* basic_memfd.c - memfd_create(), a descriptor handed to another process, and file seals
 *
 * memfd_create() makes shared memory with no name to clean up: an anonymous tmpfs file reached
 * only through descriptors, freed when the last one closes.  It reaches another process by
 * fork() or, as here, over a UNIX socket (SCM_RIGHTS) to a process that did not inherit it.
 * Seals (Linux-specific, MFD_ALLOW_SEALING) let the receiver trust it: after F_SEAL_SHRINK,
 * F_SEAL_GROW and F_SEAL_WRITE the kernel refuses every change, even to the creator.
 * Guide part: theory (memfd and sealing: shared memory passed as a descriptor).
 * Run: ./basic_memfd
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "";

#define OBJECT_SIZE 4096
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static void send_fd(int sock, int fd)
{
    union { /* room for one descriptor, aligned as a cmsghdr must be */
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte = 'm';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cmsg;

    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) == -1)
        die_errno("sendmsg SCM_RIGHTS");
}

static int receive_fd(int sock)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    struct cmsghdr *cmsg;
    int fd;

    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
        die("recvmsg: no descriptor arrived");
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS)
        die("recvmsg: the message carried no descriptor");
    memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    return fd;
}

static void describe_seals(const char *role, int fd)
{
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals == -1)
        die_errno("fcntl F_GET_SEALS");
    printf("[%s] F_GET_SEALS: %s%s%s%s\n", role, seals & F_SEAL_SHRINK ? "SHRINK " : "",
           seals & F_SEAL_GROW ? "GROW " : "", seals & F_SEAL_WRITE ? "WRITE " : "",
           seals & F_SEAL_SEAL ? "SEAL" : "");
}

/* Each attempt must fail: prints the errno the kernel refused it with. */
static void expect_refused(const char *role, const char *what, int result)
{
    if (result == 0)
        printf("[%s] %s: allowed (unexpected: the seal did not hold)\n", role, what);
    else
        printf("[%s] %s: refused with %s\n", role, what, strerrorname_np(errno));
}

/* The receiver did not inherit the memfd: all it has is what arrives on the socket. */
static noreturn void run_receiver(int sock)
{
    int fd = receive_fd(sock);
    char *text, path[64], link[128];
    ssize_t len;

    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    len = readlink(path, link, sizeof link - 1);
    link[len > 0 ? len : 0] = '\0';
    printf("[receiver] got descriptor %d over the socket: %s\n", fd, link);
    describe_seals("receiver", fd);
    text = mmap(NULL, OBJECT_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (text == MAP_FAILED)
        die_errno("mmap PROT_READ");
    printf("[receiver] mapped it read-only: \"%s\"\n", text);
    munmap(text, OBJECT_SIZE);

    expect_refused("receiver", "write() of one byte", write(fd, "x", 1) == 1 ? 0 : -1);
    expect_refused("receiver", "ftruncate() to 0 (shrink)", ftruncate(fd, 0));
    expect_refused("receiver", "ftruncate() to 8192 (grow)", ftruncate(fd, 2 * OBJECT_SIZE));
    text = mmap(NULL, OBJECT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    expect_refused("receiver", "mmap(PROT_WRITE, MAP_SHARED)", text == MAP_FAILED ? -1 : 0);
    if (text != MAP_FAILED)
        munmap(text, OBJECT_SIZE);
    expect_refused("receiver", "F_ADD_SEALS after F_SEAL_SEAL",
                   fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == -1 ? -1 : 0);
    close(fd);
    close(sock);
    exit(0);
}

static int make_sealed_memfd(void)
{
    char *text;
    int fd = memfd_create("basic_memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd == -1)
        die_errno("memfd_create");
    printf("[creator] memfd_create(\"basic_memfd\", MFD_ALLOW_SEALING): descriptor %d, no name "
           "to remove\n",
           fd);
    if (ftruncate(fd, OBJECT_SIZE) == -1)
        die_errno("ftruncate");
    text = mmap(NULL, OBJECT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (text == MAP_FAILED)
        die_errno("mmap");
    snprintf(text, OBJECT_SIZE, "a frame drawn by pid %d", (int)getpid());
    printf("[creator] sized it with ftruncate() to %d bytes and wrote \"%s\"\n", OBJECT_SIZE, text);

    /* F_SEAL_WRITE needs every writable shared mapping gone first. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == -1)
        printf("[creator] F_SEAL_WRITE while still mapped writable: %s\n", strerrorname_np(errno));
    munmap(text, OBJECT_SIZE);
    if (fcntl(fd, F_ADD_SEALS, SEALS) == -1)
        die_errno("fcntl F_ADD_SEALS");
    printf("[creator] unmapped, then F_ADD_SEALS: SHRINK GROW WRITE SEAL\n");
    expect_refused("creator", "the creator's own write()", write(fd, "x", 1) == 1 ? 0 : -1);
    return fd;
}

int main(int argc, char *argv[])
{
    int sv[2], fd;
    pid_t receiver;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
        die_errno("socketpair");
    /* Fork first: the receiver cannot inherit a memfd that does not exist yet. */
    receiver = fork_or_die();
    if (receiver == 0) {
        close(sv[0]);
        run_receiver(sv[1]);
    }
    close(sv[1]);
    fd = make_sealed_memfd();
    printf("[creator] sending descriptor %d to the receiver (pid %d) with SCM_RIGHTS\n", fd,
           (int)receiver);
    send_fd(sv[0], fd);
    close(fd); /* the receiver's descriptor keeps the memory alive */
    close(sv[0]);
    reap_child(receiver, "creator");
    return 0;
}
