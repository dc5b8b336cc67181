/* advanced_accept_mutex.c - Apache httpd's accept mutex: prefork children take turns in accept()
 *
 * Real-world pattern: the prefork MPM of Apache httpd runs a pool of child processes that
 * all inherit the same listening sockets.  Where accept() must be serialised (several
 * listeners watched with select/poll, or an old kernel's thundering herd), each child takes
 * the "mpm-accept" mutex before it accepts and gives it back right after, so exactly one
 * child waits in accept() and the others sleep on the mutex.  Its `Mutex sysvsem` method
 * (APR's proc mutex) is a one-semaphore System V set used with SEM_UNDO, so a child that
 * crashes holding it does not stop the server.  Left out: several listeners and poll(), the
 * scoreboard, graceful restarts, the other mutex methods (fcntl, flock, posixsem, pthread).
 * Here three children serve a UNIX-domain socket; the parent is the client.
 * Guide part: real-world (Apache httpd prefork, Mutex mpm-accept, sysvsem).
 * Run: ./advanced_accept_mutex [--requests N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHILDREN 3

static const char usage[] = "[--requests N]    (N from 1 to 1000)";

struct scoreboard {
    atomic_int in_accept, max_in_accept;
    atomic_int served[CHILDREN];
};

static int mutex_semid;

static void accept_mutex(int delta)
{
    /* SEM_UNDO, as APR's sysvsem mutex does: a child killed holding it gives it back. */
    struct sembuf op = {.sem_num = 0, .sem_op = (short)delta, .sem_flg = SEM_UNDO};

    while (semop(mutex_semid, &op, 1) == -1)
        if (errno != EINTR)
            die_errno("semop accept mutex");
}

static void note_accepting(struct scoreboard *sb)
{
    int now = atomic_fetch_add(&sb->in_accept, 1) + 1, max = atomic_load(&sb->max_in_accept);

    while (now > max && !atomic_compare_exchange_weak(&sb->max_in_accept, &max, now))
        ;
}

/* One prefork child: lock, accept, unlock, serve; a "quit" request ends it. */
static noreturn void child_loop(int listen_fd, struct scoreboard *sb, int id)
{
    char request[64], reply[96];

    for (;;) {
        ssize_t n;
        int conn;

        accept_mutex(-1);
        note_accepting(sb);
        conn = accept(listen_fd, NULL, NULL);
        atomic_fetch_sub(&sb->in_accept, 1);
        accept_mutex(+1); /* the next child may accept while we serve */
        if (conn == -1)
            die_errno("accept");
        n = read(conn, request, sizeof request - 1);
        if (n <= 0)
            die("child %d: no request", id);
        request[n] = '\0';
        snprintf(reply, sizeof reply, "child %d served %s", id, request);
        if (write_str(conn, reply) == -1)
            die_errno("write reply");
        close(conn);
        if (strcmp(request, "quit") == 0)
            break;
        atomic_fetch_add(&sb->served[id], 1);
    }
    close(listen_fd);
    exit(0);
}

static struct sockaddr_un address_of(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof addr.sun_path)
        die("socket path too long: %s", path);
    memcpy(addr.sun_path, path, strlen(path) + 1);
    return addr;
}

static int listen_on(const char *path)
{
    struct sockaddr_un addr = address_of(path);
    sigset_t saved;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die_errno("socket");
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the socket file */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("bind %s", path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path");
    stop_signals_release(&saved);
    if (listen(fd, 16) == -1)
        die_errno("listen");
    return fd;
}

/* One client request: connect, send, print the reply. */
static void request(const char *path, const char *what, bool narrate)
{
    struct sockaddr_un addr = address_of(path);
    char reply[96];
    ssize_t n;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        die_errno("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1)
        die_errno("connect %s", path);
    if (write_str(fd, what) == -1)
        die_errno("write request");
    shutdown(fd, SHUT_WR);
    n = read_full(fd, reply, sizeof reply - 1);
    if (n <= 0)
        die("no reply to %s", what);
    reply[n] = '\0';
    if (narrate)
        printf("[client] %s\n", reply);
    close(fd);
}

static void show_children(const pid_t *pids)
{
    for (int i = 0; i < CHILDREN; i++) {
        char wchan[64];

        if (proc_wchan(pids[i], wchan, sizeof wchan) == -1 || wchan[0] == '\0')
            strcpy(wchan, "(not shown)");
        printf("[parent] child %d sleeps in %s\n", i, wchan);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"requests", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char dir[256], path[300], what[32];
    pid_t pids[CHILDREN], parent = getpid();
    struct scoreboard *sb;
    long requests = 12;
    int listen_fd, c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "n:h", longopts, usage)) != -1)
        requests = cli_long(optarg, 1, 1000, "--requests", usage);
    cli_no_operands(argc, argv, usage);

    sb = mmap(NULL, sizeof *sb, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED)
        die_errno("mmap");
    make_temp_dir(dir, sizeof dir, "advanced_accept_mutex");
    snprintf(path, sizeof path, "%s/httpd.sock", dir);
    listen_fd = listen_on(path);
    mutex_semid = sysv_sem_create(1, (const unsigned short[]){1}); /* one semaphore, value 1 */
    printf("[parent] listening on %s; accept mutex: System V set %d, value 1\n", path, mutex_semid);

    for (int i = 0; i < CHILDREN; i++)
        if ((pids[i] = fork_or_die()) == 0) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
                _exit(1);
            child_loop(listen_fd, sb, i);
        }
    while (semctl(mutex_semid, 0, GETNCNT) < CHILDREN - 1 || atomic_load(&sb->in_accept) != 1)
        sleep_ms(1);
    sleep_ms(20); /* from "about to accept" into accept() itself */
    printf("[parent] idle server: %d child in accept(), GETNCNT = %d asleep on the mutex\n",
           atomic_load(&sb->in_accept), semctl(mutex_semid, 0, GETNCNT));
    show_children(pids);

    for (long r = 1; r <= requests; r++) {
        snprintf(what, sizeof what, "request %ld", r);
        request(path, what, r <= 3 || r == requests);
    }
    for (int i = 0; i < CHILDREN; i++)
        request(path, "quit", false);
    for (int i = 0; i < CHILDREN; i++)
        if (reap_child(pids[i], "parent") != 0)
            die("a child failed");
    for (int i = 0; i < CHILDREN; i++)
        printf("[parent] child %d served %d requests\n", i, atomic_load(&sb->served[i]));
    printf("[parent] most children ever inside accept() at once: %d\n",
           atomic_load(&sb->max_in_accept));
    close(listen_fd);
    if (atomic_load(&sb->max_in_accept) != 1)
        die("the accept mutex let two children accept at once");
    munmap(sb, sizeof *sb);
    return 0;
}
