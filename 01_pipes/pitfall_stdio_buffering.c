/* pitfall_stdio_buffering.c - a coprocess that never answers: its stdout is fully buffered
 *
 * stdio flushes a stream at each newline only when it is a terminal; on a
 * pipe it waits until a 4 KiB buffer is full.  A filter that answers with
 * printf() keeps its reply in its own memory while the parent waits on an
 * empty pipe.  --fixed: the child makes its stream line-buffered (fflush()
 * after each reply works too); for a program you cannot change, stdbuf -oL.
 * Guide part: pitfall (stdio buffering on pipes).
 * Run: ./pitfall_stdio_buffering [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <ctype.h>
#include <poll.h>
#include <signal.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 300  /* broken mode: far longer than a reply takes */
#define FIXED_TIMEOUT_MS 2000 /* fixed mode: only a bound in case of a busy machine */

static const char usage[] = "[--fixed]";

/* The coprocess: read a line, answer it in upper case, until EOF. */
static noreturn void run_child(int in_fd, int out_fd, bool fixed)
{
    /* In a real coprocess this stream is an exec'd program's stdout, whose
     * stdio sees a pipe (isatty() fails) and picks full buffering.  Our own
     * `stdout` cannot show that: main() made it line-buffered for the
     * narration and the child inherited that choice along with the memory.
     * A fresh FILE on the pipe starts with the same default as a new program. */
    FILE *in = fdopen(in_fd, "r"), *out = fdopen(out_fd, "w");
    char line[256];

    if (in == NULL || out == NULL)
        die_errno("fdopen");
    /* THE FIX: one line, before the first output on the stream. */
    if (fixed && setvbuf(out, NULL, _IOLBF, 0) != 0)
        die("setvbuf on the reply stream failed");
    while (fgets(line, sizeof line, in) != NULL) {
        for (char *p = line; *p != '\0'; p++)
            *p = (char)toupper((unsigned char)*p);
        fprintf(out, "%s", line); /* what printf() does to stdout */
        printf("[child] answered \"%.*s\"; %zu bytes still sit in its stdio buffer "
               "(%s, %zu bytes)\n",
               (int)strcspn(line, "\n"), line, __fpending(out),
               __flbf(out) ? "line-buffered" : "fully buffered", __fbufsize(out));
    }
    printf("[child] EOF on its input: closing its streams and exiting\n");
    fclose(in);
    fclose(out);
    exit(0);
}

/* Send one line and wait a bounded time for the answer. */
static bool ask(int to_child, int from_child, const char *question, int timeout_ms)
{
    struct pollfd p = {.fd = from_child, .events = POLLIN};
    uint64_t start = now_ns();
    char reply[256];
    ssize_t n;
    int ready;

    if (write_str(to_child, question) == -1)
        die_errno("write to the child");
    printf("[parent] sent \"%.*s\", waiting up to %d ms for the reply\n",
           (int)strcspn(question, "\n"), question, timeout_ms);
    ready = poll(&p, 1, timeout_ms);
    if (ready == -1)
        die_errno("poll");
    if (ready == 0)
        return false;
    n = read(from_child, reply, sizeof reply - 1);
    if (n <= 0)
        die("the child closed its output without answering");
    reply[n] = '\0';
    printf("[parent] reply after %s: \"%.*s\"\n", fmt_duration((double)elapsed_ns(start)).s,
           (int)strcspn(reply, "\n"), reply);
    return true;
}

static void show_stuck_reply(int to_child, int from_child, pid_t child)
{
    int queued = 0;

    if (ioctl(from_child, FIONREAD, &queued) == -1)
        die_errno("ioctl FIONREAD");
    printf("[parent] no reply after %d ms: the child's answer is stuck in its stdio buffer\n",
           REPLY_TIMEOUT_MS);
    printf("[parent] FIONREAD on the reply pipe: %d bytes; the kernel never saw the answer\n",
           queued);
    printf("[parent] killing the child: the buffered answer dies with it\n");
    if (kill(child, SIGKILL) == -1)
        die_errno("kill");
    close(to_child);
    close(from_child);
    reap_child(child, "parent");
}

int main(int argc, char *argv[])
{
    static const char *const questions[] = {"hello, coprocess\n", "are you there?\n", "bye\n"};
    int to_child[2], from_child[2];
    bool fixed;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    if (pipe(to_child) == -1 || pipe(from_child) == -1)
        die_errno("pipe");
    child = fork_or_die();
    if (child == 0) {
        /* Holding the write end of its own input, it would never see EOF. */
        close(to_child[1]);
        close(from_child[0]);
        run_child(to_child[0], from_child[1], fixed);
    }
    close(to_child[0]);
    close(from_child[1]);
    printf("[parent] child %d reads lines on one pipe and answers on another, %s\n", (int)child,
           fixed ? "with its reply stream line-buffered (setvbuf _IOLBF)" : "using stdio defaults");

    if (!fixed) {
        if (ask(to_child[1], from_child[0], questions[0], REPLY_TIMEOUT_MS)) {
            printf(
                "[parent] unexpected: the reply arrived although the stream is fully buffered\n");
            kill(child, SIGKILL);
            reap_child(child, "parent");
            return 1;
        }
        show_stuck_reply(to_child[1], from_child[0], child);
        return 0;
    }
    for (size_t i = 0; i < sizeof questions / sizeof questions[0]; i++)
        if (!ask(to_child[1], from_child[0], questions[i], FIXED_TIMEOUT_MS))
            die("no reply after %d ms even with line buffering", FIXED_TIMEOUT_MS);
    printf("[parent] every reply arrived; a program you cannot change gets the same fix from "
           "stdbuf -oL (glibc stdio) or a pseudo-terminal\n");
    close(to_child[1]);
    close(from_child[0]);
    return reap_child(child, "parent") == 0 ? 0 : 1;
}
