/* advanced_mq_throughput.c - messages per second against size: POSIX queue, System V queue, pipe
 *
 * The same framed messages go through a POSIX queue, a System V queue and a
 * pipe (a 4-byte length, then the payload), between a sender and a receiver
 * pinned to two CPUs (or one, with --same-cpu), in one run.  All three copy
 * each message twice (sender to kernel, kernel to receiver); the queues also
 * allocate and free a kernel msg_msg for every message (load_msg() and
 * free_msg() in ipc/msgutil.c) and wake the receiver per message, while the
 * pipe copies into page buffers it recycles, but its receiver needs two read() calls
 * per message to find the frame.  Printed beside them, measured in the same
 * run: the limit of one process doing only the two system calls and the two
 * copies per message, with nobody to wake.  Page-aligned buffers; a warm-up
 * run that also sizes the timed runs to about 4 ms each; the median of --runs.
 *
 * Guide part: kernel (performance: ipc/mqueue.c, ipc/msg.c, fs/pipe.c).
 * Run: ./advanced_mq_throughput [--messages N] [--runs N] [--same-cpu]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "[--messages N] [--runs N] [--same-cpu]    (at most N messages a run, 100 to 1000000,"
    " default 20000; runs 1 to 15, default 5)";

enum { KINDS = 3, MAX_RUNS = 15, MAX_SIZE = 8192, PAGE = 4096 };
static const size_t sizes[] = {16, 64, 256, 1024, 4096, 8192};
enum { SIZES = sizeof sizes / sizeof sizes[0] };

struct channel {
    mqd_t mq;   /* -1 unless kind 0 */
    int msqid;  /* -1 unless kind 1 */
    int fds[2]; /* -1 unless kind 2 */
    char *page; /* PAGE + 2 * MAX_SIZE, page-aligned */
    char *data; /* page + PAGE: the payload, page-aligned for all three */
    long reads; /* the receiver's read() calls on the pipe */
};

static int cpus[2]; /* receiver, sender */

/* The sender's side of one message of `size` bytes. */
static void send_one(int kind, struct channel *ch, size_t size)
{
    uint32_t len = (uint32_t)size;

    /* The mtype and the frame header sit just before the page-aligned data. */
    if (kind == 0 && mq_send(ch->mq, ch->data, size, 0) == -1)
        die_errno("mq_send");
    if (kind == 1 && msgsnd(ch->msqid, ch->data - sizeof(long), size, 0) == -1)
        die_errno("msgsnd");
    if (kind == 2) {
        memcpy(ch->data - sizeof len, &len, sizeof len);
        if (write_full(ch->fds[1], ch->data - sizeof len, sizeof len + size) == -1)
            die_errno("write");
    }
}

/* Reads exactly n bytes, counting the read() calls it takes. */
static void read_counted(struct channel *ch, char *p, size_t n)
{
    while (n > 0) {
        ssize_t got = read(ch->fds[0], p, n);

        ch->reads++;
        if (got <= 0) {
            if (got == -1 && errno == EINTR)
                continue;
            die_errno("read from the pipe (%zd)", got);
        }
        p += got;
        n -= (size_t)got;
    }
}

static void receive_one(int kind, struct channel *ch, size_t size)
{
    uint32_t len;

    if (kind == 0 && mq_receive(ch->mq, ch->data, MAX_SIZE, NULL) != (ssize_t)size)
        die_errno("mq_receive");
    if (kind == 1 && msgrcv(ch->msqid, ch->data - sizeof(long), MAX_SIZE, 0, 0) != (ssize_t)size)
        die_errno("msgrcv");
    if (kind == 2) {
        read_counted(ch, (char *)&len, sizeof len);
        if (len != size)
            die("a torn frame: length %u, expected %zu", len, size);
        read_counted(ch, ch->data, len);
    }
}

/* One run: a pinned child sends `count` messages; the clock runs from the
 * first message received to the last, so fork() is not timed.  Returns
 * messages per second; *switches gets the receiver's context switches. */
static double one_run(int kind, struct channel *ch, size_t size, long count, double *switches)
{
    struct rusage before, after;
    uint64_t start = 0;
    pid_t sender;
    int status;

    fflush(NULL);
    if ((sender = fork()) == -1)
        die_errno("fork");
    if (sender == 0) {
        if (pin_to_cpu(cpus[1]) == -1)
            die_errno("pin to CPU %d", cpus[1]);
        if (kind == 2)
            close(ch->fds[0]);
        for (long i = 0; i < count; i++)
            send_one(kind, ch, size);
        if (kind == 0)
            mq_close(ch->mq);
        if (kind == 2)
            close(ch->fds[1]);
        free(ch->page);
        _exit(0); /* no atexit handlers: the registry is the parent's */
    }
    getrusage(RUSAGE_SELF, &before);
    for (long i = 0; i < count; i++) {
        receive_one(kind, ch, size);
        if (i == 0)
            start = now_ns();
    }
    getrusage(RUSAGE_SELF, &after);
    if (waitpid(sender, &status, 0) == -1 || status != 0)
        die("the sender failed");
    *switches = (double)(after.ru_nvcsw + after.ru_nivcsw - before.ru_nvcsw - before.ru_nivcsw) /
                (double)count;
    return (double)(count - 1) / ns_to_s(elapsed_ns(start));
}

/* The limit: one process, per message the same two system calls' entry and
 * exit (a null call) and the same two copies, and nobody to wake. */
static double limit_rate(char *page, size_t size, long count)
{
    char *src = page + PAGE, *dst = src + MAX_SIZE; /* both page-aligned, apart */
    uint64_t start = now_ns();

    for (long i = 0; i < count; i++) {
        syscall(SYS_getppid);
        memcpy(dst, src, size);
        syscall(SYS_getppid);
        memcpy(src, dst, size);
    }
    return (double)count / ns_to_s(elapsed_ns(start));
}

