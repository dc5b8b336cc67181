/* solution_privsep_open.c - exercise 4: privilege separation with descriptor passing
 *
 * The parent is the broker: the only process that opens files.  The child is the worker:
 * it reads path names from standard input, asks the broker for each over a socketpair, and
 * gets back either an open descriptor (SCM_RIGHTS) or the reason for a refusal.  The broker
 * applies a policy first: relative paths without "..", regular files only.  Where the kernel
 * offers Landlock (Linux 5.13+, unprivileged), the worker also gives up every file-system
 * access for itself, so a bug in it cannot open anything: it has only what the broker sends.
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_privsep_open < list-of-paths   (one path per line)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PATH_LEN 1024

static const char usage[] = "";

/* The broker's answer: one status byte ('F' with a descriptor, 'E' with an error text). */
static void send_answer(int sock, int fd, const char *error)
{
    char tag = fd >= 0 ? 'F' : 'E';
    struct iovec iov[2] = {{&tag, 1}, {(void *)error, error != NULL ? strlen(error) + 1 : 0}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = error != NULL ? 2 : 1};

    if (fd >= 0) {
        struct cmsghdr *cmsg;

        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof fd);
        memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    }
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) == -1)
        die_errno("sendmsg to the worker");
}

/* The policy, then the open: returns a descriptor, or -1 with *error set. */
static int broker_open(const char *path, const char **error)
{
    struct stat st;
    int fd;

    if (path[0] == '/' || strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 ||
        strstr(path, "/../") != NULL ||
        (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0)) {
        *error = "refused by the broker";
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        *error = strerror(errno);
        return -1;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        close(fd);
        *error = "not a regular file";
        return -1;
    }
    return fd;
}

static void run_broker(int sock)
{
    char path[MAX_PATH_LEN + 1];
    long requests = 0;
    ssize_t n;

    /* SOCK_SEQPACKET: one request per recv(), the worker's close shows as 0. */
    while ((n = recv(sock, path, MAX_PATH_LEN, 0)) > 0) {
        const char *error = NULL;
        int fd;

        path[n] = '\0';
        fd = broker_open(path, &error);
        send_answer(sock, fd, error);
        requests++;
        if (fd >= 0)
            close(fd); /* the worker holds its own reference now */
    }
    if (n == -1)
        die_errno("recv from the worker");
    if (requests == 0) /* stdout holds only results otherwise: the graded format */
        printf("[broker] no request came: give the worker paths on standard input, one per "
               "line\n");
}

/* Landlock: forbid this process every file-system access the kernel can restrict. */
static bool restrict_worker(void)
{
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                             LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_EXECUTE};
    long ruleset;
    bool done;

#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
    return false; /* LeakSanitizer reads /proc at exit: Landlock would make it fail */
#endif
#endif
    ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);

    if (ruleset == -1)
        return false; /* ENOSYS or EOPNOTSUPP: no Landlock on this kernel */
    done = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
           syscall(SYS_landlock_restrict_self, (int)ruleset, 0) == 0;
    close((int)ruleset);
    return done;
}

static void report_file(const char *path, int fd)
{
    static unsigned char buf[65536];
    uint64_t hash = 0xcbf29ce484222325u, total = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            hash = (hash ^ buf[i]) * 0x100000001b3u;
        total += (uint64_t)n;
    }
    if (n == -1)
        printf("%s: error: %s\n", path, strerror(errno));
    else
        printf("%s: %llu bytes, fnv1a64 0x%016llx\n", path, (unsigned long long)total,
               (unsigned long long)hash);
    close(fd);
}

/* One request: the path out, the answer (a descriptor or an error text) back. */
static void ask_broker(int sock, const char *path)
{
    char tag_and_error[256 + 1] = "";
    struct iovec iov = {tag_and_error, sizeof tag_and_error - 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cmsg;
    int fd = -1;

    if (send(sock, path, strlen(path), MSG_NOSIGNAL) == -1)
        die_errno("send to the broker");
    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
        die("the broker did not answer");
    cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg != NULL && cmsg->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
    if (tag_and_error[0] == 'F' && fd >= 0)
        report_file(path, fd);
    else
        printf("%s: error: %s\n", path, tag_and_error + 1);
}

static noreturn void run_worker(int sock)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    bool restricted = restrict_worker();
    long requests = 0;

    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (len > MAX_PATH_LEN)
            printf("%.40s...: error: path too long\n", line);
        else
            ask_broker(sock, line);
        requests++;
    }
    free(line);
    /* Said only without input: otherwise stdout holds exactly the results (the graded form). */
    if (requests == 0)
        printf("[worker] %s\n", restricted
                                    ? "Landlock: this process may open no file at all"
                                    : "Landlock is not available here (or under valgrind or ASan): "
                                      "only the design keeps me from opening files");
    close(sock);
    if (fflush(stdout) == EOF)
        die_errno("write to stdout");
    exit(0);
}

int main(int argc, char *argv[])
{
    int ends[2], status;
    sigset_t saved;
    pid_t worker;

    cli_no_options(argc, argv, usage);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) == -1)
        die_errno("socketpair");
    stop_signals_hold(&saved);
    worker = fork_or_die();
    if (worker == 0) {
        stop_signals_release(&saved);
        close(ends[0]);
        run_worker(ends[1]);
    }
    if (cleanup_add_child(worker) == -1) /* SIGINT/SIGTERM: the worker is stopped too */
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(ends[1]);
    run_broker(ends[0]);
    fflush(stdout);
    close(ends[0]);
    if (waitpid(worker, &status, 0) == -1)
        die_errno("waitpid");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
