/* advanced_abstract_socket.c - an abstract-namespace UNIX socket: a name with no file
 *
 * A sun_path that starts with a NUL byte names a socket in the abstract namespace (Linux
 * only): nothing appears in the file system, so there is no stale file to remove and no
 * directory to choose, and the name disappears when the last descriptor of the socket is
 * closed.  The name is the bytes after the NUL, as many as the address length says (not a C
 * string: pass offsetof(sun_path) + 1 + length).  Abstract names belong to the network
 * namespace and have no permissions: any process in it may connect, so check who connects
 * (advanced_peer_credentials) before trusting it.
 * Guide part: advanced (UNIX sockets: the abstract namespace).
 * Run: ./advanced_abstract_socket
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char usage[] = "";

/* "\0name": returns the exact address length, with no trailing NUL counted. */
static socklen_t abstract_address(struct sockaddr_un *addr, const char *name)
{
    size_t len = strlen(name);

    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (len + 1 > sizeof addr->sun_path)
        die("abstract name too long");
    memcpy(addr->sun_path + 1, name, len); /* sun_path[0] stays '\0' */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/* The line of /proc/net/unix that shows `name` (abstract names appear with an '@'). */
static bool listed_in_proc(const char *name)
{
    FILE *f = fopen("/proc/net/unix", "re");
    char line[512], wanted[128];
    bool found = false;

    if (f == NULL)
        die_errno("open /proc/net/unix");
    snprintf(wanted, sizeof wanted, " @%s\n", name);
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strlen(line) >= strlen(wanted) &&
                strcmp(line + strlen(line) - strlen(wanted), wanted) == 0;
    fclose(f);
    return found;
}

static int try_connect(const struct sockaddr_un *addr, socklen_t len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die_errno("socket");
    if (connect(fd, (const struct sockaddr *)addr, len) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr;
    socklen_t len;
    char name[64], reply[64];
    int listener, client, conn, again;
    ssize_t n;

    setvbuf(stdout, NULL, _IOLBF, 0);
    cli_no_options(argc, argv, usage);

    /* The pid keeps two copies apart: abstract names are shared by the network namespace. */
    snprintf(name, sizeof name, "advanced_abstract_socket.%d", (int)getpid());
    len = abstract_address(&addr, name);
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, len) == -1 ||
        listen(listener, 4) == -1)
        die_errno("bind abstract name %s", name);
    printf("[server] listening on the abstract name \"\\0%s\" (%u address bytes)\n", name,
           (unsigned)len);
    printf("[server] /proc/net/unix lists @%s: %s\n", name, listed_in_proc(name) ? "yes" : "no");
    printf("[server] a file of that name in the current directory: %s\n",
           access(name, F_OK) == 0 ? "yes" : "none");

    client = try_connect(&addr, len);
    if (client == -1)
        die_errno("connect");
    conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn == -1)
        die_errno("accept");
    if (write_str(client, "hello") == -1 || (n = read(conn, reply, sizeof reply)) <= 0)
        die_errno("send over the abstract socket");
    printf("[server] a client connected by name and sent \"%.*s\"\n", (int)n, reply);
    close(client);
    close(conn);

    printf("[server] closing the listening socket, its last descriptor\n");
    close(listener);
    printf("[server] /proc/net/unix lists @%s: %s\n", name, listed_in_proc(name) ? "yes" : "no");
    if (try_connect(&addr, len) != -1)
        die("connect to a closed abstract name succeeded");
    printf("[client] connect now fails: %s\n", strerror(errno));
    again = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (again == -1 || bind(again, (struct sockaddr *)&addr, len) == -1)
        die_errno("bind the name again");
    printf("[server] bind to the same name succeeds at once: nothing was left to remove\n");
    close(again);
    return 0;
}
