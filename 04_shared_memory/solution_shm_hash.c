/* solution_shm_hash.c - exercise 3: a hash table in shared memory, linked by offsets
 *
 * The worked answer to exercise 3 of the README.  The table lives in a POSIX shared memory
 * object: 256 buckets and a pool of 1000 nodes, every link an offset from the object's start.
 * The first process reads commands from stdin and runs the odd-numbered ones itself; it hands
 * each even-numbered one to a second process, started with fork() and execve() of this same
 * program, which opens the object by name, maps it wherever its own address space puts it,
 * runs the command on the same table and prints the answer.  Two process-shared semaphores
 * in the object pass the turn back and forth.
 * Guide part: exercise 3 (intermediate).
 * Run: ./solution_shm_hash - < commands       (put KEY VALUE | get KEY | del KEY, one a line)
 *      ./solution_shm_hash                    (a demonstration on built-in commands)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

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

struct table {
    sem_t second_turn, first_turn;
    int quit;
    char command[256]; /* the command handed to the second process */
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

static void answer(const char *text)
{
    if (write_full(STDOUT_FILENO, text, strlen(text)) == -1) /* one write per answer */
        die_errno("write to stdout");
}

static void run_command(struct table *t, char *line)
{
    char *verb = strtok(line, " \t\n"), *key = strtok(NULL, " \t\n");
    char *value = strtok(NULL, " \t\n"), *extra = strtok(NULL, " \t\n");
    bool is_put = verb != NULL && strcmp(verb, "put") == 0;

    if (verb == NULL || key == NULL || extra != NULL || strlen(key) > KEY_MAX ||
        (is_put && (value == NULL || strlen(value) > VALUE_MAX)) || (!is_put && value != NULL)) {
        answer("error\n");
        return;
    }
    uint64_t *link = find_link(t, key);
    struct node *n = at(t, *link);

    if (is_put) {
        if (n == NULL && t->free_list == 0) {
            answer("full\n");
            return;
        }
        if (n == NULL) {
            *link = t->free_list;
            n = at(t, *link);
            t->free_list = n->next;
            n->next = 0;
            snprintf(n->key, sizeof n->key, "%s", key);
        }
        snprintf(n->value, sizeof n->value, "%s", value);
        answer("ok\n");
    } else if (strcmp(verb, "get") == 0) {
        char text[128];

        if (n != NULL)
            snprintf(text, sizeof text, "%s %s\n", key, n->value);
        else
            snprintf(text, sizeof text, "%s not found\n", key);
        answer(text);
    } else if (strcmp(verb, "del") == 0) {
        if (n == NULL) {
            answer("not found\n");
            return;
        }
        *link = n->next;
        n->next = t->free_list;
        t->free_list = (uint64_t)((char *)n - (char *)t);
        answer("deleted\n");
    } else {
        answer("error\n");
    }
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
        struct timespec deadline;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 100000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        if (sem_timedwait(s, &deadline) == 0)
            return;
        if (errno != ETIMEDOUT && errno != EINTR)
            die_errno("sem_timedwait");
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            die("the second process died");
        }
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
        run_command(t, t->command);
        sem_post(&t->first_turn);
    }
    munmap(t, sizeof *t);
    return 0;
}

static pid_t second = -1;
static char self_path[4096]; /* this program, to run it again as the second process */

/* SIGTERM/SIGINT: stop and reap the second process, remove the name, die of the signal. */
static void on_stop(int sig)
{
    if (second > 0) {
        kill(second, SIGTERM);
        while (waitpid(second, NULL, 0) == -1 && errno == EINTR)
            ;
    }
    cleanup_run();
    signal(sig, SIG_DFL);
    raise(sig);
}

static struct table *create_table(const char *name)
{
    struct table *t;
    sigset_t saved;
    int fd;

    stop_signals_hold(&saved);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd == -1)
        die_errno("shm_open %s", name);
    if (cleanup_add_shm(name) == -1)
        die_errno("cleanup_add_shm");
    stop_signals_release(&saved);
    if (ftruncate(fd, sizeof *t) == -1)
        die_errno("ftruncate");
    t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
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

static void start_second(const char *name)
{
    struct sigaction sa;
    sigset_t stops, saved;

    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, &saved);
    second = fork();
    if (second == -1)
        die_errno("fork");
    if (second == 0) {
        char *args[] = {(char *)"solution_shm_hash", (char *)"--second", (char *)name, NULL};

        sigprocmask(SIG_SETMASK, &saved, NULL);
        execv(self_path, args); /* a fresh address space: the table maps elsewhere */
        _exit(127);
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigfillset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigprocmask(SIG_SETMASK, &saved, NULL);
}

static void demo_input(void)
{
    static const char text[] = "put apple red\nput kiwi green\nget apple\nget kiwi\n"
                               "del apple\nget apple\n";
    int fd = memfd_create("demo-commands", MFD_CLOEXEC);

    if (fd == -1 || write_full(fd, text, sizeof text - 1) == -1 || lseek(fd, 0, SEEK_SET) == -1)
        die_errno("demo input");
    if (dup2(fd, STDIN_FILENO) == -1)
        die_errno("dup2");
    close(fd);
    printf("[demo] six commands; the odd ones run here, the even ones in a second process\n");
    fflush(stdout);
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
    long number = 0;
    int opt, status;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        return run_second(optarg); /* only this program starts itself that way */
    if (optind < argc && strcmp(argv[optind], "-") == 0)
        optind++;
    else
        demo_input();
    cli_no_operands(argc, argv, usage);

    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);

    if (len <= 0)
        die_errno("readlink /proc/self/exe");
    self_path[len] = '\0';
    snprintf(name, sizeof name, "/solution_shm_hash.%d", (int)getpid());
    t = create_table(name);
    start_second(name);
    while (getline(&line, &cap, stdin) != -1) {
        if (++number % 2 == 1) {
            run_command(t, line);
            continue;
        }
        snprintf(t->command, sizeof t->command, "%s", line);
        sem_post(&t->second_turn);
        wait_for_second(&t->first_turn, second);
    }
    free(line);
    t->quit = 1;
    sem_post(&t->second_turn);
    while (waitpid(second, &status, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid");
    munmap(t, sizeof *t);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
