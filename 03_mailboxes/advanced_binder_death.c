/* advanced_binder_death.c - Android Binder's linkToDeath: a callback when a service's process dies
 *
 * Real-world pattern: Android's IBinder.linkToDeath(DeathRecipient, flags).  An app holds
 * a proxy for a service in another process and registers death recipients on it; when
 * that process goes away (killed by the low-memory killer, say), each recipient still
 * linked has binderDied() called on one of the app's binder threads, once.
 * unlinkToDeath() takes a recipient back, and linking to a proxy whose process is already
 * dead fails (the Java API throws DeadObjectException, a RemoteException), as does any
 * call on it.  Here the proxy is a send right; the binder driver's death notice
 * (BC_REQUEST_DEATH_NOTIFICATION, then BR_DEAD_BINDER) is a dead-name watch in a port set
 * that a binder thread waits on; the app starts the service in a process of its own (as
 * android:process does) and plays the low-memory killer.  Left out: the service manager,
 * binder thread pools, reference counts of remote objects, oneway calls and Parcels.
 * Guide part: real-world (Android Binder: death notification).
 * Run: ./advanced_binder_death
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "(no options)";

enum { LINK = 1, UNLINK, STOP, DIED, TRANSACT, REPLY, TIMEOUT_MS = 3000 };
enum { DEAD_OBJECT = -32 }; /* Android's status_t for a dead remote object (-EPIPE) */

typedef void (*death_recipient)(const char *who);

/* The app's binder thread: it owns a port set of watched proxies and a control port. */
struct binder_thread {
    pthread_t thread;
    struct mb_port *control;
    mb_send_t to_control;
    mb_send_t to_app; /* where binderDied() reports, for the demo's main thread */
};

static void recipient_player(const char *who)
{
    printf("[app binder thread] binderDied(%s): the player drops its proxy and will "
           "reconnect later\n",
           who);
}

static void recipient_ui(const char *who)
{
    printf("[app binder thread] binderDied(%s): the UI greys out the play button\n", who);
}

static void *binder_loop(void *arg)
{
    struct binder_thread *bt = arg;
    struct mb_set *set = mb_set_create();
    death_recipient linked[8];
    mb_send_t watched[8];
    size_t n = 0;

    if (set == NULL || mb_set_add(set, bt->control, 1, NULL) == -1)
        die_errno("binder thread: port set");
    for (;;) {
        struct mb_event ev;
        struct mb_msg m, ans;
        death_recipient r;

        if (mb_set_receive(set, &m, &ev, MB_FOREVER) != 1)
            die_errno("binder thread: mb_set_receive");
        if (ev.kind == MB_EV_DEAD_NAME) { /* BR_DEAD_BINDER: call each linked recipient */
            for (size_t i = 0; i < n; i++)
                if (linked[i] != NULL)
                    linked[i]("media");
            mb_msg_init(&m, DIED, 0, NULL, 0);
            mb_send(bt->to_app, &m, TIMEOUT_MS);
            continue;
        }
        if (m.type == STOP) {
            mb_reply(&m, &m, TIMEOUT_MS);
            break;
        }
        memcpy(&r, m.payload, sizeof r);
        mb_msg_init(&ans, REPLY, 0, NULL, 0);
        if (m.type == LINK && mb_send_is_dead((mb_send_t){m.rights[0]})) {
            ans.type = (uint32_t)-DEAD_OBJECT;
        } else if (m.type == LINK && n < 8) {
            linked[n] = r;
            watched[n] = (mb_send_t){m.rights[0]};
            m.nrights = 0; /* kept: the watch needs the right */
            /* One watch per proxy, however many recipients: the first right keeps it. */
            if (n == 0)
                mb_set_watch(set, watched[n], 0, NULL);
            n++;
        } else if (m.type == UNLINK) {
            for (size_t i = 0; i < n; i++)
                if (linked[i] == r)
                    linked[i] = NULL;
        }
        mb_reply(&m, &ans, TIMEOUT_MS);
        mb_msg_release(&m);
    }
    for (size_t i = 0; i < n; i++)
        mb_send_release(&watched[i]);
    mb_set_destroy(set);
    return NULL;
}

