/* pitfall_cloexec_inherit.c - a pipe end leaked into an exec'd helper holds EOF back
 *
 * Descriptors survive exec() unless they are marked close-on-exec.  A program
 * that starts an unrelated helper (here `sleep 10`) while a pipe is open hands
 * the helper a copy of the write end; the reader then never sees EOF after
 * the real writer closes, because the kernel still counts the helper as a
 * writer.  /proc/<pid>/fd shows the copy.  --fixed creates the pipe with
 * pipe2(O_CLOEXEC): exec() closes the helper's copies and EOF comes at once.
 *
 * Guide part: pitfall (descriptor inheritance across exec, close-on-exec).
 * Run: ./pitfall_cloexec_inherit [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { EOF_WAIT_MS = 300 };

static pid_t main_pid, helper_pid;

/* On an error exit the helper must not outlive us (only the main process). */
static void kill_helper(void)
{
    if (getpid() == main_pid && helper_pid > 0)
        kill(helper_pid, SIGKILL);
}

/* A generic "run this program" routine: it knows nothing of our pipe, so it
 * passes every descriptor that is not close-on-exec on to the helper.  The
 * status pipe is O_CLOEXEC itself: EOF on it means the exec has happened. */
static pid_t spawn_helper(void)
{
    int status[2], err;
    pid_t pid;

    if (pipe2(status, O_CLOEXEC) == -1)
        die_errno("pipe2");
    if ((pid = fork_or_die()) == 0) {
        /* The helper must not outlive us, and atexit() does not run if we die
         * of a signal: then the kernel sends it SIGTERM (the setting survives
         * exec).  getppid() catches a parent that died before prctl(). */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) == 0) {
            if (getppid() != main_pid)
                _exit(1);
            execlp("sleep", "sleep", "10", (char *)NULL);
        }
        err = errno;
        (void)!write(status[1], &err, sizeof err); /* (void) alone does not quiet glibc */
        _exit(127);
    }
    close(status[1]);
    if (read(status[0], &err, sizeof err) > 0)
        die_errnum(err, "start the helper `sleep 10`");
    close(status[0]);
    printf("[parent] started helper `sleep 10` as pid %d\n", (int)pid);
    return pid;
}

/* "read" or "write": the access mode in the flags line of /proc/<pid>/fdinfo/<fd>. */
static const char *end_name(pid_t pid, const char *fd)
{
    int flags = proc_fd_flags(pid, (int)strtol(fd, NULL, 10));

    if (flags == -1)
        die_errno("read /proc/%d/fdinfo/%s", (int)pid, fd);
    return (flags & O_ACCMODE) == O_WRONLY ? "write" : "read";
}

/* The kernel's view: which of the helper's descriptors lead to this pipe. */
static int show_helper_fds(pid_t pid, ino_t pipe_ino)
{
    char dir[64], path[PATH_MAX], target[64], want[64];
    struct dirent *e;
    int found = 0;
    DIR *d;

    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)pipe_ino);
    if ((d = opendir(dir)) == NULL)
        die_errno("opendir %s", dir);
    while ((e = readdir(d)) != NULL) {
        ssize_t n;

        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if ((n = readlink(path, target, sizeof target - 1)) == -1)
            continue; /* "." and ".." are not links */
        target[n] = '\0';
        if (strcmp(target, want) == 0 && ++found)
            printf("[parent] %s -> %s: the helper holds a %s end of the pipe\n", path, target,
                   end_name(pid, e->d_name));
    }
    closedir(d);
    if (found == 0)
        printf("[parent] %s has no descriptor of %s: exec() closed them\n", dir, want);
    return found;
}

/* Prints what arrives; true once read() returns 0, false after `ms`. */
static bool read_until_eof(int fd, int ms, uint64_t *waited)
{
    uint64_t start = now_ns();
    char buf[256], *nl;

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int left = ms - (int)(elapsed_ns(start) / 1000000), ready;
        ssize_t n;

        if (left <= 0 || (ready = poll(&pfd, 1, left)) == 0)
            return false;
        if (ready == -1)
            die_errno("poll");
        if ((n = read(fd, buf, sizeof buf)) == -1)
            die_errno("read");
        if (n == 0) {
            *waited = elapsed_ns(start);
            return true;
        }
        nl = memchr(buf, '\n', (size_t)n); /* read() does not NUL-terminate */
        printf("[reader] read %zd bytes: \"%.*s\"\n", n, (int)(nl != NULL ? nl - buf : n), buf);
    }
}

static void stop_helper(void)
{
    printf("[parent] stopping the helper (pid %d) with SIGTERM\n", (int)helper_pid);
    kill(helper_pid, SIGTERM);
    reap_child(helper_pid, "parent");
    helper_pid = 0;
}

int main(int argc, char *argv[])
{
    uint64_t waited = 0;
    struct stat st;
    int fds[2], held;
    pid_t writer;
    bool fixed, eof;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);
    main_pid = getpid();
    atexit(kill_helper);

    /* The fix is one flag.  Without pipe2(), fcntl(fd, F_SETFD, FD_CLOEXEC)
     * sets it afterwards, but another thread may fork and exec in between;
     * posix_spawn() callers can also list the fds to close in file actions. */
    if ((fixed ? pipe2(fds, O_CLOEXEC) : pipe(fds)) == -1)
        die_errno("pipe");
    if (fstat(fds[0], &st) == -1)
        die_errno("fstat");
    printf("[parent] %s made pipe:[%lu]: read end fd %d, write end fd %d\n",
           fixed ? "pipe2(O_CLOEXEC)" : "pipe()", (unsigned long)st.st_ino, fds[0], fds[1]);
    helper_pid = spawn_helper();
    if ((writer = fork_or_die()) == 0) {
        close(fds[0]);
        if (write_str(fds[1], "the only message\n") == -1)
            die_errno("write");
        printf("[writer] wrote its message, closing its write end\n");
        close(fds[1]);
        exit(0);
    }
    close(fds[1]); /* the reader's own copy: closed, as it should be */
    if (reap_child(writer, "parent") != 0)
        die("the writer failed");

    eof = read_until_eof(fds[0], EOF_WAIT_MS, &waited);
    if (fixed) {
        if (!eof)
            die("[reader] still no EOF with O_CLOEXEC");
        printf("[reader] read() returned 0 after %s: EOF at once, nobody else holds the "
               "write end\n",
               fmt_duration((double)waited).s);
        held = show_helper_fds(helper_pid, st.st_ino);
        stop_helper();
        close(fds[0]);
        return held == 0 ? 0 : 1;
    }
    if (eof)
        die("EOF arrived although the helper should hold the write end: no symptom");
    printf("[reader] no EOF within %d ms although the writer closed its end\n", EOF_WAIT_MS);
    if (show_helper_fds(helper_pid, st.st_ino) == 0)
        die("the helper holds no copy of the pipe: no symptom");
    stop_helper();
    if (!read_until_eof(fds[0], 1000, &waited))
        die("[reader] no EOF even after the helper died");
    printf("[reader] read() returned 0 only after the helper died: EOF at last\n");
    close(fds[0]);
    return 0;
}
