/* advanced_coprocess.c - drive a filter through two pipes without deadlocking
 *
 * A coprocess is a filter (tr, sed, cat) whose stdin and stdout are both
 * pipes to us.  "Write all the input, then read the output" deadlocks once
 * the input outgrows what the two pipes *and the filter's own buffers* hold:
 * the filter blocks writing its output, stops reading, and we block writing.
 * A probe measures that threshold first; then the parent polls both ends,
 * moves whichever can move and checks every output byte, as Python's
 * subprocess.communicate() does; bash's coproc leaves this to the script.
 *
 * Guide part: real-world (a coprocess, as subprocess.communicate() drives one).
 * Run: ./advanced_coprocess [--size SIZE] [--filter tr|sed|cat]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "[--size SIZE] [--filter tr|sed|cat]    (SIZE from 1 to 16M, default 256K; filter default tr)";

struct filter {
    const char *name;
    char *argv[4];
    bool upcases; /* tr and sed turn a-z into A-Z; cat copies */
};

static struct filter filters[] = {
    {"tr", {"tr", "a-z", "A-Z", NULL}, true},
    {"sed", {"sed", "-u", "y/abcdefghijklmnopqrstuvwxyz/ABCDEFGHIJKLMNOPQRSTUVWXYZ/", NULL}, true},
    {"cat", {"cat", NULL}, false},
};

static struct filter *find_filter(const char *name)
{
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (strcmp(filters[i].name, name) == 0)
            return &filters[i];
    die_usage(usage, "--filter must be tr, sed or cat, not '%s'", name);
}

/* Lines of text, cut at exactly `size` bytes. */
static char *make_input(size_t size)
{
    char *buf = malloc(size), line[64];
    unsigned n = 0;

    if (buf == NULL)
        die_errno("malloc %zu bytes", size);
    for (size_t off = 0; off < size; n++) {
        size_t len =
            (size_t)snprintf(line, sizeof line, "line %06u: pack my box with five dozen jugs\n", n);

        len = len < size - off ? len : size - off;
        memcpy(buf + off, line, len);
        off += len;
    }
    return buf;
}

