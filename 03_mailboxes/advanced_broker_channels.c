/* advanced_broker_channels.c - Chromium Mojo's broker: channels and shared memory handed to
 * sandboxed children
 *
 * Real-world pattern: Chromium's Mojo core, on POSIX.  The browser process is the broker
 * node; every child is invited with one channel to it and can create nothing itself.  A
 * child that wants shared memory sends the broker BUFFER_REQUEST and gets a descriptor
 * back in BUFFER_RESPONSE; a child that wants to talk to another node sends
 * REQUEST_INTRODUCTION, and the broker makes a new channel and sends one end to each side
 * in INTRODUCE, keeping nothing, so the two then talk directly.  Here the nodes are a
 * renderer and a GPU process, a channel is a pair of ports and the buffer a memfd.  Left
 * out: the sandbox itself, Mojo's ports layer (message pipes proxied and merged across
 * nodes, 128-bit random names), the invitation handshake and relaying through the broker.
 * Guide part: real-world (Chromium Mojo: the broker process).
 * Run: ./advanced_broker_channels
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "(no options)";

enum { BUFFER_REQUEST = 1, BUFFER_RESPONSE, REQUEST_INTRODUCTION, INTRODUCE, DRAW, DRAWN };
enum { RENDERER, GPU, NODES, BUFFER_SIZE = 4096, TIMEOUT_MS = 3000 };

static const char *const node_name[NODES] = {"renderer", "gpu"};

/* What the broker knows of a child: its channel both ways. */
struct node {
    struct mb_port *from;  /* the broker's receive right for this child's requests */
    mb_send_t to_broker;   /* the child's end of that */
    struct mb_port *inbox; /* the child's receive right, for what the broker sends */
    mb_send_t to_child;    /* the broker's end of that */
};

static void answer_buffer_request(struct mb_msg *req)
{
    struct mb_msg ans;
    int fd = memfd_create("mojo-shared-buffer", MFD_CLOEXEC);

    if (fd == -1 || ftruncate(fd, BUFFER_SIZE) == -1)
        die_errno("broker: memfd_create");
    printf("[broker] BUFFER_REQUEST from the renderer: made a %d-byte memfd, sending it in "
           "BUFFER_RESPONSE\n",
           BUFFER_SIZE);
    mb_msg_init(&ans, BUFFER_RESPONSE, 0, NULL, 0);
    mb_msg_add_right(&ans, fd);
    if (mb_reply(req, &ans, TIMEOUT_MS) == -1)
        die_errno("broker: BUFFER_RESPONSE");
    close(fd); /* moved: the broker keeps no reference to the child's memory */
}

/* A new channel between two nodes, both directions; each side gets its ends. */
static void introduce(struct node *nodes, int from, int to)
{
    mb_send_t forward_send, back_send;
    struct mb_port *forward = mb_port_create(8, &forward_send); /* from -> to */
    struct mb_port *back = mb_port_create(8, &back_send);       /* to -> from */
    struct mb_msg m;
    int receive_fd[2];

    if (forward == NULL || back == NULL)
        die_errno("broker: mb_port_create");
    receive_fd[0] = mb_port_into_fd(back);
    receive_fd[1] = mb_port_into_fd(forward);
    printf("[broker] REQUEST_INTRODUCTION renderer -> gpu: made a new channel; sending each "
           "side its ends in INTRODUCE and keeping nothing\n");
    for (int side = 0; side < 2; side++) {
        mb_msg_text(&m, INTRODUCE, 0, node_name[side == 0 ? to : from]);
        mb_msg_add_right(&m, receive_fd[side]);
        mb_msg_add_right(&m, side == 0 ? forward_send.fd : back_send.fd);
        if (mb_send(nodes[side == 0 ? from : to].to_child, &m, TIMEOUT_MS) == -1)
            die_errno("broker: INTRODUCE");
        mb_msg_release(&m); /* moved: closes the broker's copies of both ends */
    }
}

static void run_broker(struct node *nodes)
{
    struct mb_set *set = mb_set_create();
    struct mb_event ev;
    struct mb_msg m;

    for (int i = 0; i < NODES; i++)
        if (set == NULL || mb_set_add(set, nodes[i].from, 0, &nodes[i]) == -1)
            die_errno("broker: mb_set_add");
    while (mb_set_receive(set, &m, &ev, TIMEOUT_MS) == 1) {
        int who = (int)((struct node *)ev.cookie - nodes);

        if (ev.kind == MB_EV_NO_SENDERS)
            printf("[broker] the %s's channel is closed: it has exited\n", node_name[who]);
        else if (m.type == BUFFER_REQUEST)
            answer_buffer_request(&m);
        else if (m.type == REQUEST_INTRODUCTION && who == RENDERER)
            introduce(nodes, RENDERER, GPU);
        mb_msg_release(&m);
    }
    if (errno != ENOENT)
        die_errno("broker: mb_set_receive");
    mb_set_destroy(set);
}

