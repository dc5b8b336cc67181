/* advanced_framing.c - a length-prefixed protocol that survives any short read and write
 *
 * A stream socket keeps the bytes and their order, nothing else: a write() may take fewer
 * bytes than asked and a read() returns whatever has arrived.  Here the sender writes its
 * frames (4-byte big-endian length, then the body) in pieces of random size that cross frame
 * boundaries, on a non-blocking TCP socket with a small send buffer, so the kernel takes
 * short writes and says EAGAIN; the receiver reads 1 to 64 bytes at a time and feeds them to
 * a decoder that keeps its state between reads.  Every frame is verified, and a frame cut off
 * by the end of the stream is reported, never delivered.
 * Guide part: theory (framing on stream sockets).
 * Run: ./advanced_framing [--frames N] [--seed S] [--no-torn]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER 4
#define BODY_MAX 2000        /* what this protocol allows; a longer length is an error */
#define WRITE_PIECE_MAX 4096 /* the sender's write() sizes: 1 to this */
#define READ_PIECE_MAX 64    /* the receiver's read() sizes: 1 to this */
#define SEND_BUFFER 4096     /* asked with SO_SNDBUF, so the kernel runs out of room */

static const char usage[] = "[--frames N] [--seed S] [--no-torn]";

/* xorshift32: the same seed gives the same sizes, so a run can be repeated. */
static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static size_t random_size(uint32_t *state, size_t max)
{
    return 1 + next_random(state) % max;
}

/* Frame `seq`: its number (4 bytes) and then bytes that depend on it and their position. */
static size_t build_frame(unsigned char *frame, uint32_t seq, uint32_t *state)
{
    size_t body = HEADER + next_random(state) % (BODY_MAX - HEADER + 1);
    uint32_t be_len = htonl((uint32_t)body), be_seq = htonl(seq);

    memcpy(frame, &be_len, HEADER);
    memcpy(frame + HEADER, &be_seq, 4);
    for (size_t i = 4; i < body; i++)
        frame[HEADER + i] = (unsigned char)(seq * 31 + i);
    return HEADER + body;
}

struct send_counts {
    long writes, short_writes, waits;
};

/* Writes len bytes in pieces of random size; a short write or EAGAIN only moves the offset
 * or waits for room (poll POLLOUT): no byte is lost or sent twice. */
static void send_in_pieces(int fd, const unsigned char *p, size_t len, uint32_t *state,
                           struct send_counts *counts)
{
    size_t off = 0;

    while (off < len) {
        size_t ask = random_size(state, WRITE_PIECE_MAX);
        ssize_t n;

        if (ask > len - off)
            ask = len - off;
        n = write(fd, p + off, ask);
        if (n == -1 && errno == EAGAIN) {
            struct pollfd room = {.fd = fd, .events = POLLOUT};

            counts->waits++;
            if (poll(&room, 1, -1) == -1 && errno != EINTR)
                die_errno("poll for room to write");
            continue;
        }
        if (n == -1 && errno != EINTR)
            die_errno("write");
        if (n == -1)
            continue;
        counts->writes++;
        counts->short_writes += (size_t)n < ask;
        off += (size_t)n;
    }
}

static noreturn void run_sender(int fd, long frames, uint32_t seed, bool torn)
{
    static unsigned char frame[HEADER + BODY_MAX];
    uint32_t sizes = seed, pieces = seed ^ 0x9e3779b9u;
    struct send_counts counts = {0};
    long bytes = 0;

    printf("[sender] %ld frames of %d to %d bytes, written in pieces of 1 to %d bytes\n", frames,
           HEADER + 4, HEADER + BODY_MAX, WRITE_PIECE_MAX);
    for (long seq = 1; seq <= frames; seq++) {
        size_t len = build_frame(frame, (uint32_t)seq, &sizes);

        send_in_pieces(fd, frame, len, &pieces, &counts);
        bytes += (long)len;
    }
    printf("[sender] %ld bytes in %ld write() calls: %ld short, %ld waits for room (EAGAIN)\n",
           bytes, counts.writes, counts.short_writes, counts.waits);
    if (torn) {
        size_t len = build_frame(frame, (uint32_t)frames + 1, &sizes), cut = HEADER + 10;

        printf("[sender] frame %ld: sending only %zu of its %zu bytes, then closing\n", frames + 1,
               cut, len);
        send_in_pieces(fd, frame, cut, &pieces, &counts);
    }
    close(fd);
    exit(0);
}

