/* test_mailbox.c - Check unit tests of the port module: each guarantee of mailbox.h,
 * asserted across real processes.
 *
 * A test forks the other side of the port as a child that reports through its exit
 * status (0 = all went as expected; another code names the step that did not), so the
 * assertions about what crossed the process boundary are made in the parent.
 */
#define _GNU_SOURCE
#include "mailbox.h"
#include "timing.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* Runs fn(arg) in a child; its return value is the child's exit status. */
static pid_t spawn(int (*fn)(void *), void *arg)
{
    pid_t pid;

    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

static int exit_status(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

static struct mb_port *new_port(unsigned capacity, mb_send_t *send)
{
    struct mb_port *port = mb_port_create(capacity, send);

    ck_assert_msg(port != NULL, "mb_port_create(%u): %s", capacity, strerror(errno));
    return port;
}

static void text_msg(struct mb_msg *m, uint32_t type, uint32_t id, const char *text)
{
    ck_assert_int_eq(mb_msg_text(m, type, id, text), 0);
}

/* What the children share: the send right (or receive right) they use. */
struct side {
    mb_send_t to;
    struct mb_port *port;
    int count;
    uint32_t types[8];
};

/* ---- send and receive ----------------------------------------------------------------- */

static int send_numbered(void *arg)
{
    struct side *s = arg;
    struct mb_msg m;

    for (int i = 0; i < s->count; i++) {
        char text[64] = {0}; /* the payload runs i bytes past the string's end */

        snprintf(text, sizeof text, "message %d", i);
        if (mb_msg_init(&m, s->types[i % 8], (uint32_t)i, text, strlen(text) + 1 + (size_t)i) ||
            mb_send(s->to, &m, MB_FOREVER) != 0)
            return 10 + i;
    }
    return 0;
}

START_TEST(test_send_receive_order_and_no_senders)
{
    struct side s = {.count = 20};
    struct mb_msg m;
    struct mb_port *port = new_port(32, &s.to);
    pid_t child = spawn(send_numbered, &s);

    mb_send_release(&s.to); /* the child's copy is the only send right now */
    for (int i = 0; i < s.count; i++) {
        char text[64];

        ck_assert_int_eq(mb_receive(port, &m, 2000), 1);
        snprintf(text, sizeof text, "message %d", i);
        ck_assert_uint_eq(m.id, (uint32_t)i);                   /* ORDER */
        ck_assert_uint_eq(m.len, strlen(text) + 1 + (size_t)i); /* the whole payload */
        ck_assert_str_eq((const char *)m.payload, text);
        ck_assert_uint_eq(m.nrights, 0);
        ck_assert_int_eq(m.reply.fd, -1);
    }
    ck_assert_int_eq(exit_status(child), 0);
    ck_assert_int_eq(mb_receive(port, &m, 2000), 0); /* no senders: end-of-file */
    ck_assert_int_eq(mb_receive(port, &m, 0), 0);    /* and it stays so */
    mb_port_destroy(port);
}
END_TEST

START_TEST(test_empty_port_nonblocking_and_timeout)
{
    mb_send_t send;
    struct mb_msg m;
    struct mb_port *port = new_port(8, &send);
    uint64_t t0;

    errno = 0;
    ck_assert_int_eq(mb_receive(port, &m, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    t0 = now_ns();
    ck_assert_int_eq(mb_receive(port, &m, 120), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_uint_ge(elapsed_ns(t0), 115000000u);
    ck_assert_uint_lt(elapsed_ns(t0), 2000000000u);
    mb_send_release(&send);
    mb_port_destroy(port);
}
END_TEST

static int send_late(void *arg)
{
    struct side *s = arg;
    struct mb_msg m;

    sleep_ms(80);
    mb_msg_text(&m, 7, 42, "late");
    return mb_send(s->to, &m, MB_FOREVER) == 0 ? 0 : 1;
}

START_TEST(test_timed_receive_gets_a_late_message)
{
    struct side s;
    struct mb_msg m;
    struct mb_port *port = new_port(8, &s.to);
    pid_t child = spawn(send_late, &s);
    uint64_t t0 = now_ns();

    ck_assert_int_eq(mb_receive(port, &m, 3000), 1);
    ck_assert_uint_ge(elapsed_ns(t0), 60000000u);
    ck_assert_uint_eq(m.id, 42);
    ck_assert_int_eq(exit_status(child), 0);
    mb_send_release(&s.to);
    mb_port_destroy(port);
}
END_TEST

/* ---- capacity and back-pressure ------------------------------------------------------------ */

/* Sends until the port refuses; exit status = how many went in. */
static int fill_until_refused(void *arg)
{
    static const unsigned char payload[MB_MAX_PAYLOAD];
    struct side *s = arg;
    struct mb_msg m;
    int sent = 0;

    mb_msg_init(&m, 1, 0, payload, (size_t)s->count); /* count doubles as the payload size */
    while (mb_send(s->to, &m, 0) == 0)
        sent++;
    return errno == EAGAIN && sent <= 255 ? sent : 255;
}

START_TEST(test_capacity_is_exact_in_messages)
{
    static const unsigned capacities[] = {8, 16, 100, 250};
    static const int payloads[] = {1, MB_MAX_PAYLOAD};

    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        for (size_t p = 0; p < 2; p++) {
            struct side s = {.count = payloads[p]};
            struct mb_port *port = new_port(capacities[c], &s.to);
            pid_t child;

            ck_assert_uint_eq(mb_port_capacity(port), capacities[c]);
            child = spawn(fill_until_refused, &s);
            ck_assert_int_eq(exit_status(child), (int)capacities[c]);
            ck_assert_int_eq(mb_port_queued(port), (long)capacities[c]);
            ck_assert_int_eq(mb_send_queued(s.to), (long)capacities[c]);
            mb_send_release(&s.to);
            mb_port_destroy(port);
        }
    }
}
END_TEST

START_TEST(test_small_capacity_rounds_up_to_the_kernel_minimum)
{
    struct side s = {.count = 10};
    struct mb_port *port = new_port(1, &s.to);
    unsigned capacity = mb_port_capacity(port);
    pid_t child;

    /* SOCK_MIN_SNDBUF = 4608 bytes, one message 768: 6 here. */
    ck_assert_uint_ge(capacity, 1);
    ck_assert_uint_eq(capacity,
                      (unsigned)((4608 + mb_message_truesize() - 1) / mb_message_truesize()));
    child = spawn(fill_until_refused, &s);
    ck_assert_int_eq(exit_status(child), (int)capacity);
    mb_send_release(&s.to);
    mb_port_destroy(port);
}
END_TEST

START_TEST(test_full_port_send_times_out)
{
    struct side s = {.count = 4};
    struct mb_port *port = new_port(8, &s.to);
    struct mb_msg m;
    uint64_t t0;

    ck_assert_int_eq(exit_status(spawn(fill_until_refused, &s)), 8);
    mb_msg_text(&m, 1, 99, "one too many");
    errno = 0;
    ck_assert_int_eq(mb_send(s.to, &m, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    t0 = now_ns();
    ck_assert_int_eq(mb_send(s.to, &m, 100), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_uint_ge(elapsed_ns(t0), 95000000u);
    /* Nothing of the refused message went in. */
    ck_assert_int_eq(mb_port_queued(port), 8);
    mb_send_release(&s.to);
    mb_port_destroy(port);
}
END_TEST

static int send_blocking(void *arg)
{
    struct side *s = arg;
    struct mb_msg m;

    for (int i = 0; i < s->count; i++) {
        mb_msg_init(&m, 1, (uint32_t)i, NULL, 0);
        if (mb_send(s->to, &m, MB_FOREVER) != 0)
            return 1;
    }
    return 0;
}

START_TEST(test_blocked_sender_waits_for_the_receiver)
{
    struct side s = {.count = 30};
    struct mb_port *port = new_port(10, &s.to);
    struct mb_msg m;
    pid_t child = spawn(send_blocking, &s);
    int status;

    sleep_ms(150);
    /* The sender is held back: 10 queued, 20 still to send, the child still alive. */
    ck_assert_int_eq(mb_port_queued(port), 10);
    ck_assert_int_eq(waitpid(child, &status, WNOHANG), 0);
    for (int i = 0; i < s.count; i++) {
        ck_assert_int_eq(mb_receive(port, &m, 2000), 1);
        ck_assert_uint_eq(m.id, (uint32_t)i);
    }
    ck_assert_int_eq(exit_status(child), 0);
    mb_send_release(&s.to);
    mb_port_destroy(port);
}
END_TEST

/* ---- rights -------------------------------------------------------------------------------------
 */

/* Receives a message carrying a send right, and uses that right. */
static int use_received_right(void *arg)
{
    struct side *s = arg;
    struct mb_msg m, hello;
    mb_send_t service;

    if (mb_receive(s->port, &m, 2000) != 1 || m.nrights != 1)
        return 1;
    if ((fcntl(m.rights[0], F_GETFD) & FD_CLOEXEC) == 0)
        return 2; /* rights arrive close-on-exec */
    service.fd = m.rights[0];
    mb_msg_text(&hello, 5, 1, "hello through a moved right");
    if (mb_send(service, &hello, 2000) != 0)
        return 3;
    mb_msg_release(&m);
    mb_port_destroy(s->port);
    return 0;
}

START_TEST(test_send_right_moved_to_another_process)
{
    mb_send_t service_send, mailbox_send;
    struct mb_port *service = new_port(8, &service_send);
    struct side s = {.port = new_port(8, &mailbox_send)};
    struct mb_msg m;
    pid_t child = spawn(use_received_right, &s);

    mb_port_destroy(s.port); /* the child holds the mailbox's receive right */
    mb_msg_init(&m, 4, 0, NULL, 0);
    ck_assert_int_eq(mb_msg_add_right(&m, service_send.fd), 0);
    ck_assert_int_eq(mb_send(mailbox_send, &m, 2000), 0);
    mb_msg_release(&m); /* send + release = move: the parent keeps no send right */
    ck_assert_int_eq(m.nrights, 0);
    mb_send_release(&mailbox_send);

    ck_assert_int_eq(mb_receive(service, &m, 2000), 1);
    ck_assert_str_eq((const char *)m.payload, "hello through a moved right");
    ck_assert_int_eq(exit_status(child), 0);
    /* The only send right went to the child, which has exited: no senders. */
    ck_assert_int_eq(mb_receive(service, &m, 2000), 0);
    mb_port_destroy(service);
}
END_TEST

START_TEST(test_right_in_flight_counts_as_a_sender)
{
    mb_send_t a_send, b_send;
    struct mb_port *a = new_port(8, &a_send), *b = new_port(8, &b_send);
    struct mb_msg m;

    mb_msg_init(&m, 1, 0, NULL, 0);
    mb_msg_add_right(&m, a_send.fd);
    ck_assert_int_eq(mb_send(b_send, &m, 0), 0);
    mb_msg_release(&m);
    /* No descriptor of A's send end is open anywhere, yet one is queued in B: */
    errno = 0;
    ck_assert_int_eq(mb_receive(a, &m, 0), -1);
    ck_assert_int_eq(errno, EAGAIN); /* not end-of-file */
    ck_assert_int_eq(mb_receive(b, &m, 0), 1);
    ck_assert_uint_eq(m.nrights, 1);
    mb_msg_release(&m);
    ck_assert_int_eq(mb_receive(a, &m, 0), 0); /* now there is no sender */
    mb_send_release(&b_send);
    mb_port_destroy(a);
    mb_port_destroy(b);
}
END_TEST

static int adopt_and_receive(void *arg)
{
    struct side *s = arg;
    struct mb_msg m;
    struct mb_port *moved;

    if (mb_receive(s->port, &m, 2000) != 1 || m.nrights != 1)
        return 1;
    if ((moved = mb_port_adopt(m.rights[0])) == NULL)
        return 2;
    m.nrights = 0; /* the port owns that descriptor now */
    if (mb_receive(moved, &m, 2000) != 1 || strcmp((char *)m.payload, "to the new owner") != 0)
        return 3;
    if (mb_port_capacity(moved) != 12)
        return 4;
    mb_port_destroy(moved);
    mb_port_destroy(s->port);
    return 0;
}

START_TEST(test_receive_right_moved_and_adopted)
{
    mb_send_t p_send, box_send;
    struct mb_port *p = new_port(12, &p_send);
    struct side s = {.port = new_port(8, &box_send)};
    struct mb_msg m;
    pid_t child = spawn(adopt_and_receive, &s);
    int fd;

    mb_port_destroy(s.port);
    ck_assert_int_ge(fd = mb_port_into_fd(p), 0);
    mb_msg_init(&m, 1, 0, NULL, 0);
    mb_msg_add_right(&m, fd);
    ck_assert_int_eq(mb_send(box_send, &m, 2000), 0);
    mb_msg_release(&m); /* moved: the parent no longer holds the receive right */
    text_msg(&m, 2, 0, "to the new owner");
    ck_assert_int_eq(mb_send(p_send, &m, 2000), 0);
    ck_assert_int_eq(exit_status(child), 0);
    /* The new owner has destroyed it: a dead name. */
    ck_assert(mb_send_is_dead(p_send));
    mb_send_release(&p_send);
    mb_send_release(&box_send);
}
END_TEST

/* ---- dead names and no senders ------------------------------------------------------------------
 */

/* Holds the receive right for `count` ms, then destroys it. */
static int hold_then_destroy(void *arg)
{
    struct side *s = arg;

    mb_send_release(&s->to);
    sleep_ms((unsigned)s->count);
    mb_port_destroy(s->port);
    return 0;
}

START_TEST(test_dead_name_on_send)
{
    struct side s = {.count = 0};
    struct mb_msg m;

    for (int unread = 0; unread <= 3; unread += 3) {
        pid_t child;

        s.port = new_port(8, &s.to);
        mb_msg_text(&m, 1, 0, "queued");
        for (int i = 0; i < unread; i++)
            ck_assert_int_eq(mb_send(s.to, &m, 0), 0);
        child = spawn(hold_then_destroy, &s);
        mb_port_destroy(s.port); /* the parent lets go; the child holds the only copy */
        ck_assert_int_eq(exit_status(child), 0);
        ck_assert(mb_send_is_dead(s.to));
        errno = 0;
        /* With messages unread the kernel says ECONNRESET first: still EPIPE here. */
        ck_assert_int_eq(mb_send(s.to, &m, MB_FOREVER), -1);
        ck_assert_int_eq(errno, EPIPE);
        ck_assert_int_eq(mb_send(s.to, &m, 0), -1);
        ck_assert_int_eq(errno, EPIPE);
        mb_send_release(&s.to);
    }
}
END_TEST

START_TEST(test_dead_name_notification_in_a_set)
{
    struct side s = {.count = 200};
    struct mb_set *set = mb_set_create();
    struct mb_event ev;
    struct mb_msg m;
    pid_t child;
    int cookie;

    ck_assert_ptr_nonnull(set);
    s.port = new_port(8, &s.to);
    child = spawn(hold_then_destroy, &s);
    ck_assert(!mb_send_is_dead(s.to));
    ck_assert_int_eq(mb_set_watch(set, s.to, 0, &cookie), 0);
    ck_assert_int_eq(mb_set_watch(set, s.to, 0, &cookie), -1);
    ck_assert_int_eq(errno, EEXIST);
    mb_port_destroy(s.port);
    errno = 0;
    ck_assert_int_eq(mb_set_receive(set, &m, &ev, 0), -1); /* the child still holds it */
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_int_eq(mb_set_receive(set, &m, &ev, 2000), 1);
    ck_assert_int_eq(ev.kind, MB_EV_DEAD_NAME);
    ck_assert_ptr_eq(ev.cookie, &cookie);
    ck_assert_int_eq(ev.name.fd, s.to.fd);
    ck_assert_uint_eq(mb_set_size(set), 0); /* delivered once */
    ck_assert_int_eq(mb_set_receive(set, &m, &ev, 100), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(exit_status(child), 0);
    mb_send_release(&s.to);
    mb_set_destroy(set);
}
END_TEST

START_TEST(test_no_senders_after_the_last_message_in_a_set)
{
    struct side s = {.count = 3};
    struct mb_port *port = new_port(8, &s.to);
    struct mb_set *set = mb_set_create();
    struct mb_event ev;
    struct mb_msg m;

    ck_assert_int_eq(mb_set_add(set, port, 0, port), 0);
    ck_assert_int_eq(exit_status(spawn(send_numbered, &s)), 0);
    mb_send_release(&s.to);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(mb_set_receive(set, &m, &ev, 2000), 1);
        ck_assert_int_eq(ev.kind, MB_EV_MESSAGE); /* every queued message first */
        ck_assert_uint_eq(m.id, (uint32_t)i);
    }
    ck_assert_int_eq(mb_set_receive(set, &m, &ev, 2000), 1);
    ck_assert_int_eq(ev.kind, MB_EV_NO_SENDERS);
    ck_assert_ptr_eq(ev.port, port);
    ck_assert_uint_eq(mb_set_size(set), 0);
    mb_set_destroy(set);
    mb_port_destroy(port);
}
END_TEST

/* ---- port sets
 * ---------------------------------------------------------------------------------------- */

START_TEST(test_port_set_tells_ports_apart)
{
    enum { PORTS = 3, EACH = 5 };
    struct side s[PORTS];
    struct mb_port *ports[PORTS];
    struct mb_set *set = mb_set_create();
    int got[PORTS] = {0}, ended = 0;

    for (int i = 0; i < PORTS; i++) {
        ports[i] = new_port(8, &s[i].to);
        s[i].count = EACH;
        for (int k = 0; k < 8; k++)
            s[i].types[k] = (uint32_t)i; /* each sender stamps its port's number */
        ck_assert_int_eq(mb_set_add(set, ports[i], 0, &got[i]), 0);
    }
    for (int i = 0; i < PORTS; i++) {
        ck_assert_int_eq(exit_status(spawn(send_numbered, &s[i])), 0);
        mb_send_release(&s[i].to);
    }
    while (ended < PORTS) {
        struct mb_event ev;
        struct mb_msg m;

        ck_assert_int_eq(mb_set_receive(set, &m, &ev, 2000), 1);
        if (ev.kind == MB_EV_NO_SENDERS) {
            ended++;
            continue;
        }
        ck_assert_int_eq(ev.kind, MB_EV_MESSAGE);
        ck_assert_ptr_eq(ev.cookie, &got[m.type]); /* the event names the right port */
        ck_assert_ptr_eq(ev.port, ports[m.type]);
        ck_assert_uint_eq(m.id, (uint32_t)got[m.type]); /* and in its order */
        got[m.type]++;
    }
    for (int i = 0; i < PORTS; i++) {
        ck_assert_int_eq(got[i], EACH);
        mb_port_destroy(ports[i]);
    }
    mb_set_destroy(set);
}
END_TEST

START_TEST(test_port_set_serves_higher_priority_first)
{
    struct side normal = {.count = 6}, urgent = {.count = 6};
    struct mb_port *pn = new_port(8, &normal.to), *pu = new_port(8, &urgent.to);
    struct mb_set *set = mb_set_create();
    struct mb_event ev;
    struct mb_msg m;

    ck_assert_int_eq(exit_status(spawn(send_numbered, &normal)), 0);
    ck_assert_int_eq(exit_status(spawn(send_numbered, &urgent)), 0);
    ck_assert_int_eq(mb_set_add(set, pn, 1, NULL), 0);
    ck_assert_int_eq(mb_set_add(set, pu, 5, NULL), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(mb_set_receive(set, &m, &ev, 0), 1);
        ck_assert_ptr_eq(ev.port, pu);
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(mb_set_receive(set, &m, &ev, 0), 1);
        ck_assert_ptr_eq(ev.port, pn);
    }
    /* Equal priorities take turns. */
    ck_assert_int_eq(exit_status(spawn(send_numbered, &normal)), 0);
    ck_assert_int_eq(exit_status(spawn(send_numbered, &urgent)), 0);
    ck_assert_int_eq(mb_set_remove(set, pu), 0);
    ck_assert_int_eq(mb_set_add(set, pu, 1, NULL), 0);
    for (int i = 0; i < 12; i++) {
        struct mb_port *previous = ev.port;

        ck_assert_int_eq(mb_set_receive(set, &m, &ev, 0), 1);
        if (i > 0)
            ck_assert_ptr_ne(ev.port, previous);
    }
    ck_assert_int_eq(mb_set_remove(set, pn), 0);
    ck_assert_int_eq(mb_set_remove(set, pn), -1);
    ck_assert_int_eq(errno, ENOENT);
    mb_send_release(&normal.to);
    mb_send_release(&urgent.to);
    mb_set_destroy(set);
    mb_port_destroy(pn);
    mb_port_destroy(pu);
}
END_TEST

/* ---- selective receive
 * ---------------------------------------------------------------------------------- */

START_TEST(test_selective_receive_keeps_the_others_in_order)
{
    /* ids 0..4 with types A B A C B */
    struct side s = {.count = 5, .types = {'A', 'B', 'A', 'C', 'B', 0, 0, 0}};
    struct mb_port *port = new_port(8, &s.to);
    struct mb_msg m;
    static const uint32_t rest[] = {0, 2, 4};

    ck_assert_int_eq(exit_status(spawn(send_numbered, &s)), 0);
    mb_send_release(&s.to);
    ck_assert_int_eq(mb_receive_type(port, 'C', &m, 1000), 1);
    ck_assert_uint_eq(m.id, 3);
    ck_assert_int_eq(mb_port_queued(port), 4); /* 3 kept, 1 still in the kernel */
    ck_assert_int_eq(mb_receive_type(port, 'B', &m, 1000), 1);
    ck_assert_uint_eq(m.id, 1); /* the oldest B, from the kept ones */
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(mb_receive(port, &m, 1000), 1);
        ck_assert_uint_eq(m.id, rest[i]); /* kept ones first, then the kernel's */
    }
    ck_assert_int_eq(mb_receive(port, &m, 1000), 0);
    mb_port_destroy(port);
}
END_TEST

START_TEST(test_selective_receive_bounded_and_timed)
{
    struct side s = {.count = 5, .types = {'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A'}};
    mb_send_t keep;
    struct mb_port *port = new_port(8, &s.to);
    struct mb_msg m;
    uint64_t t0;

    ck_assert_int_eq(mb_send_copy(s.to, &keep), 0); /* a sender stays: no end-of-file */
    ck_assert_int_eq(exit_status(spawn(send_numbered, &s)), 0);
    mb_send_release(&s.to);
    t0 = now_ns();
    ck_assert_int_eq(mb_receive_type(port, 'Z', &m, 100), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_uint_ge(elapsed_ns(t0), 95000000u);
    mb_port_set_save_limit(port, 6);
    ck_assert_int_eq(mb_port_queued(port), 5);
    ck_assert_int_eq(mb_send(keep, &m, 0), 0); /* a sixth A, id 4 again */
    ck_assert_int_eq(mb_send(keep, &m, 0), 0); /* a seventh */
    ck_assert_int_eq(mb_receive_type(port, 'Z', &m, 0), -1);
    ck_assert_int_eq(errno, ENOBUFS);
    ck_assert_int_eq(mb_port_queued(port), 7); /* nothing lost */
    for (uint32_t i = 0; i < 5; i++) {
        ck_assert_int_eq(mb_receive(port, &m, 0), 1);
        ck_assert_uint_eq(m.id, i);
    }
    mb_send_release(&keep);
    mb_port_destroy(port);
}
END_TEST

/* ---- request and reply
 * --------------------------------------------------------------------------------------- */

/* Answers `count` requests with the payload upper-cased; count < 0: receive one
 * request and exit without answering; count == 0: receive one, answer after 300 ms. */
static int serve(void *arg)
{
    struct side *s = arg;
    struct mb_msg req, ans;

    for (int i = 0; i < (s->count > 0 ? s->count : 1); i++) {
        if (mb_receive(s->port, &req, 3000) != 1 || req.reply.fd < 0)
            return 1;
        if (s->count < 0)
            return 0; /* the kernel closes the reply right: no senders for the caller */
        if (s->count == 0)
            sleep_ms(300);
        mb_msg_init(&ans, 2, 0, req.payload, req.len);
        for (uint32_t k = 0; k < ans.len; k++)
            if (ans.payload[k] >= 'a' && ans.payload[k] <= 'z')
                ans.payload[k] = (unsigned char)(ans.payload[k] - 'a' + 'A');
        if (mb_reply(&req, &ans, 1000) != 0)
            return s->count == 0 && errno == EPIPE ? 3 : 2;
        if (req.reply.fd != -1)
            return 4; /* a reply right answers once */
    }
    return 0;
}

static int call_server(void *arg)
{
    struct side *s = arg;
    struct mb_msg m;
    char text[32];

    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "client %d call %d", s->count, i);
        mb_msg_text(&m, 1, (uint32_t)(s->count * 100 + i), text);
        if (mb_call(s->to, &m, 3000) != 0)
            return 1;
        for (char *c = text; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
        if (m.id != (uint32_t)(s->count * 100 + i) || strcmp((char *)m.payload, text) != 0)
            return 2; /* each reply reaches its own caller */
    }
    return 0;
}

START_TEST(test_call_reply_many_clients)
{
    struct side server = {.count = 60}, clients[3];
    pid_t srv, pids[3];

    server.port = new_port(16, &server.to);
    srv = spawn(serve, &server);
    mb_port_destroy(server.port);
    for (int i = 0; i < 3; i++) {
        clients[i] = (struct side){.to = server.to, .count = i + 1};
        pids[i] = spawn(call_server, &clients[i]);
    }
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(exit_status(pids[i]), 0);
    ck_assert_int_eq(exit_status(srv), 0);
    mb_send_release(&server.to);
}
END_TEST

static int echo_once(void *arg)
{
    struct side *s = arg;
    struct mb_msg req;

    if (mb_receive(s->port, &req, 3000) != 1 || mb_reply(&req, &req, 1000) != 0)
        return 1;
    return req.reply.fd == -1 ? 0 : 2;
}

START_TEST(test_reply_with_the_request_itself)
{
    struct side server;
    struct mb_msg m;
    pid_t srv;

    server.port = new_port(8, &server.to);
    srv = spawn(echo_once, &server);
    mb_port_destroy(server.port);
    text_msg(&m, 1, 77, "echo me");
    ck_assert_int_eq(mb_call(server.to, &m, 3000), 0);
    ck_assert_str_eq((const char *)m.payload, "echo me");
    ck_assert_uint_eq(m.id, 77);
    ck_assert_int_eq(m.reply.fd, -1); /* the reply right did not come back */
    ck_assert_uint_eq(m.nrights, 0);
    ck_assert_int_eq(exit_status(srv), 0);
    mb_send_release(&server.to);
}
END_TEST

START_TEST(test_call_server_dies_or_is_dead)
{
    struct side server = {.count = -1};
    struct mb_msg m;
    pid_t srv;

    server.port = new_port(8, &server.to);
    srv = spawn(serve, &server);
    mb_port_destroy(server.port);
    text_msg(&m, 1, 1, "are you there?");
    errno = 0;
    ck_assert_int_eq(mb_call(server.to, &m, 3000), -1);
    ck_assert_int_eq(errno, ECONNRESET); /* took the request, died without answering */
    ck_assert_int_eq(exit_status(srv), 0);
    errno = 0;
    ck_assert_int_eq(mb_call(server.to, &m, 3000), -1);
    ck_assert_int_eq(errno, EPIPE); /* and now its port is a dead name */
    mb_send_release(&server.to);
}
END_TEST

START_TEST(test_call_timeout_and_late_reply)
{
    struct side server = {.count = 0};
    struct mb_msg m;
    pid_t srv;
    uint64_t t0;

    server.port = new_port(8, &server.to);
    srv = spawn(serve, &server);
    mb_port_destroy(server.port);
    text_msg(&m, 1, 1, "slow");
    t0 = now_ns();
    ck_assert_int_eq(mb_call(server.to, &m, 100), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_uint_lt(elapsed_ns(t0), 280000000u);
    ck_assert_int_eq(exit_status(srv), 3); /* its late reply found a dead name */
    mb_send_release(&server.to);
}
END_TEST

/* ---- malformed records, bad arguments, signals
 * ------------------------------------------------------------ */

START_TEST(test_malformed_record_is_dropped_without_leaking)
{
    mb_send_t to;
    struct mb_port *port = new_port(8, &to);
    struct mb_msg m;
    int before, spare[2];
    char junk[MB_WIRE_SIZE] = "not a module message";
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control = {{0}};
    struct iovec iov = {.iov_base = junk, .iov_len = sizeof junk};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

    ck_assert_int_eq(send(to.fd, "short", 5, 0), 5);
    ck_assert_int_eq(pipe(spare), 0);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &spare[0], sizeof(int));
    ck_assert_int_eq(sendmsg(to.fd, &mh, 0), (ssize_t)sizeof junk);
    close(spare[0]);
    close(spare[1]);
    text_msg(&m, 3, 3, "good");
    ck_assert_int_eq(mb_send(to, &m, 0), 0);

    before = open_fds();
    ck_assert_int_eq(mb_receive(port, &m, 0), -1);
    ck_assert_int_eq(errno, EPROTO); /* too short */
    ck_assert_int_eq(mb_receive(port, &m, 0), -1);
    ck_assert_int_eq(errno, EPROTO);      /* right size, wrong header, one descriptor */
    ck_assert_int_eq(open_fds(), before); /* which was closed */
    ck_assert_int_eq(mb_receive(port, &m, 0), 1);
    ck_assert_str_eq((const char *)m.payload, "good");
    mb_send_release(&to);
    mb_port_destroy(port);
}
END_TEST

START_TEST(test_bad_arguments)
{
    mb_send_t send;
    struct mb_port *port;
    struct mb_msg m;
    char big[MB_MAX_PAYLOAD + 1] = {0};

    errno = 0;
    ck_assert_ptr_null(mb_port_create(0, &send));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(mb_port_create(MB_CAPACITY_MAX + 1, &send));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mb_msg_init(&m, 1, 1, big, sizeof big), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mb_msg_init(&m, 1, 1, big, MB_MAX_PAYLOAD), 0);
    for (int i = 0; i < MB_MAX_RIGHTS; i++)
        ck_assert_int_eq(mb_msg_add_right(&m, 0), 0);
    ck_assert_int_eq(mb_msg_add_right(&m, 0), -1);
    ck_assert_int_eq(mb_msg_add_right(&m, -1), -1);
    port = new_port(8, &send);
    m.nrights = MB_MAX_RIGHTS + 1;
    ck_assert_int_eq(mb_send(send, &m, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    m.nrights = 0;
    ck_assert_int_eq(mb_send(MB_NO_RIGHT, &m, 0), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(mb_reply(&m, &m, 0), -1); /* no reply right */
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(mb_port_adopt(send.fd == 0 ? 1 : 0)); /* not a socket */
    mb_send_release(&send);
    mb_send_release(&send); /* twice is harmless */
    mb_port_destroy(port);
    mb_port_destroy(NULL);
}
END_TEST

static int look_up_and_send(void *arg)
{
    const char *path = arg;
    mb_send_t right;
    struct mb_msg m;

    if (mb_bootstrap_lookup(path, &right, 2000) != 0)
        return 1;
    mb_msg_text(&m, 9, 9, "found you by name");
    if (mb_send(right, &m, 2000) != 0)
        return 2;
    mb_send_release(&right);
    return 0;
}

START_TEST(test_bootstrap_name)
{
    char dir[] = "/tmp/test_mailbox.XXXXXX", path[64];
    mb_send_t send, dummy;
    struct mb_port *port = new_port(8, &send);
    struct mb_msg m;
    struct stat st;
    int lfd;
    pid_t child;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/service", dir);
    errno = 0;
    ck_assert_int_eq(mb_bootstrap_lookup(path, &dummy, 100), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_ge(lfd = mb_bootstrap_listen(path), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(mb_bootstrap_listen(path), -1); /* never two servers on one name */
    ck_assert_int_eq(errno, EADDRINUSE);
    ck_assert_int_eq(mb_bootstrap_serve(lfd, send, 0), -1);
    ck_assert_int_eq(errno, EAGAIN);
    child = spawn(look_up_and_send, path);
    ck_assert_int_eq(mb_bootstrap_serve(lfd, send, 2000), 0);
    mb_send_release(&send);
    ck_assert_int_eq(mb_receive(port, &m, 2000), 1);
    ck_assert_str_eq((const char *)m.payload, "found you by name");
    ck_assert_int_eq(exit_status(child), 0);
    ck_assert_int_eq(mb_receive(port, &m, 2000), 0); /* the looked-up right was the last */
    close(lfd);
    ck_assert_int_eq(mb_bootstrap_lookup(path, &dummy, 100), -1);
    ck_assert_int_eq(errno, ECONNREFUSED); /* the name is there, nobody listens */
    unlink(path);
    rmdir(dir);
    mb_port_destroy(port);
}
END_TEST

static void on_alarm(int sig)
{
    (void)sig;
}

START_TEST(test_signal_ends_a_wait_with_eintr)
{
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    mb_send_t send;
    struct mb_port *port = new_port(8, &send);
    struct mb_msg m;

    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    alarm(1);
    errno = 0;
    ck_assert_int_eq(mb_receive(port, &m, MB_FOREVER), -1);
    ck_assert_int_eq(errno, EINTR);
    mb_send_release(&send);
    mb_port_destroy(port);
}
END_TEST

static Suite *mailbox_suite(void)
{
    Suite *s = suite_create("mailbox");
    TCase *basic = tcase_create("send-receive"), *cap = tcase_create("capacity");
    TCase *rights = tcase_create("rights"), *notify = tcase_create("notifications");
    TCase *sets = tcase_create("port-sets"), *sel = tcase_create("selective");
    TCase *rpc = tcase_create("request-reply"), *edge = tcase_create("errors");

    tcase_add_test(basic, test_send_receive_order_and_no_senders);
    tcase_add_test(basic, test_empty_port_nonblocking_and_timeout);
    tcase_add_test(basic, test_timed_receive_gets_a_late_message);
    tcase_add_test(cap, test_capacity_is_exact_in_messages);
    tcase_add_test(cap, test_small_capacity_rounds_up_to_the_kernel_minimum);
    tcase_add_test(cap, test_full_port_send_times_out);
    tcase_add_test(cap, test_blocked_sender_waits_for_the_receiver);
    tcase_add_test(rights, test_send_right_moved_to_another_process);
    tcase_add_test(rights, test_right_in_flight_counts_as_a_sender);
    tcase_add_test(rights, test_receive_right_moved_and_adopted);
    tcase_add_test(notify, test_dead_name_on_send);
    tcase_add_test(notify, test_dead_name_notification_in_a_set);
    tcase_add_test(notify, test_no_senders_after_the_last_message_in_a_set);
    tcase_add_test(sets, test_port_set_tells_ports_apart);
    tcase_add_test(sets, test_port_set_serves_higher_priority_first);
    tcase_add_test(sel, test_selective_receive_keeps_the_others_in_order);
    tcase_add_test(sel, test_selective_receive_bounded_and_timed);
    tcase_add_test(rpc, test_call_reply_many_clients);
    tcase_add_test(rpc, test_call_server_dies_or_is_dead);
    tcase_add_test(rpc, test_reply_with_the_request_itself);
    tcase_add_test(rpc, test_call_timeout_and_late_reply);
    tcase_add_test(edge, test_malformed_record_is_dropped_without_leaking);
    tcase_add_test(edge, test_bad_arguments);
    tcase_add_test(edge, test_signal_ends_a_wait_with_eintr);
    tcase_add_test(rights, test_bootstrap_name);
    TCase *all[] = {basic, cap, rights, notify, sets, sel, rpc, edge};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        tcase_set_timeout(all[i], 20);
        suite_add_tcase(s, all[i]);
    }
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(mailbox_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
