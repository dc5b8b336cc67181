/* advanced_child_info.c - a fork()ed snapshot child reports its progress through a pipe
 *
 * Real-world pattern: Redis's BGSAVE (src/childinfo.c).  Redis forks a child that writes the
 * dataset to disk from the memory image fork() froze, while the parent goes on serving writes;
 * every page the parent writes is copied (copy-on-write).  The child measures that cost, the
 * Private_Dirty memory in its own smaps, and sends fixed-size records (keys saved, COW bytes,
 * progress) up a pipe whose read end the parent made non-blocking; the parent drains it from its
 * event loop, collecting partial reads until a record is whole.  Left out: the RDB format, the
 * disk, Redis's throttling of the costly smaps reads, AOF and module children.
 * Guide part: real-world (Redis child info pipe: fork, copy-on-write, non-blocking reads).
 * Run: ./advanced_child_info [--size SIZE] [--writes PERCENT]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEPS 16 /* the child saves the dataset in this many slices, one report each */

static const char usage[] = "[--size SIZE] [--writes PERCENT]    (SIZE 1M to 256M, default 32M; "
                            "PERCENT of the pages the parent writes meanwhile, 0-100, default 25)";

enum info_type {
    CURRENT_INFO,
    COW_SIZE
}; /* as Redis's CHILD_INFO_TYPE_CURRENT_INFO, ..._COW_SIZE */

/* One record; smaller than PIPE_BUF, so each write() of one arrives whole and unmixed. */
struct child_info {
    enum info_type type;
    size_t keys;       /* pages saved so far: our "keys" */
    size_t cow;        /* bytes copied on write, as the child sees it */
    double progress;   /* 0 to 1 */
    uint64_t checksum; /* the final record: what the child saved */
};

/* Redis sums the Private_Dirty lines of /proc/self/smaps; smaps_rollup has the sum ready. */
static size_t private_dirty(void)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[128];
    size_t kib = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "Private_Dirty: %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

static uint64_t checksum(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i += 64) /* a byte per cache line: reads every page */
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

/* The BGSAVE child: reads the frozen image slice by slice, reporting after each. */
static noreturn void save_snapshot(int info_fd, const unsigned char *data, size_t size, size_t page)
{
    size_t slice = size / STEPS, peak = 0;
    uint64_t h = 0xcbf29ce484222325u;

    for (int s = 0; s < STEPS; s++) {
        h = checksum(data + s * slice, slice, h);
        sleep_ms(5); /* a disk is slower than memory: the parent gets time to write */
        struct child_info info = {.type = CURRENT_INFO,
                                  .keys = (s + 1) * slice / page,
                                  .cow = private_dirty(),
                                  .progress = (s + 1) / (double)STEPS};
        peak = info.cow > peak ? info.cow : peak;
        /* Like Redis: nothing to do if this fails, the parent notices a missing record. */
        if (write(info_fd, &info, sizeof info) != (ssize_t)sizeof info)
            break;
    }
    struct child_info last = {.type = COW_SIZE, .keys = size / page, .cow = peak, .checksum = h};
    if (write(info_fd, &last, sizeof last) != (ssize_t)sizeof last)
        exit(1);
    close(info_fd);
    exit(0);
}

/* Redis's readChildInfo(): a non-blocking read that may bring part of a record; the part
 * waits in `buf` for the rest.  Returns true when a whole record is in *out. */
static bool read_child_info(int fd, struct child_info *out)
{
    static struct child_info buf;
    static size_t have;
    ssize_t n = read(fd, (char *)&buf + have, sizeof buf - have);

    if (n == -1 && errno != EAGAIN && errno != EINTR)
        die_errno("read the child info pipe");
    have += n > 0 ? (size_t)n : 0;
    if (have < sizeof buf)
        return false;
    *out = buf;
    have = 0;
    return true;
}

