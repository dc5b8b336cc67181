/* pitfall_stream_boundaries.c - TCP merges and splits messages: one read() is not one message
 *
 * TCP carries a stream of bytes.  Ten send() calls of ten small messages can come out of
 * one read(), and one large message comes out in pieces of whatever the receive buffer held.
 * A reader that treats each read() as one message sees garbage: merged and torn messages.
 * Here the sender sends 10 small messages while the reader is busy, then one of 64 KiB into
 * a receive buffer of a few KiB.  --fixed: each message carries a 4-byte length in front
 * (network byte order), and the reader reads exactly that header, then exactly that body.
 * Guide part: pitfall (message boundaries on stream sockets).
 * Run: ./pitfall_stream_boundaries [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SMALL_MESSAGES 10
#define BIG_MESSAGE (64 * 1024)
#define RECEIVE_BUFFER 4096 /* asked with SO_RCVBUF; the kernel doubles it */

static const char usage[] = "[--fixed]";

/* A loopback listener on an ephemeral port with a small receive buffer (inherited by the
 * accepted connection, which is why it is set before listen()). */
static int small_buffer_listener(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), size = RECEIVE_BUFFER;

    if (fd == -1)
        die_errno("socket");
    *addr = (struct sockaddr_in){.sin_family = AF_INET};
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) == -1)
        die_errno("setsockopt SO_RCVBUF");
    if (bind(fd, (struct sockaddr *)addr, sizeof *addr) == -1 || listen(fd, 1) == -1 ||
        getsockname(fd, (struct sockaddr *)addr, &len) == -1)
        die_errno("bind/listen on 127.0.0.1");
    return fd;
}

static void send_message(int fd, const char *body, size_t len, bool framed)
{
    uint32_t header = htonl((uint32_t)len);

    if (framed && write_full(fd, &header, sizeof header) == -1)
        die_errno("send length");
    if (write_full(fd, body, len) == -1)
        die_errno("send message");
}

/* The sender: 10 small messages (each its own segment: TCP_NODELAY, so Nagle is not what
 * merges them), a note to the reader through `ready`, then the big message. */
static noreturn void run_sender(const struct sockaddr_in *addr, int ready, bool framed)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    static char big[BIG_MESSAGE];
    char msg[32];

    if (fd == -1 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
        die_errno("socket");
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    for (int i = 1; i <= SMALL_MESSAGES; i++) {
        int len = snprintf(msg, sizeof msg, "msg %d;", i);
        send_message(fd, msg, (size_t)len, framed);
    }
    printf("[sender] sent %d small messages, one send() each%s\n", SMALL_MESSAGES,
           framed ? ", each after its 4-byte length" : "");
    if (write(ready, "!", 1) != 1)
        die_errno("write to the reader");
    close(ready);
    memset(big, 'B', sizeof big);
    printf("[sender] sending one message of %d bytes\n", BIG_MESSAGE);
    send_message(fd, big, sizeof big, framed);
    close(fd);
    exit(0);
}

/* Broken: every read() is taken for one message. */
static void read_as_messages(int conn)
{
    static char buf[BIG_MESSAGE];
    int reads = 0, big_pieces = 0;
    ssize_t n;

    while ((n = read(conn, buf, sizeof buf)) > 0) {
        reads++;
        if (buf[0] == 'm') {
            int merged = 0;
            for (ssize_t i = 0; i < n; i++)
                merged += buf[i] == ';';
            printf("[reader] read() %d returned %zd bytes: %d messages merged into one: "
                   "\"%.*s\"\n",
                   reads, n, merged, (int)(n < 40 ? n : 40), buf);
        } else {
            big_pieces++;
        }
    }
    if (n == -1)
        die_errno("read");
    printf("[reader] the %d-byte message arrived split over %d reads\n", BIG_MESSAGE, big_pieces);
    printf("[reader] %d messages were sent; taking each read() for one, I got %d\n",
           SMALL_MESSAGES + 1, reads);
}

/* Fixed: read exactly the length, then exactly the body; read_full loops over short reads. */
static void read_framed(int conn)
{
    static char body[BIG_MESSAGE];
    int count = 0;
    uint32_t header;
    ssize_t n;

    while ((n = read_full(conn, &header, sizeof header)) == sizeof header) {
        uint32_t len = ntohl(header);

        if (len > sizeof body)
            die("a length of %u is more than any message here", len);
        if (read_full(conn, body, len) != (ssize_t)len)
            die("the stream ended inside a message");
        count++;
        if (len < 40)
            printf("[reader] message %d: %u bytes \"%.*s\"\n", count, len, (int)len, body);
        else
            printf("[reader] message %d: %u bytes, whole\n", count, len);
    }
    if (n == -1)
        die_errno("read");
    if (n != 0)
        die("the stream ended inside a length");
    printf("[reader] %d messages were sent; with the lengths I got all %d, whole\n",
           SMALL_MESSAGES + 1, count);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr;
    int listener, conn, ready[2];
    bool fixed;
    char note;
    pid_t sender;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fixed = cli_pitfall_fixed(argc, argv, usage);

    listener = small_buffer_listener(&addr);
    printf("[reader] listening on 127.0.0.1:%d, receive buffer asked: %d bytes\n",
           ntohs(addr.sin_port), RECEIVE_BUFFER);
    if (pipe2(ready, O_CLOEXEC) == -1)
        die_errno("pipe");
    sender = fork_or_die();
    if (sender == 0) {
        close(listener);
        close(ready[0]);
        run_sender(&addr, ready[1], fixed);
    }
    close(ready[1]);
    conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn == -1)
        die_errno("accept");
    close(listener);
    /* A busy reader: it reads only after all the small messages are on their way. */
    if (read(ready[0], &note, 1) != 1)
        die("the sender stopped early");
    close(ready[0]);
    if (fixed)
        read_framed(conn);
    else
        read_as_messages(conn);
    close(conn);
    reap_child(sender, "reader");
    return 0;
}