/* The decoder: its state survives between reads, so a read may end anywhere. */
struct decoder {
    unsigned char buf[HEADER + BODY_MAX];
    size_t have; /* bytes of the current frame so far, header included */
    size_t need; /* HEADER while the length is incomplete, then HEADER + the length */
    uint32_t expect_seq;
    long frames;
};

static bool frame_is_right(const struct decoder *d)
{
    const unsigned char *body = d->buf + HEADER;
    size_t len = d->need - HEADER;
    uint32_t seq;

    memcpy(&seq, body, 4);
    if (ntohl(seq) != d->expect_seq)
        return false;
    for (size_t i = 4; i < len; i++)
        if (body[i] != (unsigned char)(d->expect_seq * 31 + i))
            return false;
    return true;
}

static void decode(struct decoder *d, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t take = d->need - d->have < n ? d->need - d->have : n;

        memcpy(d->buf + d->have, p, take);
        d->have += take;
        p += take;
        n -= take;
        if (d->have < d->need)
            return; /* the rest comes with a later read */
        if (d->need == HEADER) {
            uint32_t be_len, len;

            memcpy(&be_len, d->buf, HEADER);
            len = ntohl(be_len);
            if (len < 4 || len > BODY_MAX)
                die("frame %u: a length of %u is outside 4..%d: not this protocol", d->expect_seq,
                    len, BODY_MAX);
            d->need = HEADER + len;
            continue;
        }
        if (!frame_is_right(d))
            die("frame %u: wrong number or wrong bytes", d->expect_seq);
        if (d->expect_seq <= 2)
            printf("[receiver] frame %u: %zu bytes, number and bytes verified\n", d->expect_seq,
                   d->need - HEADER);
        d->frames++;
        d->expect_seq++;
        d->have = 0;
        d->need = HEADER;
    }
}

static void run_receiver(int conn, uint32_t seed)
{
    static struct decoder d = {.need = HEADER, .expect_seq = 1};
    unsigned char piece[READ_PIECE_MAX];
    uint32_t sizes = seed ^ 0x85ebca6bu;
    long reads = 0, bytes = 0;
    ssize_t n;

    printf("[receiver] reading 1 to %d bytes per read()\n", READ_PIECE_MAX);
    while ((n = read(conn, piece, random_size(&sizes, READ_PIECE_MAX))) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("read");
        reads++;
        bytes += n;
        decode(&d, piece, (size_t)n);
    }
    printf("[receiver] %ld frames verified, %ld bytes in %ld read() calls\n", d.frames, bytes,
           reads);
    if (d.have == 0)
        printf("[receiver] end of stream between two frames: nothing lost\n");
    else if (d.need == HEADER)
        printf("[receiver] end of stream inside the length of frame %u: %zu of 4 bytes; "
               "torn frame reported, not delivered\n",
               d.expect_seq, d.have);
    else
        printf("[receiver] end of stream inside frame %u: its length says %zu bytes, %zu "
               "arrived; torn frame reported, not delivered\n",
               d.expect_seq, d.need - HEADER, d.have - HEADER);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"frames", required_argument, NULL, 'f'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"no-torn", no_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t addr_len = sizeof addr;
    long frames = 200, seed = 1;
    int listener, conn, opt, size = SEND_BUFFER;
    bool torn = true;
    pid_t sender;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'f')
            frames = cli_long(optarg, 1, 100000, "--frames", usage);
        else if (opt == 's')
            seed = cli_long(optarg, 1, UINT32_MAX, "--seed", usage);
        else
            torn = false;
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1)
        die_errno("socket");
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(listener, 1) == -1 ||
        getsockname(listener, (struct sockaddr *)&addr, &addr_len) == -1)
        die_errno("bind/listen on 127.0.0.1");
    printf("[receiver] listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    sender = fork_or_die();
    if (sender == 0) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        close(listener);
        if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == -1)
            die_errno("sender socket");
        /* A non-blocking connect on loopback completes or says EINPROGRESS; the first
         * write's POLLOUT wait covers the second case. */
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1 && errno != EINPROGRESS)
            die_errno("connect");
        run_sender(fd, frames, (uint32_t)seed, torn);
    }
    if (cleanup_add_child(sender) == -1) /* a receiver that dies stops the sender too */
        die_errno("cleanup_add_child");
    conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn == -1)
        die_errno("accept");
    close(listener);
    run_receiver(conn, (uint32_t)seed);
    close(conn);
    reap_child(sender, "receiver");
    return 0;
}
