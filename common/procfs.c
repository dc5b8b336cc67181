/* procfs.c - a process's state, wait channel and descriptor flags, sysctl
 * numbers and smaps fields, from /proc. */
#define _GNU_SOURCE
#include "procfs.h"
#include "common.h"
#include "io.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

long peak_rss_kib(void)
{
    char text[4096], *line;
    long kib;

    if (read_text("/proc/self/status", text, sizeof text) == -1)
        return -1;
    if ((line = strstr(text, "\nVmHWM:")) == NULL) { /* absent for kernel threads */
        errno = ENOENT;
        return -1;
    }
    kib = strtol(line + 7, NULL, 10); /* "VmHWM:\t   1234 kB" */
    return kib;
}

int proc_wait_wchan(pid_t pid, const char *prefix, int timeout_ms)
{
    uint64_t start = now_ns(), limit = (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000000;
    char wchan[128];

    for (;;) {
        if (proc_wchan(pid, wchan, sizeof wchan) == -1)
            return -1;
        /* "" (not asleep) matches no prefix but "": a wait needs a function. */
        if (wchan[0] != '\0' && strncmp(wchan, prefix, strlen(prefix)) == 0)
            return 0;
        if (elapsed_ns(start) >= limit) {
            errno = ETIMEDOUT;
            return -1;
        }
        sleep_ms(1);
    }
}

long smaps_field_kib(const void *addr, const char *field)
{
    FILE *smaps = fopen("/proc/self/smaps", "re");
    uintptr_t where = (uintptr_t)addr;
    size_t size = 0, field_len = strlen(field);
    unsigned long start, end;
    bool ours = false;
    char *line = NULL;
    long kib = -1;

    if (smaps == NULL)
        return -1;
    while (kib == -1 && getline(&line, &size, smaps) != -1) {
        /* An entry starts with the mapping's maps line, "start-end perms ..."; its
         * fields follow as "Name:   value kB".  No field name is hex digits and a '-'. */
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
            ours = start <= where && where < end;
        else if (ours && strncmp(line, field, field_len) == 0 && line[field_len] == ':')
            kib = strtol(line + field_len + 1, NULL, 10);
        else if (ours && strncmp(line, "VmFlags:", 8) == 0)
            break; /* the last line of the entry: no such field */
    }
    free(line);
    fclose(smaps);
    if (kib == -1)
        errno = ENOENT;
    return kib;
}
