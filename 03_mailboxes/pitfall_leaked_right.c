/* pitfall_leaked_right.c - a send right leaked into a helper keeps "no senders" from ever coming
 *
 * A server gives a client the only send right to a session port and frees the session
 * when the port reports no senders.  But it also starts a helper with fork() + exec(), and
 * the send right, made without close-on-exec (as a plain socketpair() makes it), goes
 * along: the helper never uses it, yet it is a sender, so after the client leaves the
 * port never reads end-of-file.  The broken mode waits 300 ms, finds the culprit in
 * /proc/PID/fd, kills the helper, and the notification arrives at once.  --fixed keeps
 * O_CLOEXEC (the module's default), so exec() drops the right.
 * Guide part: pitfall (rights and fork/exec: close what a child must not hold).
 * Run: ./pitfall_leaked_right [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { NO_SENDERS_WAIT_MS = 300 };

/* The helper: any program the server runs.  It knows nothing of the port. */
static pid_t start_helper(void)
{
    pid_t pid = fork_or_die();

    if (pid == 0) {
        execlp("sleep", "sleep", "10", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Which descriptors of `pid` are the socket with inode `ino`?  What `ls -l /proc/PID/fd`
 * shows by eye: the same socket:[inode]. */
static int show_holders(pid_t pid, ino_t ino)
{
    char link[64], target[64], expect[64];
    int found = 0;

    snprintf(expect, sizeof expect, "socket:[%lu]", (unsigned long)ino);
    for (int fd = 0; fd < 64; fd++) {
        ssize_t n;

        snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)pid, fd);
        if ((n = readlink(link, target, sizeof target - 1)) <= 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, expect) == 0) {
            printf("[server] culprit: helper %d holds fd %d -> %s, the session's send end\n",
                   (int)pid, fd, target);
            found++;
        }
    }
    return found;
}

static void run_client(struct mb_port *session, mb_send_t right)
{
    struct mb_msg m;

    mb_port_destroy(session); /* the client holds only its send right */
    printf("[client] sending one message, then closing my send right and exiting\n");
    if (mb_msg_text(&m, 1, 1, "hello, and goodbye") == -1 || mb_send(right, &m, 1000) == -1)
        die_errno("client: mb_send");
    mb_send_release(&right);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct mb_port *session;
    mb_send_t right;
    struct mb_msg m;
    struct stat send_end;
    pid_t client, helper;
    bool fixed;
    int r;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if ((session = mb_port_create(8, &right)) == NULL)
        die_errno("mb_port_create");
    /* THE BUG: a send right without FD_CLOEXEC, as socketpair() without SOCK_CLOEXEC or a
     * dup() makes it.  The fix is to leave the flag on (mailbox.h sets it). */
    if (!fixed && fcntl(right.fd, F_SETFD, 0) == -1)
        die_errno("fcntl F_SETFD");
    if (fstat(right.fd, &send_end) == -1)
        die_errno("fstat");
    printf("[server] session port: send right fd %d, close-on-exec %s\n", right.fd,
           (fcntl(right.fd, F_GETFD) & FD_CLOEXEC) ? "on" : "off");

    helper = start_helper();
    printf("[server] started helper %d (fork + exec of sleep)\n", (int)helper);
    if ((client = fork_or_die()) == 0)
        run_client(session, right);
    mb_send_release(&right); /* the server keeps no send right of its own */
    printf("[server] gave the client the send right and released mine\n");

    if (mb_receive(session, &m, 1000) != 1)
        die_errno("receive the client's message");
    printf("[server] client says \"%s\"\n", (char *)m.payload);
    reap_child(client, "server");

    r = mb_receive(session, &m, NO_SENDERS_WAIT_MS);
    if (r == -1 && errno != ETIMEDOUT)
        die_errno("mb_receive");
    if (r == 0) {
        printf("[server] no senders: the client's session is freed\n");
    } else {
        printf("[server] no \"no senders\" within %d ms, though the client is gone\n",
               NO_SENDERS_WAIT_MS);
        if (show_holders(helper, send_end.st_ino) == 0)
            printf("[server] (no culprit found in /proc)\n");
    }
    printf("[server] stopping the helper\n");
    kill(helper, SIGTERM);
    reap_child(helper, "server");
    if (r != 0) {
        if (mb_receive(session, &m, 1000) != 0)
            die("still no end-of-file after the helper died");
        printf("[server] no senders, the moment the helper died: its copy was the last\n");
    }
    mb_port_destroy(session);
    if ((r == 0) != fixed)
        die(fixed ? "the fixed mode saw no end-of-file" : "the broken mode saw no leak");
    return 0;
}
