/* solution_actor_pipeline.c - exercise 3: three actors in a row, with back-pressure
 *
 * A reader actor cuts standard input into messages, a relay actor passes each one on, a
 * writer actor writes them to standard output.  Each actor is a process; between them
 * are two ports bounded to N messages, so a slow stage stops the one before it (the
 * full port makes mb_send() wait) instead of letting a backlog pile up.  End of input
 * travels as "no senders": the reader lets go of its right, the relay sees end-of-file
 * and lets go of its own, the writer sees end-of-file, reports the byte count and exits.
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_actor_pipeline            (a demonstration on 100000 bytes of its own)
 *      ./solution_actor_pipeline [--capacity N] - <in >out
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--capacity N] [-]    (N messages a port, 1 to 64, default 8)";

enum { DATA = 1, DONE, DEMO_BYTES = 100000 };

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

/* Every actor stops on SIGINT or SIGTERM; no SA_RESTART, so a wait ends in EINTR. */
static void catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop}; /* no SA_RESTART: waits end in EINTR */

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Relay: every message from `in` goes to `out`, unchanged, until no senders. */
static noreturn void run_relay(struct mb_port *in, mb_send_t out)
{
    struct mb_msg m;
    int r = 0;

    catch_stop_signals(); /* a stop signal ends a wait with EINTR: leave cleanly */
    while (!stop_signal && (r = mb_receive(in, &m, MB_FOREVER)) == 1)
        if (mb_send(out, &m, MB_FOREVER) == -1 && !stop_signal)
            die_errno("relay: mb_send");
    if (r == -1 && !stop_signal)
        die_errno("relay: mb_receive");
    mb_send_release(&out); /* the writer's end-of-file */
    mb_port_destroy(in);
    exit(0);
}

/* Writer: writes every message to out_fd, then tells the reader how much it wrote. */
static noreturn void run_writer(struct mb_port *in, int out_fd, mb_send_t to_reader)
{
    uint64_t total = 0;
    struct mb_msg m;
    int r = 0;

    catch_stop_signals();
    while (!stop_signal && (r = mb_receive(in, &m, MB_FOREVER)) == 1) {
        if (write_full(out_fd, m.payload, m.len) == -1)
            die_errno("writer: write");
        total += m.len;
    }
    if (r == -1 && !stop_signal)
        die_errno("writer: mb_receive");
    mb_msg_init(&m, DONE, 0, &total, sizeof total);
    /* EPIPE: the reader was stopped and is no longer waiting for the count. */
    if (!stop_signal && mb_send(to_reader, &m, MB_FOREVER) == -1 && errno != EPIPE)
        die_errno("writer: report");
    mb_send_release(&to_reader);
    mb_port_destroy(in);
    if (out_fd != 1)
        close(out_fd);
    exit(0);
}

/* Reader, in the parent: reads in_fd to the end, one message per read(). */
static uint64_t run_reader(int in_fd, mb_send_t out)
{
    unsigned char buf[MB_MAX_PAYLOAD];
    uint64_t total = 0;
    struct mb_msg m;
    ssize_t n;

    while (!stop_signal && (n = read(in_fd, buf, sizeof buf)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            die_errno("reader: read");
        mb_msg_init(&m, DATA, 0, buf, (size_t)n);
        /* Waits while the relay's port is full; a stop signal ends the wait (EINTR). */
        if (mb_send(out, &m, MB_FOREVER) == -1 && !stop_signal)
            die_errno("reader: mb_send"); /* stopped: the relay may be gone already */
        total += (uint64_t)n;
    }
    return total;
}

static int demo_file(const char *name, bool fill)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd == -1)
        die_errno("memfd_create");
    for (int i = 0; fill && i < DEMO_BYTES; i++) {
        unsigned char byte = (unsigned char)(i * 7 + i / 251);

        if (write_full(fd, &byte, 1) == -1)
            die_errno("write the demo input");
    }
    if (fill && lseek(fd, 0, SEEK_SET) == -1)
        die_errno("lseek");
    return fd;
}

/* Whether the two files hold the same bytes. */
static bool demo_same(int a, int b)
{
    unsigned char x[4096], y[4096];
    off_t at = 0;
    ssize_t n;

    while ((n = pread(a, x, sizeof x, at)) > 0) {
        if (pread(b, y, (size_t)n, at) != n || memcmp(x, y, (size_t)n) != 0)
            return false;
        at += n;
    }
    return n == 0 && pread(b, y, 1, at) == 0;
}

