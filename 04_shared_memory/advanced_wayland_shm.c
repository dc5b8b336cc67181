/* advanced_wayland_shm.c - Wayland's wl_shm: a client draws into memfd buffers a compositor reads
 *
 * Real-world pattern: the Wayland core protocol's wl_shm, wl_shm_pool and wl_buffer
 * (protocol/wayland.xml).  The client makes a memfd, sizes it, and sends the descriptor in
 * wl_shm.create_pool; wl_shm_pool.create_buffer cuts buffers out of it by offset, size, stride
 * and pixel format.  Each frame the client draws into a free buffer, attaches and commits it;
 * the compositor maps the pool and reads the pixels in place, and sends wl_buffer.release once
 * it no longer needs a buffer: only then may the client draw into it again, hence two buffers.
 * The pool is sealed against shrinking (F_SEAL_SHRINK | F_SEAL_SEAL, as the Wayland backends of
 * GLFW and Qt do), so a compositor cannot get SIGBUS from a client that truncates it.  Left
 * out: the wire format, object ids and the registry, wl_surface damage and frame callbacks,
 * pool resize.
 * Guide part: real-world (shared-memory buffers between a client and a display server).
 * Run: ./advanced_wayland_shm [--frames N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] = "[--frames N]    (N from 1 to 1000)";

#define WIDTH 320
#define HEIGHT 240
#define STRIDE (WIDTH * 4)
#define BUFFER_BYTES (STRIDE * HEIGHT)
#define NBUFFERS 2
#define FORMAT_XRGB8888 1 /* wl_shm.format xrgb8888 */

enum opcode { CREATE_POOL, CREATE_BUFFER, ATTACH_COMMIT, RELEASE, DISCONNECT };

struct message { /* one request or event; SOCK_SEQPACKET keeps each whole */
    uint32_t op, id;
    int32_t offset, width, height, stride, format, size;
};

static const char *const op_names[] = {"wl_shm.create_pool", "wl_shm_pool.create_buffer",
                                       "wl_surface.attach+commit", "wl_buffer.release",
                                       "disconnect"};

/* Sends a message, with a descriptor beside it when fd >= 0 (SCM_RIGHTS). */
static void send_message(int sock, const struct message *m, int fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof *m};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof fd);
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof *m)
        die_errno("sendmsg %s", op_names[m->op]);
}

/* Receives one message; *fd gets a descriptor that came with it, or -1. */
static bool receive_message(int sock, struct message *m, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = m, .iov_len = sizeof *m};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n == 0)
        return false;
    if (n != (ssize_t)sizeof *m)
        die_errno("recvmsg");
    *fd = -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    if (c != NULL && c->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(c), sizeof *fd);
    return true;
}

static uint32_t frame_color(long frame)
{
    return (uint32_t)(0x00102030u + (uint32_t)frame * 0x00050301u) & 0x00ffffffu;
}

/* ---- the client ---- */

static void wait_for_release(int sock, bool busy[NBUFFERS])
{
    struct message m;
    int fd;

    if (!receive_message(sock, &m, &fd) || m.op != RELEASE)
        die("expected wl_buffer.release from the compositor");
    busy[m.id] = false;
}

