/* advanced_pipe_capacity.c - a pipe's capacity is a ring of page-sized slots
 *
 * Inside the kernel a pipe is a struct pipe_inode_info holding a ring of
 * struct pipe_buffer slots (16 by default, fs/pipe.c), each pointing at one
 * page.  This program fills pipes with O_NONBLOCK writes until EAGAIN,
 * resizes them with F_SETPIPE_SZ and prints PIPE_BUF and the /proc/sys/fs
 * limits beside what each governs.  Why it matters: "64 KiB" is a count of
 * slots, not bytes, so what fits depends on the size of your writes.
 *
 * Guide part: kernel (pipe capacity, PIPE_BUF, F_SETPIPE_SZ, pipe sysctls).
 * Run: ./advanced_pipe_capacity
 */
#define _GNU_SOURCE
#include "common.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char usage[] =
    "[--help]    (no other options: measures the pipe ring, prints the kernel's limits)";

static char chunk[2 * PIPE_BUF]; /* the largest single write below */
static long page;

static long read_sysctl(const char *name)
{
    long value;

    if (sysctl_long(name, &value) == -1)
        return -1; /* older kernel or no /proc: say so, not fatal */
    return value;
}

static void new_pipe(int fds[2])
{
    /* Nonblocking, so a full ring answers EAGAIN instead of blocking us. */
    if (pipe2(fds, O_NONBLOCK) == -1)
        die_errno("pipe2");
}

static void close_pipe(int fds[2])
{
    close(fds[0]);
    close(fds[1]);
}

static long capacity(int fd)
{
    int size = fcntl(fd, F_GETPIPE_SZ);

    if (size == -1)
        die_errno("fcntl F_GETPIPE_SZ");
    return size;
}

/* Write `len`-byte chunks until the kernel says EAGAIN; return the bytes taken. */
static long fill(int fd, size_t len, long *writes)
{
    long total = 0;
    ssize_t n;

    *writes = 0;
    while ((n = write(fd, chunk, len)) > 0) {
        total += n;
        (*writes)++;
    }
    if (errno != EAGAIN)
        die_errno("write to pipe");
    return total;
}

static int bytes_held(int fd)
{
    int n;

    if (ioctl(fd, FIONREAD, &n) == -1)
        die_errno("ioctl FIONREAD");
    return n;
}

static void show_limits(void)
{
    int fds[2];
    long max_size = read_sysctl("fs/pipe-max-size");
    long soft = read_sysctl("fs/pipe-user-pages-soft");
    long hard = read_sysctl("fs/pipe-user-pages-hard");

    new_pipe(fds);
    printf("[kernel] page size %ld bytes: each pipe_buffer slot of the ring points at one page\n",
           page);
    /* anon_pipe_write() (pipe_write() before 2025) never compares a length with PIPE_BUF.
     * Holding pipe->mutex, it merges the odd part of a write (length % page size) into the
     * last slot's page only if all of it fits there, and copies the rest a page per fresh
     * slot, dropping the mutex to sleep only between pages.  So a write of at most one page
     * is copied in one step: atomic.  POSIX promises that for PIPE_BUF bytes, and 4096 is
     * also the page here; with 64 KiB pages Linux keeps writes up to 64 KiB whole. */
    printf("[kernel] PIPE_BUF %d bytes (fpathconf on a pipe: %ld): POSIX keeps a write this "
           "small whole; Linux keeps any write of at most one page (%ld bytes) whole, copied in "
           "one step under the pipe's lock\n",
           PIPE_BUF, fpathconf(fds[1], _PC_PIPE_BUF), page);
    close_pipe(fds);
    printf("[kernel] /proc/sys/fs/pipe-max-size = %ld (%s): the largest ring F_SETPIPE_SZ grants"
           " without CAP_SYS_RESOURCE; also caps the 16-slot default\n",
           max_size, fmt_bytes(max_size > 0 ? (uint64_t)max_size : 0).s);
    /* Both count the slots of all of one user's pipes (account_pipe_buffers)
     * and bind only users without CAP_SYS_RESOURCE or CAP_SYS_ADMIN. */
    printf(
        "[kernel] /proc/sys/fs/pipe-user-pages-soft = %ld pages (%s) per user: over it, new pipes get"
        " 2 slots and growing one fails with EPERM%s\n",
        soft, fmt_bytes(soft > 0 ? (uint64_t)(soft * page) : 0).s,
        soft == 0 ? " (0: no soft limit)" : "");
    printf(
        "[kernel] /proc/sys/fs/pipe-user-pages-hard = %ld pages per user: over it, pipe() fails with"
        " ENFILE%s\n",
        hard, hard == 0 ? " (0: no hard limit)" : "");
}