/* Waits on the node's inbox for INTRODUCE: the ends of a channel to a peer. */
static void await_introduction(struct node *self, struct mb_port **from_peer, mb_send_t *to_peer)
{
    struct mb_msg m;

    if (mb_receive(self->inbox, &m, TIMEOUT_MS) != 1 || m.type != INTRODUCE || m.nrights != 2)
        die_errno("no INTRODUCE");
    if ((*from_peer = mb_port_adopt(m.rights[0])) == NULL)
        die_errno("mb_port_adopt");
    to_peer->fd = m.rights[1];
}

static noreturn void run_renderer(struct node *self)
{
    struct mb_port *from_gpu;
    mb_send_t to_gpu;
    struct mb_msg m;
    char *pixels;
    int buffer;

    mb_msg_init(&m, BUFFER_REQUEST, BUFFER_SIZE, NULL, 0);
    if (mb_call(self->to_broker, &m, TIMEOUT_MS) == -1 || m.nrights != 1)
        die_errno("renderer: BUFFER_REQUEST");
    buffer = m.rights[0];
    pixels = mmap(NULL, BUFFER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, buffer, 0);
    if (pixels == MAP_FAILED)
        die_errno("renderer: mmap");
    snprintf(pixels, BUFFER_SIZE, "frame 1: 64x64 pixels, all blue");
    printf("[renderer] drew frame 1 into the broker's buffer; asking to be introduced to the "
           "gpu\n");
    mb_msg_text(&m, REQUEST_INTRODUCTION, 0, "gpu");
    if (mb_send(self->to_broker, &m, TIMEOUT_MS) == -1)
        die_errno("renderer: REQUEST_INTRODUCTION");
    await_introduction(self, &from_gpu, &to_gpu);
    printf("[renderer] introduced: a channel of my own to the gpu; sending DRAW with the "
           "buffer\n");
    mb_msg_init(&m, DRAW, 1, NULL, 0);
    mb_msg_add_right(&m, buffer);
    if (mb_send(to_gpu, &m, TIMEOUT_MS) == -1)
        die_errno("renderer: DRAW");
    switch (mb_receive(from_gpu, &m, TIMEOUT_MS)) {
    case 0: die("renderer: the gpu left without answering");
    case -1: die_errno("renderer: wait for DRAWN");
    default: break;
    }
    printf("[renderer] gpu says \"%s\", straight over our channel\n", (char *)m.payload);
    munmap(pixels, BUFFER_SIZE);
    close(buffer);
    mb_send_release(&to_gpu);
    mb_port_destroy(from_gpu);
    mb_send_release(&self->to_broker);
    mb_port_destroy(self->inbox);
    exit(0);
}

static noreturn void run_gpu(struct node *self)
{
    struct mb_port *from_renderer;
    mb_send_t to_renderer;
    struct mb_msg m;
    char *pixels;

    await_introduction(self, &from_renderer, &to_renderer);
    if (mb_receive(from_renderer, &m, TIMEOUT_MS) != 1 || m.type != DRAW || m.nrights != 1)
        die_errno("gpu: DRAW");
    pixels = mmap(NULL, BUFFER_SIZE, PROT_READ, MAP_SHARED, m.rights[0], 0);
    if (pixels == MAP_FAILED)
        die_errno("gpu: mmap");
    printf("[gpu] DRAW from the renderer, reading the shared buffer: \"%s\"\n", pixels);
    munmap(pixels, BUFFER_SIZE);
    mb_msg_release(&m);
    mb_msg_text(&m, DRAWN, 1, "frame 1 on screen");
    if (mb_send(to_renderer, &m, TIMEOUT_MS) == -1)
        die_errno("gpu: DRAWN");
    mb_send_release(&to_renderer);
    mb_port_destroy(from_renderer);
    mb_send_release(&self->to_broker);
    mb_port_destroy(self->inbox);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct node nodes[NODES];
    pid_t pids[NODES];

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    for (int i = 0; i < NODES; i++)
        if ((nodes[i].from = mb_port_create(8, &nodes[i].to_broker)) == NULL ||
            (nodes[i].inbox = mb_port_create(8, &nodes[i].to_child)) == NULL)
            die_errno("mb_port_create");
    printf("[broker] launching the renderer and the gpu, each with one channel to me\n");
    for (int i = 0; i < NODES; i++) {
        if ((pids[i] = fork_or_die()) == 0) {
            for (int k = 0; k < NODES; k++) { /* a child keeps only its own channel */
                mb_port_destroy(nodes[k].from);
                mb_send_release(&nodes[k].to_child);
                if (k != i) {
                    mb_port_destroy(nodes[k].inbox);
                    mb_send_release(&nodes[k].to_broker);
                }
            }
            if (i == RENDERER)
                run_renderer(&nodes[i]);
            run_gpu(&nodes[i]);
        }
    }
    for (int i = 0; i < NODES; i++) {
        mb_port_destroy(nodes[i].inbox);
        mb_send_release(&nodes[i].to_broker);
    }
    run_broker(nodes);
    for (int i = 0; i < NODES; i++) {
        reap_child(pids[i], "broker");
        mb_port_destroy(nodes[i].from);
        mb_send_release(&nodes[i].to_child);
    }
    return 0;
}
