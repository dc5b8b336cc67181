/* solution_shm_hash.c - exercise 3: a hash table in shared memory, linked by offsets
 *
 * The worked answer to exercise 3 of the README.  The table lives in a POSIX shared memory
 * object: 256 buckets and a pool of 1000 nodes, every link an offset from the object's start.
 * The first process reads commands from stdin and runs the odd-numbered ones itself; it hands
 * each even-numbered one to a second process, started with fork() and execve() of this same
 * program, which opens the object by name, maps it wherever its own address space puts it,
 * runs the command on the same table and prints the answer.  Two process-shared semaphores
 * in the object pass the turn back and forth; a command crosses parsed, never as raw text, so
 * no line is cut to fit.
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_shm_hash - < commands       (put KEY VALUE | get KEY | del KEY, one a line)
 *      ./solution_shm_hash                    (a demonstration on built-in commands)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "timing.h"

#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "[-]    ('-': commands from stdin; without it a demonstration)";

#define BUCKETS 256
#define NODES 1000
#define KEY_MAX 31
#define VALUE_MAX 63

struct node {
    uint64_t next; /* offset of the next node in the chain or free list; 0 = none */
    char key[KEY_MAX + 1];
    char value[VALUE_MAX + 1];
};

/* A command, parsed by the process that read the line and run by the one whose turn it is. */
enum verb { BAD, PUT, GET, DEL };

struct command {
    enum verb verb;
    char key[KEY_MAX + 1];
    char value[VALUE_MAX + 1];
};

struct table {
    sem_t second_turn, first_turn;
    int quit;
    struct command command; /* the command handed to the second process */
    uint64_t free_list;
    uint64_t bucket[BUCKETS];
    struct node nodes[NODES];
};

static void *at(struct table *t, uint64_t off)
{
    return off == 0 ? NULL : (char *)t + off;
}

static uint64_t hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ULL;
    return h % BUCKETS;
}

/* The link that points at KEY's node, or at the chain's terminating 0. */
static uint64_t *find_link(struct table *t, const char *key)
{
    uint64_t *link = &t->bucket[hash(key)];

    while (*link != 0 && strcmp(((struct node *)at(t, *link))->key, key) != 0)
        link = &((struct node *)at(t, *link))->next;
    return link;
}

/* Any line that is not exactly one well-formed command is BAD: its answer is "error". */
static struct command parse(char *line)
{
    char *verb = strtok(line, " \t\n"), *key = strtok(NULL, " \t\n");
    char *value = strtok(NULL, " \t\n"), *extra = strtok(NULL, " \t\n");
    struct command c = {.verb = BAD};

    if (verb == NULL || key == NULL || extra != NULL || strlen(key) > KEY_MAX)
        return c;
    if (strcmp(verb, "put") == 0 && value != NULL && strlen(value) <= VALUE_MAX)
        c.verb = PUT;
    else if (strcmp(verb, "get") == 0 && value == NULL)
        c.verb = GET;
    else if (strcmp(verb, "del") == 0 && value == NULL)
        c.verb = DEL;
    snprintf(c.key, sizeof c.key, "%s", key);
    snprintf(c.value, sizeof c.value, "%s", c.verb == PUT ? value : "");
    return c;
}

static void run_command(struct table *t, const struct command *c)
{
    uint64_t *link = find_link(t, c->key);
    struct node *n = at(t, *link);
    char reply[128] = "error\n";

    if (c->verb == PUT && n == NULL && t->free_list == 0) {
        snprintf(reply, sizeof reply, "full\n");
    } else if (c->verb == PUT) {
        if (n == NULL) { /* a new key: the first free node joins the chain */
            *link = t->free_list;
            n = at(t, *link);
            t->free_list = n->next;
            n->next = 0;
            snprintf(n->key, sizeof n->key, "%s", c->key);
        }
        snprintf(n->value, sizeof n->value, "%s", c->value);
        snprintf(reply, sizeof reply, "ok\n");
    } else if (c->verb == GET) {
        snprintf(reply, sizeof reply, "%s %s\n", c->key, n != NULL ? n->value : "not found");
    } else if (c->verb == DEL && n == NULL) {
        snprintf(reply, sizeof reply, "not found\n");
    } else if (c->verb == DEL) {
        *link = n->next; /* unlinked, and its node back on the free list */
        n->next = t->free_list;
        t->free_list = (uint64_t)((char *)n - (char *)t);
        snprintf(reply, sizeof reply, "deleted\n");
    }
    if (write_full(STDOUT_FILENO, reply, strlen(reply)) == -1) /* one write() per answer */
        die_errno("write to stdout");
}

