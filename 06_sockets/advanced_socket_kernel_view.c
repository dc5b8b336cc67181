/* advanced_socket_kernel_view.c - what the kernel keeps for a socket: buffers, queues, TCP_INFO
 *
 * Three views from user space.  SO_SNDBUF/SO_RCVBUF: the kernel doubles the value you set
 * (room for its own bookkeeping: struct sk_buff and its truesize, see sk_setsockopt() and
 * __sock_set_rcvbuf() in net/core/sock.c), capped by net.core.wmem_max/rmem_max.  SIOCOUTQ and
 * SIOCINQ (ioctl, Linux): bytes the sender still holds unacknowledged, and bytes waiting
 * unread at the receiver, while a reader is not reading.  TCP_INFO (getsockopt, Linux): the
 * connection's state, smoothed round-trip time and congestion window, from connect to close.
 * Guide part: kernel (socket buffers and the TCP state machine, seen from user space).
 * Run: ./advanced_socket_kernel_view
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "procfs.h"
#include "timing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ASKED_BUFFER 16384

static const char usage[] = "";

/* The names of include/net/tcp_states.h, in order (TCP_ESTABLISHED is 1). */
static const char *const tcp_state_name[] = {"?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                             "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                             "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};

static int getsockopt_int(int fd, int level, int name, const char *what)
{
    int value;
    socklen_t len = sizeof value;

    if (getsockopt(fd, level, name, &value, &len) == -1)
        die_errno("getsockopt %s", what);
    return value;
}

static void show_buffer_doubling(int fd)
{
    int asked = ASKED_BUFFER;
    long wmem_max = -1, rmem_max = -1;

    printf("[kernel] default buffers of a new TCP socket: SO_SNDBUF %d, SO_RCVBUF %d bytes\n",
           getsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF"),
           getsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF"));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &asked, sizeof asked) == -1 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &asked, sizeof asked) == -1)
        die_errno("setsockopt SO_SNDBUF/SO_RCVBUF");
    int snd = getsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
    int rcv = getsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
    printf("[kernel] set both to %d; getsockopt now says SO_SNDBUF %d, SO_RCVBUF %d: %s\n", asked,
           snd, rcv, snd == 2 * asked && rcv == 2 * asked ? "doubled" : "not doubled here");
    sysctl_long("net/core/wmem_max", &wmem_max);
    sysctl_long("net/core/rmem_max", &rmem_max);
    printf("[kernel] the caps: net.core.wmem_max %ld, net.core.rmem_max %ld (values asked above "
           "them are cut to them before doubling)\n",
           wmem_max, rmem_max);
}

static void show_tcp_info(int fd, const char *role, const char *when)
{
    struct tcp_info info;
    socklen_t len = sizeof info;

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == -1)
        die_errno("getsockopt TCP_INFO");
    printf("[%s] TCP_INFO %s: state %s, rtt %u us, cwnd %u segments, mss %u\n", role, when,
           info.tcpi_state < sizeof tcp_state_name / sizeof tcp_state_name[0]
               ? tcp_state_name[info.tcpi_state]
               : "?",
           info.tcpi_rtt, info.tcpi_snd_cwnd, info.tcpi_snd_mss);
}

static void show_queues(int sender, int receiver, const char *when)
{
    int outq, inq;

    if (ioctl(sender, SIOCOUTQ, &outq) == -1 || ioctl(receiver, SIOCINQ, &inq) == -1)
        die_errno("ioctl SIOCOUTQ/SIOCINQ");
    printf("[kernel] %s: sender SIOCOUTQ %d bytes in its send queue (unsent or unacknowledged), "
           "receiver SIOCINQ %d bytes unread\n",
           when, outq, inq);
}

/* Writes until the kernel takes no more (the reader is not reading); returns the bytes. */
static size_t fill(int fd)
{
    static char chunk[4096];
    size_t total = 0;

    if (set_nonblocking(fd, true) == -1)
        die_errno("O_NONBLOCK");
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof chunk);

        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == -1)
            die_errno("write");
        total += (size_t)n;
    }
    return total;
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    int listener, sender, receiver;
    char buf[65536];
    size_t written, drained = 0;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sender = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || sender == -1)
        die_errno("socket");
    show_buffer_doubling(listener); /* inherited by the accepted socket: a small receiver */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(listener, 1) == -1 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen on 127.0.0.1");
    show_tcp_info(listener, "server", "of the listening socket");
    if (connect(sender, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("connect");
    receiver = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (receiver == -1)
        die_errno("accept");
    close(listener);
    show_tcp_info(sender, "client", "after connect");

    printf("[client] writing without blocking until the kernel takes no more; the server does "
           "not read\n");
    written = fill(sender);
    printf("[client] the kernel took %zu bytes before write() said EAGAIN\n", written);
    show_queues(sender, receiver, "while nobody reads");
    show_tcp_info(sender, "client", "with data in flight");

    while (drained < written) {
        ssize_t n = read(receiver, buf, sizeof buf);
        if (n <= 0)
            die_errno("read");
        drained += (size_t)n;
    }
    sleep_ms(20); /* the ACKs of the last window travel back */
    printf("[server] read all %zu bytes\n", drained);
    show_queues(sender, receiver, "after the reader caught up");

    if (shutdown(sender, SHUT_WR) == -1)
        die_errno("shutdown");
    sleep_ms(20);
    show_tcp_info(sender, "client", "after shutdown(SHUT_WR)");
    show_tcp_info(receiver, "server", "after the client's FIN");
    close(receiver);
    sleep_ms(20);
    /* Past FIN_WAIT2 the kernel moves the connection to a separate, small TIME_WAIT socket
     * (inet_twsk_alloc() in net/ipv4/inet_timewait_sock.c): ours then reads CLOSE. */
    show_tcp_info(sender, "client", "after the server closed too");
    close(sender);
    return 0;
}
