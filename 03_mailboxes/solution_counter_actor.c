/* solution_counter_actor.c - exercise 1: a counter actor that answers inc and get messages
 *
 * The count lives in a child process, the actor, and nowhere else.  The parent reads
 * commands (`inc N`, `get`), sends each to the actor as one message on a port (one
 * sendmsg() each), and for `get` waits for the answer on a reply port.  Invalid lines
 * are reported and skipped.  At the end of the input the parent asks once more, prints
 * the total, and lets go of its send right: the actor sees no senders and exits.
 * Guide part: exercise 1 (beginner).
 * Run: ./solution_counter_actor          (the built-in script)
 *      printf 'inc 2\nget\n' | ./solution_counter_actor -
 */
#define _GNU_SOURCE
#include "common.h"
#include "mailbox.h"
#include "proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "[-]    (- reads commands from standard input)";

enum { INC = 1, GET, COUNT };

static const char script[] = "inc 5\ninc 7\nget\ninc 30\nget\n";

static noreturn void run_actor(struct mb_port *mailbox)
{
    uint64_t count = 0;
    struct mb_msg m, ans;
    int r;

    while ((r = mb_receive(mailbox, &m, MB_FOREVER)) == 1) {
        if (m.type == INC) {
            uint32_t n;

            memcpy(&n, m.payload, sizeof n);
            count += n;
        } else if (m.type == GET) {
            mb_msg_init(&ans, COUNT, 0, &count, sizeof count);
            if (mb_reply(&m, &ans, MB_FOREVER) == -1)
                die_errno("actor: reply");
        }
        mb_msg_release(&m);
    }
    if (r == -1)
        die_errno("actor: mb_receive");
    mb_port_destroy(mailbox); /* no senders: nothing can come any more */
    exit(0);
}

/* `inc N` with N from 1 to 1000000 in plain digits, or `get`: the type, or 0. */
static uint32_t parse(const char *line, uint32_t *n)
{
    long value;

    if (strcmp(line, "get") == 0)
        return GET;
    if (strncmp(line, "inc ", 4) != 0 || line[4] < '0' || line[4] > '9' ||
        parse_long(line + 4, 1, 1000000, &value) == -1)
        return 0;
    *n = (uint32_t)value;
    return INC;
}

static uint64_t ask(mb_send_t actor)
{
    struct mb_msg m;
    uint64_t count;

    mb_msg_init(&m, GET, 0, NULL, 0);
    if (mb_call(actor, &m, MB_FOREVER) == -1 || m.type != COUNT)
        die_errno("get");
    memcpy(&count, m.payload, sizeof count);
    return count;
}

int main(int argc, char *argv[])
{
    bool from_stdin = false, any_invalid = false;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    struct mb_port *mailbox;
    mb_send_t actor;
    pid_t child;
    FILE *in;

    cli_getopt(argc, argv, "h",
               (const struct option[]){{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}},
               usage);
    if (optind < argc && strcmp(argv[optind], "-") == 0) {
        from_stdin = true;
        optind++;
    }
    cli_no_operands(argc, argv, usage);
    in = from_stdin ? stdin : fmemopen((void *)script, sizeof script - 1, "r");
    if (in == NULL)
        die_errno("fmemopen");
    if (!from_stdin)
        printf("[main] no operand: the built-in script inc 5, inc 7, get, inc 30, get\n");

    if ((mailbox = mb_port_create(64, &actor)) == NULL)
        die_errno("mb_port_create");
    if ((child = fork_or_die()) == 0) {
        mb_send_release(&actor);
        run_actor(mailbox);
    }
    mb_port_destroy(mailbox); /* the actor's alone */
    while ((len = getline(&line, &cap, in)) != -1) {
        struct mb_msg m;
        uint32_t n = 0, type;

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        type = strlen(line) == (size_t)len ? parse(line, &n) : 0; /* a NUL: invalid */
        if (type == 0) {
            fprintf(stderr, "%s: line %ld: invalid command\n", prog_name(), lineno);
            any_invalid = true;
        } else if (type == GET) {
            printf("count=%llu\n", (unsigned long long)ask(actor));
        } else if (mb_msg_init(&m, INC, 0, &n, sizeof n) == -1 ||
                   mb_send(actor, &m, MB_FOREVER) == -1) {
            die_errno("send inc");
        }
    }
    if (ferror(in))
        die_errno("read the commands");
    printf("total=%llu\n", (unsigned long long)ask(actor));
    free(line);
    if (!from_stdin)
        fclose(in);
    mb_send_release(&actor); /* the actor's end of file */
    reap_child(child, "main");
    return any_invalid ? 1 : 0;
}
