/* pitfall_shm_persists.c - shared memory outlives the process that forgot to remove it
 *
 * Shared memory objects have kernel persistence: a POSIX object stays in /dev/shm until
 * shm_unlink(), a System V segment stays in the table until IPC_RMID, long after every process
 * that used them has exited, holding memory nobody can see in `ps`.  Here a worker creates
 * one of each and exits without removing them; the parent finds both still there.  --fixed:
 * the worker unlinks the name and marks the segment IPC_RMID as soon as it is attached.
 * Guide part: pitfall (kernel persistence: forgotten shm_unlink and IPC_RMID).
 * Run: ./pitfall_shm_persists [--fixed]     (then `ls /dev/shm` and `ipcs -m`: nothing left)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

#define OBJECT_SIZE (64 * 1024)

/* The worker: uses both kinds of shared memory, then simply exits. */
static noreturn void run_worker(const char *name, key_t key, bool fixed)
{
    void *posix_map, *sysv_map;
    int fd, shmid;

    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -1)
        die_errno("shm_open %s", name);
    if (ftruncate(fd, OBJECT_SIZE) == -1)
        die_errno("ftruncate");
    posix_map = mmap(NULL, OBJECT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (posix_map == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    shmid = shmget(key, OBJECT_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (shmid == -1)
        die_errno("shmget");
    sysv_map = shmat(shmid, NULL, 0);
    if (sysv_map == (void *)-1)
        die_errno("shmat");
    printf("[worker] created %s and System V segment %d, %d KiB each\n", name, shmid,
           OBJECT_SIZE / 1024);
    if (fixed) {
        /* THE FIX: remove the names as soon as every user has the memory mapped; the
         * mappings keep working, and the kernel frees both at the last unmap. */
        if (shm_unlink(name) == -1)
            die_errno("shm_unlink");
        if (shmctl(shmid, IPC_RMID, NULL) == -1)
            die_errno("shmctl IPC_RMID");
        printf("[worker] shm_unlink() and IPC_RMID right after mapping\n");
    }
    memset(posix_map, 1, OBJECT_SIZE); /* the work */
    memset(sysv_map, 2, OBJECT_SIZE);
    printf("[worker] done, exiting%s\n", fixed ? "" : " (and forgetting to remove anything)");
    exit(0);
}

/* Returns whether the POSIX object survived; removes it if so, as `rm /dev/shm/...` would. */
static bool check_posix(const char *name)
{
    char path[128];
    struct stat st;

    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (stat(path, &st) == -1) {
        printf("[parent] %s: not there (%s)\n", path, strerror(errno));
        return false;
    }
    printf("[parent] LEFT BEHIND: %s, %lld bytes, though its creator has exited\n", path,
           (long long)st.st_size);
    return true;
}

static bool check_sysv(key_t key)
{
    struct shmid_ds ds;
    int shmid = shmget(key, 0, 0);

    if (shmid == -1) {
        printf("[parent] System V key 0x%08x: not there (%s)\n", (unsigned)key, strerror(errno));
        return false;
    }
    if (cleanup_add_sysv_shm(shmid) == -1) /* the demo removes it at exit, as ipcrm -m would */
        die_errno("cleanup_add_sysv_shm");
    if (shmctl(shmid, IPC_STAT, &ds) == -1)
        die_errno("shmctl IPC_STAT");
    printf("[parent] LEFT BEHIND: System V segment %d, %zu bytes, attached by %lu processes\n",
           shmid, ds.shm_segsz, (unsigned long)ds.shm_nattch);
    return true;
}

int main(int argc, char *argv[])
{
    char name[64];
    bool fixed, left;
    long forced;
    key_t key;
    pid_t worker;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(name, sizeof name, "/pitfall_shm_persists.%d", (int)getpid());
    key = (key_t)(0x50000000 | (getpid() & 0xffffff));
    /* Registered before the worker creates it: whatever it leaves, our exit removes (an
     * absent name is no error).  The demo must not itself leave what it shows being left. */
    if (cleanup_add_shm(name) == -1)
        die_errno("cleanup_add_shm");

    worker = fork_or_die();
    if (worker == 0)
        run_worker(name, key, fixed);
    reap_child(worker, "parent");
    printf("[parent] the worker is gone; what does the kernel still hold?\n");
    left = check_posix(name);
    left = check_sysv(key) || left;
    if (sysctl_long("kernel/shm_rmid_forced", &forced) == 0)
        printf("[parent] kernel.shm_rmid_forced = %ld (1 would make exit() destroy System V "
               "segments it leaves unattached; nothing does that for /dev/shm)\n",
               forced);
    if (left)
        printf("[parent] they would stay until reboot; this demo removes them at its exit, as "
               "`rm /dev/shm/NAME` and `ipcrm -m ID` would\n");
    else
        printf("[parent] nothing left: the names were removed while the memory was in use\n");
    return 0;
}
