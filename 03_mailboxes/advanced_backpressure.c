/* advanced_backpressure.c - a fast producer, a slow consumer, and a port that pushes back
 *
 * The producer offers a message every 250 us; the consumer needs 1 ms for each.  The
 * port holds 32 messages, and what the producer does when it is full is the policy:
 * --mode block waits (the producer slows to the consumer's pace, nothing is lost),
 * --mode refuse drops the message at once (load shedding: EAGAIN), --mode timeout waits
 * at most 5 ms and then drops it.  The consumer prints the queue depth over time.  A
 * blocked producer is woken only when the queue is below a quarter (unix_writable():
 * 4 x bytes charged <= SO_SNDBUF), so in block mode the depth saws between 32 and 7.
 * Guide part: theory (bounded capacity and back-pressure; the kernel's wake-up rule).
 * Run: ./advanced_backpressure [--mode block|refuse|timeout] [--messages N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage[] = "[--mode block|refuse|timeout] [--messages N]    (N from 50 to "
                            "10000, default 400)";

enum {
    DATA = 1,
    REPORT_MSG = 2,
    CAPACITY = 32,
    OFFER_NS = 250000,
    WORK_NS = 1000000,
    SEND_TIMEOUT_MS = 5,
    REPORT = 50
};
enum mode { BLOCK, REFUSE, TIMEOUT };

/* How many times this thread has given up the CPU to sleep (getrusage's ru_nvcsw). */
static long voluntary_switches(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_THREAD, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_nvcsw;
}

/* Exit status: 0; it prints what happened, and the consumer cross-checks the drops. */
static noreturn void run_producer(mb_send_t to, enum mode mode, long messages)
{
    long refused = 0, blocked = 0, max_resume_depth = 0;
    struct mb_msg m;

    for (long i = 1; i <= messages; i++) {
        int timeout = mode == BLOCK ? MB_FOREVER : mode == TIMEOUT ? SEND_TIMEOUT_MS : 0;

        spin_ns(OFFER_NS);
        mb_msg_init(&m, DATA, (uint32_t)i, NULL, 0);
        if (mb_send(to, &m, 0) == 0)
            continue;
        if (errno != EAGAIN)
            die_errno("producer: mb_send");
        /* Full.  What now is the policy. */
        long slept_before = voluntary_switches();

        if (timeout != 0 && mb_send(to, &m, timeout) == 0) {
            long depth = mb_send_queued(to) - 1; /* what was left when we were let in */

            /* The consumer may have taken one between the two sends: then the second
             * got in at once, without sleeping, and tells nothing of the wake-up rule.
             * Only a send that slept in the kernel counts a voluntary context switch (a
             * preemption on a busy machine is an involuntary one). */
            if (voluntary_switches() == slept_before)
                continue;
            if (++blocked <= 2)
                printf("[producer] message %ld: port full (%d queued), waited; woken with "
                       "%ld queued\n",
                       i, CAPACITY, depth);
            if (depth > max_resume_depth)
                max_resume_depth = depth;
            continue;
        }
        if (errno != EAGAIN && errno != ETIMEDOUT)
            die_errno("producer: mb_send");
        if (++refused <= 2)
            printf("[producer] message %ld: port full, %s: dropped\n", i,
                   mode == REFUSE ? "refused at once (EAGAIN)" : "still full after 5 ms");
    }
    if (mode == BLOCK)
        printf("[producer] %ld offered, 0 dropped; waited %ld times, woken each time with at "
               "most %ld queued (below a quarter of %d)\n",
               messages, blocked, max_resume_depth, CAPACITY);
    else
        printf("[producer] %ld offered, %ld dropped, %ld sent after a wait%s\n", messages, refused,
               blocked,
               mode == TIMEOUT && blocked == 0
                   ? ": 5 ms is less than the queue takes to drain below a quarter, where a "
                     "waiting sender is woken"
                   : "");
    /* The last word, which may wait: how many were dropped, for the consumer to check. */
    mb_msg_init(&m, REPORT_MSG, (uint32_t)refused, NULL, 0);
    if (mb_send(to, &m, MB_FOREVER) == -1)
        die_errno("producer: mb_send");
    mb_send_release(&to);
    exit(0);
}

static void consume(struct mb_port *port, long messages)
{
    long received = 0, expected = 1, reported = -1;
    uint64_t t0 = now_ns();
    struct mb_msg m;
    int r;

    while ((r = mb_receive(port, &m, MB_FOREVER)) == 1) {
        long depth = mb_port_queued(port);

        if (m.type == REPORT_MSG) {
            reported = (long)m.id;
            continue;
        }
        if ((long)m.id < expected)
            die("message %u came twice or out of order", (unsigned)m.id);
        expected = (long)m.id + 1; /* a jump is a message the producer dropped */
        if (++received % REPORT == 0)
            printf("[consumer] t=%4.0f ms: %4ld taken, %2ld queued %.*s\n",
                   ns_to_s(elapsed_ns(t0)) * 1000, received, depth, (int)depth,
                   "################################");
        spin_ns(WORK_NS);
    }
    if (r == -1)
        die_errno("consumer: mb_receive");
    printf("[consumer] no senders: %ld received in order, %ld missing\n", received,
           messages - received);
    if (reported != messages - received)
        die("the producer reports %ld dropped, %ld are missing", reported, messages - received);
    printf("[consumer] the producer's count of drops agrees: nothing lost unannounced\n");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"messages", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const names[] = {"block", "refuse", "timeout"};
    enum mode mode = BLOCK;
    long messages = 400;
    struct mb_port *port;
    mb_send_t send;
    pid_t producer;
    int c;

    while ((c = cli_getopt(argc, argv, "m:n:h", longopts, usage)) != -1) {
        if (c == 'n') {
            messages = cli_long(optarg, 50, 10000, "--messages", usage);
        } else {
            for (mode = BLOCK; mode <= TIMEOUT && strcmp(optarg, names[mode]) != 0; mode++)
                ;
            if (mode > TIMEOUT)
                die_usage(usage, "--mode must be block, refuse or timeout, not '%s'", optarg);
        }
    }
    cli_no_operands(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    if ((port = mb_port_create(CAPACITY, &send)) == NULL)
        die_errno("mb_port_create");
    printf("[consumer] port of %u messages; the producer offers one every %d us, I take one "
           "per %d us; policy when full: %s\n",
           mb_port_capacity(port), OFFER_NS / 1000, WORK_NS / 1000, names[mode]);
    if ((producer = fork_or_die()) == 0) {
        mb_port_destroy(port);
        run_producer(send, mode, messages);
    }
    mb_send_release(&send);
    consume(port, messages);
    reap_child(producer, "consumer");
    mb_port_destroy(port);
    return 0;
}
