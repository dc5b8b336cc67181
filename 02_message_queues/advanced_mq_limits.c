/* advanced_mq_limits.c - the kernel's side of POSIX queues: limits, RLIMIT_MSGQUEUE charge, QSIZE
 *
 * The /proc/sys/fs/mqueue knobs and what mq_open() does with a request above
 * them (without CAP_SYS_RESOURCE they are hard: EINVAL); RLIMIT_MSGQUEUE and
 * how a queue is charged against it, measured by lowering the soft limit
 * until mq_open() fails with EMFILE and compared with the formula of
 * ipc/mqueue.c; and the queue's own file, QSIZE and NOTIFY, read from its
 * descriptor, so no mqueue mount is needed.  advanced_sysv_limits shows the
 * System V side.
 *
 * Guide part: kernel (ipc/mqueue.c: mqueue_get_inode, mqueue_read_file; /proc/sys/fs/mqueue).
 * Run: ./advanced_mq_limits
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "";

static char name[64];

static long knob(const char *path, const char *meaning)
{
    long v = -1;

    if (sysctl_long(path, &v) == -1)
        printf("[kernel] /proc/sys/%-24s (not readable: %s)\n", path, strerror(errno));
    else
        printf("[kernel] /proc/sys/%-24s %8ld  %s\n", path, v, meaning);
    return v;
}

/* CAP_SYS_RESOURCE (bit 24) in the effective set, from /proc/self/status. */
static bool have_sys_resource(void)
{
    unsigned long long eff = 0;
    char line[256];
    FILE *fp = fopen("/proc/self/status", "r");

    while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    if (fp != NULL)
        fclose(fp);
    return (eff >> 24) & 1;
}

/* mq_open(O_CREAT|O_EXCL) with these attributes; 0 or the errno. */
static int try_create(long maxmsg, long msgsize)
{
    struct mq_attr attr = {.mq_maxmsg = maxmsg, .mq_msgsize = msgsize};
    sigset_t saved;
    int err = 0, slot;
    mqd_t mq;

    stop_signals_hold(&saved); /* a Ctrl-C between create and unlink would leave it */
    mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    if (mq == (mqd_t)-1) {
        err = errno;
    } else {
        if ((slot = cleanup_add_mq(name)) == -1)
            die_errno("cleanup_add_mq");
        mq_close(mq);
        mq_unlink(name);
        cleanup_forget(slot);
    }
    stop_signals_release(&saved);
    return err;
}

static void refusals(long msg_max, long msgsize_max)
{
    bool cap = have_sys_resource();
    int err;

    printf("[posix] CAP_SYS_RESOURCE: %s\n", cap ? "present (it lifts msg_max and msgsize_max "
                                                   "up to 65536 and 16 MiB)"
                                                 : "absent, so msg_max and msgsize_max are hard");
    err = try_create(msg_max + 1, 128);
    printf("[posix] mq_open maxmsg=%ld (msg_max + 1): %s\n", msg_max + 1,
           err ? strerrorname_np(err) : "created");
    err = try_create(1, msgsize_max + 1);
    printf("[posix] mq_open msgsize=%ld (msgsize_max + 1): %s\n", msgsize_max + 1,
           err ? strerrorname_np(err) : "created");
    err = try_create(msg_max, msgsize_max);
    printf("[posix] mq_open maxmsg=%ld msgsize=%ld (both at the limit): %s\n", msg_max, msgsize_max,
           err ? strerrorname_np(err) : "created");
}

/* The smallest soft RLIMIT_MSGQUEUE at which mq_open() admits this queue:
 * this user's other queues plus this one's charge. */
static long smallest_limit(long maxmsg, long msgsize, rlim_t hard)
{
    struct rlimit saved, rl;
    long lo = 0, hi = hard == RLIM_INFINITY ? 64L << 20 : (long)hard;

    getrlimit(RLIMIT_MSGQUEUE, &saved);
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        int err;

        rl = (struct rlimit){.rlim_cur = (rlim_t)mid, .rlim_max = saved.rlim_max};
        if (setrlimit(RLIMIT_MSGQUEUE, &rl) == -1)
            die_errno("setrlimit RLIMIT_MSGQUEUE");
        if ((err = try_create(maxmsg, msgsize)) == 0)
            hi = mid;
        else if (err == EMFILE)
            lo = mid + 1;
        else
            die_errnum(err, "mq_open maxmsg=%ld msgsize=%ld", maxmsg, msgsize);
    }
    setrlimit(RLIMIT_MSGQUEUE, &saved);
    return lo;
}

