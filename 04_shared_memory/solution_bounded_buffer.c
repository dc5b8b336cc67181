/* solution_bounded_buffer.c - exercise 2: a bounded buffer between processes, with semaphores
 *
 * The worked answer to exercise 2 of the README: stdin is copied to stdout through N slots of
 * shared memory.  The parent reads each chunk straight into a free slot; a child writes the
 * full slots to stdout in order.  Two unnamed POSIX semaphores in the shared mapping
 * (sem_init with pshared = 1) count the empty and the full slots, so each side sleeps when it
 * must wait.  A slot of length 0 marks the end of the input.
 * Guide part: exercise 2 (intermediate).
 * Run: ./solution_bounded_buffer [--slots N] - < in > out
 *      ./solution_bounded_buffer            (a demonstration on a built-in text)
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--slots N] [-]    (N from 1 to 64; '-' copies stdin to stdout, "
                            "without it a demonstration)";

#define SLOT_BYTES 4096

struct slot {
    size_t len;
    alignas(64) unsigned char data[SLOT_BYTES];
};

struct buffer {
    sem_t empty; /* slots the producer may fill */
    sem_t full;  /* slots the consumer may drain */
    atomic_int consumer_failed;
    struct slot slots[];
};

static void wait_sem(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR)
            die_errno("sem_wait");
}

static noreturn void run_consumer(struct buffer *b, long nslots)
{
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an EPIPE to report, not a silent death */
    for (long i = 0;; i = (i + 1) % nslots) {
        struct slot *s = &b->slots[i];

        wait_sem(&b->full);
        if (s->len == 0)
            exit(0);
        if (write_full(STDOUT_FILENO, s->data, s->len) == -1) {
            warn_errno("write to stdout");
            atomic_store(&b->consumer_failed, 1);
            for (long k = 0; k < nslots; k++) /* wake the producer so it can see it */
                sem_post(&b->empty);
            exit(1);
        }
        sem_post(&b->empty);
    }
}

/* Reads stdin into the slots; returns false if the consumer gave up. */
static bool produce(struct buffer *b, long nslots)
{
    for (long i = 0;; i = (i + 1) % nslots) {
        struct slot *s = &b->slots[i];
        ssize_t n;

        wait_sem(&b->empty);
        if (atomic_load(&b->consumer_failed))
            return false;
        do
            n = read(STDIN_FILENO, s->data, SLOT_BYTES);
        while (n == -1 && errno == EINTR);
        if (n == -1)
            die_errno("read from stdin");
        s->len = (size_t)n;
        sem_post(&b->full);
        if (n == 0)
            return true;
    }
}

/* The demonstration: stdin becomes a memfd holding a few lines. */
static void demo_input(void)
{
    static const char text[] = "one\ntwo slots later\nthree, in order\n";
    int fd = memfd_create("demo-input", MFD_CLOEXEC);

    if (fd == -1 || write_full(fd, text, sizeof text - 1) == -1 || lseek(fd, 0, SEEK_SET) == -1)
        die_errno("demo input");
    if (dup2(fd, STDIN_FILENO) == -1)
        die_errno("dup2");
    close(fd);
    printf("[demo] copying %zu bytes from a built-in text through the slots; the copy "
           "follows\n",
           sizeof text - 1);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"slots", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long nslots = 8;
    size_t size;
    struct buffer *b;
    sigset_t saved;
    pid_t consumer;
    int opt, status;
    bool ok;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        nslots = cli_long(optarg, 1, 64, "--slots", usage);
    bool from_stdin = optind < argc && strcmp(argv[optind], "-") == 0;

    optind += from_stdin;
    cli_no_operands(argc, argv, usage); /* before the demo's narration: nothing on stdout */
    if (!from_stdin)
        demo_input();

    size = sizeof *b + (size_t)nslots * sizeof(struct slot);
    b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        die_errno("mmap");
    if (sem_init(&b->empty, 1, (unsigned)nslots) == -1 || sem_init(&b->full, 1, 0) == -1)
        die_errno("sem_init");

    stop_signals_hold(&saved); /* a stop signal before the registry knows the consumer waits */
    consumer = fork_or_die();
    if (consumer == 0) {
        stop_signals_release(&saved);
        run_consumer(b, nslots);
    }
    if (cleanup_add_child(consumer) == -1) /* stopped: SIGTERM it, reap it, then die */
        die_errno("cleanup_add_child");
    stop_signals_release(&saved);

    ok = produce(b, nslots);
    status = reap_quietly(consumer);
    sem_destroy(&b->empty);
    sem_destroy(&b->full);
    munmap(b, size);
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
