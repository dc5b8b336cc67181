/* advanced_tee_by_reference.c - tee(): a pipe duplicated into another by page reference
 *
 * tee() does not read the first pipe: for each of its slots it takes one more reference on
 * the slot's page and puts a copy of the slot (page, offset, length) into the second pipe.
 * Both pipes then hold the same bytes and nothing was consumed.  It moves whole slots, so a
 * second pipe of one page takes one slot's worth; a full output or an empty input is EAGAIN
 * with SPLICE_F_NONBLOCK; both ends must be pipes, and two different ones.  In the kernel:
 * do_tee(), ipipe_prep(), opipe_prep() and link_pipe() in fs/splice.c (Linux-specific; POSIX
 * has no tee).  solution_splice_tee builds tee(1) from this; advanced_splice_zero_copy times
 * vmsplice and splice.
 * Guide part: kernel (zero-copy: fs/splice.c, pipe_buffer page references).
 * Run: ./advanced_tee_by_reference
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DATA (64 * 1024) /* one default pipe's worth: 16 slots of a page */

static const char usage[] = "";

static int held(int read_fd)
{
    int n;

    if (ioctl(read_fd, FIONREAD, &n) == -1)
        die_errno("ioctl FIONREAD");
    return n;
}

/* tee() that may fail as the lesson says: returns its result, errno kept. */
static ssize_t tee_nonblock(int from, int to)
{
    return tee(from, to, INT_MAX, SPLICE_F_NONBLOCK);
}

/* What a tee() that should have failed did: the error's name, or the count it returned. */
static const char *outcome(ssize_t n)
{
    static char text[48];

    if (n == -1)
        return strerrorname_np(errno);
    snprintf(text, sizeof text, "UNEXPECTED success, %zd bytes", n);
    return text;
}

/* Drains a pipe and compares what came out with `want`. */
static bool drains_to(int read_fd, const char *want, size_t len)
{
    char *got = malloc(len);
    bool same;

    if (got == NULL)
        die_errno("malloc");
    if (read_full(read_fd, got, len) != (ssize_t)len)
        die_errno("read from pipe");
    same = memcmp(got, want, len) == 0;
    free(got);
    return same && held(read_fd) == 0;
}

int main(int argc, char *argv[])
{
    int a[2], b[2], small[2], null_fd;
    static char src[DATA];
    ssize_t n;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (char)(i * 2654435761u >> 13);
    if (pipe2(a, O_CLOEXEC) == -1 || pipe2(b, O_CLOEXEC) == -1 || pipe2(small, O_CLOEXEC) == -1)
        die_errno("pipe2");
    /* One page, one slot (round_pipe_size() in fs/pipe.c: a power of two pages). */
    if (fcntl(small[1], F_SETPIPE_SZ, 4096) == -1)
        die_errno("F_SETPIPE_SZ");
    if (write_full(a[1], src, DATA) == -1)
        die_errno("write to pipe A");
    printf("[tee] wrote %d bytes into pipe A: it holds %d\n", DATA, held(a[0]));

    if ((n = tee_nonblock(a[0], b[1])) == -1)
        die_errno("tee A -> B");
    printf("[tee] tee(A, B) = %zd; pipe A still holds %d, pipe B now holds %d: each slot of A "
           "got one more reference, nothing was consumed\n",
           n, held(a[0]), held(b[0]));

    n = tee_nonblock(a[0], small[1]);
    printf("[tee] tee(A, a one-page pipe) = %zd: one slot fits, and a slot of A is one page\n", n);
    n = tee_nonblock(a[0], small[1]);
    printf("[tee] again, into the full one-page pipe: %s (opipe_prep(): full, SPLICE_F_NONBLOCK)\n",
           outcome(n));
    n = tee(a[0], a[1], INT_MAX, SPLICE_F_NONBLOCK);
    printf("[tee] tee(A, A): %s (do_tee() wants two different pipes)\n", outcome(n));
    if ((null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
        die_errno("open /dev/null");
    n = tee(a[0], null_fd, INT_MAX, SPLICE_F_NONBLOCK);
    printf("[tee] tee(A, /dev/null): %s (get_pipe_info(): only pipes on both ends)\n", outcome(n));
    close(null_fd);

    printf("[tee] draining: B %s A's bytes, the one-page pipe %s their first 4096\n",
           drains_to(b[0], src, DATA) ? "holds exactly" : "DIFFERS from",
           drains_to(small[0], src, 4096) ? "holds exactly" : "DIFFERS from");
    printf("[tee] and A itself, read last: %s\n",
           drains_to(a[0], src, DATA) ? "all its bytes, untouched by the tee() calls" : "DAMAGED");

    n = tee_nonblock(a[0], b[1]);
    printf("[tee] tee from the empty pipe A, its writer still open: %s (ipipe_prep())\n",
           outcome(n));
    close(a[1]);
    n = tee_nonblock(a[0], b[1]);
    printf("[tee] once A's write end is closed: tee() = %zd, end of file as for read()\n", n);
    for (int i = 0; i < 2; i++) {
        close(b[i]);
        close(small[i]);
    }
    close(a[0]);
    return 0;
}
