/* advanced_mq_notify.c - mq_notify with SIGEV_SIGNAL and SIGEV_THREAD: one-shot, re-armed first
 *
 * A process can ask to be told when a queue goes from empty to non-empty,
 * instead of blocking in mq_receive().  The registration is one per queue
 * (another process gets EBUSY), fires once (delivery removes it: the queue's
 * NOTIFY_PID goes back to 0) and only on that change: three messages sent at
 * once give one signal.  So the handler re-arms first and drains after.
 * SIGEV_THREAD is not run by the kernel: it sends a 32-byte cookie to a
 * netlink socket, and a thread reading that socket runs the function.  glibc
 * keeps one such socket and helper thread for the whole process until exit;
 * here the parts are built by hand, so each is seen, and closed at the end.
 *
 * Guide part: kernel (asynchronous notification: ipc/mqueue.c, do_mq_notify).
 * Run: ./advanced_mq_notify
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "";

enum { MAXMSG = 8, MSGSIZE = 64, BATCH = 3 };

/* From include/uapi/linux/mqueue.h (it cannot be included beside <mqueue.h>). */
enum { NOTIFY_WOKENUP = 1, NOTIFY_REMOVED = 2, NOTIFY_COOKIE_LEN = 32 };

/* The queue's file: "QSIZE:n NOTIFY:how SIGNO:s NOTIFY_PID:p" (mqueue_read_file),
 * read through the queue's own descriptor: no mqueue mount is needed. */
static void show_queue_file(const char *role, mqd_t mq)
{
    char text[128];
    ssize_t n = pread(mq, text, sizeof text - 1, 0);

    if (n <= 0)
        die_errno("read the queue's descriptor");
    text[strcspn(text, "\n")] = '\0';
    for (char *p = strstr(text, "  "); p != NULL; p = strstr(text, "  "))
        memmove(p, p + 1, strlen(p)); /* the kernel pads its columns */
    if (n > 0 && text[strlen(text) - 1] == ' ')
        text[strlen(text) - 1] = '\0';
    printf("[%s] queue file: %s\n", role, text);
}

static void send_batch(const char *role, mqd_t mq, int batch)
{
    printf("[%s] sending batch %d: %d messages at once\n", role, batch, BATCH);
    for (int i = 1; i <= BATCH; i++) {
        char msg[MSGSIZE];
        int len = snprintf(msg, sizeof msg, "batch %d message %d", batch, i);

        if (mq_send(mq, msg, (size_t)len, 0) == -1)
            die_errno("mq_send");
    }
}

/* `mq` is O_NONBLOCK: the drain ends at EAGAIN.  Returns how many it took. */
static int drain(const char *role, mqd_t mq)
{
    char buf[MSGSIZE];
    int n = 0;

    while (mq_receive(mq, buf, sizeof buf, NULL) != -1)
        n++;
    if (errno != EAGAIN)
        die_errno("mq_receive");
    printf("[%s] drained %d message(s) until EAGAIN\n", role, n);
    return n;
}

/* ---- SIGEV_SIGNAL ---------------------------------------------------------- */

static void arm_signal(mqd_t mq)
{
    struct sigevent sev = {
        .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1, .sigev_value.sival_int = 42};

    if (mq_notify(mq, &sev) == -1)
        die_errno("mq_notify SIGEV_SIGNAL");
    printf("[consumer] mq_notify(SIGEV_SIGNAL, SIGUSR1, sival_int 42)\n");
}

static void take_signal(void)
{
    struct timespec limit = {.tv_sec = 5};
    siginfo_t info;
    sigset_t usr1;

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    while (sigtimedwait(&usr1, &info, &limit) == -1)
        if (errno != EINTR)
            die_errno("no SIGUSR1 within 5 s: sigtimedwait");
    printf("[consumer] SIGUSR1: si_code %s, si_pid %d (the sender), si_value %d\n",
           info.si_code == SI_MESGQ ? "SI_MESGQ" : "other", (int)info.si_pid,
           info.si_value.sival_int);
}

static void with_signals(const char *name, mqd_t mq)
{
    pid_t other, sender;

    arm_signal(mq);
    show_queue_file("consumer", mq);
    if ((other = fork_or_die()) == 0) {
        struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};

        mq_close(mq);
        if ((mq = mq_open(name, O_RDONLY)) == (mqd_t)-1)
            die_errno("mq_open %s", name);
        if (mq_notify(mq, &sev) == 0 || errno != EBUSY)
            die("a second registration should fail with EBUSY");
        printf("[other] mq_notify from a second process: EBUSY, one registration per queue\n");
        mq_close(mq);
        exit(0);
    }
    reap_child(other, "consumer");

    for (int batch = 1; batch <= 2; batch++) {
        if ((sender = fork_or_die()) == 0) {
            send_batch("sender", mq, batch);
            mq_close(mq);
            exit(0);
        }
        take_signal();
        reap_child(sender, "consumer");
        printf("[consumer] one signal for %d messages; the delivery removed the registration "
               "(QSIZE: the bytes queued):\n",
               BATCH);
        show_queue_file("consumer", mq);
        arm_signal(mq); /* first: a message that comes during the drain is announced */
        drain("consumer", mq);
    }
    if (mq_notify(mq, NULL) == -1)
        die_errno("mq_notify NULL");
}

