/* advanced_mmsg_batching.c - sendmmsg/recvmmsg: many datagrams per system call
 *
 * Small datagrams cost mostly system calls: each sendto()/recv() enters and leaves the kernel
 * for 64 bytes.  sendmmsg() and recvmmsg() (Linux) take an array of messages and move up to
 * that many per call, each still a datagram of its own.  The same N datagrams go over a UNIX
 * datagram socket pair (no loss: a full queue blocks the sender; its length is
 * net.unix.max_dgram_qlen), once one call per datagram and once in batches of 64, with the
 * system calls counted and the time measured: median of 3 runs after a warm-up, buffers
 * page-aligned, not pinned (the scheduler places sender and receiver).
 * Guide part: advanced (performance: batching system calls).
 * Run: ./advanced_mmsg_batching [--datagrams N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "procfs.h"
#include "proc.h"
#include "timing.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 64
#define BATCH 64
#define RUNS 3

static const char usage[] = "[--datagrams N]    (N from 64 to 1000000, a multiple of 64)";

struct result {
    double ns;
    long sender_calls, receiver_calls;
};

/* The receiver child: takes `count` datagrams, reports its number of calls through `report`. */
static noreturn void receive(int fd, long count, bool batched, int report)
{
    char *buf = aligned_alloc(4096, (size_t)BATCH * SIZE);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    long got = 0, calls = 0;

    if (buf == NULL)
        die_errno("aligned_alloc");
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){buf + i * SIZE, SIZE};
        msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    while (got < count) {
        /* MSG_WAITFORONE: block for the first, then take what is queued, up to BATCH. */
        int n = batched ? recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL)
                        : (int)(recv(fd, buf, SIZE, 0) == SIZE);

        if (n < 0)
            die_errno(batched ? "recvmmsg" : "recv");
        got += n;
        calls++;
    }
    if (write(report, &calls, sizeof calls) != sizeof calls)
        die_errno("report");
    close(report);
    close(fd);
    free(buf);
    exit(0);
}

static void send_all(int fd, long count, bool batched, long *calls)
{
    char *buf = aligned_alloc(4096, (size_t)BATCH * SIZE);
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];

    if (buf == NULL)
        die_errno("aligned_alloc");
    memset(buf, 'd', (size_t)BATCH * SIZE);
    for (int i = 0; i < BATCH; i++) {
        iov[i] = (struct iovec){buf + i * SIZE, SIZE};
        msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
    }
    *calls = 0;
    for (long sent = 0; sent < count; (*calls)++) {
        int n = batched ? sendmmsg(fd, msgs, BATCH, 0) : (int)(send(fd, buf, SIZE, 0) == SIZE);

        if (n <= 0)
            die_errno(batched ? "sendmmsg" : "send");
        sent += n;
    }
    free(buf);
}

static struct result run_once(long count, bool batched)
{
    int pair[2], report[2];
    struct result r;
    uint64_t start;
    sigset_t saved;
    pid_t receiver;
    int slot;

    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == -1 ||
        pipe2(report, O_CLOEXEC) == -1)
        die_errno("socketpair/pipe");
    /* Registered before a stop signal can come: a receiver left alone would wait in recv()
     * forever (a datagram socket gets no end of file when its peer closes). */
    stop_signals_hold(&saved);
    receiver = fork_or_die();
    if (receiver == 0) {
        stop_signals_release(&saved);
        close(pair[0]);
        close(report[0]);
        receive(pair[1], count, batched, report[1]);
    }
    slot = cleanup_add_child(receiver);
    if (slot == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(pair[1]);
    close(report[1]);
    start = now_ns();
    send_all(pair[0], count, batched, &r.sender_calls);
    if (read(report[0], &r.receiver_calls, sizeof r.receiver_calls) != sizeof r.receiver_calls)
        die("the receiver did not report");
    r.ns = (double)elapsed_ns(start);
    close(pair[0]);
    close(report[0]);
    reap_quietly(receiver);
    cleanup_forget(slot);
    return r;
}

static int by_time(const void *a, const void *b)
{
    double x = ((const struct result *)a)->ns, y = ((const struct result *)b)->ns;

    return (x > y) - (x < y);
}

static struct result measure(long count, bool batched)
{
    struct result runs[RUNS];

    long warm_up = count / 4 / BATCH * BATCH; /* whole batches */

    run_once(warm_up > 0 ? warm_up : BATCH, batched);
    for (int i = 0; i < RUNS; i++)
        runs[i] = run_once(count, batched);
    qsort(runs, RUNS, sizeof runs[0], by_time);
    printf("[sender] %s: %ld datagrams of %d bytes, %ld sender calls, %ld receiver calls, "
           "median %s (%.0f datagrams/s)\n",
           batched ? "sendmmsg/recvmmsg, batches of 64" : "one send/recv per datagram", count, SIZE,
           runs[RUNS / 2].sender_calls, runs[RUNS / 2].receiver_calls,
           fmt_duration(runs[RUNS / 2].ns).s, (double)count / (runs[RUNS / 2].ns / 1e9));
    return runs[RUNS / 2];
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"datagrams", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    long count = 20000 / BATCH * BATCH, qlen = -1;
    struct result single, batched;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0);
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        count = cli_long(optarg, BATCH, 1000000, "--datagrams", usage);
        if (count % BATCH != 0)
            die_usage(usage, "--datagrams must be a multiple of %d", BATCH);
    }
    cli_no_operands(argc, argv, usage);

    sysctl_long("net/unix/max_dgram_qlen", &qlen);
    printf("[sender] UNIX datagram socket pair; net.unix.max_dgram_qlen = %ld (a full queue "
           "blocks the sender: nothing is lost)\n",
           qlen);
    single = measure(count, false);
    batched = measure(count, true);
    printf("[sender] batching made %.0fx fewer sender calls and ran %.1fx as fast\n",
           (double)single.sender_calls / (double)batched.sender_calls, single.ns / batched.ns);
    return 0;
}