static double median(double *v, int n)
{
    struct stats st;

    stats_compute(v, (size_t)n, &st);
    return st.p50;
}

/* Picks the first two CPUs we may run on, or one for --same-cpu. */
static void choose_cpus(bool same)
{
    int found = allowed_cpus(cpus, 2);

    if (found == -1)
        die_errno("sched_getaffinity");
    if (found < 2 || same)
        cpus[1] = cpus[0];
    if (cpus[0] == cpus[1])
        printf("[bench] pinned: sender and receiver both on CPU %d (every message needs a switch)"
               "%s\n",
               cpus[0], found < 2 && !same ? "; only one CPU is allowed" : "");
    else
        printf("[bench] pinned: receiver on CPU %d, sender on CPU %d (cross-core)\n", cpus[0],
               cpus[1]);
}

static void open_channel(int kind, struct channel *ch, const char *name)
{
    ch->mq = (mqd_t)-1;
    ch->msqid = ch->fds[0] = ch->fds[1] = -1;
    ch->reads = 0;
    if (kind == 0) /* 10 x MAX_SIZE: within the default msg_max and msgsize_max */
        ch->mq = mq_create_registered(name, O_RDWR, 10, MAX_SIZE);
    if (kind == 1)
        ch->msqid = sysv_msg_create();
    if (kind == 2 && pipe(ch->fds) == -1)
        die_errno("pipe");
}

static void close_channel(int kind, struct channel *ch, const char *name)
{
    if (kind == 0 && (mq_close(ch->mq) == -1 || mq_unlink(name) == -1))
        die_errno("mq_unlink %s", name);
    if (kind == 1 && msgctl(ch->msqid, IPC_RMID, NULL) == -1)
        die_errno("msgctl IPC_RMID");
    if (kind == 2) {
        close(ch->fds[0]);
        close(ch->fds[1]);
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"messages", required_argument, NULL, 'm'},
        {"runs", required_argument, NULL, 'r'},
        {"same-cpu", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double rate[KINDS][SIZES], switches[KINDS][SIZES], reads_per_msg = 0;
    long count = 20000, msgmnb = 0;
    int c, runs = 5;
    bool same = false;
    struct channel ch;
    char name[64];

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "m:r:sh", longopts, usage)) != -1)
        if (c == 'm')
            count = cli_long(optarg, 100, 1000000, "--messages", usage);
        else if (c == 'r')
            runs = (int)cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
        else
            same = true;
    cli_no_operands(argc, argv, usage);

    snprintf(name, sizeof name, "/advanced_mq_throughput.%d", (int)getpid());
    if ((errno = posix_memalign((void **)&ch.page, PAGE, PAGE + 2 * MAX_SIZE)) != 0)
        die_errno("posix_memalign");
    memset(ch.page, 'm', PAGE + 2 * MAX_SIZE);
    ch.data = ch.page + PAGE;
    choose_cpus(same);
    if (pin_to_cpu(cpus[0]) == -1)
        die_errno("pin to CPU %d", cpus[0]);
    sysctl_long("kernel/msgmnb", &msgmnb);
    printf("[bench] runs of about 4 ms (100 to %ld messages), after 1 warm-up run; median of %d; "
           "page-aligned data\n",
           count, runs);
    printf("[bench] room: POSIX queue 10 messages; System V queue %ld bytes (msgmnb); pipe "
           "65536 bytes\n",
           msgmnb);

    for (int k = 0; k < KINDS; k++) {
        open_channel(k, &ch, name);
        for (int i = 0; i < SIZES; i++) {
            double r[MAX_RUNS], sw[MAX_RUNS], warm;
            long n = count < 200 ? count : 200;

            ch.reads = 0;
            warm = one_run(k, &ch, sizes[i], n, &sw[0]); /* not counted */
            if (k == 2 && i == 0)
                reads_per_msg = (double)ch.reads / (double)n;
            n = (long)(warm * 0.004);
            n = n < 100 ? 100 : n > count ? count : n;
            for (int j = 0; j < runs; j++)
                r[j] = one_run(k, &ch, sizes[i], n, &sw[j]);
            rate[k][i] = median(r, runs);
            switches[k][i] = median(sw, runs);
        }
        close_channel(k, &ch, name);
    }

    printf("[bench]   size | %-17s | %-17s | %-17s | limit\n", "POSIX mq", "SysV msg", "pipe");
    printf("[bench]        |   msg/s    MiB/s |   msg/s    MiB/s |   msg/s    MiB/s |   msg/s\n");
    for (int i = 0; i < SIZES; i++) {
        printf("[bench] %6zu |", sizes[i]);
        for (int k = 0; k < KINDS; k++)
            printf(" %7.0f %8.1f |", rate[k][i], rate[k][i] * (double)sizes[i] / 1048576.0);
        printf(" %7.0f\n", limit_rate(ch.page, sizes[i], count));
    }
    printf("[bench] system calls per message: POSIX 1 mq_send + 1 mq_receive; System V 1 msgsnd "
           "+ 1 msgrcv; pipe 1 write + %.1f read\n",
           reads_per_msg);
    printf("[bench] receiver context switches per message at 16 bytes: POSIX %.2f, System V "
           "%.2f, pipe %.2f\n",
           switches[0][0], switches[1][0], switches[2][0]);
    printf("[bench] copies per message: 2 for all three (into the kernel and out); the queues "
           "also allocate and free a msg_msg each time\n");
    free(ch.page);
    return 0;
}
