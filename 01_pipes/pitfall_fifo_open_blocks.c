/* pitfall_fifo_open_blocks.c - open() of a FIFO waits for the other end, or fails with ENXIO
 *
 * Data only moves through a FIFO open at both ends, so a plain open() for
 * reading sleeps until someone opens it for writing (and the other way
 * round), and a non-blocking open() for writing fails with ENXIO while nobody
 * reads: two programs that each wait for the other hang at start-up.  Fix:
 * the reader opens with O_NONBLOCK, the writer after it; a server may open
 * O_RDWR (undefined by POSIX, but it works on Linux and most Unixes).
 *
 * Guide part: pitfall (FIFO open rules, fifo(7)).
 * Run: ./pitfall_fifo_open_blocks [--fixed]
 */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

enum { TIMER_MS = 300 };

static void on_alarm(int sig)
{
    (void)sig; /* its only job: make the blocked open() return */
}

static void arm_timer(unsigned ms)
{
    /* Then every 50 ms: a SIGALRM that lands before open() sleeps is not the last chance. */
    struct itimerval t = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000},
                          .it_interval = {.tv_usec = 50 * 1000}};

    if (setitimer(ITIMER_REAL, &t, NULL) == -1)
        die_errno("setitimer");
}

/* Broken, part 1: a reader that opens first waits for a writer that is not
 * coming.  Without SA_RESTART the timer's SIGALRM makes open() fail with
 * EINTR; with it, the kernel would restart the open and wait on. */
static bool reader_open_blocks(const char *path)
{
    struct sigaction sa = {.sa_handler = on_alarm};
    uint64_t start;
    int fd;

    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) == -1)
        die_errno("sigaction SIGALRM");
    printf("[reader] open(O_RDONLY) with no writer; a %d ms timer bounds the wait\n", TIMER_MS);
    start = now_ns();
    arm_timer(TIMER_MS);
    fd = open(path, O_RDONLY);
    arm_timer(0);
    if (fd != -1) {
        close(fd);
        return false;
    }
    if (errno != EINTR)
        die_errno("open %s", path);
    printf("[reader] open() blocked for %s: no writer (SIGALRM ended it with EINTR)\n",
           fmt_duration((double)elapsed_ns(start)).s);
    return true;
}

/* Broken, part 2: a writer that must not block gets ENXIO instead. */
static bool writer_gets_enxio(const char *path)
{
    int fd;

    printf("[writer] open(O_WRONLY | O_NONBLOCK) with no reader\n");
    if ((fd = open(path, O_WRONLY | O_NONBLOCK)) != -1) {
        close(fd);
        return false;
    }
    if (errno != ENXIO)
        die_errno("open %s", path);
    printf("[writer] open(O_WRONLY | O_NONBLOCK) failed with ENXIO (%s): no reader has it open\n",
           strerror(errno));
    return true;
}

static noreturn void run_writer(const char *path)
{
    static const char msg[] = "hello through the FIFO";
    int fd = open(path, O_WRONLY | O_NONBLOCK); /* the very call that failed */

    if (fd == -1)
        die_errno("[writer] open %s", path);
    printf("[writer] open(O_WRONLY | O_NONBLOCK) succeeded: a reader exists, so no ENXIO\n");
    if (write(fd, msg, sizeof msg - 1) != (ssize_t)sizeof msg - 1) /* small: atomic */
        die_errno("write");
    close(fd);
    exit(0);
}

/* Fixed: the reader opens without waiting, the writer opens after it. */
static void reader_first_writer_second(const char *path)
{
    char buf[PIPE_BUF];
    struct pollfd pfd;
    uint64_t start = now_ns();
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    ssize_t n;
    pid_t writer;

    if (fd == -1)
        die_errno("open %s", path);
    printf("[reader] open(O_RDONLY | O_NONBLOCK) returned fd %d after %s: no wait\n", fd,
           fmt_duration((double)elapsed_ns(start)).s);
    if (set_nonblocking(fd, false) == -1)
        die_errno("fcntl F_SETFL");
    printf("[reader] cleared O_NONBLOCK, so later reads wait for data as usual\n");
    if ((writer = fork_or_die()) == 0) {
        close(fd); /* the writer never reads */
        run_writer(path);
    }
    /* Linux reports POLLHUP on a FIFO only after a writer has come and gone
     * (fs/pipe.c, pipe_poll), so poll() waits for the writer to arrive. */
    printf("[reader] waiting in poll(): read() before any writer opens would return 0 (EOF)\n");
    pfd = (struct pollfd){.fd = fd, .events = POLLIN};
    if (poll(&pfd, 1, 2000) != 1)
        die("[reader] no data within 2 s");
    while ((n = read(fd, buf, sizeof buf)) > 0)
        printf("[reader] read %zd bytes: \"%.*s\"\n", n, (int)n, buf);
    if (n == -1)
        die_errno("read");
    printf("[reader] read() returned 0: EOF, the writer closed its end\n");
    close(fd);
    if (reap_child(writer, "reader") != 0)
        die("the writer failed");
}

/* Fixed, the server's way: O_RDWR makes the opener its own writer, so it
 * neither waits nor ever sees EOF.  POSIX leaves O_RDWR on a FIFO undefined;
 * Linux and most Unixes allow it, strictly portable code uses the order above. */
static void server_opens_rdwr(const char *path)
{
    uint64_t start = now_ns();
    int fd = open(path, O_RDWR);

    if (fd == -1)
        die_errno("open %s O_RDWR", path);
    printf("[server] open(O_RDWR) with no peer returned fd %d after %s (undefined by POSIX; "
           "Linux and most Unixes allow it)\n",
           fd, fmt_duration((double)elapsed_ns(start)).s);
    close(fd);
}

int main(int argc, char *argv[])
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    bool fixed;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    make_temp_dir(dir, sizeof dir, "fifo_open");
    snprintf(path, sizeof path, "%s/demo.fifo", dir);
    mkfifo_registered(path);
    printf("[parent] created FIFO %s; nobody has it open yet\n", path);

    if (!fixed) {
        if (!reader_open_blocks(path))
            die("open(O_RDONLY) did not block: the symptom did not show");
        if (!writer_gets_enxio(path))
            die("open(O_WRONLY | O_NONBLOCK) succeeded: the symptom did not show");
        printf("[parent] run with --fixed to open the FIFO in the right order\n");
        return 0;
    }
    reader_first_writer_second(path);
    server_opens_rdwr(path);
    printf("[parent] no open() blocked and none failed with ENXIO\n");
    return 0;
}
