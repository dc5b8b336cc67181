/* pitfall_stale_socket_path.c - a socket file left by a dead server blocks the next bind()
 *
 * bind() of a UNIX socket creates its file and never replaces one: a server killed with
 * SIGKILL (or a crash) cannot unlink its socket, and the restarted server's bind() fails with
 * EADDRINUSE although nobody listens.  The usual quick fix, unlink() before bind(), is worse:
 * it silently steals the name of a server that is still running.  --fixed: if the path is a
 * socket, connect() to it first.  ECONNREFUSED means nobody listens: the file is stale and
 * is removed.  A connection that succeeds means a live server: leave it alone and stop.
 * Guide part: pitfall (stale UNIX socket files).
 * Run: ./pitfall_stale_socket_path [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

/* socket + bind + listen, or -1 with errno from bind(). */
static int try_listen(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), saved;

    if (len == -1)
        die_errno("socket path %s", path);
    if (fd == -1)
        die_errno("socket");
    if (bind(fd, (struct sockaddr *)&addr, len) == -1) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (listen(fd, 4) == -1)
        die_errno("listen");
    return fd;
}

/* The first server: binds, tells the parent, and waits to be killed. */
static pid_t start_first_server(const char *path)
{
    int ready[2];
    pid_t pid;
    char note;

    if (pipe2(ready, O_CLOEXEC) == -1)
        die_errno("pipe");
    pid = fork_or_die();
    if (pid == 0) {
        int fd;

        /* If the parent dies first, nobody would kill this server: the kernel will. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
            die_errno("prctl");
        fd = try_listen(path);

        if (fd == -1)
            die_errno("bind %s", path);
        close(ready[0]);
        if (write(ready[1], "!", 1) != 1)
            die_errno("write");
        close(ready[1]);
        for (;;)
            pause();
    }
    close(ready[1]);
    if (read(ready[0], &note, 1) != 1)
        die("the first server did not start");
    close(ready[0]);
    printf("[server 1] pid %d listening on %s\n", (int)pid, path);
    return pid;
}

/* THE FIX: true if `path` is a socket file that nobody listens on (safe to remove). */
static bool is_stale_socket(const char *path)
{
    struct sockaddr_un addr;
    int len = unix_address(&addr, path);
    struct stat st;
    int probe, rc;

    if (len == -1)
        die_errno("socket path %s", path);
    if (lstat(path, &st) == -1)
        die_errno("lstat %s", path);
    if (!S_ISSOCK(st.st_mode)) {
        printf("[server 2] %s is not a socket: not mine to remove\n", path);
        return false;
    }
    probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe == -1)
        die_errno("socket");
    rc = connect(probe, (struct sockaddr *)&addr, len);
    close(probe);
    if (rc == 0) {
        printf("[server 2] connect() to %s succeeded: a live server owns it, leaving it\n", path);
        return false;
    }
    if (errno != ECONNREFUSED)
        die_errno("connect %s", path);
    printf("[server 2] connect() to %s: ECONNREFUSED, nobody listens: the file is stale\n", path);
    return true;
}

/* The restarted server; returns its listening socket, or -1 when it gave up. */
static int restart(const char *path, bool fixed)
{
    int fd;

    printf("[server 2] bind(%s)\n", path);
    fd = try_listen(path);
    if (fd != -1 || errno != EADDRINUSE) {
        if (fd == -1)
            die_errno("bind %s", path);
        return fd;
    }
    printf("[server 2] bind failed with EADDRINUSE\n");
    if (!fixed || !is_stale_socket(path))
        return -1;
    if (unlink(path) == -1)
        die_errno("unlink %s", path);
    printf("[server 2] removed the stale file; bind(%s) again\n", path);
    fd = try_listen(path);
    if (fd == -1)
        die_errno("bind %s", path);
    return fd;
}

int main(int argc, char *argv[])
{
    char dir[256], path[320];
    bool fixed;
    pid_t first;
    int fd;

    setvbuf(stdout, NULL, _IOLBF, 0);
    fixed = cli_pitfall_fixed(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "pitfall_stale_socket_path");
    snprintf(path, sizeof path, "%s/server.%d.sock", dir, (int)getpid());
    /* Whoever binds it, the socket file in our private directory goes when we exit. */
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path");

    first = start_first_server(path);
    if (fixed) {
        printf("[parent] while server 1 still runs, server 2 starts on the same path\n");
        if (restart(path, fixed) != -1)
            die("server 2 took the path of a live server");
    }
    printf("[parent] killing server 1 with SIGKILL: it cannot remove its socket file\n");
    if (kill(first, SIGKILL) == -1)
        die_errno("kill");
    reap_child(first, "parent");
    printf("[parent] %s is still there: %s\n", path,
           access(path, F_OK) == 0 ? "yes" : "no, removed");

    fd = restart(path, fixed);
    if (fd == -1) {
        printf("[server 2] cannot start: a dead server's file blocks the path\n");
        if (fixed)
            die("the stale file should have been removed");
        return 0;
    }
    printf("[server 2] listening on %s\n", path);
    close(fd);
    if (!fixed)
        die("the bind should have failed over the stale file");
    return 0;
}