/* Drains the pipe; returns the final record's checksum once it came (0 before). */
static uint64_t receive_child_info(int fd, size_t *peak)
{
    struct child_info info;
    uint64_t saved = 0;

    while (read_child_info(fd, &info)) {
        if (info.type == CURRENT_INFO) {
            printf("[parent] child info: %3.0f%% saved (%zu keys), %s copied on write so far\n",
                   100 * info.progress, info.keys, fmt_bytes(info.cow).s);
        } else {
            *peak = info.cow;
            saved = info.checksum;
        }
    }
    return saved;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"size", required_argument, NULL, 's'},
        {"writes", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t size = 32u << 20, page = (size_t)sysconf(_SC_PAGESIZE), peak = 0, written = 0;

    long percent = 25;
    uint64_t before, saved = 0;
    int c, info[2], status;
    unsigned char *data;
    pid_t child;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 's')
            size = cli_size(optarg, 1u << 20, 256u << 20, "--size", usage);
        else if (c == 'w')
            percent = cli_long(optarg, 0, 100, "--writes", usage);
    }
    cli_no_operands(argc, argv, usage);
    size = size / (STEPS * page) * (STEPS * page); /* whole pages in every slice */

    data = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED)
        die_errno("mmap %zu bytes", size);
    /* With transparent huge pages one write would copy 2 MiB, not 4 KiB: Redis warns about
     * THP at start-up for that reason.  Here the copies stay page-sized. */
    madvise(data, size, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 2654435761u >> 24);
    before = checksum(data, size, 0xcbf29ce484222325u);
    printf("[parent] dataset: %s in %zu pages of %zu bytes, all written: nothing shared yet\n",
           fmt_bytes(size).s, size / page, page);

    if (pipe(info) == -1)
        die_errno("pipe");
    if (set_nonblocking(info[0], true) == -1) /* the event loop must never block on it */
        die_errno("fcntl O_NONBLOCK");
    printf("[parent] BGSAVE: forking a child to save the dataset as it is now\n");
    if ((child = fork_or_die()) == 0) {
        close(info[0]);
        save_snapshot(info[1], data, size, page);
    }
    close(info[1]);
    printf("[parent] child %d saves; meanwhile I keep serving writes to %ld%% of the pages\n",
           (int)child, percent);

    /* The event loop: a few writes per turn, spread over the save, then the info pipe is
     * polled for a millisecond and the child checked.  Pages p with p % 100 < PERCENT. */
    size_t pages = size / page, batch = pages * (size_t)percent / 100 / 48 + 1, p_next = 0;
    for (;;) {
        struct pollfd p = {.fd = info[0], .events = POLLIN};

        for (size_t n = 0; n < batch && p_next < pages; p_next++) {
            if (p_next % 100 >= (size_t)percent)
                continue;
            data[p_next * page] ^= 0xff; /* the page is shared: the kernel copies it now */
            written++;
            n++;
        }
        if (poll(&p, 1, 1) == -1 && errno != EINTR)
            die_errno("poll");
        uint64_t got = receive_child_info(info[0], &peak);
        saved = got != 0 ? got : saved;
        if (waitpid(child, &status, WNOHANG) == child)
            break;
    }
    uint64_t h = receive_child_info(info[0], &peak); /* what came just before its exit */
    saved = h != 0 ? h : saved;
    close(info[0]);
    printf("[parent] child exited (%s); I wrote to %zu pages (%s) while it saved\n",
           fmt_wait_status(status).s, written, fmt_bytes(written * page).s);
    printf("[parent] the child's final report: peak copy-on-write %s: %s\n", fmt_bytes(peak).s,
           peak >= written * page ? "every page I wrote was copied once, plus a few pages of "
                                    "the child's own (stack, stdio)"
                                  : "less than I wrote: my last writes came after its last "
                                    "measurement");
    if (saved != before)
        die("the child saved a checksum that is not the dataset's at fork()");
    printf("[parent] the child's checksum matches the dataset as it was at fork(): my writes "
           "never reached its snapshot\n");
    munmap(data, size);
    return status == 0 ? 0 : 1;
}