/* mqueue_get_inode(): maxmsg * sizeof(struct msg_msg) + min(maxmsg, MQ_PRIO_MAX) *
 * sizeof(struct posix_msg_tree_node) + maxmsg * msgsize; both structs are 48
 * bytes on 64-bit kernels. */
static long charge(long maxmsg, long msgsize)
{
    return maxmsg * 48 + (maxmsg < 32768 ? maxmsg : 32768) * 48 + maxmsg * msgsize;
}

static void rlimit_charges(void)
{
    static const long sizes[][2] = {{10, 1024}, {5, 1024}, {10, 2048}};
    long measured[3], held;
    struct rlimit rl;

    getrlimit(RLIMIT_MSGQUEUE, &rl);
    printf("[posix] RLIMIT_MSGQUEUE: soft %ld, hard %ld bytes, per user\n", (long)rl.rlim_cur,
           (long)rl.rlim_max);
    if (sizeof(long) != 8) {
        printf("[posix] (the charge formula below assumes a 64-bit kernel: not measured)\n");
        return;
    }
    for (int attempt = 0; attempt < 5; attempt++) { /* another queue of ours may come */
        for (int i = 0; i < 3; i++)
            measured[i] = smallest_limit(sizes[i][0], sizes[i][1], rl.rlim_max);
        if (measured[0] - measured[1] == charge(10, 1024) - charge(5, 1024) &&
            measured[2] - measured[0] == charge(10, 2048) - charge(10, 1024))
            break;
    }
    held = measured[0] - charge(10, 1024);
    for (int i = 0; i < 3; i++)
        printf("[posix] maxmsg=%2ld msgsize=%ld: charged %ld bytes (formula %ld); smallest "
               "limit that admits it: %ld\n",
               sizes[i][0], sizes[i][1], measured[i] - held, charge(sizes[i][0], sizes[i][1]),
               measured[i]);
    printf("[posix] this user's other queues hold %ld bytes of the limit; over it, mq_open "
           "fails with EMFILE\n",
           held);
}

/* Where the mqueue file system is mounted, from /proc/self/mountinfo; "" if nowhere. */
static void find_mqueue_mount(char *dir, size_t size)
{
    char line[1024], mnt[512], type[64];
    FILE *fp = fopen("/proc/self/mountinfo", "r");

    dir[0] = '\0';
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL) {
        const char *sep = strstr(line, " - ");

        if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 && sep != NULL &&
            sscanf(sep, " - %63s", type) == 1 && strcmp(type, "mqueue") == 0) {
            snprintf(dir, size, "%s", mnt);
            break;
        }
    }
    if (fp != NULL)
        fclose(fp);
}

static void queue_file(void)
{
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 256};
    char text[128], dir[512], msg[100] = {0};
    sigset_t saved;
    mqd_t mq;
    ssize_t n;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the queue */
    if ((mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr)) == (mqd_t)-1)
        die_errno("mq_open %s", name);
    if (cleanup_add_mq(name) == -1)
        die_errno("cleanup_add_mq");
    stop_signals_release(&saved);
    for (int i = 0; i < 3; i++)
        if (mq_send(mq, msg, sizeof msg, 0) == -1)
            die_errno("mq_send");
    if ((n = pread(mq, text, sizeof text - 1, 0)) <= 0)
        die_errno("read the queue's descriptor");
    text[strcspn(text, "\n")] = '\0';
    printf("[posix] three 100-byte messages queued; read(2) of the descriptor: \"%s\"\n", text);
    find_mqueue_mount(dir, sizeof dir);
    if (dir[0] != '\0')
        printf("[posix] the mqueue file system is mounted at %s: %s%s is that same file\n", dir,
               dir, name);
    else
        printf("[posix] no mqueue file system is mounted here: queues work all the same "
               "(each IPC namespace has an internal mount)\n");
    mq_close(mq);
}

int main(int argc, char *argv[])
{
    long msg_max, msgsize_max;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);
    snprintf(name, sizeof name, "/advanced_mq_limits.%d", (int)getpid());

    knob("fs/mqueue/msg_default", "messages a queue gets when mq_open has no attributes");
    msg_max = knob("fs/mqueue/msg_max", "most messages per queue (mq_maxmsg)");
    knob("fs/mqueue/msgsize_default", "bytes per message without attributes");
    msgsize_max = knob("fs/mqueue/msgsize_max", "largest mq_msgsize");
    knob("fs/mqueue/queues_max", "queues in this IPC namespace, all users");
    if (msg_max <= 0 || msgsize_max <= 0)
        die("cannot read the limits from /proc/sys/fs/mqueue");

    refusals(msg_max, msgsize_max);
    rlimit_charges();
    queue_file();
    return 0; /* exit() unlinks the queue */
}
