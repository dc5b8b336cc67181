/* basic_selftest.c - a correct program for the harness's own tests.
 *
 * Each mode does one thing right that a case of basic_selftest.expect
 * checks with one of the harness's directives; test_harness.c expects all
 * of them to pass.  It links libc only, so that the harness is tested
 * apart from common/.
 *
 * usage: basic_selftest [cat | copy FILE | records N SIZE | wait | die-on-term
 *                        | stat NAME | rounds N | tmpname | binary] [-h]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "usage: basic_selftest [cat | copy FILE | records N SIZE | wait | die-on-term "                \
    "| stat NAME | rounds N | tmpname | binary] [-h]\n"

static char buf[65536];

static void fail(const char *what)
{
    fprintf(stderr, "basic_selftest: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            fail("write");
        p += w;
        n -= (size_t)w;
    }
}

/* stdin to stdout and, if copy_fd >= 0, to a file too. */
static void copy_stdin(int copy_fd)
{
    ssize_t n;

    while ((n = read(0, buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            fail("read");
        write_all(1, buf, (size_t)n);
        if (copy_fd >= 0)
            write_all(copy_fd, buf, (size_t)n);
    }
}

static void records(long n, long size)
{
    (void)getpid(); /* a short call: strace pads its result to a column */
    memset(buf, 'r', sizeof buf);
    buf[size - 1] = '\n';
    for (long i = 0; i < n; i++)
        write_all(1, buf, (size_t)size);
}

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static void wait_for_term(void)
{
    struct sigaction sa = {.sa_handler = on_term};
    sigset_t term, old;

    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);
    sigaction(SIGTERM, &sa, NULL);
    printf("[selftest] waiting for SIGTERM\n");
    fflush(stdout);
    while (!got_term)
        sigsuspend(&old);
    printf("[selftest] got SIGTERM\n");
}

static void stat_name(const char *name)
{
    struct stat st;

    if (stat(name, &st) == -1)
        fail(name);
    printf("[selftest] %s is a %s of %lld bytes, mode %04o\n", name,
           S_ISFIFO(st.st_mode)  ? "fifo"
           : S_ISDIR(st.st_mode) ? "dir"
                                 : "file",
           (long long)st.st_size, (unsigned)(st.st_mode & 07777));
}

static void usage_error(const char *what)
{
    fprintf(stderr, "basic_selftest: %s\n" USAGE, what);
    exit(2);
}

int main(int argc, char *argv[])
{
    const char *mode = argc > 1 ? argv[1] : "";

    if (strcmp(mode, "-h") == 0 || strcmp(mode, "--help") == 0)
        return fputs(USAGE, stdout) == EOF;
    if (argc == 1)
        printf("[selftest] hello\n");
    else if (strcmp(mode, "cat") == 0)
        copy_stdin(-1);
    else if (strcmp(mode, "copy") == 0 && argc == 3) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd == -1)
            fail(argv[2]);
        copy_stdin(fd);
        close(fd);
    } else if (strcmp(mode, "records") == 0 && argc == 4 && atol(argv[3]) > 0 &&
               atol(argv[3]) <= (long)sizeof buf)
        records(atol(argv[2]), atol(argv[3]));
    else if (strcmp(mode, "wait") == 0)
        wait_for_term();
    else if (strcmp(mode, "die-on-term") == 0) {
        printf("[selftest] pausing\n");
        fflush(stdout);
        pause();
    } else if (strcmp(mode, "stat") == 0 && argc == 3)
        stat_name(argv[2]);
    else if (strcmp(mode, "rounds") == 0 && argc >= 3)
        printf("[selftest] rounds %s%s\n", argv[argc - 1], argc > 3 ? " (light)" : "");
    else if (strcmp(mode, "tmpname") == 0)
        printf("[selftest] TMPDIR=%s\n", getenv("TMPDIR"));
    else if (strcmp(mode, "binary") == 0)
        write_all(1, "\x00\xff\x01\n", 4);
    else
        usage_error(mode[0] == '-' ? "unknown option" : "unknown mode");
    return fflush(stdout) == EOF ? 1 : 0;
}
