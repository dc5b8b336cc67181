/* isolate.c - one case in namespaces of its own, and the leftovers check.
 *
 * With namespaces, a case sees a System V IPC table, a /tmp, a /dev/shm and
 * a POSIX message queue filesystem that only it uses: whatever is there
 * after the run was left by the program, and all of it vanishes with the
 * namespaces.  Another process on the machine can neither be blamed nor
 * touched.  A network namespace of its own, with only `lo` in it (brought
 * up), lets parallel cases of a program that names sockets bind the same
 * loopback port or abstract UNIX socket name; where one is refused, cases
 * share the machine's network as before.  As root the runner unshares the IPC, mount and network
 * namespaces directly; as a normal user it first enters a new user namespace
 * in which it keeps its own uid (so the program still runs as that normal
 * user) and owns the new namespaces.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- lists of names ------------------------------------------------------ */

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void names_add(struct names *l, const char *s)
{
    l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
    if (l->v == NULL || (l->v[l->n++] = strdup(s)) == NULL) {
        perror("examples: out of memory");
        exit(1);
    }
}

static void names_sort(struct names *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, compare_strings);
}

bool names_has(const struct names *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

void names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void list_dir(const char *path, struct names *out)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            names_add(out, e->d_name);
    closedir(d);
    names_sort(out);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- entering the namespaces ----------------------------------------------- */

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? write(fd, text, strlen(text)) : -1;

    if (fd >= 0)
        close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A user namespace in which we keep our uid and gid, and gain the
 * capabilities to mount inside it (lost again at the program's execve,
 * since the program's uid there is not 0). */
static int enter_user_namespace(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    char map[64];

    if (unshare(CLONE_NEWUSER) == -1)
        return -1;
    snprintf(map, sizeof map, "%d %d 1\n", (int)uid, (int)uid);
    if (write_text("/proc/self/uid_map", map) == -1)
        return -1;
    if (write_text("/proc/self/setgroups", "deny") == -1)
        return -1;
    snprintf(map, sizeof map, "%d %d 1\n", (int)gid, (int)gid);
    return write_text("/proc/self/gid_map", map);
}

/* The folders under /tmp that must stay visible once a fresh tmpfs covers
 * /tmp: the collection itself and a student's binary, when they live
 * there.  Each is opened before the mount and bound back after it. */
struct kept {
    char path[PATH_MAX];
    int fd;
};

static size_t find_kept(struct kept *kept, size_t max)
{
    const char *candidates[2] = {opt.top, NULL};
    char bin_dir[PATH_MAX];
    size_t n = 0;

    if (opt.bin != NULL && realpath(opt.bin, bin_dir) != NULL) {
        *strrchr(bin_dir, '/') = '\0';
        candidates[1] = bin_dir;
    }
    for (size_t i = 0; i < 2 && n < max; i++)
        if (candidates[i] != NULL && strncmp(candidates[i], "/tmp/", 5) == 0) {
            snprintf(kept[n].path, sizeof kept[n].path, "%s", candidates[i]);
            kept[n].fd = open(candidates[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (kept[n].fd >= 0)
                n++;
        }
    return n;
}

static int make_dirs(const char *path)
{
    char buf[PATH_MAX];

    if (strlen(path) >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, strlen(path) + 1);
    for (char *p = buf + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) == -1 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) == -1 && errno != EEXIST ? -1 : 0;
}

static int bind_back(const struct kept *k)
{
    char source[64];

    snprintf(source, sizeof source, "/proc/self/fd/%d", k->fd);
    if (make_dirs(k->path) == -1)
        return -1;
    return mount(source, k->path, NULL, MS_BIND | MS_REC, NULL);
}

/* A new network namespace holds only a loopback device, and it is down:
 * set IFF_UP on it, as `ip link set lo up` does (through any socket of the
 * namespace: the ioctl names the device). */
static int bring_up_loopback(void)
{
    struct ifreq ifr = {0};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (fd >= 0) {
        int saved = errno;

        close(fd);
        errno = saved;
    }
    return rc;
}

int isolation_enter(const char *mq_dir, bool netns, char *err, size_t size)
{
    struct kept kept[2];
    size_t nkept = 0;
    const char *step = "unshare(CLONE_NEWUSER)";
    int rc = -1;

    if (geteuid() != 0 && enter_user_namespace() == -1)
        goto out;
    step = netns ? "unshare(CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWNET)"
                 : "unshare(CLONE_NEWIPC | CLONE_NEWNS)";
    if (unshare(CLONE_NEWIPC | CLONE_NEWNS | (netns ? CLONE_NEWNET : 0)) == -1)
        goto out;
    step = "bring up lo in the new network namespace";
    if (netns && bring_up_loopback() == -1)
        goto out;
    step = "make / private";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
        goto out;
    /* Opened in the new mount namespace: a bind's source must be a mount
     * of the namespace it is bound in. */
    nkept = find_kept(kept, 2);
    step = "mount tmpfs on /tmp";
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == -1)
        goto out;
    step = "bind the collection back under /tmp";
    for (size_t i = 0; i < nkept; i++)
        if (bind_back(&kept[i]) == -1)
            goto out;
    step = "mount tmpfs on /dev/shm";
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == -1)
        goto out;
    step = "mount mqueue"; /* after the binds: mq_dir may be under /tmp */
    if (mount("mqueue", mq_dir, "mqueue", MS_NOSUID | MS_NODEV, NULL) == -1)
        goto out;
    rc = 0;
out:
    if (rc == -1)
        snprintf(err, size, "%s: %s", step, strerror(errno));
    for (size_t i = 0; i < nkept; i++)
        close(kept[i].fd);
    return rc;
}

/* One probe, in a throwaway child: does isolation_enter() work here? */
static bool probe(bool netns, char *why, size_t size)
{
    char mq_dir[CASE_PATH];
    int status, pipefd[2];
    pid_t pid;
    ssize_t n;

    snprintf(mq_dir, sizeof mq_dir, "%s/probe.XXXXXX", opt.work);
    if (mkdtemp(mq_dir) == NULL || pipe(pipefd) == -1) {
        snprintf(why, size, "cannot make a probe folder in %s: %s", opt.work, strerror(errno));
        return false;
    }
    pid = fork();
    if (pid == 0) {
        char err[256] = "";

        close(pipefd[0]);
        if (isolation_enter(mq_dir, netns, err, sizeof err) == -1) {
            (void)!write(pipefd[1], err, strlen(err));
            _exit(1);
        }
        _exit(0);
    }
    close(pipefd[1]);
    n = read(pipefd[0], why, size - 1);
    why[n > 0 ? n : 0] = '\0';
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    rmdir(mq_dir);
    return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool isolation_works(char *why, size_t size)
{
    char net_why[512];

    opt.netns = probe(true, net_why, sizeof net_why);
    if (opt.netns)
        return true;
    if (!probe(false, why, size))
        return false;
    printf("examples: note: no network namespace per case (%s): cases share the machine's "
           "loopback ports and abstract UNIX socket names\n",
           net_why);
    return true;
}

/* Fallback mode: POSIX message queues can only be listed where the mqueue
 * filesystem is mounted.  Use a mount if there is one; otherwise mount one
 * in a private mount namespace of the whole harness (needs root). */
void fallback_find_mqueue(void)
{
    FILE *fp = fopen("/proc/self/mounts", "r");
    char dev[256], mnt[PATH_MAX], type[64];

    while (fp != NULL && fscanf(fp, "%255s %4095s %63s %*[^\n]", dev, mnt, type) == 3)
        if (strcmp(type, "mqueue") == 0 && strlen(mnt) < sizeof opt.mqueue) {
            memcpy(opt.mqueue, mnt, strlen(mnt) + 1);
            fclose(fp);
            return;
        }
    if (fp != NULL)
        fclose(fp);
    snprintf(opt.mqueue, sizeof opt.mqueue, "%s/mqueue", opt.work);
    mkdir(opt.mqueue, 0700);
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount("mqueue", opt.mqueue, "mqueue", 0, NULL) == 0)
        return;
    printf("examples: note: no mqueue filesystem (%s): POSIX message queues left behind "
           "cannot be detected\n",
           strerror(errno));
    opt.mqueue[0] = '\0';
}

/* ---- what one run leaves behind ---------------------------------------------- */

/* The id column (the second) of /proc/sysvipc/shm, msg or sem: the tables
 * of the reader's own IPC namespace. */
static void list_sysv(const char *table, struct names *out)
{
    char path[64], line[512], key[32], id[32];
    FILE *fp;

    snprintf(path, sizeof path, "/proc/sysvipc/%s", table);
    fp = fopen(path, "r");
    if (fp == NULL)
        return;
    if (fgets(line, sizeof line, fp) != NULL) /* the header */
        while (fgets(line, sizeof line, fp) != NULL)
            if (sscanf(line, "%31s %31s", key, id) == 2)
                names_add(out, id);
    fclose(fp);
    names_sort(out);
}

static const char *const place_names[NPLACES] = {
    "/dev/shm",
    "POSIX message queue",
    "/tmp",
    "System V shared memory id",
    "System V message queue id",
    "System V semaphore set id",
};

void take_snapshot(struct snapshot *s, const char *mq_dir)
{
    memset(s, 0, sizeof *s);
    list_dir("/dev/shm", &s->at[DEV_SHM]);
    if (mq_dir != NULL && mq_dir[0] != '\0')
        list_dir(mq_dir, &s->at[MQUEUE]);
    list_dir("/tmp", &s->at[TMP]);
    list_sysv("shm", &s->at[SYSV_SHM]);
    list_sysv("msg", &s->at[SYSV_MSG]);
    list_sysv("sem", &s->at[SYSV_SEM]);
}

void free_snapshot(struct snapshot *s)
{
    for (int p = 0; p < NPLACES; p++)
        names_free(&s->at[p]);
}

/* In fallback mode /tmp is the machine's: a compiler's temporary file that
 * happened to exist during the run is gone a moment later. */
static bool is_transient(const char *name)
{
    char path[PATH_MAX];
    struct timespec pause = {0, 200 * 1000 * 1000};

    if (opt.namespaces)
        return false;
    snprintf(path, sizeof path, "/tmp/%s", name);
    nanosleep(&pause, NULL);
    return access(path, F_OK) == -1;
}

/* The type of a /tmp or /dev/shm entry in words, so that a FIFO or a
 * socket left behind says what it is. */
static const char *kind_of(enum place p, const char *name)
{
    char path[PATH_MAX];
    struct stat st;

    if (p != TMP && p != DEV_SHM)
        return "";
    snprintf(path, sizeof path, "%s/%s", p == TMP ? "/tmp" : "/dev/shm", name);
    if (lstat(path, &st) == -1)
        return "";
    return S_ISFIFO(st.st_mode)   ? " (a FIFO)"
           : S_ISSOCK(st.st_mode) ? " (a socket)"
           : S_ISDIR(st.st_mode)  ? " (a directory)"
                                  : "";
}

void compare_snapshots(const struct snapshot *before, const struct snapshot *after,
                       const struct names *exempt, char **report)
{
    for (int p = 0; p < NPLACES; p++)
        for (size_t i = 0; i < after->at[p].n; i++) {
            const char *name = after->at[p].v[i];

            if (names_has(&before->at[p], name))
                continue;
            if (p == TMP && (names_has(exempt, name) || is_transient(name)))
                continue;
            append(report, "left behind: %s %s%s%s; ", place_names[p], name,
                   kind_of((enum place)p, name),
                   opt.namespaces ? ""
                                  : " (appeared during the case; the harness removed nothing)");
        }
}
