/* advanced_jobserver_client.c - a threaded tool that takes its share of GNU make's job slots
 *
 * Real-world pattern: how a tool that works in parallel (cargo and rustc through the Rust
 * jobserver crate, say) stays within `make -jN`.  It finds the jobserver in MAKEFLAGS (the
 * last --jobserver-auth= word: fifo:PATH, or descriptors R,W that it holds only if make ran it
 * as a recursive command), runs its first work item on the slot make reserved for the recipe,
 * and for each further one asks a helper thread for a token: only the helper blocks in read(),
 * and it hands the byte over.  A worker writes its byte back the moment it is done.
 * No arguments: four items under a stand-in for make -j3 (a pipe with two tokens); under a real
 * GNU make: advanced_jobserver_gnu_make.  Left out: -n and -s in MAKEFLAGS, Ctrl-C (a killed
 * client loses the tokens it held), creating a jobserver (advanced_jobserver does that).
 * Guide part: real-world (GNU make jobserver clients: cargo's helper thread).
 * Run: ./advanced_jobserver_client [--jobs J]
 *      in a recipe: +./advanced_jobserver_client --client NAME --work N
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "timing.h"
#include "meter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORK 8

static const char usage[] = "[--jobs J] | --client NAME --work N [--meter-fd FD]    "
                            "(J 1-8, default 3; N 1-8)";

struct client {
    const char *name;
    int rfd, wfd;           /* the jobserver; -1 when make gave us none */
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t changed; /* a token came in, a slot came free, or a request was made */
    int requested;          /* tokens asked of the helper and not delivered yet */
    char ready[MAX_WORK];   /* tokens delivered and not used yet */
    int nready;
    bool implicit_free; /* the slot make reserved for this recipe */
    bool shutdown;      /* the helper must stop */
};

struct item {
    struct client *c;
    int number;
    bool on_token;
    char token;
};

/* Only here so that pthread_kill() interrupts the helper's read() (no SA_RESTART). */
static void on_wakeup(int sig)
{
    (void)sig;
}

