/* transport_notify.c - notify-only mechanisms: an eventfd and a queued real-time signal
 * (sigqueue/sigwaitinfo) carry no payload at all, only "there is something for you".  The
 * bytes go through a 64 KiB slot per direction in anonymous MAP_SHARED memory (shared with
 * the child of the fork, nothing named), as in shm-sem; the mechanism replaces the two
 * semaphores of each direction: "filled" (sender to receiver) and "emptied" (back).
 *
 * eventfd+shm: four eventfds, filled and emptied for each direction; "emptied" starts at 1
 * (the slot is empty).  A wait polls for a second at a time and asks after the peer.
 * sigqueue+shm: SIGRTMIN ("filled") and SIGRTMIN+1 ("emptied"), blocked in the creating
 * process before the fork so the child inherits the mask, taken with sigtimedwait().  Real-time
 * signals queue (signal(7)), so none is lost; each side counts the one "emptied" it is owed.
 */
#define _GNU_SOURCE
#include "transport_impl.h"
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { FILLED, EMPTIED };

static struct slot_channel *channel(struct transport *t, int dir)
{
    return &((struct slot_region *)t->region)->dir[dir];
}

static int open_eventfds(struct transport *t)
{
    if (transport_map_anon(t, sizeof(struct slot_region)) == -1)
        return -1;
    t->chunk = SLOT_CHUNK;
    for (int dir = 0; dir < 2; dir++) {
        t->efd[dir][FILLED] = eventfd(0, EFD_CLOEXEC);
        t->efd[dir][EMPTIED] = eventfd(1, EFD_CLOEXEC);
        if (t->efd[dir][FILLED] == -1 || t->efd[dir][EMPTIED] == -1)
            return -1;
    }
    return 0;
}

/* A read takes the counter and resets it to 0; it is never above 1 here. */
static int eventfd_wait(struct transport *t, int fd)
{
    uint64_t count;

    if (transport_wait_readable(t, fd) == -1)
        return -1;
    while (read(fd, &count, sizeof count) == -1)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int eventfd_post(int fd)
{
    uint64_t one = 1;

    while (write(fd, &one, sizeof one) == -1)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int eventfd_send(struct transport *t, const unsigned char *p, size_t len)
{
    if (eventfd_wait(t, t->efd[t->side][EMPTIED]) == -1)
        return -1;
    slot_put(channel(t, t->side), p, len);
    return eventfd_post(t->efd[t->side][FILLED]);
}

static int eventfd_recv(struct transport *t, unsigned char *p, size_t len)
{
    int dir = 1 - t->side;

    if (eventfd_wait(t, t->efd[dir][FILLED]) == -1 || slot_take(channel(t, dir), p, len) == -1)
        return -1;
    return eventfd_post(t->efd[dir][EMPTIED]);
}

/* ---- sigqueue+shm ------------------------------------------------------------------------ */

static void no_op(int sig)
{
    (void)sig;
}

static sigset_t notify_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + FILLED);
    sigaddset(&set, SIGRTMIN + EMPTIED);
    return set;
}

/* The signals are blocked first, so none can be delivered (and kill, as is their default)
 * before a wait takes it.  A handler that does nothing stays installed: a notification that
 * comes after transport_close() unblocked them interrupts a call, it does not kill. */
static int open_signals(struct transport *t)
{
    sigset_t set = notify_signals();
    struct sigaction sa = {.sa_handler = no_op};

    if (transport_map_anon(t, sizeof(struct slot_region)) == -1)
        return -1;
    t->chunk = SLOT_CHUNK;
    t->may_send = true; /* both slots start empty */
    if (sigprocmask(SIG_BLOCK, &set, &t->saved_mask) == -1)
        return -1;
    t->mask_saved = true;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN + FILLED, &sa, NULL) == -1 ||
        sigaction(SIGRTMIN + EMPTIED, &sa, NULL) == -1)
        return -1;
    return 0;
}

static int signal_wait(struct transport *t, int which)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + which);
    for (;;) {
        struct timespec one_second = {.tv_sec = 1};

        if (sigtimedwait(&set, NULL, &one_second) == SIGRTMIN + which)
            return 0;
        if (errno == EAGAIN && transport_peer_gone(t)) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

/* A signal to a process that has gone fails with ESRCH: the peer is gone. */
static int signal_post(struct transport *t, int which)
{
    if (sigqueue(t->peer, SIGRTMIN + which, (union sigval){.sival_int = t->side}) == 0)
        return 0;
    if (errno == ESRCH)
        errno = EPIPE;
    return -1;
}

static int signal_send(struct transport *t, const unsigned char *p, size_t len)
{
    if (!t->may_send && signal_wait(t, EMPTIED) == -1)
        return -1;
    t->may_send = false;
    slot_put(channel(t, t->side), p, len);
    return signal_post(t, FILLED);
}

static int signal_recv(struct transport *t, unsigned char *p, size_t len)
{
    if (signal_wait(t, FILLED) == -1 || slot_take(channel(t, 1 - t->side), p, len) == -1)
        return -1;
    return signal_post(t, EMPTIED);
}

/* The creator takes what is still pending (the peer's last "emptied"), then unblocks. */
static void signal_close(struct transport *t)
{
    sigset_t set = notify_signals();
    struct timespec now = {0};

    if (!t->mask_saved || getpid() != t->creator)
        return;
    while (sigtimedwait(&set, NULL, &now) > 0)
        continue;
    sigprocmask(SIG_SETMASK, &t->saved_mask, NULL);
}

const struct transport_ops eventfd_shm_ops = {"eventfd+shm", open_eventfds, eventfd_send,
                                              eventfd_recv,  NULL,          NULL};
const struct transport_ops sigqueue_shm_ops = {"sigqueue+shm", open_signals, signal_send,
                                               signal_recv,    NULL,         signal_close};
