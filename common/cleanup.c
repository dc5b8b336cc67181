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

#include <errno.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

enum kind { FREE, UNLINK, RMDIR, MQ, SYSV_SHM, SYSV_MSG, SYSV_SEM };

struct entry {
    enum kind kind;
    pid_t owner;    /* only this process removes the object */
    int id;         /* System V identifier */
    char path[240]; /* unlink/rmdir path, or the mq name */
};

#define MAX_ENTRIES 32
static struct entry entries[MAX_ENTRIES];
static volatile sig_atomic_t installed;

static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void remove_entry(struct entry *e)
{
    switch (e->kind) {
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
