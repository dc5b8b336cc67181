/* basic_sysv_sem.c - a System V semaphore: semget, semctl and the three kinds of semop
 *
 * semget() creates a set of semaphores kept inside the kernel and returns its id;
 * semctl() sets and reads values (SETVAL, GETVAL) and removes the set (IPC_RMID); semop()
 * applies operations: a positive sem_op adds, a negative one takes and sleeps while the
 * value is too small, and 0 sleeps until the value IS 0.  semctl's fourth argument is a
 * `union semun` that the CALLER must define (POSIX says so; glibc does not declare it).
 * Removing the set wakes every sleeper with EIDRM, so no one waits on a set that is gone.
 * Guide part: theory (System V semaphores).
 * Run: ./basic_sysv_sem
 *      two terminals: ./basic_sysv_sem --server      (creates a set, prints its id, waits)
 *                     ./basic_sysv_sem --post ID     (adds 1 to semaphore 0 of set ID)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"
#include "timing.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

static const char usage[] = "[--server | --post SEMID]";

/* The fourth argument of semctl(), declared by the caller (see semctl(2)). */
union semun {
    int val;               /* SETVAL */
    struct semid_ds *buf;  /* IPC_STAT, IPC_SET */
    unsigned short *array; /* GETALL, SETALL */
};

/* Semaphore 0 counts posts; semaphore 1 is a gate the child waits to see at 0. */
enum { SEM_POSTS, SEM_GATE, NSEMS };

static int create_set(const char *role)
{
    sigset_t saved;
    int semid;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the set behind */
    semid = semget(IPC_PRIVATE, NSEMS, IPC_CREAT | IPC_EXCL | 0600);
    if (semid == -1)
        die_errno("semget");
    if (cleanup_add_sysv_sem(semid) == -1)
        die_errno("cleanup_add_sysv_sem");
    stop_signals_release(&saved);
    printf("[%s] semget(IPC_PRIVATE, %d semaphores, 0600) = set id %d\n", role, NSEMS, semid);
    return semid;
}

static void set_value(const char *role, int semid, int num, int value)
{
    union semun arg = {.val = value};

    if (semctl(semid, num, SETVAL, arg) == -1)
        die_errno("semctl SETVAL");
    printf("[%s] semctl(%d, SETVAL, %d)\n", role, num, value);
}

static int get_value(int semid, int num)
{
    int value = semctl(semid, num, GETVAL);

    if (value == -1)
        die_errno("semctl GETVAL");
    return value;
}

/* One operation on one semaphore of the set; sleeps as the rules above say.  A set
 * removed meanwhile ends the sleep with EIDRM. */
static void apply(int semid, int num, int op)
{
    struct sembuf sop = {.sem_num = (unsigned short)num, .sem_op = (short)op, .sem_flg = 0};

    if (semop(semid, &sop, 1) == -1)
        die_errno("semop(%d, %+d)", num, op);
}

static noreturn void run_child(int semid)
{
    /* A reader of the narration that goes away (`| head`) must not kill us before the
     * operations the parent waits for. */
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i <= 3; i++) {
        sleep_ms(30);
        printf("[child] semop(%d, +1): post %d of 3\n", SEM_POSTS, i);
        apply(semid, SEM_POSTS, +1);
    }
    printf("[child] semop(%d, 0): sleeps until the gate's value is 0\n", SEM_GATE);
    apply(semid, SEM_GATE, 0);
    printf("[child] semop(%d, 0) returned: the gate is %d\n", SEM_GATE, get_value(semid, SEM_GATE));
    exit(0);
}

static void demo(void)
{
    int semid = create_set("parent");
    pid_t child;

    set_value("parent", semid, SEM_POSTS, 0);
    set_value("parent", semid, SEM_GATE, 2);
    printf("[parent] semctl(GETVAL): posts = %d, gate = %d\n", get_value(semid, SEM_POSTS),
           get_value(semid, SEM_GATE));
    child = fork_or_die();
    if (child == 0)
        run_child(semid);
    for (int i = 1; i <= 3; i++) {
        printf("[parent] semop(%d, -1): sleeps until posts is at least 1\n", SEM_POSTS);
        apply(semid, SEM_POSTS, -1);
        printf("[parent] semop(%d, -1) returned: took post %d of 3\n", SEM_POSTS, i);
    }
    for (int i = 2; i >= 1; i--) {
        sleep_ms(30);
        printf("[parent] semop(%d, -1): gate %d -> %d\n", SEM_GATE, i, i - 1);
        apply(semid, SEM_GATE, -1);
    }
    if (reap_child(child, "parent") != 0)
        die("the child failed");
    if (semctl(semid, 0, IPC_RMID) == -1)
        die_errno("semctl IPC_RMID");
    printf("[parent] semctl(IPC_RMID): the set is gone\n");
}

/* The two-terminal server: waits for posts until stopped; Ctrl-C removes the set. */
static void run_server(void)
{
    int semid = create_set("server");

    printf("[server] in another terminal: ./basic_sysv_sem --post %d   (Ctrl-C stops)\n", semid);
    for (long n = 1;; n++) {
        printf("[server] semop(%d, -1): waiting\n", SEM_POSTS);
        apply(semid, SEM_POSTS, -1);
        printf("[server] got post %ld\n", n);
    }
}

static void run_post(int semid)
{
    printf("[post] semop(%d, +1) on set %d\n", SEM_POSTS, semid);
    apply(semid, SEM_POSTS, +1);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"server", no_argument, NULL, 's'},
        {"post", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long semid = -1;
    int c, side = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (side != 0)
            die_usage(usage, "give only one of --server and --post");
        side = c;
        if (c == 'p')
            semid = cli_long(optarg, 0, 0x7fffffff, "--post", usage);
    }
    cli_no_operands(argc, argv, usage);

    if (side == 's')
        run_server();
    else if (side == 'p')
        run_post((int)semid);
    else
        demo();
    return 0;
}
