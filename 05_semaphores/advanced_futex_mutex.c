/* advanced_futex_mutex.c - a mutex built on the raw futex system call, its system calls counted
 *
 * The three-state design of Ulrich Drepper's "Futexes Are Tricky" (mutex 3): the lock word
 * is 0 free, 1 locked with no waiter, 2 locked and perhaps waited for.  Locking is one
 * compare-and-swap 0 -> 1 in user space when the lock is free; only a taker that finds it
 * held sets 2 and sleeps in FUTEX_WAIT; unlocking calls FUTEX_WAKE only when the word was
 * 2.  So an uncontended lock and unlock make NO system call, and the program proves it by
 * counting every futex call it makes (strace can count them too: see the .expect file).
 * Threads add to a plain counter under the lock: the total shows mutual exclusion.
 * Guide part: kernel (futexes: the fast path in user space, the slow path in the kernel).
 * Run: ./advanced_futex_mutex [--threads N] [--iterations N] [--spin N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { UNLOCKED = 0, LOCKED = 1, CONTENDED = 2 };

static const char usage[] = "[--threads N] [--iterations N] [--spin N]    (threads 1 to 16, "
                            "iterations 1 to 10000000, spin 0 to 10000)";

struct futex_mutex {
    atomic_uint word;
};

static atomic_long futex_waits, futex_wakes; /* every futex call this program makes */
static long spin_limit = 100;

/* The one place that enters the kernel: counted, so the fast path's silence shows. */
static long sys_futex(atomic_uint *word, int op, unsigned val)
{
    atomic_fetch_add_explicit(op == FUTEX_WAIT_PRIVATE ? &futex_waits : &futex_wakes, 1,
                              memory_order_relaxed);
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static unsigned cas(atomic_uint *word, unsigned expected, unsigned desired)
{
    atomic_compare_exchange_strong_explicit(word, &expected, desired, memory_order_acquire,
                                            memory_order_relaxed);
    return expected; /* the value found: `expected` if the swap happened */
}

static void futex_lock(struct futex_mutex *m)
{
    unsigned c = cas(&m->word, UNLOCKED, LOCKED);

    if (c == UNLOCKED)
        return; /* the fast path: no system call */
    /* A short, bounded spin: a holder on another CPU may let go within a microsecond. */
    for (long i = 0; i < spin_limit && c == LOCKED; i++)
        if ((c = cas(&m->word, UNLOCKED, LOCKED)) == UNLOCKED)
            return;
    /* Mark it CONTENDED so the holder's unlock wakes someone, then sleep while it stays 2.
     * FUTEX_WAIT sleeps only if the word still reads 2: an unlock in between is not lost. */
    if (c != CONTENDED)
        c = atomic_exchange_explicit(&m->word, CONTENDED, memory_order_acquire);
    while (c != UNLOCKED) {
        if (sys_futex(&m->word, FUTEX_WAIT_PRIVATE, CONTENDED) == -1 && errno != EAGAIN &&
            errno != EINTR)
            die_errno("futex FUTEX_WAIT");
        c = atomic_exchange_explicit(&m->word, CONTENDED, memory_order_acquire);
    }
}

static void futex_unlock(struct futex_mutex *m)
{
    /* 1 -> 0: no one waits, done.  2 -> 1 means waiters may sleep: free it and wake one. */
    if (atomic_fetch_sub_explicit(&m->word, 1, memory_order_release) != LOCKED) {
        atomic_store_explicit(&m->word, UNLOCKED, memory_order_release);
        if (sys_futex(&m->word, FUTEX_WAKE_PRIVATE, 1) == -1)
            die_errno("futex FUTEX_WAKE");
    }
}

static struct futex_mutex lock;
static long counter; /* a plain long: only the lock keeps its updates whole */
static long iterations = 200000;

static void *adder(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        futex_lock(&lock);
        counter++;
        futex_unlock(&lock);
    }
    return NULL;
}

/* Runs `threads` adders (1: the main thread alone, no pthread at all) and reports. */
static void run(const char *what, long threads)
{
    pthread_t tids[16];
    uint64_t start;
    long calls;
    int err;

    counter = 0;
    atomic_store(&futex_waits, 0);
    atomic_store(&futex_wakes, 0);
    printf("[main] %s: %ld thread%s x %ld lock/unlock pairs\n", what, threads,
           threads == 1 ? "" : "s", iterations);
    start = now_ns();
    for (long t = 1; t < threads; t++)
        if ((err = pthread_create(&tids[t], NULL, adder, NULL)) != 0)
            die_errnum(err, "pthread_create");
    adder(NULL);
    for (long t = 1; t < threads; t++)
        if ((err = pthread_join(tids[t], NULL)) != 0)
            die_errnum(err, "pthread_join");
    calls = atomic_load(&futex_waits) + atomic_load(&futex_wakes);
    printf("[main] counter = %ld (expected %ld) in %s\n", counter, threads * iterations,
           fmt_duration((double)elapsed_ns(start)).s);
    printf("[main] futex calls: %ld FUTEX_WAIT + %ld FUTEX_WAKE = %ld, %.4f per lock/unlock\n",
           atomic_load(&futex_waits), atomic_load(&futex_wakes), calls,
           (double)calls / (double)(threads * iterations));
    if (counter != threads * iterations)
        die("updates were lost: the mutex does not exclude");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'},
        {"iterations", required_argument, NULL, 'n'},
        {"spin", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long threads = 0;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "t:n:s:h", longopts, usage)) != -1) {
        if (c == 't')
            threads = cli_long(optarg, 1, 16, "--threads", usage);
        else if (c == 'n')
            iterations = cli_long(optarg, 1, 10000000, "--iterations", usage);
        else
            spin_limit = cli_long(optarg, 0, 10000, "--spin", usage);
    }
    cli_no_operands(argc, argv, usage);
    printf("[main] lock word: 0 free, 1 locked, 2 locked with waiters; spin %ld tries\n",
           spin_limit);

    if (threads != 0) {
        run("as asked", threads);
        return 0;
    }
    run("uncontended", 1);
    printf("[main] no futex call at all: every lock found the word 0 and swapped it to 1\n");
    run("contended", 4);
    printf("[main] the kernel was entered only when a taker found the lock held\n");
    return 0;
}