/* The size of a new pipe (F_GETPIPE_SZ), 64 KiB unless the sysctls say otherwise. */
static int pipe_capacity(void)
{
    int fds[2], capacity;

    if (pipe(fds) == -1)
        die_errno("pipe");
    if ((capacity = fcntl(fds[0], F_GETPIPE_SZ)) == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    close(fds[0]);
    close(fds[1]);
    return capacity;
}

static pid_t start_filter(struct filter *f, int *to_child, int *from_child)
{
    int in[2], out[2];
    pid_t pid;

    /* O_CLOEXEC on all four ends: dup2() below clears it on fds 0 and 1
     * only, so the filter keeps nothing else.  A filter holding the write
     * end of its own stdin would never see EOF. */
    if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
        die_errno("pipe2");
    pid = fork_or_die();
    if (pid == 0) {
        if (dup2(in[0], STDIN_FILENO) == -1 || dup2(out[1], STDOUT_FILENO) == -1)
            die_errno("dup2");
        execvp(f->argv[0], f->argv);
        die_errno("exec %s", f->argv[0]);
    }
    close(in[0]);
    close(out[1]);
    *to_child = in[1];
    *from_child = out[0];
    return pid;
}

/* How much the filter swallows while nobody reads its output: write until its stdin pipe
 * stays full for 100 ms.  That is where "write everything, then read" deadlocks. */
static size_t probe_threshold(struct filter *f, const char *input, size_t size, int capacity)
{
    int to_child, from_child;
    pid_t pid = start_filter(f, &to_child, &from_child);
    struct pollfd pfd = {.fd = to_child, .events = POLLOUT};
    size_t taken = 0;

    if (set_nonblocking(to_child, true) == -1)
        die_errno("fcntl O_NONBLOCK");
    while (taken < size && poll(&pfd, 1, 100) == 1) {
        ssize_t n = write(to_child, input + taken, size - taken);

        if (n == -1 && errno != EAGAIN)
            die_errno("probe: write to the filter");
        taken += n > 0 ? (size_t)n : 0;
    }
    if (taken < size)
        printf("[probe] %s took %s: %s in its two pipes, the other %s inside %s itself\n", f->name,
               fmt_bytes(taken).s, fmt_bytes(2 * (uint64_t)capacity).s,
               fmt_bytes(taken > 2 * (size_t)capacity ? taken - 2 * (size_t)capacity : 0).s,
               f->name);
    else
        printf("[probe] %s took all %s without being read: less than it can hold\n", f->name,
               fmt_bytes(size).s);
    /* Both ends closed: EOF on its stdin, then SIGPIPE as it writes to the output pipe. */
    close(to_child);
    close(from_child);
    reap_child(pid, "probe");
    return taken;
}

/* Check a chunk of output against what the filter should make of the input. */
static void check_output(const struct filter *f, const char *input, size_t size, size_t at,
                         const char *chunk, size_t n)
{
    if (at + n > size)
        die("the filter wrote more than %zu bytes", size);
    for (size_t i = 0; i < n; i++) {
        char want = f->upcases ? (char)toupper((unsigned char)input[at + i]) : input[at + i];

        if (chunk[i] != want)
            die("output differs from the expected at byte %zu", at + i);
    }
}

/* The whole lesson: never block on one pipe while the other one could move. */
static size_t pump(const struct filter *f, int to_child, int from_child, const char *input,
                   size_t size)
{
    struct pollfd pfd[2] = {{to_child, POLLOUT, 0}, {from_child, POLLIN, 0}};
    size_t sent = 0, got = 0, max_in_flight = 0;
    unsigned rounds = 0, writes = 0, reads = 0, write_stalls = 0;
    char chunk[16384];

    while (pfd[1].fd != -1) {
        int ready = poll(pfd, 2, 2000);

        if (ready == -1 && errno != EINTR)
            die_errno("poll");
        if (ready == 0)
            die("the filter made no progress for 2 s");
        rounds++;
        if (pfd[0].fd != -1 && pfd[0].revents == 0)
            write_stalls++; /* a blocking write() would be stuck right now */
        if (pfd[0].revents & (POLLOUT | POLLERR)) {
            ssize_t w = write(to_child, input + sent, size - sent);

            if (w == -1 && errno != EAGAIN)
                die_errno("write to the filter");
            if (w > 0) {
                sent += (size_t)w;
                writes++;
            }
            if (sent == size) {
                printf(
                    "[parent] all %zu bytes sent by %u write() calls; closing the write end so %s sees EOF\n",
                    size, writes, f->name);
                close(to_child);
                pfd[0].fd = -1; /* poll() ignores negative fds */
            }
        }
        if (pfd[1].revents & (POLLIN | POLLHUP)) {
            ssize_t n = read(from_child, chunk, sizeof chunk);

            if (n == -1 && errno != EAGAIN)
                die_errno("read from the filter");
            if (n == 0) {
                printf("[parent] read() returned 0: EOF, %s closed its stdout after %zu bytes\n",
                       f->name, got);
                close(from_child);
                pfd[1].fd = -1;
            } else if (n > 0) {
                check_output(f, input, size, got, chunk, (size_t)n);
                got += (size_t)n;
                reads++;
            }
        }
        if (sent - got > max_in_flight)
            max_in_flight = sent - got;
    }
    printf("[parent] %u poll() rounds, %u reads; the write end was full in %u of them\n", rounds,
           reads, write_stalls);
    printf("[parent] at most %s were in flight at once (in the two pipes and inside %s)\n",
           fmt_bytes(max_in_flight).s, f->name);
    return got;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"filter", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct filter *f = &filters[0];
    size_t size = 256 * 1024, got, swallowed;
    int to_child, from_child, c, capacity;
    char *input;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "s:f:h", longopts, usage)) != -1) {
        if (c == 's')
            size = (size_t)cli_size(optarg, 1, 16 << 20, "--size", usage);
        else if (c == 'f')
            f = find_filter(optarg);
    }
    cli_no_operands(argc, argv, usage);

    input = make_input(size);
    capacity = pipe_capacity();
    printf("[probe] %s started; writing without reading its output, until its stdin stays full "
           "for 100 ms\n",
           f->name);
    swallowed = probe_threshold(f, input, size, capacity);

    child = start_filter(f, &to_child, &from_child);
    /* A filter that dies early would kill us with SIGPIPE on the next write: ignored only
     * now, in the parent, because exec() keeps an ignored signal ignored in the filters. */
    signal(SIGPIPE, SIG_IGN);
    printf("[parent] started %s as pid %d: its stdin and stdout are pipes of %s each\n", f->name,
           (int)child, fmt_bytes((uint64_t)capacity).s);
    printf("[parent] sending %s; %s\n", fmt_bytes(size).s,
           swallowed < size ? "more than the probe could write unread, so writing it all "
                              "before reading would deadlock"
                            : "the probe wrote it all unread: here even write-all-first works");
    if (set_nonblocking(to_child, true) == -1 || set_nonblocking(from_child, true) == -1)
        die_errno("fcntl O_NONBLOCK");

    got = pump(f, to_child, from_child, input, size);
    if (got != size)
        die("%s returned %zu bytes, expected %zu", f->name, got, size);
    printf("[parent] output matches: %zu bytes, %s\n", got,
           f->upcases ? "every a-z turned into A-Z" : "identical to the input");
    free(input);
    if (reap_child(child, "parent") != 0)
        die("%s did not succeed", f->name);
    return 0;
}
