/* solution_framed_copy.c - exercise 3: a file copied over TCP in frames, with a checksum
 *
 * The parent listens on 127.0.0.1 (a port the kernel picks) and forks the receiver, which
 * connects, writes what it receives into DST and checks it.  On the wire: frames of a 4-byte
 * big-endian length and that many bytes, every frame full (65536 bytes) except the last, a
 * frame of length 0 as the end, then the FNV-1a 64-bit hash of all the data (8 bytes, big-
 * endian).  Input from a pipe arrives in pieces of any size, so frames are filled with full
 * reads; the receiver reads each header and body in full too, whatever TCP delivers.
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_framed_copy [SRC|- DST]   (no operand: a sample, in a private directory)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAME_MAX 65536
#define FNV_OFFSET 0xcbf29ce484222325u
#define FNV_PRIME 0x100000001b3u

static const char usage[] = "[SRC|- DST]";

static uint64_t fnv1a(uint64_t hash, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hash = (hash ^ p[i]) * FNV_PRIME;
    return hash;
}

static void put_be64(unsigned char *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

static void send_file(int sock, int in)
{
    static unsigned char frame[4 + FRAME_MAX];
    unsigned char trailer[4 + 8] = {0}; /* the end frame (length 0) and the hash */
    uint64_t hash = FNV_OFFSET, total = 0, frames = 0;
    ssize_t n;

    while ((n = read_full(in, frame + 4, FRAME_MAX)) > 0) {
        uint32_t len = htonl((uint32_t)n);

        memcpy(frame, &len, 4);
        if (write_full(sock, frame, 4 + (size_t)n) == -1)
            die_errno("send a frame");
        hash = fnv1a(hash, frame + 4, (size_t)n);
        total += (uint64_t)n;
        frames++;
    }
    if (n == -1)
        die_errno("read the input");
    put_be64(trailer + 4, hash);
    if (write_full(sock, trailer, sizeof trailer) == -1)
        die_errno("send the end and the hash");
    printf("sent %llu bytes in %llu frames, fnv1a64 0x%016llx\n", (unsigned long long)total,
           (unsigned long long)frames, (unsigned long long)hash);
}

/* The receiver; returns the exit status: 0 when the hashes agree, 1 otherwise. */
static int receive_file(int sock, int out, const char *dst)
{
    static unsigned char body[FRAME_MAX];
    unsigned char sent_hash[8];
    uint64_t hash = FNV_OFFSET, total = 0, frames = 0;
    uint32_t len;

    for (;;) {
        if (read_full(sock, &len, 4) != 4)
            die("the connection ended inside a frame header");
        len = ntohl(len);
        if (len == 0)
            break;
        if (len > FRAME_MAX)
            die("a frame of %u bytes is longer than %d", len, FRAME_MAX);
        if (read_full(sock, body, len) != (ssize_t)len)
            die("the connection ended inside a frame");
        if (write_full(out, body, len) == -1)
            die_errno("write %s", dst);
        hash = fnv1a(hash, body, len);
        total += len;
        frames++;
    }
    if (read_full(sock, sent_hash, 8) != 8)
        die("the connection ended before the hash");
    printf("received %llu bytes in %llu frames, fnv1a64 0x%016llx: %s\n", (unsigned long long)total,
           (unsigned long long)frames, (unsigned long long)hash,
           hash == get_be64(sent_hash) ? "OK" : "checksum mismatch");
    return hash == get_be64(sent_hash) ? 0 : 1;
}

static noreturn void run_receiver(const struct sockaddr_in *addr, int out, const char *dst)
{
    int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), status;

    if (sock == -1 || connect(sock, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("connect");
    status = receive_file(sock, out, dst);
    close(sock);
    if (close(out) == -1)
        die_errno("close %s", dst);
    exit(status);
}

/* The demonstration's files: a 300000-byte sample and the name of its copy, in a private
 * directory that goes, with both, at exit. */
static void demo_files(char *src, size_t src_size, char *dst, size_t dst_size)
{
    static unsigned char sample[300000];
    char dir[256];
    sigset_t saved;
    int fd;

    make_temp_dir(dir, sizeof dir, "framed_copy");
    snprintf(src, src_size, "%s/sample", dir);
    snprintf(dst, dst_size, "%s/copy", dir);
    for (size_t i = 0; i < sizeof sample; i++)
        sample[i] = (unsigned char)(i * 7 + i / 251);
    stop_signals_hold(&saved);
    fd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd == -1 || cleanup_add_path(src) == -1)
        die_errno("create %s", src);
    stop_signals_release(&saved);
    if (write_full(fd, sample, sizeof sample) == -1 || close(fd) == -1)
        die_errno("write %s", src);
    if (cleanup_add_path(dst) == -1) /* before DST exists: removed even when verified */
        die_errno("cleanup_add_path");
    printf("[demo] copying a %zu-byte sample %s to %s\n", sizeof sample, src, dst);
}

int main(int argc, char *argv[])
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    char src[320], dst[320];
    const char *src_name, *dst_name;
    int listener, sock, in, out, status, slot;
    sigset_t saved;
    pid_t receiver;

    cli_getopt(argc, argv, "h", (const struct option[]){{"help", no_argument, NULL, 'h'}, {0}},
               usage);
    if (argc - optind == 0) {
        demo_files(src, sizeof src, dst, sizeof dst);
        src_name = src;
        dst_name = dst;
    } else if (argc - optind == 2) {
        src_name = argv[optind];
        dst_name = argv[optind + 1];
    } else {
        die_usage(usage, "give SRC (or -) and DST, or no operand for the demonstration");
    }
    in = strcmp(src_name, "-") == 0 ? STDIN_FILENO : open(src_name, O_RDONLY | O_CLOEXEC);
    if (in == -1)
        die_errno("open %s", src_name);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) /* a receiver that fails: EPIPE, then exit 1 */
        die_errno("signal");

    /* DST is created here, before the receiver exists: an existing DST is refused at once,
     * and the parent's registry removes a copy that is partial or fails its check. */
    stop_signals_hold(&saved);
    out = open(dst_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out == -1) {
        int saved_errno = errno;

        if (in != STDIN_FILENO)
            close(in);
        errno = saved_errno;
        die_errno("create %s", dst_name);
    }
    slot = cleanup_add_path(dst_name);
    if (slot == -1)
        die_errno("cleanup_add_path");
    stop_signals_release(&saved);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener == -1 || bind(listener, (struct sockaddr *)&addr, sizeof addr) == -1 ||
        listen(listener, 1) == -1 || getsockname(listener, (struct sockaddr *)&addr, &len) == -1)
        die_errno("listen on 127.0.0.1");
    stop_signals_hold(&saved); /* a stop signal before the registration would orphan it */
    printf("[sender] listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    receiver = fork_or_die();
    if (receiver == 0) {
        stop_signals_release(&saved);
        close(listener);
        if (in != STDIN_FILENO)
            close(in);
        run_receiver(&addr, out, dst_name);
    }
    if (cleanup_add_child(receiver) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    close(out);
    sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    close(listener);
    if (sock == -1) {
        if (errno != EINTR)
            die_errno("accept");
    } else {
        send_file(sock, in);
        close(sock);
    }
    if (in != STDIN_FILENO)
        close(in);
    if (waitpid(receiver, &status, 0) == -1)
        die_errno("waitpid");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        cleanup_forget(slot); /* verified: the copy stays */
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
