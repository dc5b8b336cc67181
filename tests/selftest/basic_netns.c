/* basic_netns.c - binds names that parallel cases would share without a network namespace
 * each, for the harness's own test of that isolation (test_harness.c): it counts the other
 * UNIX sockets of its network namespace (/proc/net/unix lists those of the reader's
 * namespace), then binds a fixed abstract UNIX name and a fixed loopback TCP port and holds
 * both for 600 ms, so that its cases, run two at a time, overlap.
 *
 * usage: basic_netns [-h] [--again]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ABSTRACT_NAME "ipc-guide-selftest-netns" /* fixed on purpose */
#define PORT 47613

static const char usage[] = "usage: basic_netns [-h] [--again]\n";

static int other_unix_sockets(void)
{
    FILE *fp = fopen("/proc/net/unix", "r");
    char line[512];
    int n = -1; /* the header */

    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof line, fp) != NULL)
        n++;
    fclose(fp);
    return n;
}

static int bind_abstract(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memcpy(a.sun_path + 1, ABSTRACT_NAME, strlen(ABSTRACT_NAME));
    if (fd == -1 || bind(fd, (struct sockaddr *)&a,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                     strlen(ABSTRACT_NAME))) == -1) {
        printf("[netns] bind @%s: %s\n", ABSTRACT_NAME, strerror(errno));
        return -1;
    }
    return fd;
}

static int bind_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(PORT)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof a) == -1 || listen(fd, 1) == -1) {
        printf("[netns] bind 127.0.0.1:%d: %s\n", PORT, strerror(errno));
        return -1;
    }
    return fd;
}

int main(int argc, char *argv[])
{
    struct timespec hold = {.tv_sec = 0, .tv_nsec = 600 * 1000 * 1000};
    int unix_fd, tcp_fd;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return fputs(usage, stdout) == EOF;
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "--again") != 0)) {
        fprintf(stderr, "basic_netns: unknown option %s\n%s", argv[1], usage);
        return 2;
    }
    printf("[netns] %d other UNIX sockets in this network namespace\n", other_unix_sockets());
    unix_fd = bind_abstract();
    tcp_fd = bind_port();
    if (unix_fd == -1 || tcp_fd == -1)
        return 1;
    printf("[netns] bound @%s and 127.0.0.1:%d\n", ABSTRACT_NAME, PORT);
    fflush(stdout);
    nanosleep(&hold, NULL);
    close(unix_fd);
    close(tcp_fd);
    return 0;
}
