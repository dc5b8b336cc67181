/* advanced_redis_bgsave.c - Redis's BGSAVE: a fork child saves a snapshot, the parent writes on
 *
 * Real-world pattern: Redis's BGSAVE (src/rdb.c, rdbSaveBackground): Redis forks; the child sees
 * memory as it was at fork(), writes it to "temp-<pid>.rdb", fsyncs, renames it over dump.rdb
 * and exits while the parent serves writes.  Each parent write to a page still shared is a
 * copy-on-write fault (mm/memory.c: do_wp_page -> wp_page_copy); the child reports the copies,
 * its Private_Dirty, over a pipe (Redis: sendChildCOWInfo, "Fork CoW").  MADV_NOHUGEPAGE, as
 * Redis advises (one write would copy 2 MiB).  Left out: the RDB format, event loop, AOF.
 * Guide part: real-world (fork snapshots, copy-on-write).
 * Run: ./advanced_redis_bgsave
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "procfs.h"
#include "timing.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "";

#define RECORDS 4096
#define RECORD_SIZE 1024 /* four records a page */
#define CHANGED_PAGES 256

struct record {
    uint64_t key, version;
    char value[RECORD_SIZE - 16];
};

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

/* The child: rdbSave() to temp-<pid>.rdb, fsync, rename, then report copy-on-write. */
static void save_snapshot(const struct record *data, const char *dir, int info_fd)
{
    char temp[4200], final[4200];
    sigset_t saved;
    long cow_kib;
    int fd;

    snprintf(temp, sizeof temp, "%s/temp-%d.rdb", dir, (int)getpid());
    snprintf(final, sizeof final, "%s/dump.rdb", dir);
    stop_signals_hold(&saved); /* the child removes its own temp file if it is stopped */
    fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || cleanup_add_path(temp) == -1)
        die_errno("open %s", temp);
    stop_signals_release(&saved);
    for (int i = 0; i < RECORDS; i += 256) {
        if (write_full(fd, &data[i], 256 * sizeof *data) == -1)
            die_errno("write %s", temp);
        sleep_ms(2); /* a slow disk: the parent writes meanwhile */
    }
    if (fsync(fd) == -1 || close(fd) == -1)
        die_errno("fsync %s", temp);
    if (rename(temp, final) == -1) /* the dump file is replaced whole, never half-written */
        die_errno("rename %s", temp);
    /* Private_Dirty: the pages of the dataset this child alone maps, written (the copies). */
    if ((cow_kib = smaps_field_kib(data, "Private_Dirty")) == -1)
        die_errno("read /proc/self/smaps");
    printf("[child] snapshot written to %s and renamed to dump.rdb\n", temp);
    if (write_full(info_fd, &cow_kib, sizeof cow_kib) == -1)
        die_errno("write child info");
}

static void check_dump(const char *dir, const struct record *memory)
{
    static struct record saved[RECORDS];
    char path[4200];
    int fd, old = 0, differ = 0;

    snprintf(path, sizeof path, "%s/dump.rdb", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || read_full(fd, saved, sizeof saved) != (ssize_t)sizeof saved)
        die_errno("read %s", path);
    close(fd);
    if (unlink(path) == -1)
        die_errno("unlink %s", path);
    for (int i = 0; i < RECORDS; i++) {
        old += saved[i].version == 1;
        differ += saved[i].version != memory[i].version;
    }
    printf("[parent] dump.rdb: %d of %d records at version 1 (the moment of fork); %d differ "
           "from memory now\n",
           old, RECORDS, differ);
}

int main(int argc, char *argv[])
{
    size_t length = RECORDS * sizeof(struct record), page = (size_t)sysconf(_SC_PAGESIZE);
    size_t per_page = page / sizeof(struct record);
    long faults, cow_kib;
    struct record *data;
    int info[2];
    char dir[4096], dump[4200];
    pid_t child;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    make_temp_dir(dir, sizeof dir, "advanced_redis_bgsave");
    snprintf(dump, sizeof dump, "%s/dump.rdb", dir);
    if (cleanup_add_path(dump) == -1) /* made by the child; removed before the directory */
        die_errno("cleanup_add_path");

    data = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    madvise(data, length, MADV_NOHUGEPAGE); /* 4 KiB copies; a failure only means bigger ones */
    for (int i = 0; i < RECORDS; i++)
        data[i] = (struct record){.key = (uint64_t)i, .version = 1};
    printf("[parent] dataset: %d records, %zu pages, all at version 1\n", RECORDS, length / page);
    if (pipe2(info, O_CLOEXEC) == -1) /* Redis's child-info pipe */
        die_errno("pipe");

    printf("[parent] BGSAVE: fork()\n");
    /* Stopped, the parent first stops and reaps the child (which removes its temp file), and
     * only then removes dump.rdb and the directory: else the child may still write in it. */
    child = fork_registered(NULL);
    if (child == 0) {
        close(info[0]);
        save_snapshot(data, dir, info[1]);
        close(info[1]);
        exit(0);
    }
    close(info[1]);
    printf("[parent] the child saves; I go on writing: version 2 into one record of %d pages\n",
           CHANGED_PAGES);
    faults = minor_faults();
    for (size_t p = 0; p < CHANGED_PAGES; p++)
        data[p * 4 * per_page].version = 2; /* every 4th page */
    faults = minor_faults() - faults;
    printf("[parent] %ld page faults for %d writes: each copied a page still shared with the "
           "child\n",
           faults, CHANGED_PAGES);
    if (read_full(info[0], &cow_kib, sizeof cow_kib) != (ssize_t)sizeof cow_kib)
        die("the child sent no copy-on-write report");
    close(info[0]);
    reap_child(child, "parent");
    printf("[parent] child reported Fork CoW: %ld kB of its dataset pages are its own now\n",
           cow_kib);
    check_dump(dir, data);
    munmap(data, length);
    return 0;
}
