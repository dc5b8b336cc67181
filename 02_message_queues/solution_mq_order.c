/* solution_mq_order.c - exercise 1: send messages with priorities, print the order they arrive in
 *
 * Each operand PRIO:TEXT is one message.  All of them are sent into a new
 * POSIX queue, sized to hold them all, before any is received; then they are
 * received and printed in the order the queue gives them: highest priority
 * first, in sending order within one priority.  With no operands, five
 * built-in messages.
 *
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_mq_order [PRIO:TEXT...]    (PRIO 0 to 31, TEXT at most 100 bytes, 1 to 10)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] = "[PRIO:TEXT...]    (1 to 10 messages, PRIO 0 to 31, TEXT at most 100 "
                            "bytes)";

enum { MAX_MESSAGES = 10, MAX_PRIO = 31, MAX_TEXT = 100, MSGSIZE = 128 };

struct message {
    unsigned prio;
    const char *text;
};

/* "PRIO:TEXT": PRIO a decimal from 0 to 31, TEXT anything up to 100 bytes. */
static void parse_operand(char *arg, struct message *m)
{
    char *colon = strchr(arg, ':');
    long prio;

    if (colon == NULL)
        die_usage(usage, "'%s' is not PRIO:TEXT", arg);
    *colon = '\0';
    if (parse_long(arg, 0, MAX_PRIO, &prio) == -1)
        die_usage(usage, "priority '%s' is not an integer from 0 to %d", arg, MAX_PRIO);
    if (strlen(colon + 1) > MAX_TEXT)
        die_usage(usage, "text '%.20s...' is longer than %d bytes", colon + 1, MAX_TEXT);
    m->prio = (unsigned)prio;
    m->text = colon + 1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    static char demo[][16] = {"1:low", "5:high", "3:mid", "5:second-high", "1:second-low"};
    struct message msgs[MAX_MESSAGES];
    char name[64], buf[MSGSIZE + 1];
    int count = 0;
    unsigned prio;
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while (cli_getopt(argc, argv, "h", longopts, usage) != -1)
        ; /* -h is all there is: cli_getopt() handles it */
    if (argc - optind > MAX_MESSAGES)
        die_usage(usage, "at most %d messages", MAX_MESSAGES);
    if (optind == argc) {
        printf("[demo] no operands: sending 1:low 5:high 3:mid 5:second-high 1:second-low\n");
        for (size_t i = 0; i < sizeof demo / sizeof demo[0]; i++)
            parse_operand(demo[i], &msgs[count++]);
    }
    for (int i = optind; i < argc; i++)
        parse_operand(argv[i], &msgs[count++]);

    /* Room for every message: all are sent before any is received. */
    snprintf(name, sizeof name, "/solution_mq_order.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR, count, MSGSIZE);

    for (int i = 0; i < count; i++)
        if (mq_send(mq, msgs[i].text, strlen(msgs[i].text), msgs[i].prio) == -1)
            die_errno("mq_send");
    for (int i = 1; i <= count; i++) {
        ssize_t n = mq_receive(mq, buf, sizeof buf, &prio);

        if (n == -1)
            die_errno("mq_receive");
        printf("%d %u %.*s\n", i, prio, (int)n, buf);
    }
    mq_close(mq);
    return 0; /* exit() unlinks the queue */
}
