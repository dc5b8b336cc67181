/* io.h - reads and writes that finish what they start, and O_NONBLOCK. */
#ifndef IPC_IO_H
#define IPC_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- io.c ------------------------------------------------------------------
 * read_full and write_full retry after EINTR and continue after a short
 * transfer.  read_full returns the number of bytes read: n, or fewer only
 * when EOF came first (0 means EOF before any byte).  write_full returns n.
 * Both return -1 with errno set on an error; bytes already moved are then
 * lost to the caller, as with a plain write. */
ssize_t read_full(int fd, void *buf, size_t n);
ssize_t write_full(int fd, const void *buf, size_t n);
/* write_full of a NUL-terminated string; returns as write_full. */
ssize_t write_str(int fd, const char *s);
/* Turns O_NONBLOCK on or off and leaves the other status flags alone (F_SETFL
 * sets them all at once).  Returns 0, or -1 with errno set. */
int set_nonblocking(int fd, bool on);

#endif
