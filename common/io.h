/* io.h - reads and writes that finish what they start, and O_NONBLOCK. */
#ifndef IPC_IO_H
#define IPC_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
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

/* Descriptor passing over a UNIX-domain socket.  send_fd sends `fd` with
 * SCM_RIGHTS and one data byte `tag` (a message must carry at least one byte
 * of data); returns 0, or -1 with errno.  recv_fd receives it with
 * MSG_CMSG_CLOEXEC and stores the byte in *tag unless tag is NULL; returns the
 * new descriptor, or -1 with errno: EBADMSG for a message that does not carry
 * exactly one descriptor (any it carried are closed), ECONNRESET when the
 * peer has closed (0 bytes).  Both retry after EINTR. */
int send_fd(int sock, int fd, char tag);
int recv_fd(int sock, char *tag);
/* 0 if fd is a FIFO (fstat, S_ISFIFO): a regular file or a device planted
 * where a FIFO was expected is refused, never written into.  Else -1 with
 * errno = ENOTSUP (it exists but is no FIFO) or what fstat gave.  `path` is
 * not used: it names the file in the caller's own message. */
int must_be_fifo(int fd, const char *path);
/* Opens `path` with `flags` (O_CREAT creates it with mode 0600) plus O_NONBLOCK
 * and O_CLOEXEC, so that a FIFO planted at `path` cannot make open() wait for
 * a writer; fstats it into *st (unless st is NULL) and refuses anything but a
 * regular file; then clears O_NONBLOCK again and returns the descriptor.  -1
 * with errno: EINVAL for a file that is not regular (a FIFO, a directory, a
 * device; nothing stays open), else what open, fstat or fcntl gave. */
int open_regular(const char *path, int flags, struct stat *st);

/* Fills *sun with AF_UNIX and the file-system path `path` (the rest zeroed) and
 * returns the length to pass to bind() or connect(): the offset of sun_path plus the
 * path and its NUL.  -1 with errno = ENAMETOOLONG when the path does not fit in
 * sun_path (107 bytes and the NUL on Linux), EINVAL for an empty path (a leading NUL
 * would name an abstract socket instead: build that address by hand); *sun is then
 * left alone. */
struct sockaddr_un;
int unix_address(struct sockaddr_un *sun, const char *path);

#endif
