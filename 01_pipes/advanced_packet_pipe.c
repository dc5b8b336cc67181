/* advanced_packet_pipe.c - pipe2(O_DIRECT): a pipe that keeps message boundaries
 *
 * A normal pipe is a byte stream: three writes that wait in it come out of
 * one read() glued together.  A "packet mode" pipe (Linux 3.4+, for autofs)
 * never merges writes: each read() returns exactly one packet, and a short
 * buffer throws the rest of that packet away.  A packet is one slot of the
 * ring, at most one page: man 2 pipe says writes above PIPE_BUF are split,
 * true where the page is 4 KiB = PIPE_BUF (x86-64), not with 64 KiB pages.
 *
 * Guide part: kernel (O_DIRECT pipes, PIPE_BUF_FLAG_PACKET in fs/pipe.c).
 * Run: ./advanced_packet_pipe [--read-size N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "[--read-size N]    (buffer for reading the 100-byte packet, 1 to 4096, default 10)";

static const char *const messages[] = {"alpha", "bravo-bravo", "charlie-charlie-charlie"};
#define N_MESSAGES 3
#define BIG_WRITE 6000 /* more than a 4 KiB page: two packets there */

static void send_one(int fd, const char *what, const void *data, size_t len)
{
    if (write_full(fd, data, len) == -1)
        die_errno("write to %s pipe", what);
    printf("[writer] %s pipe: wrote %zu bytes\n", what, len);
}

/* The child writes everything and exits before the parent reads a byte,
 * so all the writes are waiting in the pipes together. */
static void run_writer(int normal_fd, int packet_fd)
{
    static char big[BIG_WRITE];
    char hundred[100];

    for (int i = 0; i < N_MESSAGES; i++)
        send_one(normal_fd, "normal", messages[i], strlen(messages[i]));
    for (int i = 0; i < N_MESSAGES; i++)
        send_one(packet_fd, "packet", messages[i], strlen(messages[i]));
    memset(hundred, 'h', sizeof hundred);
    memcpy(hundred, "HUNDRED:", 8);
    send_one(packet_fd, "packet", hundred, sizeof hundred);
    send_one(packet_fd, "packet", "next", 4);
    memset(big, 'b', sizeof big);
    send_one(packet_fd, "packet", big, sizeof big);
    close(normal_fd);
    close(packet_fd);
}

static ssize_t read_once(int fd, char *buf, size_t size)
{
    ssize_t n;

    while ((n = read(fd, buf, size)) == -1 && errno == EINTR)
        ;
    if (n == -1)
        die_errno("read from pipe");
    return n;
}

static void show(const char *role, const char *buf, ssize_t n, size_t asked)
{
    printf("[%s] read(%zu) returned %zd bytes: \"%.*s\"%s\n", role, asked, n,
           (int)(n < 40 ? n : 40), buf, n > 40 ? "..." : "");
}

static void read_normal(int fd)
{
    char buf[PIPE_BUF];
    ssize_t n;

    while ((n = read_once(fd, buf, sizeof buf)) > 0)
        show("normal", buf, n, sizeof buf);
    printf("[normal] EOF: %d writes came back as one byte stream, the boundaries are gone\n",
           N_MESSAGES);
}

static void read_packets(int fd, size_t read_size)
{
    size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
    char buf[PIPE_BUF], *page = malloc(page_size);
    ssize_t n;

    if (page == NULL)
        die_errno("malloc");

    for (int i = 0; i < N_MESSAGES; i++) {
        n = read_once(fd, buf, sizeof buf);
        show("packet", buf, n, sizeof buf);
    }
    printf("[packet] each read() returned exactly one write\n");
    n = read_once(fd, buf, read_size);
    show("packet", buf, n, read_size);
    if ((size_t)n < 100)
        printf(
            "[packet] the 100-byte packet did not fit: the other %zd bytes are discarded, not kept for"
            " the next read\n",
            100 - n);
    else
        printf("[packet] the 100-byte packet fit in the buffer: nothing was lost\n");
    n = read_once(fd, buf, sizeof buf);
    show("packet", buf, n, sizeof buf);
    /* anon_pipe_write() fills one page per slot, so the split is at the page size,
     * whatever PIPE_BUF says; a packet can be larger than buf, hence `page`. */
    printf("[packet] the %d-byte write comes back as packets of ", BIG_WRITE);
    for (ssize_t total = 0; total < BIG_WRITE; total += n) {
        if ((n = read_once(fd, page, page_size)) == 0)
            die("[packet] EOF inside the %d-byte write", BIG_WRITE);
        printf("%s%zd", total > 0 ? " + " : "", n);
    }
    printf(" bytes: a packet holds at most one page (%zu bytes here; PIPE_BUF is %d)\n", page_size,
           PIPE_BUF);
    if (read_once(fd, buf, sizeof buf) == 0)
        printf("[packet] EOF\n");
    free(page);
}

/* With no merging, every write takes a slot of its own in the ring. */
static void count_slots(void)
{
    int fds[2], packets = 0, bytes = 0;

    if (pipe2(fds, O_DIRECT | O_NONBLOCK) == -1)
        die_errno("pipe2 O_DIRECT");
    while (write(fds[1], "x", 1) == 1)
        packets++;
    if (errno != EAGAIN)
        die_errno("write to packet pipe");
    close(fds[0]);
    close(fds[1]);
    if (pipe2(fds, O_NONBLOCK) == -1)
        die_errno("pipe2");
    while (write(fds[1], "x", 1) == 1)
        bytes++;
    close(fds[0]);
    close(fds[1]);
    printf("[packet] 1-byte writes until EAGAIN: %d fit in a packet pipe (one slot each),"
           " %d in a normal pipe (merged into pages)\n",
           packets, bytes);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"read-size", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long read_size = 10;
    int normal[2], packet[2], c;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "r:h", longopts, usage)) != -1)
        if (c == 'r')
            read_size = cli_long(optarg, 1, PIPE_BUF, "--read-size", usage);
    cli_no_operands(argc, argv, usage);

    if (pipe(normal) == -1)
        die_errno("pipe");
    if (pipe2(packet, O_DIRECT) == -1)
        die_errno("pipe2 O_DIRECT (packet mode needs Linux 3.4)");
    printf(
        "[parent] a normal pipe and a pipe2(O_DIRECT) packet pipe; the writer fills both first\n");

    child = fork_or_die();
    if (child == 0) {
        close(normal[0]);
        close(packet[0]);
        run_writer(normal[1], packet[1]);
        exit(0);
    }
    close(normal[1]);
    close(packet[1]);
    if (reap_child(child, "parent") != 0)
        die("the writer failed");
    printf("[parent] the writer has exited, every write is waiting in the pipes; now reading\n");
    read_normal(normal[0]);
    read_packets(packet[0], (size_t)read_size);
    close(normal[0]);
    close(packet[0]);
    count_slots();
    return 0;
}
