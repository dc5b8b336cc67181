/* basic_socketpair.c - socketpair(): a connected pair of sockets between parent and child
 *
 * socketpair() returns two already connected UNIX sockets, with no name anywhere: what a
 * pipe would be if both ends could read and write.  After fork() the parent keeps one end
 * and the child the other, and each sends requests and answers on the same descriptor.
 * Each side closes the end it does not use, so EOF arrives when the other side is done.
 *
 * Guide part: theory (sockets: socketpair, bidirectional channel to a child).
 * Trace: socketpair clone close write wait4
 * Run: ./basic_socketpair [--rounds N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "[--rounds N]    (N from 1 to 100)";

/* The two ends: neither is a "read end" - both read and write. */
enum { PARENT_END, CHILD_END };

/* One line from the socket (the peer writes whole lines with one write each, but a stream
 * does not promise that one read() returns one of them: read byte by byte up to '\n'). */
static ssize_t read_line(int fd, char *buf, size_t size)
{
    size_t len = 0;

    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, 1);

        if (n == -1)
            return -1;
        if (n == 0)
            break;
        if (buf[len++] == '\n')
            break;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

static void say(int fd, const char *role, const char *line)
{
    printf("[%s] sends \"%.*s\"\n", role, (int)strcspn(line, "\n"), line);
    if (write_str(fd, line) == -1)
        die_errno("write to the socket");
}

/* The child: answers each "ping N" with "pong N", then asks one question of its own. */
static noreturn void run_child(int fd)
{
    char line[128], reply[160];
    ssize_t n;

    while ((n = read_line(fd, line, sizeof line)) > 0) {
        line[strcspn(line, "\n")] = '\0';
        printf("[child] got \"%s\"\n", line);
        if (strncmp(line, "ping ", 5) != 0)
            break;
        snprintf(reply, sizeof reply, "pong %s\n", line + 5);
        say(fd, "child", reply);
    }
    if (n == -1)
        die_errno("read from the socket");
    say(fd, "child", "child asks: what is my parent's pid?\n");
    if (read_line(fd, line, sizeof line) <= 0)
        die("no answer from the parent");
    printf("[child] got \"%.*s\" (getppid() says %d)\n", (int)strcspn(line, "\n"), line,
           (int)getppid());
    close(fd);
    exit(0);
}

static void run_parent(int fd, long rounds)
{
    char line[128];

    for (long i = 1; i <= rounds; i++) {
        snprintf(line, sizeof line, "ping %ld\n", i);
        say(fd, "parent", line);
        if (read_line(fd, line, sizeof line) <= 0)
            die("no answer from the child");
        printf("[parent] got \"%.*s\"\n", (int)strcspn(line, "\n"), line);
    }
    say(fd, "parent", "done pinging\n");
    /* Now the other direction: the child asks, the parent answers on the same descriptor. */
    if (read_line(fd, line, sizeof line) <= 0)
        die("no question from the child");
    printf("[parent] got \"%.*s\"\n", (int)strcspn(line, "\n"), line);
    snprintf(line, sizeof line, "it is %d\n", (int)getpid());
    say(fd, "parent", line);
    close(fd);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"rounds", required_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long rounds = 3;
    int ends[2], opt;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        rounds = cli_long(optarg, 1, 100, "--rounds", usage);
    cli_no_operands(argc, argv, usage);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == -1)
        die_errno("socketpair");
    printf("[parent] socketpair: descriptors %d and %d, connected to each other\n",
           ends[PARENT_END], ends[CHILD_END]);
    child = fork_or_die();
    if (child == 0) {
        close(ends[PARENT_END]);
        run_child(ends[CHILD_END]);
    }
    close(ends[CHILD_END]);
    run_parent(ends[PARENT_END], rounds);
    reap_child(child, "parent");
    return 0;
}