static void wait_turn(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

/* The first process's wait: a second process that died can never post, so look. */
static void wait_for_second(sem_t *s, pid_t pid)
{
    for (;;) {
        struct timespec deadline = deadline_after_ms(100);

        if (sem_timedwait(s, &deadline) == 0)
            return;
        if (errno != ETIMEDOUT && errno != EINTR)
            die_errno("sem_timedwait");
        if (waitpid(pid, NULL, WNOHANG) == pid)
            die("the second process died");
    }
}

/* The second process: knows only the name; runs what it is handed until told to quit. */
static int run_second(const char *name)
{
    int fd = shm_open(name, O_RDWR, 0);
    struct table *t;

    if (fd == -1)
        die_errno("shm_open %s", name);
    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (t == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    for (;;) {
        wait_turn(&t->second_turn);
        if (t->quit)
            break;
        run_command(t, &t->command);
        sem_post(&t->first_turn);
    }
    munmap(t, sizeof *t);
    return 0;
}

static struct table *create_table(const char *name)
{
    int fd = shm_create_registered(name, sizeof(struct table));
    struct table *t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (t == MAP_FAILED)
        die_errno("mmap");
    close(fd);
    if (sem_init(&t->second_turn, 1, 0) == -1 || sem_init(&t->first_turn, 1, 0) == -1)
        die_errno("sem_init");
    for (int i = NODES - 1; i >= 0; i--) { /* every node on the free list, by offset */
        t->nodes[i].next = t->free_list;
        t->free_list = (uint64_t)((char *)&t->nodes[i] - (char *)t);
    }
    return t;
}

/* The second process: this program again, in a fresh address space, under the registry. */
static pid_t start_second(const char *name)
{
    char self[4096]; /* readlink, not "/proc/self/exe" itself: under valgrind that is valgrind */
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    sigset_t saved;
    pid_t pid;

    if (len <= 0)
        die_errno("readlink /proc/self/exe");
    self[len] = '\0';
    stop_signals_hold(&saved);
    pid = fork();
    if (pid == -1)
        die_errno("fork");
    if (pid == 0) {
        char *args[] = {(char *)"solution_shm_hash", (char *)"--second", (char *)name, NULL};

        stop_signals_release(&saved);
        execv(self, args);
        _exit(127);
    }
    if (cleanup_add_child(pid) == -1)
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);
    return pid;
}

static FILE *demo_input(void)
{
    static char text[] = "put apple red\nput kiwi green\nget apple\nget kiwi\n"
                         "del apple\nget apple\n";
    FILE *in = fmemopen(text, sizeof text - 1, "r");

    if (in == NULL)
        die_errno("fmemopen");
    printf("[demo] six commands; the odd ones run here, the even ones in a second process\n");
    fflush(stdout);
    return in;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"second", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char name[64], *line = NULL;
    size_t cap = 0;
    struct table *t;
    pid_t second;
    FILE *in;
    long number = 0;
    int opt, status;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        return run_second(optarg); /* only this program starts itself that way */
    bool from_stdin = optind < argc && strcmp(argv[optind], "-") == 0;

    optind += from_stdin;
    cli_no_operands(argc, argv, usage);
    in = from_stdin ? stdin : demo_input();
    snprintf(name, sizeof name, "/solution_shm_hash.%d", (int)getpid());
    t = create_table(name);
    second = start_second(name);
    while (getline(&line, &cap, in) != -1) {
        struct command c = parse(line);

        if (++number % 2 == 1) {
            run_command(t, &c);
            continue;
        }
        t->command = c;
        sem_post(&t->second_turn);
        wait_for_second(&t->first_turn, second);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    t->quit = 1;
    sem_post(&t->second_turn);
    while (waitpid(second, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid");
    munmap(t, sizeof *t);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