/* ---- SIGEV_THREAD, as glibc builds it ------------------------------------- */

struct notifier {
    mqd_t mq;
    int sock;        /* AF_NETLINK: the kernel sends the cookie here */
    sem_t listening; /* posted by the helper before each recv() */
    sem_t drained;   /* posted by the notification function, once per message */
};

static void sem_wait_or_die(sem_t *sem)
{
    while (sem_wait(sem) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static void arm_thread(const char *role, struct notifier *nt)
{
    char cookie[NOTIFY_COOKIE_LEN] = "our cookie";
    struct sigevent sev = {
        .sigev_notify = SIGEV_THREAD, .sigev_signo = nt->sock, .sigev_value.sival_ptr = cookie};

    /* The raw system call: glibc's mq_notify() would install its own socket
     * and thread.  The kernel copies the cookie now. */
    if (syscall(SYS_mq_notify, nt->mq, &sev) == -1)
        die_errno("mq_notify SIGEV_THREAD");
    printf("[%s] mq_notify(SIGEV_THREAD, netlink fd %d, cookie \"%s\")\n", role, nt->sock, cookie);
}

/* The function SIGEV_THREAD runs (glibc starts a new thread for each call).
 * It re-arms first, so a message that arrives while it drains, after the
 * queue went empty, is announced again: it may run more than once a batch. */
static void on_notification(struct notifier *nt)
{
    int n;

    arm_thread("notify fn", nt);
    n = drain("notify fn", nt->mq);
    while (n-- > 0)
        sem_post(&nt->drained); /* one post per message taken */
}

static void *helper_thread(void *arg)
{
    struct notifier *nt = arg;
    unsigned char cookie[NOTIFY_COOKIE_LEN];
    ssize_t n;

    for (;;) {
        printf("[helper] waiting in recv() on the netlink socket\n");
        sem_post(&nt->listening);
        if ((n = recv(nt->sock, cookie, sizeof cookie, MSG_WAITALL)) != NOTIFY_COOKIE_LEN)
            die_errno("recv from the netlink socket returned %zd", n);
        if (cookie[NOTIFY_COOKIE_LEN - 1] == NOTIFY_REMOVED) {
            printf("[helper] cookie \"%s\", last byte NOTIFY_REMOVED: registration gone, "
                   "stopping\n",
                   (char *)cookie);
            return NULL;
        }
        printf("[helper] cookie \"%.*s\", last byte NOTIFY_WOKENUP: running the function\n",
               (int)strnlen((char *)cookie, NOTIFY_COOKIE_LEN - 1), (char *)cookie);
        on_notification(nt);
    }
}

static void with_a_thread(mqd_t mq)
{
    struct notifier nt = {.mq = mq};
    pthread_t helper;
    sigset_t saved;
    int err;

    if ((nt.sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0)) == -1)
        die_errno("socket AF_NETLINK");
    if (sem_init(&nt.listening, 0, 0) == -1 || sem_init(&nt.drained, 0, 0) == -1)
        die_errno("sem_init");
    arm_thread("main", &nt);
    show_queue_file("main", mq);
    stop_signals_hold(&saved); /* the helper starts with them blocked: main takes Ctrl-C */
    err = pthread_create(&helper, NULL, helper_thread, &nt);
    stop_signals_release(&saved);
    if (err != 0)
        die_errnum(err, "pthread_create");
    for (int batch = 3; batch <= 4; batch++) {
        sem_wait_or_die(&nt.listening);
        send_batch("main", mq, batch);
        for (int i = 0; i < BATCH; i++)
            sem_wait_or_die(&nt.drained);
    }
    /* The last run of the function re-armed before its drain, and nothing came
     * after: one registration is active and no cookie is on its way. */
    printf("[main] the function took all %d messages of batches 3 and 4\n", 2 * BATCH);
    printf("[main] mq_notify(NULL): the kernel tells the socket the registration is removed\n");
    if (mq_notify(mq, NULL) == -1)
        die_errno("mq_notify NULL");
    if ((err = pthread_join(helper, NULL)) != 0)
        die_errnum(err, "pthread_join");
    close(nt.sock);
    sem_destroy(&nt.listening);
    sem_destroy(&nt.drained);
}

int main(int argc, char *argv[])
{
    sigset_t usr1;
    char name[64];
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL); /* taken by sigtimedwait(); threads inherit the mask */
    snprintf(name, sizeof name, "/advanced_mq_notify.%d", (int)getpid());
    mq = mq_create_registered(name, O_RDWR | O_NONBLOCK, MAXMSG, MSGSIZE);
    printf("[consumer] created %s (O_NONBLOCK, so a drain ends at EAGAIN)\n", name);

    printf("[consumer] --- SIGEV_SIGNAL\n");
    with_signals(name, mq);
    printf("[main] --- SIGEV_THREAD: a netlink socket and a thread of our own\n");
    with_a_thread(mq);
    mq_close(mq);
    return 0; /* exit() unlinks the queue */
}