/* Stopped by SIGINT or SIGTERM: the parent lets go of its right, so the actors finish
 * by end-of-file (or by the signal, if it reached them too), reaps them, and dies of
 * the same signal.  No kill(): an actor not yet past its sigaction() would die with
 * its descriptors open. */
static noreturn void stop_all(pid_t relay, pid_t writer, struct mb_port *done, mb_send_t *to_relay)
{
    int sig = stop_signal;

    mb_send_release(to_relay);
    mb_port_destroy(done);
    while (waitpid(relay, NULL, 0) == -1 && errno == EINTR)
        ;
    while (waitpid(writer, NULL, 0) == -1 && errno == EINTR)
        ;
    signal(sig, SIG_DFL);
    raise(sig);
    exit(128 + sig);
}

/* With `-`, stdout carries the data alone: no "reaped" narration. */
static void reap_actor(pid_t pid)
{
    int status = reap_quietly(pid);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("an actor failed: %s", fmt_wait_status(status).s);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"capacity", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long capacity = 8;
    bool demo = true;
    int c, in_fd = 0, out_fd = 1;
    struct mb_port *p1, *p2, *done;
    mb_send_t s1, s2, to_reader;
    uint64_t read_total, written;
    pid_t relay, writer;
    struct mb_msg m;

    while ((c = cli_getopt(argc, argv, "c:h", longopts, usage)) != -1)
        if (c == 'c')
            capacity = cli_long(optarg, 1, 64, "--capacity", usage);
    if (optind < argc && strcmp(argv[optind], "-") == 0) {
        demo = false;
        optind++;
    }
    cli_no_operands(argc, argv, usage);
    if (demo) {
        in_fd = demo_file("pipeline-in", true);
        out_fd = demo_file("pipeline-out", false);
        printf("[pipeline] reader -> relay -> writer, ports of %ld messages, %d bytes of "
               "input\n",
               capacity, DEMO_BYTES);
        fflush(stdout);
    }
    if ((p1 = mb_port_create((unsigned)capacity, &s1)) == NULL ||
        (p2 = mb_port_create((unsigned)capacity, &s2)) == NULL ||
        (done = mb_port_create(1, &to_reader)) == NULL)
        die_errno("mb_port_create");
    if ((relay = fork_or_die()) == 0) {
        if (demo) { /* the demo's files are the reader's and the writer's */
            close(in_fd);
            close(out_fd);
        }
        mb_send_release(&s1);
        mb_send_release(&to_reader);
        mb_port_destroy(p2);
        mb_port_destroy(done);
        run_relay(p1, s2);
    }
    if ((writer = fork_or_die()) == 0) {
        if (demo)
            close(in_fd);
        mb_send_release(&s1);
        mb_send_release(&s2);
        mb_port_destroy(p1);
        mb_port_destroy(done);
        run_writer(p2, out_fd, to_reader);
    }
    mb_send_release(&s2); /* the reader holds only its right to the relay */
    mb_send_release(&to_reader);
    mb_port_destroy(p1);
    mb_port_destroy(p2);
    catch_stop_signals();
    read_total = run_reader(in_fd, s1);
    if (stop_signal)
        stop_all(relay, writer, done, &s1);
    mb_send_release(&s1); /* the relay's end-of-file */
    while (mb_receive(done, &m, MB_FOREVER) != 1)
        if (stop_signal)
            stop_all(relay, writer, done, &s1);
        else if (errno != EINTR)
            die_errno("wait for the writer");
    memcpy(&written, m.payload, sizeof written);
    reap_actor(relay);
    reap_actor(writer);
    mb_port_destroy(done);
    if (written != read_total)
        die("%llu bytes read but %llu written", (unsigned long long)read_total,
            (unsigned long long)written);
    if (!demo) {
        fprintf(stderr, "%s: %llu bytes through 3 actors\n", prog_name(),
                (unsigned long long)written);
        return 0;
    }
    printf("[pipeline] %llu bytes through 3 actors, %s\n", (unsigned long long)written,
           demo_same(in_fd, out_fd) ? "identical" : "DIFFERENT");
    close(in_fd);
    close(out_fd);
    return 0;
}