/* The helper thread: the only one that blocks on the jobserver.  One read() per request. */
static void *helper(void *arg)
{
    struct client *c = arg;
    char token;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->shutdown && c->requested == 0)
            pthread_cond_wait(&c->changed, &c->lock);
        if (c->shutdown)
            break;
        pthread_mutex_unlock(&c->lock);
        ssize_t n = read(c->rfd, &token, 1);
        int err = errno;
        if (n == -1 && err == EAGAIN) { /* the make that made the pipe set O_NONBLOCK on it */
            struct pollfd p = {.fd = c->rfd, .events = POLLIN};
            poll(&p, 1, -1);
        }
        pthread_mutex_lock(&c->lock);
        if (n == 1 && c->shutdown) { /* too late to be used: straight back */
            if (write_full(c->wfd, &token, 1) == -1)
                die_errno("write a token back");
        } else if (n == 1) {
            c->requested--;
            c->ready[c->nready++] = token;
            pthread_cond_broadcast(&c->changed);
        } else if (n == 0 || (err != EINTR && err != EAGAIN)) {
            die("[client %s] the jobserver failed: %s", c->name, n == 0 ? "EOF" : strerror(err));
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void *work(void *arg)
{
    struct item *it = arg;
    struct client *c = it->c;
    char who[48];
    unsigned ms = 30 + (unsigned)it->number * 7;

    snprintf(who, sizeof who, "client %s item %d", c->name, it->number);
    meter_count(+1, who, ms);
    sleep_ms(ms);
    meter_count(-1, who, ms);
    pthread_mutex_lock(&c->lock);
    if (it->on_token) {
        printf("[client %s] item %d done: writing its token '%c' back\n", c->name, it->number,
               it->token);
        if (write_full(c->wfd, &it->token, 1) == -1)
            die_errno("write the token back");
    } else {
        c->implicit_free = true;
        pthread_cond_broadcast(&c->changed);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* A slot for item `it`: the implicit one if free, else a token the helper fetched.  Called
 * with the lock held. */
static void take_slot(struct client *c, struct item *it)
{
    if (!c->implicit_free && c->nready == 0 && c->rfd >= 0 && c->requested == 0) {
        c->requested = 1; /* one request at a time: items start one after another */
        pthread_cond_broadcast(&c->changed);
        printf("[client %s] item %d waits: asked the helper for a token\n", c->name, it->number);
    }
    while (!c->implicit_free && c->nready == 0)
        pthread_cond_wait(&c->changed, &c->lock);
    it->on_token = !c->implicit_free;
    if (it->on_token) {
        it->token = c->ready[--c->nready];
        printf("[client %s] item %d starts on token '%c' from the jobserver\n", c->name, it->number,
               it->token);
    } else {
        c->implicit_free = false;
        printf("[client %s] item %d starts on the slot make reserved for me\n", c->name,
               it->number);
    }
}

/* Finds and opens the jobserver named in MAKEFLAGS; false if there is none for us. */
static bool join_jobserver(struct client *c)
{
    const char *flags = getenv("MAKEFLAGS"), *auth = NULL;
    char path[PATH_MAX];

    /* The manual: MAKEFLAGS may hold several --jobserver-auth= words; the last one counts. */
    for (const char *p = flags; p != NULL && (p = strstr(p, "--jobserver-auth=")) != NULL; p++)
        auth = p + strlen("--jobserver-auth=");
    if (auth == NULL) {
        printf("[client %s] no jobserver in MAKEFLAGS: one item at a time\n", c->name);
        return false;
    }
    if (strncmp(auth, "fifo:", 5) == 0) {
        snprintf(path, sizeof path, "%.*s", (int)strcspn(auth + 5, " "), auth + 5);
        /* Our own open file description: never O_NONBLOCK, as the manual asks. */
        if ((c->rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
            (c->wfd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
            die_errno("[client %s] open the jobserver FIFO %s", c->name, path);
        printf("[client %s] opened the jobserver FIFO named in MAKEFLAGS: %s\n", c->name, path);
        return true;
    }
    if (sscanf(auth, "%d,%d", &c->rfd, &c->wfd) != 2)
        die("[client %s] a jobserver style I do not know: '%s'", c->name, auth);
    /* Mere numbers: they name the pipe only if make let this recipe inherit it.  Otherwise
     * they are closed, or reused by some unrelated file that must not be read or written. */
    if (must_be_fifo(c->rfd, "read fd") == -1 || must_be_fifo(c->wfd, "write fd") == -1) {
        printf("[client %s] MAKEFLAGS names fds %d,%d, but no pipe is open on them: make did not "
               "mark my recipe recursive ('+' or $(MAKE)); one item at a time\n",
               c->name, c->rfd, c->wfd);
        c->rfd = c->wfd = -1;
        return false;
    }
    if (fcntl(c->rfd, F_SETFD, FD_CLOEXEC) == -1 || fcntl(c->wfd, F_SETFD, FD_CLOEXEC) == -1)
        die_errno("FD_CLOEXEC"); /* as make does: not for our own children */
    printf("[client %s] inherited the jobserver pipe, fds %d,%d named in MAKEFLAGS\n", c->name,
           c->rfd, c->wfd);
    if (fcntl(c->rfd, F_GETFL) & O_NONBLOCK)
        printf("[client %s] its read side is O_NONBLOCK: the make that made the pipe set that on "
               "a description all its clients share; I leave it, and poll() on EAGAIN\n",
               c->name);
    return true;
}

static void run_client(const char *name, int items)
{
    struct client c = {.name = name, .rfd = -1, .wfd = -1, .implicit_free = true};
    struct sigaction sa = {.sa_handler = on_wakeup};
    struct item it[MAX_WORK];
    pthread_t worker[MAX_WORK], help;
    int err;

    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.changed, NULL);
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) == -1)
        die_errno("sigaction");
    bool joined = join_jobserver(&c);
    if (joined && (err = pthread_create(&help, NULL, helper, &c)) != 0)
        die_errnum(err, "pthread_create");
    for (int i = 0; i < items; i++) {
        it[i] = (struct item){.c = &c, .number = i + 1};
        pthread_mutex_lock(&c.lock);
        take_slot(&c, &it[i]);
        pthread_mutex_unlock(&c.lock);
        if ((err = pthread_create(&worker[i], NULL, work, &it[i])) != 0)
            die_errnum(err, "pthread_create");
    }
    for (int i = 0; i < items; i++)
        pthread_join(worker[i], NULL);
    if (joined) {
        /* The helper may sit in read() for a token nobody needs now: stop it, then write
         * back whatever it delivered.  Repeated: a signal just before read() is not enough. */
        pthread_mutex_lock(&c.lock);
        c.shutdown = true;
        pthread_cond_broadcast(&c.changed);
        pthread_mutex_unlock(&c.lock);
        while (pthread_tryjoin_np(help, NULL) == EBUSY) {
            pthread_kill(help, SIGUSR1);
            sleep_ms(5);
        }
        if (c.nready > 0 && write_full(c.wfd, c.ready, (size_t)c.nready) == -1)
            die_errno("write tokens back");
        close(c.rfd);
        close(c.wfd);
    }
    printf("[client %s] all %d items done%s\n", name, items,
           joined ? ", every token written back" : "");
    pthread_cond_destroy(&c.changed);
    pthread_mutex_destroy(&c.lock);
}

/* No arguments: a stand-in for a `make -jJ` that runs me as a recursive recipe: J-1 tokens in
 * a pipe, named in MAKEFLAGS as make names a pipe it lets a recipe inherit. */
static void run_stand_in(long jobs, int items)
{
    char flags[64], tokens[MAX_WORK];
    int fds[2];

    memset(tokens, '+', sizeof tokens);
    if (pipe2(fds, O_CLOEXEC) == -1 ||
        (jobs > 1 && write_full(fds[1], tokens, (size_t)jobs - 1) == -1))
        die_errno("make the jobserver pipe");
    snprintf(flags, sizeof flags, " -j%ld --jobserver-auth=%d,%d", jobs, fds[0], fds[1]);
    if (setenv("MAKEFLAGS", flags, 1) == -1)
        die_errno("setenv MAKEFLAGS");
    printf("[make] a stand-in for make -j%ld: %ld tokens in a pipe, MAKEFLAGS='%s'\n", jobs,
           jobs - 1, flags);
    run_client("demo", items); /* it closes the pipe when done */
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'}, {"client", required_argument, NULL, 'c'},
        {"work", required_argument, NULL, 'w'}, {"meter-fd", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *client = NULL, *meter_arg = NULL;
    long jobs = 3, items = 0;
    int c, meter_fd;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'j')
            jobs = cli_long(optarg, 1, MAX_WORK, "--jobs", usage);
        else if (c == 'c')
            client = optarg;
        else if (c == 'w')
            items = cli_long(optarg, 1, MAX_WORK, "--work", usage);
        else if (c == 'M')
            meter_arg = optarg;
    }
    cli_no_operands(argc, argv, usage);
    if ((client != NULL) != (items > 0))
        die_usage(usage, "--client and --work go together");

    /* A job of make's inherits the meter (meter.h); otherwise we make our own. */
    if (meter_arg != NULL) {
        meter_fd = (int)cli_long(meter_arg, 0, INT_MAX, "--meter-fd", usage);
        meter_map(meter_fd);
    } else {
        meter_fd = meter_create();
    }
    close(meter_fd); /* the mapping stays; make's other recipes have their own copy */
    if (client != NULL) {
        run_client(client, (int)items);
        return 0;
    }
    run_stand_in(jobs, 4);
    int max = meter_max();
    printf("[make] at most %d work items ran at once (limit -j%ld)\n", max, jobs);
    if (max > jobs)
        die("the jobserver did not keep its limit");
    return 0;
}
