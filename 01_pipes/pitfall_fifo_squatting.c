/* pitfall_fifo_squatting.c - a FIFO at a predictable path in a shared directory
 *
 * "mkfifo, and if it exists already, fine" at a name anyone can guess in /tmp lets someone
 * else create the FIFO first: the program then writes its secrets into a FIFO that a squatter
 * reads.  The kernel's defence, fs.protected_fifos, refuses an O_CREAT open (the shell's `>`)
 * of another user's FIFO in a sticky world-writable directory, but not a plain open(), and not
 * a squatter with your own uid.  --fixed: a fresh mkdtemp() directory only we can enter, a
 * mkfifo() that must create, and fstat() to check that the FIFO opened is ours.
 * Guide part: pitfall (FIFOs in shared directories; fs.protected_fifos).
 * Run: ./pitfall_fifo_squatting [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOBODY 65534 /* the uid a root run gives the squatter's FIFO: "another user" */

static const char usage[] = "[--fixed]";
static const char secret[] = "session-token=4f1c9e";

/* The squatter: makes the FIFO first, at the name it guessed, and reads what comes. */
static noreturn void squat(const char *path, int ready_fd)
{
    struct pollfd p;
    char buf[64];
    ssize_t n;

    if (mkfifo(path, 0666) == -1 || chmod(path, 0666) == -1) /* 0666: anyone may write in */
        die_errno("squatter: mkfifo %s", path);
    if (geteuid() == 0 && chown(path, NOBODY, NOBODY) == -1)
        die_errno("squatter: chown %s", path);
    p = (struct pollfd){.fd = open(path, O_RDONLY | O_NONBLOCK), .events = POLLIN};
    if (p.fd == -1)
        die_errno("squatter: open %s", path);
    printf("[squatter] created %s first (owner uid %d%s) and reads it\n", path,
           geteuid() == 0 ? NOBODY : (int)geteuid(),
           geteuid() == 0 ? ", another user" : ", the same user as the app");
    if (write_full(ready_fd, "!", 1) == -1)
        die_errno("squatter: ready");
    close(ready_fd);
    if (poll(&p, 1, 300) == 1 && (n = read(p.fd, buf, sizeof buf - 1)) > 0) {
        buf[n] = '\0';
        printf("[squatter] read the app's secret: \"%s\"\n", buf);
    } else {
        printf("[squatter] nobody wrote to %s within 300 ms\n", path);
    }
    close(p.fd);
    exit(0);
}

/* The app's reader: the process the secret is meant for. */
static noreturn void receive(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd == -1 || (n = read(fd, buf, sizeof buf - 1)) <= 0)
        die_errno("reader: %s", path);
    buf[n] = '\0';
    printf("[reader] got \"%s\" through the app's own FIFO\n", buf);
    close(fd);
    exit(0);
}

/* Broken: the name is guessable and an existing FIFO is taken as it is. */
static void send_broken(const char *path)
{
    int fd, made = mkfifo(path, 0600);

    if (made == -1 && errno != EEXIST)
        die_errno("mkfifo %s", path);
    printf("[app] mkfifo %s: %s\n", path,
           made == -1 ? "EEXIST, \"already there, fine\": used without asking who made it"
                      : "created");
    if ((fd = open(path, O_WRONLY)) == -1)
        die_errno("open %s", path);
    printf("[app] writing the secret\n");
    if (write_str(fd, secret) == -1)
        die_errno("write");
    close(fd);
}

