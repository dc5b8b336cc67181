/* basic_wrong.c - the mistakes the harness must catch, for its own tests.
 *
 * Each mode is a plausible wrong program: it leaves an object behind,
 * abandons a child, hangs, reads once, tears its records, assumes a fast
 * reader, ignores a signal.  basic_wrong.expect states what a correct
 * program would do; test_harness.c checks that every case fails, and for
 * the reason it should.  Links libc only.
 *
 * usage: basic_wrong MODE [ARG...] [-h]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define USAGE "usage: basic_wrong MODE [ARG...] [-h]\n"

static char buf[65536];

static void fail(const char *what)
{
    fprintf(stderr, "basic_wrong: %s: %s\n", what, strerror(errno));
    exit(1);
}

static const char *in_tmpdir(const char *name)
{
    static char path[4200];
    const char *dir = getenv("TMPDIR");

    snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "/tmp", name);
    return path;
}

static void leak_socket(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(a.sun_path, sizeof a.sun_path, "%s", in_tmpdir("wrong.sock"));
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof a) == -1)
        fail("bind");
    close(fd);
}

static void leak_sem(void)
{
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);

    if (id == -1)
        fail("semget");
    printf("[wrong] left System V semaphore set %d\n", id);
}

static void hang_on_own_pipe(void)
{
    int fds[2];

    if (pipe(fds) == -1)
        fail("pipe");
    printf("[wrong] reading my own pipe while I hold its write end\n");
    fflush(stdout);
    (void)!read(fds[0], buf, 1);
}

/* One read() only: a short read loses the rest. */
static void cat_once(void)
{
    ssize_t n = read(0, buf, sizeof buf);

    if (n > 0)
        (void)!write(1, buf, (size_t)n);
}

static void stdio_records(long n, long size)
{
    memset(buf, 'r', sizeof buf);
    buf[size - 1] = '\n';
    for (long i = 0; i < n; i++)
        fwrite(buf, 1, (size_t)size, stdout);
}

/* Assumes the reader keeps up: gives up at the first EAGAIN. */
static void impatient_writer(void)
{
    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 16; i++)
        if (write(1, buf, sizeof buf) == -1)
            fail("write");
}

static void copy_0600(const char *name)
{
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n;

    if (fd == -1)
        fail(name);
    while ((n = read(0, buf, sizeof buf)) > 0)
        (void)!write(fd, buf, (size_t)n);
    close(fd);
}

static void ignore_term(void)
{
    signal(SIGTERM, SIG_IGN);
    printf("[wrong] waiting, SIGTERM ignored\n");
    fflush(stdout);
    pause();
}

static void run(const char *mode, int argc, char *argv[])
{
    char name[64];

    snprintf(name, sizeof name, "/wrong-%d", (int)getpid());
    if (strcmp(mode, "leak-shm") == 0 && shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600) == -1)
        fail("shm_open");
    else if (strcmp(mode, "leak-mq") == 0 &&
             mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, NULL) == -1)
        fail("mq_open");
    else if (strcmp(mode, "leak-sem") == 0)
        leak_sem();
    else if (strcmp(mode, "leak-fifo") == 0 && mkfifo(in_tmpdir("wrong.fifo"), 0600) == -1)
        fail("mkfifo");
    else if (strcmp(mode, "leak-socket") == 0)
        leak_socket();
    else if (strcmp(mode, "leak-tmp") == 0 &&
             open("/tmp/wrong.fixed-name", O_CREAT | O_WRONLY, 0600) == -1)
        fail("open");
    else if (strcmp(mode, "leak-fd") == 0 && open("/dev/null", O_RDONLY) == -1)
        fail("open");
    else if (strcmp(mode, "orphan") == 0 && fork() == 0)
        sleep(5);
    else if (strcmp(mode, "hang") == 0)
        hang_on_own_pipe();
    else if (strcmp(mode, "cat-once") == 0)
        cat_once();
    else if (strcmp(mode, "stdio-records") == 0 && argc == 4)
        stdio_records(atol(argv[2]), atol(argv[3]));
    else if (strcmp(mode, "impatient") == 0)
        impatient_writer();
    else if (strcmp(mode, "copy-0600") == 0 && argc == 3)
        copy_0600(argv[2]);
    else if (strcmp(mode, "ignore-term") == 0)
        ignore_term();
    else if (strcmp(mode, "two-lines") == 0)
        printf("result\nresult\n");
    else if (strcmp(mode, "noisy") == 0)
        fprintf(stderr, "basic_wrong: a warning nobody asked for\n");
}

int main(int argc, char *argv[])
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return fputs(USAGE, stdout) == EOF;
    if (argc > 1 && argv[1][0] == '-') {
        fprintf(stderr, "basic_wrong: unknown option %s\n" USAGE, argv[1]);
        return 2;
    }
    if (argc == 1)
        printf("[wrong] the demo itself is right\n");
    else
        run(argv[1], argc, argv);
    return 0;
}
