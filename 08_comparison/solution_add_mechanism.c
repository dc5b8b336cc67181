/* solution_add_mechanism.c - a mechanism the benchmark lacks: a pipe in packet mode
 *
 * Exercise 2 (advanced): carry the benchmark's protocol (S bytes out, the same S bytes back,
 * every byte checked) over pipe2(O_DIRECT), where every write() of at most PIPE_BUF (4096)
 * bytes is one packet and every read() returns one packet.  An S-byte message is therefore
 * ceil(S / 4096) packets, each one write() of 4096 bytes but the last, each read() with a
 * 4096-byte buffer: the receiver checks every packet's length, so a lost or merged packet is
 * an error, not wrong data.  --check round-trips the given sizes; --corrupt R makes the
 * child spoil the middle byte of its R-th reply of each size, to show the check works.
 * Guide part: exercise 2 (advanced).
 * Run: ./solution_add_mechanism [--check 1,4096,4097,65536] [--rounds N] [--corrupt R]
 */
#define _GNU_SOURCE /* pipe2(), O_DIRECT */
#include "common.h"
#include "io.h"
#include "proc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PACKET 4096 /* PIPE_BUF: the largest write that stays one packet */
#define MAX_SIZE (1024 * 1024)
#define MAX_SIZES 16

static const char usage[] = "[--check LIST] [--rounds N] [--corrupt R]\n"
                            "    (LIST: comma-separated sizes, 1 to 1M, default 1,4096,4097,65536; "
                            "N: 1 to 1000, default 3)";

static size_t packets(size_t size)
{
    return (size + PACKET - 1) / PACKET;
}

static void send_message(int fd, const unsigned char *buf, size_t size)
{
    for (size_t off = 0; off < size; off += PACKET) {
        size_t len = size - off < PACKET ? size - off : PACKET;

        if (write(fd, buf + off, len) != (ssize_t)len) /* one packet, one write() */
            die_errno("write a packet");
    }
}

/* Reads the packets of one size-byte message; returns false at EOF before its first packet. */
static bool recv_message(int fd, unsigned char *buf, size_t size)
{
    for (size_t off = 0; off < size; off += PACKET) {
        size_t want = size - off < PACKET ? size - off : PACKET;
        ssize_t got = read(fd, buf + off, PACKET); /* a packet pipe returns one packet */

        if (got == -1)
            die_errno("read a packet");
        if (got == 0 && off == 0)
            return false;
        if ((size_t)got != want)
            die("%zu bytes: a packet of %zd bytes, expected %zu", size, got, want);
    }
    return true;
}

static noreturn void run_child(int in, int out, const size_t *sizes, int nsizes, long rounds,
                               long corrupt, unsigned char *buf)
{
    for (int s = 0;; s = (s + 1) % nsizes)
        for (long r = 1; r <= rounds; r++) {
            if (!recv_message(in, buf, sizes[s])) { /* the parent closed its end: done */
                close(in);
                close(out);
                free(buf);
                exit(0);
            }
            if (r == corrupt)
                buf[sizes[s] / 2] ^= 0xff;
            send_message(out, buf, sizes[s]);
        }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"check", required_argument, NULL, 'c'},
                                             {"rounds", required_argument, NULL, 'n'},
                                             {"corrupt", required_argument, NULL, 'x'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    size_t sizes[MAX_SIZES] = {1, PACKET, PACKET + 1, 65536};
    int nsizes = 4, opt, request[2], reply[2];
    long rounds = 3, corrupt = 0;
    unsigned char *out, *in;
    pid_t child;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'n') {
            rounds = cli_long(optarg, 1, 1000, "--rounds", usage);
        } else if (opt == 'x') {
            corrupt = cli_long(optarg, 1, 1000, "--corrupt", usage);
        } else {
            char *list = optarg, *item;

            for (nsizes = 0; (item = strsep(&list, ",")) != NULL; nsizes++) {
                const char *suffix = item + strspn(item, "0123456789");

                if (nsizes == MAX_SIZES)
                    die_usage(usage, "--check: at most %d sizes", MAX_SIZES);
                if (*suffix != '\0' && strcmp(suffix, "K") != 0 && strcmp(suffix, "M") != 0)
                    die_usage(usage, "--check: '%s' is not digits with an optional K or M", item);
                sizes[nsizes] = (size_t)cli_size(item, 1, MAX_SIZE, "--check", usage);
            }
        }
    }
    cli_no_operands(argc, argv, usage);

    out = aligned_alloc(4096, MAX_SIZE);
    in = aligned_alloc(4096, MAX_SIZE);
    if (out == NULL || in == NULL)
        die_errno("aligned_alloc");
    if (pipe2(request, O_DIRECT) == -1 || pipe2(reply, O_DIRECT) == -1)
        die_errno("pipe2(O_DIRECT)");
    child = fork_or_die();
    if (child == 0) {
        close(request[1]);
        close(reply[0]);
        free(out);
        run_child(request[0], reply[1], sizes, nsizes, rounds, corrupt, in);
    }
    close(request[0]);
    close(reply[1]);
    for (int s = 0; s < nsizes; s++) {
        for (long r = 1; r <= rounds; r++) {
            for (size_t i = 0; i < sizes[s]; i++)
                out[i] = (unsigned char)(i * 13 + (size_t)r * 7 + (size_t)s);
            send_message(request[1], out, sizes[s]);
            if (!recv_message(reply[0], in, sizes[s]))
                die("%zu bytes: the child closed its end", sizes[s]);
            for (size_t i = 0; i < sizes[s]; i++)
                if (in[i] != out[i]) {
                    close(request[1]); /* the child's EOF: it ends before we report */
                    close(reply[0]);
                    reap_quietly(child);
                    die("%zu bytes: round trip %ld: reply differs at byte %zu", sizes[s], r, i);
                }
        }
        printf("[check] %zu bytes: ok, %zu packets each way\n", sizes[s], packets(sizes[s]));
    }
    close(request[1]);
    close(reply[0]);
    if (reap_quietly(child) != 0)
        die("the child failed");
    printf("[check] packet-pipe: all sizes round-tripped\n");
    free(out);
    free(in);
    return 0;
}