/* Fixed: a private directory, a FIFO that must be new, checked after open(). */
static void send_fixed(void)
{
    char dir[PATH_MAX - 16], path[PATH_MAX];
    struct stat st;
    sigset_t saved;
    int fd;

    make_temp_dir(dir, sizeof dir, "pitfall_fifo_squatting"); /* mkdtemp(): 0700, random */
    snprintf(path, sizeof path, "%s/app.fifo", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the FIFO */
    if (mkfifo(path, 0600) == -1 || cleanup_add_path(path) == -1)
        die_errno("mkfifo %s (must be new: EEXIST here is an attack)", path);
    stop_signals_release(&saved);
    printf("[app] mkfifo %s in a fresh 0700 directory: created, no EEXIST accepted\n", path);
    pid_t reader = fork_or_die();
    if (reader == 0)
        receive(path);
    if ((fd = open(path, O_WRONLY)) == -1)
        die_errno("open %s", path);
    if (fstat(fd, &st) == -1 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
        close(fd);
        die("%s is not a FIFO of ours: refusing to write", path);
    }
    printf("[app] fstat: a FIFO owned by uid %d, me: writing the secret\n", (int)st.st_uid);
    if (write_str(fd, secret) == -1)
        die_errno("write");
    close(fd);
    reap_child(reader, "app");
}

/* What fs.protected_fifos refuses, shown with a FIFO of another user when we are root. */
static void show_protected_fifos(const char *shared)
{
    char path[PATH_MAX];
    sigset_t saved;
    long level;
    int fd;

    if (sysctl_long("fs/protected_fifos", &level) == -1) {
        printf("[kernel] /proc/sys/fs/protected_fifos is not readable here (Linux 4.19+)\n");
        return;
    }
    printf("[kernel] fs.protected_fifos = %ld%s: at 1 an O_CREAT open() of an existing FIFO in a "
           "sticky world-writable directory fails with EACCES unless the FIFO is the opener's or "
           "the directory owner's, root included; at 2 in sticky group-writable ones too\n",
           level, level == 0 ? " (off here)" : "");
    printf("[kernel] it would not have stopped the app above: a plain open() without O_CREAT, "
           "or a squatter with the app's own uid, passes\n");
    if (geteuid() != 0) {
        printf("[kernel] seeing it refuse needs a FIFO of another user, which a normal user "
               "cannot make: run as root for that part\n");
        return;
    }
    snprintf(path, sizeof path, "%s/other.fifo", shared);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the FIFO */
    if (mkfifo(path, 0666) == -1 || cleanup_add_path(path) == -1)
        die_errno("mkfifo %s", path);
    stop_signals_release(&saved);
    if (chown(path, NOBODY, NOBODY) == -1)
        die_errno("chown %s", path);
    /* The shell's `echo x > path`: O_CREAT.  Non-blocking: no reader, so ENXIO if allowed. */
    fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK, 0600);
    printf("[kernel] as root, open(O_WRONLY | O_CREAT) of uid %d's FIFO in the sticky "
           "directory: %s\n",
           NOBODY,
           fd == -1 && errno == EACCES  ? "EACCES, refused by fs.protected_fifos (root too)"
           : fd == -1 && errno == ENXIO ? "allowed (ENXIO only because nobody reads it)"
           : fd == -1                   ? strerror(errno)
                                        : "allowed");
    if (fd != -1)
        close(fd);
}

int main(int argc, char *argv[])
{
    char dir[PATH_MAX - 64], shared[PATH_MAX - 32], path[PATH_MAX];
    sigset_t saved;
    int ready[2];
    char byte;
    bool fixed;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    fixed = cli_pitfall_fixed(argc, argv, usage);

    /* Our stand-in for /tmp: a sticky, world-writable directory (in a private one, so that
     * the demo leaves nothing in the real /tmp). */
    make_temp_dir(dir, sizeof dir, "pitfall_fifo_squatting");
    snprintf(shared, sizeof shared, "%s/shared", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the directory */
    if (mkdir(shared, 0700) == -1 || cleanup_add_dir(shared) == -1)
        die_errno("mkdir %s", shared);
    stop_signals_release(&saved);
    if (chmod(dir, 0711) == -1 || chmod(shared, 01777) == -1) /* others may pass, and squat */
        die_errno("chmod %s", shared);
    snprintf(path, sizeof path, "%s/app.%d.fifo", shared, (int)getpid());
    if (cleanup_add_path(path) == -1) /* the squatter's FIFO: gone at our exit too */
        die_errno("cleanup_add_path");
    printf("[app] will talk through %s: a name anyone can guess (the pid is no secret)\n", path);

    if (pipe(ready) == -1)
        die_errno("pipe");
    pid_t squatter = fork_or_die();
    if (squatter == 0) {
        close(ready[0]);
        squat(path, ready[1]);
    }
    close(ready[1]);
    if (read(ready[0], &byte, 1) != 1)
        die("the squatter did not start");
    close(ready[0]);

    if (fixed)
        send_fixed();
    else
        send_broken(path);
    reap_child(squatter, "app");
    show_protected_fifos(shared);
    return 0;
}
