/* advanced_mailbox_kernel_view.c - what the kernel keeps for a port: bytes, truesize, rights in
 * flight
 *
 * A port is an AF_UNIX SOCK_SEQPACKET pair (net/unix/af_unix.c), so everything the kernel
 * knows about it is socket state: each queued message is an skb charged its truesize to
 * the send end's SO_SNDBUF; SIOCINQ sums the bytes waiting at the receive end
 * (unix_inq_len()), SIOCOUTQ is the send end's sk_wmem_alloc (unix_outq_len()); the
 * descriptors carried with SCM_RIGHTS sit in the skb as struct file references, counted
 * per receiving socket and shown as scm_fds in /proc/PID/fdinfo.  This program prints
 * each figure beside what it means, and turns the byte budget into a message count.
 * Guide part: kernel (the socket buffer behind a mailbox).
 * Run: ./advanced_mailbox_kernel_view
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "io.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

static const char usage[] = "(no options)";

static int ioctl_int(int fd, unsigned long request)
{
    int value;

    if (ioctl(fd, request, &value) == -1)
        die_errno("ioctl");
    return value;
}

static int sndbuf_of(int fd)
{
    int value;
    socklen_t len = sizeof value;

    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &value, &len) == -1)
        die_errno("getsockopt SO_SNDBUF");
    return value;
}

static void show_sysctls(void)
{
    static const char *const names[] = {"net/core/wmem_default", "net/core/wmem_max",
                                        "net/unix/max_dgram_qlen"};
    static const char *const meaning[] = {
        "every new socket's SO_SNDBUF: a port's default byte budget",
        "the most SO_SNDBUF a user may ask for (x2 once granted); more needs CAP_NET_ADMIN",
        ("a receive-queue limit in messages, skipped for a connected pair: it never applies "
         "to a port")};

    for (int i = 0; i < 3; i++) {
        long v;

        if (sysctl_long(names[i], &v) == -1)
            printf("[kernel] %-24s unreadable: %s\n", names[i], strerror(errno));
        else
            printf("[kernel] %-24s = %-7ld %s\n", names[i], v, meaning[i]);
    }
}

/* The raw budget of a fresh pair, filled with 192-byte records until EAGAIN. */
static void fill_default_pair(void)
{
    static const char record[MB_WIRE_SIZE];
    int sv[2], sent = 0, sndbuf, queued_in;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        die_errno("socketpair");
    sndbuf = sndbuf_of(sv[0]);
    while (send(sv[0], record, sizeof record, MSG_DONTWAIT) == (ssize_t)sizeof record)
        sent++;
    if (errno != EAGAIN)
        die_errno("send");
    queued_in = ioctl_int(sv[1], SIOCINQ);
    printf("[kernel] a fresh pair: SO_SNDBUF %d bytes; %d messages of %d bytes went in "
           "before EAGAIN\n",
           sndbuf, sent, MB_WIRE_SIZE);
    printf("[kernel]   SIOCINQ at the receive end: %d bytes = %d x %d, the payload only\n",
           queued_in, queued_in / MB_WIRE_SIZE, MB_WIRE_SIZE);
    printf("[kernel]   SIOCOUTQ at the send end:   %d bytes = %d x %d, the truesize charged\n",
           ioctl_int(sv[0], SIOCOUTQ), sent, ioctl_int(sv[0], SIOCOUTQ) / sent);
    printf("[kernel]   so the count is ceil(%d / %d) = %d: a send goes through while less than "
           "SO_SNDBUF is charged\n",
           sndbuf, ioctl_int(sv[0], SIOCOUTQ) / sent, sent);
    close(sv[0]);
    close(sv[1]);
}

static void show_setsockopt_rules(void)
{
    int sv[2], asked[] = {1, 10000};

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        die_errno("socketpair");
    for (int i = 0; i < 2; i++) {
        if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &asked[i], sizeof asked[i]) == -1)
            die_errno("setsockopt SO_SNDBUF");
        printf("[kernel] setsockopt(SO_SNDBUF, %5d) -> getsockopt says %5d (%s)\n", asked[i],
               sndbuf_of(sv[0]),
               i == 0 ? "never below SOCK_MIN_SNDBUF" : "doubled, for the overhead");
    }
    close(sv[0]);
    close(sv[1]);
}