/* linkToDeath()/unlinkToDeath(): a command to the binder thread, which answers. */
static int death_command(struct binder_thread *bt, uint32_t type, mb_send_t proxy,
                         death_recipient r)
{
    struct mb_msg m;

    mb_msg_init(&m, type, 0, &r, sizeof r);
    mb_msg_add_right(&m, proxy.fd);
    if (mb_call(bt->to_control, &m, TIMEOUT_MS) == -1)
        die_errno("binder thread command");
    return m.type == (uint32_t)-DEAD_OBJECT ? DEAD_OBJECT : 0;
}

static int transact(mb_send_t proxy, const char *what, struct mb_msg *reply)
{
    mb_msg_text(reply, TRANSACT, 0, what);
    if (mb_call(proxy, reply, TIMEOUT_MS) == 0)
        return 0;
    return errno == EPIPE || errno == ECONNRESET ? DEAD_OBJECT : -1;
}

static noreturn void run_service(struct mb_port *port)
{
    struct mb_msg m, ans;

    while (mb_receive(port, &m, MB_FOREVER) == 1) {
        mb_msg_text(&ans, REPLY, 0, "playing");
        mb_reply(&m, &ans, TIMEOUT_MS);
    }
    exit(0);
}

static void run_app(mb_send_t media, pid_t service)
{
    struct binder_thread bt;
    struct mb_port *events;
    struct mb_msg m;
    int err;

    if ((bt.control = mb_port_create(8, &bt.to_control)) == NULL ||
        (events = mb_port_create(8, &bt.to_app)) == NULL)
        die_errno("mb_port_create");
    if ((err = pthread_create(&bt.thread, NULL, binder_loop, &bt)) != 0)
        die_errnum(err, "pthread_create");
    death_command(&bt, LINK, media, recipient_player);
    death_command(&bt, LINK, media, recipient_ui);
    death_command(&bt, UNLINK, media, recipient_ui);
    printf("[app] linkToDeath(player), linkToDeath(ui), then unlinkToDeath(ui)\n");
    if (transact(media, "play", &m) != 0)
        die_errno("transact");
    printf("[app] transact(PLAY) -> \"%s\"\n", (char *)m.payload);

    printf("[app] killing the service's process with SIGKILL, as the low-memory killer "
           "would\n");
    kill(service, SIGKILL);
    reap_child(service, "app");
    if (mb_receive(events, &m, TIMEOUT_MS) != 1)
        die_errno("no death notification");
    printf("[app] transact(PLAY) on the dead proxy: %s\n",
           transact(media, "play", &m) == DEAD_OBJECT ? "DEAD_OBJECT" : "answered?!");
    printf("[app] linkToDeath on the dead proxy: %s (in Java: DeadObjectException)\n",
           death_command(&bt, LINK, media, recipient_player) == DEAD_OBJECT ? "DEAD_OBJECT"
                                                                            : "linked?!");
    mb_msg_init(&m, STOP, 0, NULL, 0);
    mb_call(bt.to_control, &m, TIMEOUT_MS);
    if ((err = pthread_join(bt.thread, NULL)) != 0)
        die_errnum(err, "pthread_join");
    mb_send_release(&bt.to_control);
    mb_send_release(&bt.to_app);
    mb_port_destroy(bt.control);
    mb_port_destroy(events);
}

int main(int argc, char *argv[])
{
    struct mb_port *service_port;
    mb_send_t media;
    pid_t service;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if ((service_port = mb_port_create(8, &media)) == NULL)
        die_errno("mb_port_create");
    if ((service = fork_or_die()) == 0) {
        mb_send_release(&media);
        run_service(service_port);
    }
    mb_port_destroy(service_port);
    printf("[app] started the media service in its own process, pid %d; I hold a proxy for "
           "it\n",
           (int)service);
    run_app(media, service);
    mb_send_release(&media);
    return 0;
}
