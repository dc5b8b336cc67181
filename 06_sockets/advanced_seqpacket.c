/* advanced_seqpacket.c - SOCK_SEQPACKET: a connection, reliable delivery, and message boundaries
 *
 * A UNIX SOCK_STREAM socket is a connection without boundaries; SOCK_DGRAM keeps boundaries
 * but has no connection.  SOCK_SEQPACKET has both: listen/accept/connect as for a stream,
 * each send() arrives as one record, in order, and the end of the peer shows as a read of 0.
 * A record read into a buffer too small is cut, the rest discarded, and recvmsg() says so with
 * MSG_TRUNC.  The same messages over a stream socket are shown merged for comparison.
 * Guide part: advanced (UNIX sockets: SOCK_SEQPACKET).
 * Run: ./advanced_seqpacket
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "";
static const char *const records[] = {"first", "a second, longer record", "3",
                                      "a fourth record that is longer than the reader's buffer"};
#define N_RECORDS (sizeof records / sizeof records[0])
#define SMALL_BUFFER 32

/* Sends the records back to back, then closes: the reader sees them only afterwards. */
static noreturn void run_sender(int fd, const char *kind)
{
    for (size_t i = 0; i < N_RECORDS; i++) {
        printf("[sender] %s: send(%zu bytes)\n", kind, strlen(records[i]));
        if (send(fd, records[i], strlen(records[i]), 0) == -1)
            die_errno("send");
    }
    close(fd);
    exit(0);
}

static void read_records(int fd, const char *kind)
{
    char buf[SMALL_BUFFER];

    for (int count = 1;; count++) {
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &msg, 0);

        if (n == -1)
            die_errno("recvmsg");
        if (n == 0) {
            printf("[reader] %s: recvmsg returned 0: the sender closed, after %d reads\n", kind,
                   count - 1);
            return;
        }
        printf("[reader] %s: read %d: %zd bytes \"%.*s\"%s\n", kind, count, n, (int)n, buf,
               (msg.msg_flags & MSG_TRUNC) ? " (MSG_TRUNC: the rest of this record is lost)" : "");
    }
}

static void run(int type, const char *kind)
{
    int ends[2];
    pid_t sender;

    /* socketpair gives a connected pair; a listening SOCK_SEQPACKET socket works the same. */
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ends) == -1)
        die_errno("socketpair %s", kind);
    sender = fork_or_die();
    if (sender == 0) {
        close(ends[0]);
        run_sender(ends[1], kind);
    }
    close(ends[1]);
    reap_child(sender, "reader"); /* all sent and closed before the first read */
    read_records(ends[0], kind);
    close(ends[0]);
}

int main(int argc, char *argv[])
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    printf("[reader] each read uses a %d-byte buffer\n", SMALL_BUFFER);
    run(SOCK_SEQPACKET, "SOCK_SEQPACKET");
    run(SOCK_STREAM, "SOCK_STREAM");
    return 0;
}
