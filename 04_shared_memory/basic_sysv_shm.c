/* basic_sysv_shm.c - System V shared memory: shmget, shmat, IPC_STAT, IPC_RMID while attached
 *
 * The older API names a segment by a numeric key and hands back an id; shmat() maps it and
 * shmdt() unmaps it.  shmctl(IPC_RMID) does not free an attached segment: it marks it for
 * destruction (the SHM_DEST bit, key reset to IPC_PRIVATE) and the kernel frees it at the last
 * detach.  shm_nattch from IPC_STAT counts the attachments; fork() adds one for the child.
 * Guide part: theory (System V shared memory: keys, ids, attach counts, deferred removal).
 * Run: ./basic_sysv_shm        (and `ipcs -m` in another terminal while it runs)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

static const char usage[] = "";

#define SEGMENT_SIZE 4096

/* The attach count and the mode bits, as IPC_STAT reports them. */
static void show_stat(const char *role, int shmid, const char *when)
{
    struct shmid_ds ds;

    if (shmctl(shmid, IPC_STAT, &ds) == -1) {
        printf("[%s] %s: IPC_STAT fails with %s: the segment is gone\n", role, when,
               strerror(errno));
        return;
    }
    printf("[%s] %s: shm_nattch %lu, size %zu, key 0x%08x, mode %03o%s\n", role, when,
           (unsigned long)ds.shm_nattch, ds.shm_segsz, (unsigned)ds.shm_perm.__key,
           (unsigned)ds.shm_perm.mode & 0777,
           (ds.shm_perm.mode & SHM_DEST) != 0 ? " + SHM_DEST (freed at the last detach)" : "");
}

/* Blocks for one byte from the other side: the programs take turns. */
static void wait_turn(int fd)
{
    char token;

    if (read_full(fd, &token, 1) != 1)
        die("the other process went away");
}

static void give_turn(int fd)
{
    if (write_full(fd, "x", 1) != 1)
        die_errno("write to pipe");
}

static void *attach(int shmid)
{
    void *addr = shmat(shmid, NULL, 0);

    if (addr == (void *)-1)
        die_errno("shmat %d", shmid);
    return addr;
}

/* The child: detaches what fork() gave it, attaches again by key as any process could. */
static noreturn void run_child(key_t key, char *inherited, int to_parent, int from_parent)
{
    char *text;
    int shmid;

    if (shmdt(inherited) == -1)
        die_errno("shmdt");
    shmid = shmget(key, 0, 0);
    if (shmid == -1)
        die_errno("shmget key 0x%08x", (unsigned)key);
    text = attach(shmid);
    printf("[child] shmget(0x%08x) found id %d; attached, it reads \"%s\"\n", (unsigned)key, shmid,
           text);
    give_turn(to_parent);
    wait_turn(from_parent); /* the parent removes the segment meanwhile */
    printf("[child] after IPC_RMID the memory still works: \"%s\"\n", text);
    printf("[child] shmdt(): the last attachment goes, the kernel frees the segment\n");
    if (shmdt(text) == -1)
        die_errno("shmdt");
    close(to_parent);
    close(from_parent);
    exit(0);
}

int main(int argc, char *argv[])
{
    int up[2], down[2], shmid, slot;
    key_t key;
    sigset_t saved;
    char *text;
    pid_t child;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    /* A key of our own: the pid makes two copies of the program choose different keys.
     * ftok(path, id) is the usual way to agree on one; IPC_PRIVATE asks for no key at all. */
    key = (key_t)(0x53000000 | (getpid() & 0xffffff));
    stop_signals_hold(&saved);
    shmid = shmget(key, SEGMENT_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (shmid == -1)
        die_errno("shmget key 0x%08x", (unsigned)key);
    slot = cleanup_add_sysv_shm(shmid);
    if (slot == -1)
        die_errno("cleanup_add_sysv_shm");
    stop_signals_release(&saved);
    printf("[parent] shmget(0x%08x, %d, IPC_CREAT|IPC_EXCL|0600) created id %d\n", (unsigned)key,
           SEGMENT_SIZE, shmid);
    if (shmget(key, SEGMENT_SIZE, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST)
        printf("[parent] the same call again fails with EEXIST: the key is taken\n");
    show_stat("parent", shmid, "created, not attached");

    text = attach(shmid);
    snprintf(text, SEGMENT_SIZE, "written by pid %d", (int)getpid());
    printf("[parent] shmat() mapped it at %p and wrote \"%s\"\n", (void *)text, text);
    show_stat("parent", shmid, "after shmat");

    if (pipe(up) == -1 || pipe(down) == -1)
        die_errno("pipe");
    printf("[parent] forking: the child inherits the attachment\n");
    child = fork_or_die();
    if (child == 0) {
        close(up[0]);
        close(down[1]);
        run_child(key, text, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    wait_turn(up[0]);
    show_stat("parent", shmid, "child attached too");

    printf("[parent] shmctl(IPC_RMID) while two processes are attached\n");
    if (shmctl(shmid, IPC_RMID, NULL) == -1)
        die_errno("shmctl IPC_RMID");
    cleanup_forget(slot); /* removed: nothing left for the registry */
    show_stat("parent", shmid, "after IPC_RMID");
    if (shmget(key, 0, 0) == -1 && errno == ENOENT)
        printf("[parent] shmget(0x%08x) now fails with ENOENT: no new process can find it\n",
               (unsigned)key);
    if (shmdt(text) == -1)
        die_errno("shmdt");
    show_stat("parent", shmid, "parent detached");

    give_turn(down[1]);
    close(down[1]);
    reap_child(child, "parent");
    close(up[0]);
    show_stat("parent", shmid, "child detached");
    return 0;
}
