/* basic_choose_ipc.c - which IPC mechanism? A decision tree kept as data, by flags or asked
 *
 * Each question of the tree is one pair of flags (--network / --no-network, ...), or asked in
 * turn on a terminal (--interactive: y/n on stdin).  The walk starts at the root, prints each
 * question with its answer and ends at a leaf: the mechanism, why, the programs of this
 * collection to read and the benchmark row to measure.  The tree is a table, not code, so a
 * reader can see every path (the no-argument run off a terminal prints them all) and change
 * it without touching the walk.
 * Guide part: comparison (choosing a mechanism).
 * Run: ./basic_choose_ipc   (asks)   or   ./basic_choose_ipc --no-network --no-bulk --fds
 */
#define _GNU_SOURCE
#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char usage[] =
    "[--interactive] [--[no-]network] [--[no-]bulk] [--[no-]one-way] [--[no-]fds] "
    "[--[no-]priorities] [--[no-]persistent] [--[no-]related] [--[no-]boundaries] "
    "[--[no-]many-clients] (no answers: ask when stdin is a terminal, else print every path)";

struct node {
    const char *flag;     /* a question: --flag answers yes, --no-flag no; NULL for a leaf */
    const char *question; /* or, for a leaf, the recommendation */
    int yes, no;          /* a question's two next nodes */
    const char *why;      /* a leaf's reasons */
    const char *read;     /* a leaf's programs of this collection */
    const char *measure;  /* a leaf's --mechanisms for advanced_ipc_bench, or "" */
};

static const struct node tree[] = {
    /* 0 */ {"network", "Do the processes run on different machines?", 1, 2, 0, 0, 0},
    /* 1 */
    {NULL, "TCP sockets (UDP where losing a message is fine)", 0, 0,
     "only sockets leave the machine; TCP_NODELAY for request/reply, or Nagle's "
     "algorithm holds small replies back",
     "06_sockets/basic_tcp_echo, 06_sockets/pitfall_nagle_delay, 06_sockets/basic_udp", "tcp"},
    /* 2 */
    {"bulk", "Is the traffic bulk data (MiB per exchange) rather than small messages?", 3, 6, 0, 0,
     0},
    /* 3 */ {"one-way", "Is it one producer and one consumer?", 4, 5, 0, 0, 0},
    /* 4 */
    {NULL, "a single-producer single-consumer ring in shared memory", 0, 0,
     "no copy through the kernel and no system call while both keep up; a futex or "
     "semaphore only when one side must sleep",
     "04_shared_memory/advanced_spsc_ring, 04_shared_memory/advanced_ring_round_trip",
     "shm-spin-ring,shm-futex"},
    /* 5 */
    {NULL, "shared memory with process-shared locks or semaphores", 0, 0,
     "many writers need mutual exclusion; a robust mutex survives an owner that dies",
     "04_shared_memory/basic_posix_shm, 05_semaphores/basic_posix_unnamed_sem, "
     "04_shared_memory/advanced_robust_mutex",
     "shm-sem"},
    /* 6 */ {"fds", "Must open descriptors travel between the processes?", 7, 8, 0, 0, 0},
    /* 7 */
    {NULL, "a UNIX-domain socket with SCM_RIGHTS", 0, 0,
     "only a UNIX-domain socket carries descriptors; the receiver gets its own copy",
     "06_sockets/advanced_fd_passing, 04_shared_memory/basic_memfd, "
     "03_mailboxes/advanced_right_transfer",
     "unix-seqpacket"},
    /* 8 */ {"priorities", "Must the reader take messages by priority or by type?", 9, 17, 0, 0, 0},
    /* 9 */
    {NULL, "a POSIX message queue (priorities) or a System V queue (types)", 0, 0,
     "the kernel keeps the queue sorted; both keep boundaries and outlive their "
     "processes until removed",
     "02_message_queues/basic_posix_mq_priority, 02_message_queues/basic_sysv_msg_types",
     "posix-mq,sysv-msg"},
    /* 10 */
    {"related", "Is one process the parent of the other (descriptors shared by fork)?", 11, 14, 0,
     0, 0},
    /* 11 */ {"boundaries", "Must each message arrive as one unit?", 12, 13, 0, 0, 0},
    /* 12 */
    {NULL, "socketpair(SOCK_SEQPACKET), or a pipe in packet mode (O_DIRECT)", 0, 0,
     "a byte stream merges and splits writes; a packet pipe keeps writes up to "
     "PIPE_BUF whole",
     "06_sockets/advanced_seqpacket, 01_pipes/advanced_packet_pipe, "
     "03_mailboxes/basic_port_send_receive",
     "unix-seqpacket"},
    /* 13 */
    {NULL, "a pipe", 0, 0,
     "the simplest: no name, no cleanup, and among the fastest 64-byte round trips on one "
     "core in advanced_ipc_bench; EOF "
     "tells the reader the writer is done",
     "01_pipes/basic_pipe_fork, 01_pipes/basic_pipeline", "pipe"},
    /* 14 */ {"many-clients", "Does one server talk to many clients?", 15, 16, 0, 0, 0},
    /* 15 */
    {NULL, "a UNIX-domain stream socket bound to a path", 0, 0,
     "accept() gives each client its own connection; a FIFO server needs a reply FIFO "
     "per client and tells clients apart only by what they write",
     "06_sockets/basic_unix_stream, 06_sockets/advanced_epoll_server, "
     "01_pipes/advanced_fifo_server (the FIFO way, for contrast)",
     "unix-stream"},
    /* 16 */
    {NULL, "a FIFO (named pipe)", 0, 0,
     "a pipe that unrelated processes meet by path name; open() waits for the other "
     "end",
     "01_pipes/basic_fifo", "fifo"},
    /* 17 */
    {"persistent", "Must messages wait in the kernel with no process attached (sender gone)?", 18,
     10, 0, 0, 0},
    /* 18 */
    {NULL, "a POSIX message queue (kernel persistence: until mq_unlink or reboot)", 0, 0,
     "a pipe or socket loses what it holds with its last descriptor; a queue keeps its "
     "messages until they are read; only a file (07_mmap) also survives a reboot",
     "02_message_queues/basic_posix_mq, 02_message_queues/pitfall_queue_persists, "
     "07_mmap/advanced_file_ipc",
     "posix-mq"},
};
#define NODES ((int)(sizeof tree / sizeof tree[0]))

