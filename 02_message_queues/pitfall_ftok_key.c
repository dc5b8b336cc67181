/* pitfall_ftok_key.c - ftok() keys that collide, and keys that change when the file is replaced
 *
 * ftok(path, id) builds a 32-bit key from 8 bits of id, 8 bits of the device
 * number and 16 bits of the inode number.  So different inputs can give one
 * key: here app B picks id 0x141 to differ from app A's 0x41, gets A's key,
 * and msgget() without IPC_EXCL silently hands it A's queue.  And the key is
 * not the path: a file replaced the way editors and package managers do it
 * (a new file renamed over the old) has a new inode, so a client computing the
 * key again no longer finds the server's queue.
 * --fixed: each app creates its queue with IPC_PRIVATE and writes the msqid
 * into a file of its own; clients read the identifier instead of guessing a key.
 *
 * Guide part: pitfall (System V keys).
 * Run: ./pitfall_ftok_key [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

struct message {
    long mtype;
    char mtext[32];
};

static char dir[PATH_MAX];

/* Creates (or, replace = true, replaces by rename) DIR/name holding `text`. */
static void write_file(const char *name, const char *text, bool replace)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 64];
    sigset_t saved;
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.new", dir, name);
    stop_signals_hold(&saved); /* a Ctrl-C between create and register would leave it */
    if ((fd = open(replace ? tmp : path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
        die_errno("open %s", replace ? tmp : path);
    if (cleanup_add_path(path) == -1)
        die_errno("cleanup_add_path %s", path);
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) == -1)
        die_errno("write %s", path);
    if (replace && rename(tmp, path) == -1)
        die_errno("rename %s", tmp);
    stop_signals_release(&saved);
}

static key_t make_key(const char *role, const char *name, int id)
{
    char path[PATH_MAX + 64];
    struct stat st;
    key_t key;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (stat(path, &st) == -1 || (key = ftok(path, id)) == -1)
        die_errno("ftok %s", path);
    printf("[%s] ftok(\"%s\", 0x%x) = 0x%08x: id 0x%02x, dev 0x%02x, inode %lu (0x%04x)\n", role,
           name, id, (unsigned)key, id & 0xff, (unsigned)(st.st_dev & 0xff),
           (unsigned long)st.st_ino, (unsigned)(st.st_ino & 0xffff));
    return key;
}

static int queue_for(const char *role, key_t key, int flags)
{
    sigset_t saved;
    int msqid;

    stop_signals_hold(&saved);
    if ((msqid = msgget(key, flags)) == -1)
        die_errno("%s: msgget", role);
    if ((flags & IPC_EXCL) && cleanup_add_sysv_msg(msqid) == -1)
        die_errno("cleanup_add_sysv_msg");
    stop_signals_release(&saved);
    printf("[%s] msgget(%s%s) = msqid %d\n", role, key == IPC_PRIVATE ? "IPC_PRIVATE" : "key",
           (flags & IPC_EXCL) ? ", IPC_CREAT|IPC_EXCL" : ", IPC_CREAT", msqid);
    return msqid;
}

static void send_text(int msqid, const char *text)
{
    struct message msg = {.mtype = 1};

    snprintf(msg.mtext, sizeof msg.mtext, "%s", text);
    if (msgsnd(msqid, &msg, strlen(msg.mtext) + 1, 0) == -1)
        die_errno("msgsnd");
}

/* App B takes whatever its queue holds (IPC_NOWAIT: nothing means nothing). */
static void app_b_receives(int msqid)
{
    struct message msg;

    if (msgrcv(msqid, &msg, sizeof msg.mtext, 0, IPC_NOWAIT) != -1)
        printf("[app B] received \"%s\": the two apps share one queue\n", msg.mtext);
    else if (errno == ENOMSG)
        printf("[app B] its queue is empty: A's message went to A's queue only\n");
    else
        die_errno("msgrcv");
}

static void broken(void)
{
    key_t key_a, key_b, key_now;
    int msqid_a, msqid_b;

    write_file("app.conf", "shared by both apps\n", false);
    key_a = make_key("app A", "app.conf", 0x41);
    key_b = make_key("app B", "app.conf", 0x141); /* "a different id", but only 8 bits count */
    printf("[app B] only the low 8 bits of the id count, and only 16 of the inode: a file whose "
           "inode is 65536 higher gets the same key too\n");
    msqid_a = queue_for("app A", key_a, IPC_CREAT | IPC_EXCL | 0600);
    send_text(msqid_a, "for app A only");
    msqid_b = queue_for("app B", key_b, IPC_CREAT | 0600);
    app_b_receives(msqid_b);

    printf("[server] --- the key file is replaced: a new file renamed over the old\n");
    write_file("server.key", "x\n", false);
    queue_for("server", make_key("server", "server.key", 'q'), IPC_CREAT | IPC_EXCL | 0600);
    write_file("server.key", "x\n", true);
    key_now = make_key("client", "server.key", 'q');
    if (msgget(key_now, 0) == -1 && errno == ENOENT)
        printf("[client] msgget(new key, 0): %s: the server's queue is lost to its clients\n",
               strerror(errno));
    else
        die("the key did not change with the inode");
}

static void fixed(void)
{
    char text[32], buf[32], path[PATH_MAX + 64];
    int msqid_a, msqid_b, fd;
    struct msqid_ds ds;
    ssize_t n;

    /* THE FIX: no key at all.  The identifier goes where clients look for it. */
    msqid_a = queue_for("app A", IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
    msqid_b = queue_for("app B", IPC_PRIVATE, IPC_CREAT | IPC_EXCL | 0600);
    send_text(msqid_a, "for app A only");
    app_b_receives(msqid_b);

    printf("[server] --- the id file is replaced: a new file renamed over the old\n");
    snprintf(text, sizeof text, "%d\n", msqid_a);
    write_file("server.id", text, false);
    write_file("server.id", text, true);
    snprintf(path, sizeof path, "%s/server.id", dir);
    if ((fd = open(path, O_RDONLY)) == -1 || (n = read(fd, buf, sizeof buf - 1)) <= 0)
        die_errno("read %s", path);
    close(fd);
    buf[n] = '\0';
    if (msgctl(atoi(buf), IPC_STAT, &ds) == -1)
        die_errno("msgctl IPC_STAT %s", buf);
    printf("[client] read msqid %d from server.id and found the queue: the file's inode does not "
           "matter\n",
           atoi(buf));
}

int main(int argc, char *argv[])
{
    bool is_fixed;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    is_fixed = cli_pitfall_fixed(argc, argv, usage);
    make_temp_dir(dir, sizeof dir, "pitfall_ftok_key");
    if (is_fixed)
        fixed();
    else
        broken();
    return 0; /* exit() removes the queues, the files, the directory */
}