static void show_default_ring(void)
{
    int fds[2];
    long writes, got, size;
    char sink[PIPE_BUF];

    new_pipe(fds);
    size = capacity(fds[1]);
    printf("[ring] new pipe: F_GETPIPE_SZ = %ld bytes = %ld slots x %ld-byte pages\n", size,
           size / page, page);
    got = fill(fds[1], (size_t)page, &writes);
    printf("[ring] %ld-byte writes until EAGAIN: %ld bytes in %ld writes, one full slot each\n",
           page, got, writes);
    printf("[ring] measured capacity %s slots x page size\n",
           got == size ? "equals" : "DIFFERS FROM");
    if (write(fds[1], "x", 1) == -1 && errno == EAGAIN)
        printf(
            "[ring] a 1-byte write now fails with EAGAIN: every slot is taken and the last page is full\n");
    if (read(fds[0], sink, 100) != 100)
        die_errno("read from pipe");
    if (write(fds[1], "x", 1) == -1 && errno == EAGAIN)
        printf("[ring] after reading 100 bytes (FIONREAD %d) a 1-byte write still gets EAGAIN: "
               "a slot is freed only when its page is drained\n",
               bytes_held(fds[0]));
    if (read(fds[0], sink, (size_t)page - 100) != page - 100)
        die_errno("read from pipe");
    /* One slot free: a write of more than a page takes what fits, page by page. */
    printf("[ring] first page drained, one slot free: a write of %zu bytes returns %zd (partial: "
           "more than a page is copied page by page, nothing atomic about it)\n",
           sizeof chunk, write(fds[1], chunk, sizeof chunk));
    close_pipe(fds);

    new_pipe(fds);
    got = fill(fds[1], 1, &writes);
    printf("[ring] 1-byte writes until EAGAIN: %ld bytes: small writes merge into the last page\n",
           got);
    close_pipe(fds);

    new_pipe(fds);
    got = fill(fds[1], 3000, &writes);
    printf("[ring] 3000-byte writes until EAGAIN: %ld bytes in %ld writes: a write merges into the"
           " last page only if all of it fits there, so each page wastes %ld bytes\n",
           got, writes, page - 3000);
    close_pipe(fds);
}

static void try_resize(int fd, long request, const char *why)
{
    int got = fcntl(fd, F_SETPIPE_SZ, (int)request);

    if (got == -1)
        printf("[resize] F_SETPIPE_SZ(%ld) failed with %s: %s\n", request, strerrorname_np(errno),
               why);
    else
        printf("[resize] F_SETPIPE_SZ(%ld) -> %d bytes = %ld slot%s: %s\n", request, got,
               got / page, got == page ? "" : "s", why);
}

/* pipe_set_size() lets only CAP_SYS_RESOURCE past pipe-max-size; the
 * per-user page limits also spare CAP_SYS_ADMIN (pipe_is_unprivileged_user). */
static void show_max_size_rule(int request)
{
    int fds[2], got;

    new_pipe(fds);
    got = fcntl(fds[1], F_SETPIPE_SZ, request);
    if (got == -1 && errno == EPERM)
        printf("[resize] F_SETPIPE_SZ(%d), above pipe-max-size, failed with EPERM:"
               " this process lacks CAP_SYS_RESOURCE\n",
               request);
    else if (got == -1)
        die_errno("fcntl F_SETPIPE_SZ(%d)", request);
    else
        printf("[resize] F_SETPIPE_SZ(%d), above pipe-max-size, granted %d bytes:"
               " this process has CAP_SYS_RESOURCE\n",
               request, got);
    close_pipe(fds);
}

static void show_resizing(void)
{
    long max_size = read_sysctl("fs/pipe-max-size");
    long big = max_size > 0 && max_size < (1L << 20) ? max_size : 1L << 20;
    long writes, got;
    int fds[2];

    new_pipe(fds);
    try_resize(fds[1], big, "grown (request bounded by pipe-max-size)");
    got = fill(fds[1], (size_t)page, &writes);
    printf("[resize] filled: %ld bytes before EAGAIN = %ld slots x %ld bytes\n", got, got / page,
           page);
    close_pipe(fds);

    new_pipe(fds);
    /* round_pipe_size(): at least one page, else the next power of two. */
    try_resize(fds[1], 100000, "the kernel rounds up to a power-of-two number of pages");
    try_resize(fds[1], 1, "never less than one page");
    close_pipe(fds);

    new_pipe(fds);
    /* Two pages, then one more: three slots in use, 12 KiB held. */
    if (write(fds[1], chunk, sizeof chunk) == -1 || write(fds[1], chunk, (size_t)page) == -1)
        die_errno("write to pipe");
    /* pipe_resize_ring() refuses a ring smaller than the slots occupied. */
    try_resize(fds[1], page, "3 slots hold data, and the kernel will not drop data to shrink");
    try_resize(fds[1], 4 * page, "4 slots are enough for the 3 in use");
    printf("[resize] all %d bytes are still there after the shrink\n", bytes_held(fds[0]));
    close_pipe(fds);
    /* F_SETPIPE_SZ takes an int: from 1 GiB up, twice the limit overflows it
     * (4 GiB would become 0, which the kernel rounds up to a page and grants). */
    if (max_size > INT_MAX / 2)
        printf("[resize] pipe-max-size is %ld: twice that does not fit F_SETPIPE_SZ's int argument,"
               " so the EPERM check is skipped\n",
               max_size);
    else if (max_size > 0)
        show_max_size_rule((int)(2 * max_size));
}

int main(int argc, char *argv[])
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    page = sysconf(_SC_PAGESIZE);
    memset(chunk, 'p', sizeof chunk);
    show_limits();
    show_default_ring();
    show_resizing();
    return 0;
}