static noreturn void run_client(int sock, long frames)
{
    int fd = memfd_create("wl_shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    size_t pool_size = (size_t)NBUFFERS * BUFFER_BYTES;
    bool busy[NBUFFERS] = {false, false};
    unsigned char *pool;

    if (fd == -1)
        die_errno("memfd_create");
    if (ftruncate(fd, (off_t)pool_size) == -1)
        die_errno("ftruncate");
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == -1)
        die_errno("F_ADD_SEALS");
    pool = mmap(NULL, pool_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (pool == MAP_FAILED)
        die_errno("mmap");
    printf("[client] memfd pool of %zu bytes (two %dx%d XRGB8888 buffers), sealed against "
           "shrinking; sending its descriptor\n",
           pool_size, WIDTH, HEIGHT);
    send_message(sock, &(struct message){.op = CREATE_POOL, .size = (int32_t)pool_size}, fd);
    close(fd); /* the compositor has its own descriptor now */
    for (uint32_t b = 0; b < NBUFFERS; b++)
        send_message(sock,
                     &(struct message){.op = CREATE_BUFFER,
                                       .id = b,
                                       .offset = (int32_t)(b * BUFFER_BYTES),
                                       .width = WIDTH,
                                       .height = HEIGHT,
                                       .stride = STRIDE,
                                       .format = FORMAT_XRGB8888},
                     -1);

    for (long frame = 1; frame <= frames; frame++) {
        uint32_t b = 0, color = frame_color(frame);

        while (busy[0] && busy[1]) {
            printf("[client] frame %ld: both buffers are held by the compositor; waiting for a "
                   "release\n",
                   frame);
            wait_for_release(sock, busy);
        }
        b = busy[0] ? 1 : 0;
        uint32_t *pixels = (uint32_t *)(pool + b * BUFFER_BYTES);

        for (int i = 0; i < WIDTH * HEIGHT; i++)
            pixels[i] = color;
        busy[b] = true;
        printf("[client] frame %ld drawn into buffer %u (0x%06x); attach + commit\n", frame, b,
               color);
        send_message(sock, &(struct message){.op = ATTACH_COMMIT, .id = b, .size = (int32_t)frame},
                     -1);
    }
    send_message(sock, &(struct message){.op = DISCONNECT}, -1);
    /* Events already on their way (a last release) are read until the compositor closes. */
    struct message late;

    while (receive_message(sock, &late, &fd))
        ;
    munmap(pool, pool_size);
    close(sock);
    exit(0);
}

/* ---- the compositor ---- */

static long composite(const unsigned char *pool, const struct message *buf, long frame)
{
    const uint32_t *pixels = (const uint32_t *)(pool + buf->offset);
    uint32_t want = frame_color(frame);
    long wrong = 0;

    for (int y = 0; y < buf->height; y++)
        for (int x = 0; x < buf->width; x++)
            wrong += pixels[y * (buf->stride / 4) + x] != want;
    return wrong;
}

static void run_compositor(int sock)
{
    struct message m, buffers[NBUFFERS];
    unsigned char *pool = NULL;
    size_t pool_size = 0;
    int fd, shown = -1;

    while (receive_message(sock, &m, &fd) && m.op != DISCONNECT) {
        if (m.op == CREATE_POOL) {
            int seals = fcntl(fd, F_GET_SEALS);

            pool_size = (size_t)m.size;
            pool = mmap(NULL, pool_size, PROT_READ, MAP_SHARED, fd, 0);
            if (pool == MAP_FAILED)
                die_errno("compositor mmap");
            close(fd);
            printf("[compositor] %s: mapped %zu bytes read-only; F_SEAL_SHRINK %s\n",
                   op_names[m.op], pool_size,
                   seals != -1 && (seals & F_SEAL_SHRINK) ? "set: no SIGBUS possible"
                                                          : "missing: must guard with SIGBUS");
        } else if (m.op == CREATE_BUFFER) {
            buffers[m.id] = m;
            printf("[compositor] %s %u: offset %d, %dx%d, stride %d\n", op_names[m.op], m.id,
                   m.offset, m.width, m.height, m.stride);
        } else if (m.op == ATTACH_COMMIT) {
            long wrong = composite(pool, &buffers[m.id], m.size);

            printf("[compositor] frame %d: read buffer %u in place, %ld of %d pixels wrong\n",
                   m.size, m.id, wrong, WIDTH * HEIGHT);
            /* The buffer on screen is kept until a newer one replaces it. */
            if (shown >= 0)
                send_message(sock, &(struct message){.op = RELEASE, .id = (uint32_t)shown}, -1);
            shown = (int)m.id;
        }
    }
    printf("[compositor] client disconnected\n");
    if (pool != NULL)
        munmap(pool, pool_size);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"frames", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long frames = 4;
    int sv[2], opt;
    pid_t client;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        frames = cli_long(optarg, 1, 1000, "--frames", usage);
    cli_no_operands(argc, argv, usage);

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
        die_errno("socketpair");
    client = fork_or_die();
    if (client == 0) {
        close(sv[0]);
        run_client(sv[1], frames);
    }
    close(sv[1]);
    run_compositor(sv[0]);
    close(sv[0]);
    reap_child(client, "compositor");
    return 0;
}