static void show_port(void)
{
    long truesize = mb_message_truesize();
    struct mb_port *port;
    mb_send_t send;
    struct mb_msg m;
    struct pollfd p;

    if ((port = mb_port_create(16, &send)) == NULL)
        die_errno("mb_port_create");
    printf("[module] one message costs %ld bytes of budget for its %d; a port of 16 sets "
           "SO_SNDBUF %ld, doubled to %d = 16 x %ld\n",
           truesize, MB_WIRE_SIZE, 16 * truesize / 2, sndbuf_of(send.fd), truesize);
    mb_msg_init(&m, 1, 0, NULL, 0);
    for (int i = 0; i < 12; i++)
        if (mb_send(send, &m, 0) == -1)
            die_errno("mb_send");
    p = (struct pollfd){.fd = send.fd, .events = POLLOUT};
    poll(&p, 1, 0);
    printf("[module] 12 of 16 queued: SIOCINQ %d, SIOCOUTQ %d, %ld by mb_port_queued(); "
           "POLLOUT %s\n",
           ioctl_int(mb_port_fd(port), SIOCINQ), ioctl_int(send.fd, SIOCOUTQ), mb_port_queued(port),
           (p.revents & POLLOUT) ? "set" : "clear");
    /* unix_writable(): 4 x sk_wmem_alloc <= sk_sndbuf, where the refcount is one more
     * than the bytes charged: a quarter exactly is still too much. */
    for (long left = 4; left >= 3; left--) {
        while (mb_port_queued(port) > left)
            mb_receive(port, &m, 0);
        poll(&p, 1, 0);
        printf("[module] %2ld of 16 queued: POLLOUT %s (4 x (%ld + 1) %s %d)\n", left,
               (p.revents & POLLOUT) ? "set: a waiting sender is woken" : "clear", left * truesize,
               (p.revents & POLLOUT) ? "<=" : ">", sndbuf_of(send.fd));
    }
    while (mb_receive(port, &m, 0) == 1)
        ;
    mb_send_release(&send);
    mb_port_destroy(port);
}

static void show_fdinfo(int fd, const char *when)
{
    char path[64], line[128];
    FILE *f;

    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    if ((f = fopen(path, "r")) == NULL)
        die_errno("open %s", path);
    printf("[kernel] /proc/self/fdinfo/%d %s:", fd, when);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "flags:", 6) == 0 || strncmp(line, "scm_fds:", 8) == 0)
            printf("  %s", line);
    }
    printf("\n");
    fclose(f);
}

/* Rights in flight: references to open files, held by a queued skb. */
static void show_rights_in_flight(void)
{
    struct mb_port *port;
    mb_send_t send;
    struct mb_msg m;
    int pipefd[2];
    char byte;

    if ((port = mb_port_create(8, &send)) == NULL || pipe2(pipefd, O_CLOEXEC) == -1)
        die_errno("create the port and a pipe");
    mb_msg_init(&m, 1, 0, NULL, 0);
    mb_msg_add_right(&m, pipefd[1]);
    mb_msg_add_right(&m, pipefd[1]);
    mb_msg_add_right(&m, send.fd);
    if (mb_send(send, &m, 0) == -1)
        die_errno("mb_send");
    close(pipefd[1]); /* no descriptor of the write end is left in any process... */
    show_fdinfo(mb_port_fd(port), "with one message carrying 3 rights queued");
    if (set_nonblocking(pipefd[0], true) == -1)
        die_errno("set_nonblocking");
    printf("[kernel] the pipe's write end has no descriptor, yet read() says %s: the skb "
           "holds a reference\n",
           read(pipefd[0], &byte, 1) == -1 && errno == EAGAIN ? "EAGAIN, not EOF" : "EOF");
    if (mb_receive(port, &m, 0) != 1)
        die_errno("mb_receive");
    show_fdinfo(mb_port_fd(port), "after the receive");
    printf("[kernel] received as new descriptors %d, %d and %d (close-on-exec: %s)\n", m.rights[0],
           m.rights[1], m.rights[2], (fcntl(m.rights[0], F_GETFD) & FD_CLOEXEC) ? "yes" : "no");
    mb_msg_release(&m);
    printf("[kernel] once they are closed the pipe reads %s\n",
           read(pipefd[0], &byte, 1) == 0 ? "EOF" : "something else");
    close(pipefd[0]);
    mb_send_release(&send);
    mb_port_destroy(port);
}

int main(int argc, char *argv[])
{
    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    show_sysctls();
    fill_default_pair();
    show_setsockopt_rules();
    show_port();
    show_rights_in_flight();
    return 0;
}