/* Every path to every leaf, depth first: the tree read as a table. */
static void print_paths(int node, char *path, size_t len, size_t size)
{
    if (tree[node].flag == NULL) {
        printf("[tree] %-72s <-%s\n", tree[node].question, path);
        return;
    }
    for (int yes = 1; yes >= 0; yes--) {
        int n = snprintf(path + len, size - len, " --%s%s", yes ? "" : "no-", tree[node].flag);

        print_paths(yes ? tree[node].yes : tree[node].no, path, len + (size_t)n, size);
        path[len] = '\0';
    }
}

/* Asks one question on stdin until the answer is y, yes, n or no (any case); returns 1 or 0.
 * The end of input is a usage error: there is no answer to assume. */
static int ask(int node)
{
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    int yes = -1;

    while (yes == -1) {
        printf("[ask] %s [y/n]\n", tree[node].question);
        fflush(stdout);
        len = getline(&line, &size, stdin);
        if (len == -1) {
            free(line);
            if (ferror(stdin))
                die_errno("read an answer from stdin");
            warn_msg("end of input before an answer to: %s", tree[node].question);
            exit(2);
        }
        if (strlen(line) < (size_t)len) /* a NUL byte: "y\0no" is no answer */
            line[0] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0)
            yes = 1;
        else if (strcasecmp(line, "n") == 0 || strcasecmp(line, "no") == 0)
            yes = 0;
        else
            printf("[ask] please answer y or n (not '%s')\n", line);
    }
    free(line);
    return yes;
}

/* The interactive walk: each question on the path in turn, unless a flag answered it. */
static void ask_path(int *answer)
{
    int node = 0;

    while (tree[node].flag != NULL) {
        if (answer[node] == -1)
            answer[node] = ask(node);
        node = answer[node] ? tree[node].yes : tree[node].no;
    }
}

static void walk(const int *answer)
{
    int node = 0;
    bool asked[NODES] = {false};

    /* First the whole path, so that a missing answer is told before any line of it. */
    while (tree[node].flag != NULL) {
        if (answer[node] == -1)
            die_usage(usage, "unanswered on this path: %s (--%s or --no-%s)", tree[node].question,
                      tree[node].flag, tree[node].flag);
        node = answer[node] ? tree[node].yes : tree[node].no;
    }
    node = 0;
    while (tree[node].flag != NULL) {
        printf("[choose] %s %s (--%s%s)\n", tree[node].question, answer[node] ? "yes" : "no",
               answer[node] ? "" : "no-", tree[node].flag);
        asked[node] = true;
        node = answer[node] ? tree[node].yes : tree[node].no;
    }
    for (int i = 0; i < NODES; i++)
        if (answer[i] != -1 && !asked[i])
            printf("[choose] not asked on this path, ignored: --%s%s\n", answer[i] ? "" : "no-",
                   tree[i].flag);
    printf("[choose] use: %s\n", tree[node].question);
    printf("[choose] why: %s\n", tree[node].why);
    printf("[choose] read: %s\n", tree[node].read);
    printf("[choose] measure: ./advanced_ipc_bench --mechanisms %s\n", tree[node].measure);
}

int main(int argc, char *argv[])
{
    struct option longopts[2 * NODES + 3];
    char names[2 * NODES][40];
    int answer[NODES], nopts = 0, opt;
    bool any = false, interactive = false;

    for (int i = 0; i < NODES; i++) {
        answer[i] = -1;
        if (tree[i].flag == NULL)
            continue;
        for (int yes = 1; yes >= 0; yes--) {
            snprintf(names[nopts], sizeof names[nopts], "%s%s", yes ? "" : "no-", tree[i].flag);
            longopts[nopts] = (struct option){names[nopts], no_argument, NULL, 1000 + 2 * i + yes};
            nopts++;
        }
    }
    longopts[nopts++] = (struct option){"interactive", no_argument, NULL, 'i'};
    longopts[nopts++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[nopts] = (struct option){NULL, 0, NULL, 0};
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        int node = (opt - 1000) / 2, yes = (opt - 1000) % 2;

        if (opt == 'i') {
            interactive = true;
            continue;
        }
        if (answer[node] != -1 && answer[node] != yes)
            die_usage(usage, "--%s and --no-%s both given", tree[node].flag, tree[node].flag);
        answer[node] = yes;
        any = true;
    }
    cli_no_operands(argc, argv, usage);
    if (interactive || (!any && isatty(STDIN_FILENO))) {
        printf("[ask] answer each question with y or n (end of input stops)\n");
        ask_path(answer);
        any = true;
    }
    if (any) {
        walk(answer);
        return 0;
    }
    printf("[tree] no answers given: every recommendation, with the answers that lead to it\n");
    {
        char path[512] = "";

        print_paths(0, path, 0, sizeof path);
    }
    printf("[tree] answer with the flags of one path, e.g. %s --no-network --bulk --one-way\n",
           prog_name());
    return 0;
}
