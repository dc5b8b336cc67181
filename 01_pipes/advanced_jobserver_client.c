/* advanced_jobserver_client.c - a threaded tool that takes its share of GNU make's job slots
 *
 * Real-world pattern: how a tool that works in parallel (cargo and rustc through the Rust
 * jobserver crate, say) stays within `make -jN`.  It finds the jobserver in MAKEFLAGS (the
 * last --jobserver-auth= word: fifo:PATH, or descriptors R,W that it holds only if make ran it
 * as a recursive command), runs its first work item on the slot make reserved for the recipe,
 * and for each further one asks a helper thread for a token: only the helper blocks in read(),
 * and it hands the byte over.  A worker writes its byte back the moment it is done.
 * No arguments: a real GNU make -j3 runs two such clients, one recipe marked recursive ('+')
 * and one not, beside two plain jobs.  Left out: -n and -s in MAKEFLAGS, Ctrl-C (a killed client
 * loses the tokens it held), creating a jobserver (advanced_jobserver does that).
 * Guide part: real-world (GNU make jobserver clients: cargo's helper thread).
 * Run: ./advanced_jobserver_client [--jobs J]      (needs GNU make in PATH)
 *      in a recipe: +./advanced_jobserver_client --client NAME --work N
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
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
#include <sys/stat.h>
#include <unistd.h>

#define MAX_WORK 8

static const char usage[] = "[--jobs J] | --client NAME --work N [--meter-fd FD] | --job NAME "
                            "--meter-fd FD    (J 1-8, default 3; N 1-8)";

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

/* A plain job of a Makefile (a compiler, say): it works, and tells what MAKEFLAGS gave it. */
static noreturn void plain_job(const char *name)
{
    const char *flags = getenv("MAKEFLAGS");
    const char *auth = flags != NULL ? strstr(flags, "--jobserver-auth=") : NULL;
    unsigned ms = 40;
    char who[32];
    int r, w;

    if (strcmp(name, "1") == 0 && auth != NULL) {
        auth += strlen("--jobserver-auth=");
        if (strncmp(auth, "fifo:", 5) == 0)
            printf("[job 1] MAKEFLAGS names the FIFO: any command could open it and join\n");
        else if (sscanf(auth, "%d,%d", &r, &w) == 2 && must_be_fifo(r, "read fd") == -1)
            printf("[job 1] MAKEFLAGS names fds %d,%d, but no pipe is open on them here: make "
                   "gives the jobserver only to recursive commands\n",
                   r, w);
    }
    snprintf(who, sizeof who, "job %s", name);
    meter_count(+1, who, ms);
    sleep_ms(ms);
    meter_count(-1, who, ms);
    exit(0);
}

static bool in_path(const char *command)
{
    const char *path = getenv("PATH");
    char candidate[PATH_MAX];

    for (const char *dir = path; dir != NULL && *dir != '\0'; dir = strchr(dir, ':')) {
        dir += *dir == ':';
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)strcspn(dir, ":"), dir, command);
        if (access(candidate, X_OK) == 0)
            return true;
    }
    return false;
}

/* The demo: a real GNU make is the top make and the jobserver; its recipes run this tool. */
static int run_under_make(long jobs, const char *meter_arg)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], jflag[16], self[PATH_MAX + 8], meter_var[32];
    sigset_t saved;
    FILE *mk;
    int fd;

    if (!in_path("make")) {
        printf("[driver] GNU make is not in PATH: install it to see a real make share its slots\n");
        return 0;
    }
    make_temp_dir(dir, sizeof dir, "advanced_jobserver_client");
    snprintf(path, sizeof path, "%s/Makefile", dir);
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the Makefile */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1 ||
        cleanup_add_path(path) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if ((mk = fdopen(fd, "w")) == NULL)
        die_errno("fdopen %s", path);
    fprintf(mk, ".PHONY: all 1 2 a b\nall: 1 2 a b\n"
                "1 2:\n\t@\"$(SELF)\" --job $@ --meter-fd $(METER)\n"
                "a:\n\t+@\"$(SELF)\" --client $@ --work 3 --meter-fd $(METER)\n"
                "b:\n\t@\"$(SELF)\" --client $@ --work 2 --meter-fd $(METER)\n");
    if (fclose(mk) == EOF)
        die_errno("write %s", path);
    printf("[driver] GNU make -j%ld runs %s: plain jobs 1 and 2; clients a (a recipe marked "
           "'+': recursive) and b (not marked)\n",
           jobs, path);
    snprintf(jflag, sizeof jflag, "-j%ld", jobs);
    /* Recipes run in make's directory: the tool by an absolute path. */
    char *me = strchr(program_invocation_name, '/') ? realpath(program_invocation_name, NULL)
                                                    : strdup(program_invocation_name);
    if (me == NULL)
        die_errno("resolve %s", program_invocation_name);
    snprintf(self, sizeof self, "SELF=%s", me);
    free(me);
    snprintf(meter_var, sizeof meter_var, "METER=%s", meter_arg);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        /* A top-level make, not the client of a make that may have started us. */
        unsetenv("MAKEFLAGS");
        unsetenv("MFLAGS");
        unsetenv("MAKELEVEL");
        execlp("make", "make", "-s", "-r", jflag, "-f", path, self, meter_var, (char *)NULL);
        die_errno("exec make");
    }
    return reap_child(pid, "driver");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"client", required_argument, NULL, 'c'},
        {"work", required_argument, NULL, 'w'},
        {"job", required_argument, NULL, 'J'},
        {"meter-fd", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *client = NULL, *job = NULL, *meter_arg = NULL;
    long jobs = 3, items = 0;
    char fdarg[16];
    int c, meter_fd;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'j')
            jobs = cli_long(optarg, 1, MAX_WORK, "--jobs", usage);
        else if (c == 'c')
            client = optarg;
        else if (c == 'w')
            items = cli_long(optarg, 1, MAX_WORK, "--work", usage);
        else if (c == 'J')
            job = optarg;
        else if (c == 'M')
            meter_arg = optarg;
    }
    cli_no_operands(argc, argv, usage);
    if ((client != NULL) != (items > 0))
        die_usage(usage, "--client and --work go together");
    if (job != NULL && meter_arg == NULL)
        die_usage(usage, "--job needs --meter-fd");

    /* A job of make's inherits the meter (meter.h); the demo makes one for its recipes. */
    if (meter_arg != NULL) {
        meter_fd = (int)cli_long(meter_arg, 0, INT_MAX, "--meter-fd", usage);
        meter_map(meter_fd);
    } else {
        meter_fd = meter_create();
        snprintf(fdarg, sizeof fdarg, "%d", meter_fd);
        meter_arg = fdarg;
    }
    if (job != NULL || client != NULL) {
        close(meter_fd); /* the mapping stays; make's other recipes have their own copy */
        if (job != NULL)
            plain_job(job);
        run_client(client, (int)items);
        return 0;
    }
    int status = run_under_make(jobs, meter_arg);
    close(meter_fd);
    int max = meter_max();
    if (status != 0)
        die("make failed (%s)", fmt_wait_status(status).s);
    printf("[driver] at most %d work items ran at once, in all (limit -j%ld)\n", max, jobs);
    if (max > jobs)
        die("the jobserver did not keep its limit");
    return 0;
}
