/* pitfall_unbounded_mailbox.c - a mailbox that never says no: memory grows with the backlog
 *
 * Erlang mailboxes and the default mailboxes of many actor libraries have no bound: a
 * send always succeeds, so a producer faster than its consumer is never slowed down and
 * the backlog, and the memory that holds it, grows as long as the imbalance lasts.  Here a
 * producer thread sends 20000 messages as fast as it can to a consumer that needs 25 us
 * for each; the demo ends by itself, so the growth stops at 20000, but nothing else would
 * stop it.  --fixed puts a port of capacity 64 between them: the producer is refused and
 * waits, the backlog never passes 64, and the memory stays flat.
 * Guide part: pitfall (unbounded mailboxes; back-pressure).
 * Run: ./pitfall_unbounded_mailbox [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[--fixed]";

enum { MESSAGES = 20000, WORK_NS = 25000, CAPACITY = 64, STOP_ID = 0 };

/* The broken mailbox: a list that grows by one malloc() per message. */
struct node {
    struct node *next;
    struct mb_msg msg;
};
static struct {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct node *head, *tail;
    long depth, peak;
} list = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0};

/* The fixed mailbox: a bounded port. */
static struct mb_port *port;
static mb_send_t port_send;
static long port_peak, refusals;

static bool fixed;

static void list_put(const struct mb_msg *m)
{
    struct node *n = malloc(sizeof *n);

    if (n == NULL)
        die("out of memory after %ld queued messages", list.depth); /* where this ends */
    n->next = NULL;
    n->msg = *m;
    pthread_mutex_lock(&list.lock);
    if (list.tail == NULL)
        list.head = n;
    else
        list.tail->next = n;
    list.tail = n;
    if (++list.depth > list.peak)
        list.peak = list.depth;
    pthread_cond_signal(&list.nonempty);
    pthread_mutex_unlock(&list.lock);
}

static void list_get(struct mb_msg *m)
{
    struct node *n;

    pthread_mutex_lock(&list.lock);
    while (list.head == NULL)
        pthread_cond_wait(&list.nonempty, &list.lock);
    n = list.head;
    list.head = n->next;
    if (list.head == NULL)
        list.tail = NULL;
    list.depth--;
    pthread_mutex_unlock(&list.lock);
    *m = n->msg;
    free(n);
}

static void port_put(const struct mb_msg *m)
{
    long depth;

    if (mb_send(port_send, m, 0) == -1) {
        if (errno != EAGAIN)
            die_errno("mb_send");
        refusals++; /* the back-pressure a producer can see: the port holds CAPACITY */
        port_peak = (long)mb_port_capacity(port);
        if (mb_send(port_send, m, MB_FOREVER) == -1)
            die_errno("mb_send");
    }
    if ((depth = mb_send_queued(port_send)) > port_peak)
        port_peak = depth;
}

static void *producer(void *arg)
{
    struct mb_msg m;
    uint64_t t0 = now_ns();

    (void)arg;
    memset(&m, 0, sizeof m);
    m.len = MB_MAX_PAYLOAD;
    m.reply = MB_NO_RIGHT;
    for (uint32_t i = 1; i <= MESSAGES + 1; i++) {
        m.id = i <= MESSAGES ? i : STOP_ID;
        if (fixed)
            port_put(&m);
        else
            list_put(&m);
    }
    printf("[producer] sent %d messages in %.0f ms, %s\n", MESSAGES, ns_to_s(elapsed_ns(t0)) * 1000,
           fixed ? "held back by the full port" : "never refused, never waiting");
    return NULL;
}

/* The peak resident set so far: VmHWM ("high water mark") of /proc/self/status, which
 * the kernel keeps even after free() has given the memory back. */
static long peak_resident_kib(void)
{
    char line[128];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        die_errno("open /proc/self/status");
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    if (kib < 0)
        die("no VmHWM line in /proc/self/status");
    return kib;
}

static void consume(void)
{
    struct mb_msg m;
    uint32_t expected = 1;

    for (;;) {
        uint64_t t0;

        if (fixed) {
            if (mb_receive(port, &m, MB_FOREVER) != 1)
                die_errno("mb_receive");
        } else {
            list_get(&m);
        }
        if (m.id == STOP_ID)
            break;
        if (m.id != expected++)
            die("message %u out of order", (unsigned)m.id);
        for (t0 = now_ns(); elapsed_ns(t0) < WORK_NS;) /* the work: 25 us of CPU */
            ;
    }
}

int main(int argc, char *argv[])
{
    pthread_t thread;
    long rss_before, rss_peak;
    int err;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    if (fixed && (port = mb_port_create(CAPACITY, &port_send)) == NULL)
        die_errno("mb_port_create");
    printf("[main] %s; %d messages of %d bytes, %d us of work each\n",
           fixed ? "fixed: a port of capacity 64 between producer and consumer"
                 : "broken: an unbounded mailbox, a list that never says no",
           MESSAGES, MB_WIRE_SIZE, WORK_NS / 1000);
    rss_before = peak_resident_kib();
    if ((err = pthread_create(&thread, NULL, producer, NULL)) != 0)
        die_errno("pthread_create");
    consume();
    rss_peak = peak_resident_kib();
    if ((err = pthread_join(thread, NULL)) != 0)
        die_errnum(err, "pthread_join");
    if (fixed) {
        printf("[main] peak backlog %ld messages (the capacity), %ld sends refused; the "
               "kernel held at most %ld KiB\n",
               port_peak, refusals, (long)CAPACITY * mb_message_truesize() / 1024);
        mb_send_release(&port_send);
        mb_port_destroy(port);
    } else {
        printf("[main] peak backlog %ld messages, %ld KiB of heap for them\n", list.peak,
               list.peak * (long)sizeof(struct node) / 1024);
        printf("[main] the backlog grows for as long as the producer is faster: nothing "
               "bounds it but the end of this demo\n");
    }
    printf("[main] peak resident memory (VmHWM): %ld KiB before, %ld KiB after: +%ld KiB\n",
           rss_before, rss_peak, rss_peak - rss_before);
    return 0;
}
