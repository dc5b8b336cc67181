/* cleanup.c - a registry of created IPC objects, removed at exit and on signals.
 *
 * Signal handlers may only call async-signal-safe functions, so every name is
 * turned into the exact system call that removes it when it is registered:
 * POSIX shared memory and named semaphores live as files in /dev/shm on
 * Linux (glibc's shm_unlink and sem_unlink are unlink() there), a message
 * queue is removed by the mq_unlink system call, System V objects by their
 * *ctl(IPC_RMID) system calls.
 */
#define _GNU_SOURCE
#include "cleanup.h"
#include "common.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum kind { FREE, UNLINK, RMDIR, MQ, SYSV_SHM, SYSV_MSG, SYSV_SEM, CHILD };

struct entry {
    enum kind kind;
    pid_t owner;    /* only this process removes the object */
    int id;         /* System V identifier, or the child's pid */
    char path[240]; /* unlink/rmdir path, or the mq name */
};

#define MAX_ENTRIES 128 /* a program may register each of its children too */
static struct entry entries[MAX_ENTRIES];
static volatile sig_atomic_t installed;

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

/* waitpid() answers 0 only for a child of ours that still runs; one that has
 * exited is reaped by that very call, and one already reaped gives ECHILD. */
static void stop_child(pid_t pid)
{
    pid_t r;

    while ((r = waitpid(pid, NULL, WNOHANG)) == -1 && errno == EINTR)
        ;
    if (r != 0)
        return;
    kill(pid, SIGTERM);
    /* A child that ignores SIGTERM, or is stopped, must not hang the exit:
     * two seconds, then SIGKILL (nanosleep is async-signal-safe). */
    for (int tick = 0; tick < 200; tick++) {
        struct timespec ten_ms = {.tv_sec = 0, .tv_nsec = 10000000};

        if (waitpid(pid, NULL, WNOHANG) != 0)
            return;
        nanosleep(&ten_ms, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
        ;
}

static void remove_entry(struct entry *e)
{
    switch (e->kind) {
    case CHILD: stop_child(e->id); break;
    case UNLINK: unlink(e->path); break;
    case RMDIR: rmdir(e->path); break;
    case MQ: mq_unlink(e->path); break;
    case SYSV_SHM: shmctl(e->id, IPC_RMID, NULL); break;
    case SYSV_MSG: msgctl(e->id, IPC_RMID, NULL); break;
    case SYSV_SEM: semctl(e->id, 0, IPC_RMID); break;
    case FREE: break;
    }
    e->kind = FREE;
}

void cleanup_run(void)
{
    int saved = errno;
    pid_t self = getpid();

    for (int i = MAX_ENTRIES - 1; i >= 0; i--) /* newest first: files before their dir */
        if (entries[i].kind != FREE && entries[i].owner == self)
            remove_entry(&entries[i]);
    errno = saved;
}

static void on_signal(int sig)
{
    cleanup_run();
    /* Die of the same signal, so the parent or the shell sees what happened. */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Install once: atexit for normal exits, handlers for the signals that are
 * still at their default action (a program with its own handler keeps it and
 * leaves through exit(), which runs cleanup_run()). */
static void install(void)
{
    if (installed)
        return;
    installed = 1;
    atexit(cleanup_run);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
        struct sigaction old, sa = {.sa_handler = on_signal};

        sigemptyset(&sa.sa_mask);
        if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(cleanup_signals[i], &sa, NULL);
    }
}

static int add(enum kind kind, const char *prefix, const char *name, int id)
{
    install();
    for (int i = 0; i < MAX_ENTRIES; i++) {
        struct entry *e = &entries[i];

        if (e->kind != FREE)
            continue;
        if (name != NULL) {
            int len = snprintf(e->path, sizeof e->path, "%s%s", prefix, name);

            if (len < 0 || (size_t)len >= sizeof e->path) {
                errno = ENAMETOOLONG;
                return -1;
            }
        }
        e->owner = getpid();
        e->id = id;
        e->kind = kind; /* last: a signal now sees a complete entry */
        return i;
    }
    errno = ENOSPC;
    return -1;
}

int cleanup_add_path(const char *path)
{
    return add(UNLINK, "", path, -1);
}
int cleanup_add_dir(const char *path)
{
    return add(RMDIR, "", path, -1);
}
int cleanup_add_mq(const char *name)
{
    return add(MQ, "", name, -1);
}
int cleanup_add_sysv_shm(int shmid)
{
    return add(SYSV_SHM, NULL, NULL, shmid);
}
int cleanup_add_sysv_msg(int msqid)
{
    return add(SYSV_MSG, NULL, NULL, msqid);
}
int cleanup_add_sysv_sem(int semid)
{
    return add(SYSV_SEM, NULL, NULL, semid);
}
int cleanup_add_child(pid_t pid)
{
    return add(CHILD, NULL, NULL, pid);
}

/* POSIX names start with '/'; the file in /dev/shm drops it. */
int cleanup_add_shm(const char *name)
{
    return add(UNLINK, "/dev/shm/", name + (name[0] == '/'), -1);
}

int cleanup_add_sem(const char *name)
{
    return add(UNLINK, "/dev/shm/sem.", name + (name[0] == '/'), -1);
}

void cleanup_forget(int slot)
{
    if (slot >= 0 && slot < MAX_ENTRIES)
        entries[slot].kind = FREE;
}

const char *tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");

    return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

void stop_signals_hold(sigset_t *saved)
{
    sigset_t stop;

    sigemptyset(&stop);
    for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++)
        sigaddset(&stop, cleanup_signals[i]);
    /* Blocked, not ignored: the kernel keeps one that arrives pending. */
    pthread_sigmask(SIG_BLOCK, &stop, saved);
}

void stop_signals_release(const sigset_t *saved)
{
    pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* ---- create and register ---------------------------------------------------
 * Each runs with the stop signals held.  Should registering fail (a full
 * registry), the object just made is removed by hand before dying. */

int shm_create_registered(const char *name, size_t size)
{
    sigset_t saved;
    int fd;

    stop_signals_hold(&saved);
    if ((fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
        die_errno("shm_open %s", name);
    if (cleanup_add_shm(name) == -1) {
        shm_unlink(name);
        die_errno("cleanup_add_shm %s", name);
    }
    stop_signals_release(&saved);
    if (ftruncate(fd, (off_t)size) == -1)
        die_errno("ftruncate %s to %zu bytes", name, size);
    return fd;
}

/* The caller defines semctl's fourth argument (POSIX says so; glibc does not). */
union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

int sysv_sem_create(int nsems, const unsigned short *values)
{
    sigset_t saved;
    int id;

    stop_signals_hold(&saved);
    if ((id = semget(IPC_PRIVATE, nsems, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("semget %d semaphores", nsems);
    if (cleanup_add_sysv_sem(id) == -1) {
        semctl(id, 0, IPC_RMID);
        errno = ENOSPC; /* the one way a System V entry can fail */
        die_errno("cleanup_add_sysv_sem");
    }
    stop_signals_release(&saved);
    /* Linux zeroes a new set, but POSIX leaves it undefined: set every value. */
    if (values != NULL &&
        semctl(id, 0, SETALL, (union semun){.array = (unsigned short *)values}) == -1)
        die_errno("semctl SETALL %d", id);
    for (int i = 0; values == NULL && i < nsems; i++)
        if (semctl(id, i, SETVAL, (union semun){.val = 0}) == -1)
            die_errno("semctl SETVAL %d", id);
    return id;
}

int sysv_shm_create(size_t size)
{
    sigset_t saved;
    int id;

    stop_signals_hold(&saved);
    if ((id = shmget(IPC_PRIVATE, size, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("shmget %zu bytes", size);
    if (cleanup_add_sysv_shm(id) == -1) {
        shmctl(id, IPC_RMID, NULL);
        errno = ENOSPC;
        die_errno("cleanup_add_sysv_shm");
    }
    stop_signals_release(&saved);
    return id;
}

int sysv_msg_create(void)
{
    sigset_t saved;
    int id;

    stop_signals_hold(&saved);
    if ((id = msgget(IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600)) == -1)
        die_errno("msgget");
    if (cleanup_add_sysv_msg(id) == -1) {
        msgctl(id, IPC_RMID, NULL);
        errno = ENOSPC;
        die_errno("cleanup_add_sysv_msg");
    }
    stop_signals_release(&saved);
    return id;
}

mqd_t mq_create_registered(const char *name, int oflag, long maxmsg, long msgsize)
{
    struct mq_attr attr = {.mq_maxmsg = maxmsg, .mq_msgsize = msgsize};
    bool defaults = maxmsg == 0 && msgsize == 0;
    sigset_t saved;
    mqd_t mq;

    stop_signals_hold(&saved);
    mq = mq_open(name, oflag | O_CREAT | O_EXCL, 0600, defaults ? NULL : &attr);
    if (mq == (mqd_t)-1)
        die_errno("mq_open %s (maxmsg %ld, msgsize %ld)", name, maxmsg, msgsize);
    if (cleanup_add_mq(name) == -1) {
        mq_unlink(name);
        die_errno("cleanup_add_mq %s", name);
    }
    stop_signals_release(&saved);
    return mq;
}

void mkfifo_registered(const char *path)
{
    sigset_t saved;

    stop_signals_hold(&saved);
    if (mkfifo(path, 0600) == -1)
        die_errno("mkfifo %s", path);
    if (cleanup_add_path(path) == -1) {
        unlink(path);
        die_errno("cleanup_add_path %s", path);
    }
    stop_signals_release(&saved);
}

pid_t fork_registered(int *slot)
{
    sigset_t saved;
    pid_t pid;
    int entry;

    stop_signals_hold(&saved);
    pid = fork_or_die();
    if (pid == 0) {
        stop_signals_release(&saved);
        if (slot != NULL)
            *slot = -1; /* the parent's entries are not the child's to forget */
        return 0;
    }
    if ((entry = cleanup_add_child(pid)) == -1) {
        kill(pid, SIGKILL); /* else it would outlive the parent that dies now */
        while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
            ;
        errno = ENOSPC;
        die_errno("cleanup_add_child %d", (int)pid);
    }
    stop_signals_release(&saved);
    if (slot != NULL)
        *slot = entry;
    return pid;
}

int unix_listener_registered(const char *path, int type, int backlog)
{
    struct sockaddr_un addr;
    int addr_len = unix_address(&addr, path);
    int fd, slot = -1, saved_errno;
    sigset_t saved;

    if (addr_len == -1)
        return -1;
    fd = socket(AF_UNIX, type, 0);
    if (fd == -1)
        return -1;
    stop_signals_hold(&saved);
    if (bind(fd, (struct sockaddr *)&addr, (socklen_t)addr_len) == -1)
        goto fail;
    slot = cleanup_add_path(path);
    if (slot == -1 || listen(fd, backlog) == -1) {
        saved_errno = errno;
        unlink(path); /* ours: bind() never replaces a file */
        errno = saved_errno;
        goto fail;
    }
    stop_signals_release(&saved);
    return fd;

fail:
    saved_errno = errno;
    cleanup_forget(slot);
    close(fd);
    stop_signals_release(&saved);
    errno = saved_errno;
    return -1;
}

/* ---- stop signals as a flag ------------------------------------------------- */

volatile sig_atomic_t stop_signal;

static const int flag_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void store_stop_signal(int sig)
{
    stop_signal = sig;
}

void stop_signals_to_flag(sigset_t *wait_mask)
{
    struct sigaction sa = {.sa_handler = store_stop_signal}; /* no SA_RESTART */
    sigset_t block;

    sigemptyset(&block);
    for (size_t i = 0; i < sizeof flag_signals / sizeof flag_signals[0]; i++)
        sigaddset(&block, flag_signals[i]);
    sa.sa_mask = block; /* one handler at a time: the first signal wins */
    /* Blocked before the handler is in place: none can come in between. */
    pthread_sigmask(SIG_BLOCK, &block, wait_mask);
    for (size_t i = 0; i < sizeof flag_signals / sizeof flag_signals[0]; i++) {
        sigaction(flag_signals[i], &sa, NULL);
        sigdelset(wait_mask, flag_signals[i]);
    }
}

void stop_exit(void)
{
    int sig = stop_signal;
    sigset_t one;

    if (sig == 0)
        return;
    fflush(NULL); /* the narration so far, which raise() would otherwise drop */
    cleanup_run();
    signal(sig, SIG_DFL);
    sigemptyset(&one);
    sigaddset(&one, sig);
    raise(sig); /* pending while blocked: delivered at the unblock below */
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    _exit(128 + sig); /* not reached */
}

void make_temp_dir(char *buf, size_t size, const char *prefix)
{
    int len = snprintf(buf, size, "%s/%s.XXXXXX", tmp_dir(), prefix);
    sigset_t saved;

    if (len < 0 || (size_t)len >= size)
        die("temporary directory name too long for %s", tmp_dir());
    stop_signals_hold(&saved);
    if (mkdtemp(buf) == NULL)
        die_errno("mkdtemp %s", buf);
    if (cleanup_add_dir(buf) == -1)
        die_errno("cleanup_add_dir %s", buf);
    stop_signals_release(&saved);
}
