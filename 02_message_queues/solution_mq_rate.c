/* solution_mq_rate.c - exercise 5: messages per second against queue depth and message size
 *
 * For every depth (mq_maxmsg) and every size (mq_msgsize and the size of each
 * message), a child sends --messages messages through a fresh queue while
 * the parent receives them: one warm-up run that is not reported, then
 * --runs timed runs, whose median rate is printed.  A deeper queue lets the
 * sender run ahead and batch the wake-ups; a bigger message costs more to
 * copy.  Depths and sizes above /proc/sys/fs/mqueue/msg_max and msgsize_max
 * are refused up front: without CAP_SYS_RESOURCE mq_open() would say EINVAL.
 *
 * Guide part: exercise 5 (performance).
 * Run: ./solution_mq_rate [--depths LIST] [--sizes LIST] [--runs R] [--messages N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] =
    "[--depths LIST] [--sizes LIST] [--runs R] [--messages N]\n"
    "    (LIST: up to 8 numbers, comma-separated; defaults 1,4,10 and 64,1024,8192;\n"
    "     R from 1 to 9, default 3; N from 100 to 1000000, default 2000)";

enum { MAX_LIST = 8, MAX_RUNS = 9, PAGE = 4096 };

struct list {
    long v[MAX_LIST];
    int n;
};

/* "1,4,10": 1 to 8 numbers from 1 to `max` (the kernel's limit, named `limit`). */
static void parse_list(const char *arg, struct list *l, long max, const char *what,
                       const char *limit)
{
    char copy[256], *save;
    long v;

    if (strlen(arg) >= sizeof copy || arg[0] == ',' || strstr(arg, ",,") != NULL ||
        arg[strlen(arg) - 1] == ',')
        die_usage(usage, "--%ss: '%s' is not a comma-separated list", what, arg);
    snprintf(copy, sizeof copy, "%s", arg);
    l->n = 0;
    for (char *w = strtok_r(copy, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
        if (l->n == MAX_LIST)
            die_usage(usage, "--%ss: at most %d values", what, MAX_LIST);
        if (parse_long(w, 1, LONG_MAX, &v) == -1)
            die_usage(usage, "--%ss: '%s' is not a positive integer", what, w);
        if (v > max)
            die_usage(usage, "%s %ld is above %s (%ld)", what, v, limit, max);
        l->v[l->n++] = v;
    }
}

/* One run: a new queue of `depth` x `size`, a child sends `count` messages of
 * `size` bytes, we receive them.  Returns messages per second, from the first
 * receive to the last (so fork() is not timed). */
static double one_run(const char *name, long depth, long size, long count, char *buf)
{
    struct mq_attr attr = {.mq_maxmsg = depth, .mq_msgsize = size};
    uint64_t start = 0;
    sigset_t saved;
    int status, slot;
    pid_t child;
    mqd_t mq;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    if ((mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr)) == (mqd_t)-1)
        die_errno("mq_open %s (depth %ld, size %ld)", name, depth, size);
    if ((slot = cleanup_add_mq(name)) == -1)
        die_errno("cleanup_add_mq %s", name);
    stop_signals_release(&saved);
    fflush(NULL);
    if ((child = fork()) == -1)
        die_errno("fork");
    if (child == 0) {
        for (long i = 0; i < count; i++)
            if (mq_send(mq, buf, (size_t)size, 0) == -1)
                die_errno("mq_send");
        mq_close(mq);
        exit(0);
    }
    for (long i = 0; i < count; i++) {
        if (mq_receive(mq, buf, (size_t)size, NULL) != size)
            die_errno("mq_receive");
        if (i == 0)
            start = now_ns();
    }
    if (waitpid(child, &status, 0) == -1 || status != 0)
        die("the sender failed");
    mq_close(mq);
    if (mq_unlink(name) == -1)
        die_errno("mq_unlink %s", name);
    cleanup_forget(slot);
    return (double)(count - 1) / ns_to_s(elapsed_ns(start));
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"depths", required_argument, NULL, 'd'}, {"sizes", required_argument, NULL, 's'},
        {"runs", required_argument, NULL, 'r'},   {"messages", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct list depths = {{1, 4, 10}, 3}, sizes = {{64, 1024, 8192}, 3};
    long msg_max = 10, msgsize_max = 8192, count = 2000;
    const char *depth_arg = NULL, *size_arg = NULL;
    int c, runs = 3;
    char name[64], *buf;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "d:s:r:m:h", longopts, usage)) != -1)
        if (c == 'd')
            depth_arg = optarg;
        else if (c == 's')
            size_arg = optarg;
        else if (c == 'r')
            runs = (int)cli_long(optarg, 1, MAX_RUNS, "--runs", usage);
        else
            count = cli_long(optarg, 100, 1000000, "--messages", usage);
    cli_no_operands(argc, argv, usage);
    /* The limits, read only now: nothing may open a file before the command line is parsed. */
    sysctl_long("fs/mqueue/msg_max", &msg_max);
    sysctl_long("fs/mqueue/msgsize_max", &msgsize_max);
    if (depth_arg != NULL)
        parse_list(depth_arg, &depths, msg_max, "depth", "msg_max");
    if (size_arg != NULL)
        parse_list(size_arg, &sizes, msgsize_max, "size", "msgsize_max");

    snprintf(name, sizeof name, "/solution_mq_rate.%d", (int)getpid());
    if ((errno = posix_memalign((void **)&buf, PAGE, (size_t)msgsize_max)) != 0)
        die_errno("posix_memalign");
    memset(buf, 'r', (size_t)msgsize_max);
    printf("[rate] %ld messages a run, 1 warm-up run, median of %d; msg_max %ld, msgsize_max "
           "%ld\n",
           count, runs, msg_max, msgsize_max);
    printf("depth size msgs/s\n");
    for (int d = 0; d < depths.n; d++)
        for (int s = 0; s < sizes.n; s++) {
            double rates[MAX_RUNS];
            struct stats st;

            one_run(name, depths.v[d], sizes.v[s], count, buf); /* warm-up */
            for (int r = 0; r < runs; r++)
                rates[r] = one_run(name, depths.v[d], sizes.v[s], count, buf);
            stats_compute(rates, (size_t)runs, &st);
            printf("%ld %ld %.0f\n", depths.v[d], sizes.v[s], st.p50);
        }
    free(buf);
    return 0;
}
