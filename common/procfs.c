/* procfs.c - a process's state, wait channel and descriptor flags, and sysctl
 * numbers, from /proc. */
#define _GNU_SOURCE
#include "procfs.h"
#include "common.h"
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The start of a /proc file as a string (these files are small text, and
 * generated whole at the first read); returns its length or -1. */
static ssize_t read_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd == -1)
        return -1;
    n = read_full(fd, buf, size - 1);
    close(fd);
    buf[n < 0 ? 0 : n] = '\0';
    return n;
}

int proc_state(pid_t pid)
{
    char path[64], line[512], *paren;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_text(path, line, sizeof line) == -1)
        return -1;
    /* "PID (comm) S ...": comm is the process's name, which may hold spaces
     * and ')' itself, but no field after it does: the last ')' ends it. */
    paren = strrchr(line, ')');
    if (paren == NULL || paren[1] != ' ' || paren[2] == '\0') {
        errno = EINVAL;
        return -1;
    }
    return (unsigned char)paren[2];
}

int proc_wchan(pid_t pid, char *buf, size_t size)
{
    char path[64];

    snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
    if (read_text(path, buf, size) == -1)
        return -1;
    if (strcmp(buf, "0") == 0)
        buf[0] = '\0';
    return 0;
}

int proc_fd_flags(pid_t pid, int fd)
{
    char path[64], text[512], *flags;

    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
    if (read_text(path, text, sizeof text) == -1)
        return -1;
    if ((flags = strstr(text, "\nflags:")) == NULL) { /* "pos:" comes first */
        errno = EINVAL;
        return -1;
    }
    return (int)strtol(flags + 7, NULL, 8); /* octal, as the kernel prints it */
}

int sysctl_long(const char *name, long *value)
{
    char path[256], text[64];
    ssize_t n;

    snprintf(path, sizeof path, "/proc/sys/%s", name);
    if ((n = read_text(path, text, sizeof text)) == -1)
        return -1;
    if (n > 0 && text[n - 1] == '\n')
        text[n - 1] = '\0';
    return parse_long(text, LONG_MIN, LONG_MAX, value);
}
