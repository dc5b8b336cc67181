/* solution_futex_sem.c - exercise 4: a counting semaphore on futexes alone, tested under contention
 *
 * The value is a 32-bit word; a second word counts sleepers.  wait() takes a unit with a
 * compare-and-swap while the value is positive; otherwise it registers as a sleeper, looks
 * once more, and sleeps in FUTEX_WAIT on the value word expecting 0, which the kernel
 * re-checks, so a post that lands in between is never missed.  post() adds a unit and
 * calls FUTEX_WAKE only when someone has registered: uncontended, neither call enters the
 * kernel.  Threads count how many are inside at once; it never exceeds the initial value.
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_futex_sem [--threads T] [--iterations K] [--initial V]
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_THREADS 16

static const char usage[] = "[--threads T] [--iterations K] [--initial V]    (T 1 to 16, K 1 "
                            "to 1000000, V 1 to 16)";

struct futex_sem {
    atomic_uint value;
    atomic_uint sleepers;
};

static struct futex_sem sem;
static atomic_int inside, max_inside;
static atomic_long acquisitions;
static long iterations = 100000;

static void fsem_wait(struct futex_sem *s)
{
    for (;;) {
        unsigned v = atomic_load(&s->value);

        while (v > 0)
            if (atomic_compare_exchange_weak(&s->value, &v, v - 1))
                return;
        atomic_fetch_add(&s->sleepers, 1);
        /* Sleep only if the value is still 0: checked again by the kernel itself. */
        if (syscall(SYS_futex, &s->value, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0) == -1 &&
            errno != EAGAIN && errno != EINTR)
            die_errno("futex FUTEX_WAIT");
        atomic_fetch_sub(&s->sleepers, 1);
    }
}

static void fsem_post(struct futex_sem *s)
{
    atomic_fetch_add(&s->value, 1);
    if (atomic_load(&s->sleepers) > 0 &&
        syscall(SYS_futex, &s->value, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == -1)
        die_errno("futex FUTEX_WAKE");
}

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        int now, most;

        fsem_wait(&sem);
        now = atomic_fetch_add(&inside, 1) + 1;
        most = atomic_load(&max_inside);
        while (now > most && !atomic_compare_exchange_weak(&max_inside, &most, now))
            ;
        atomic_fetch_add(&acquisitions, 1);
        atomic_fetch_sub(&inside, 1);
        fsem_post(&sem);
    }
    return NULL;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'},
        {"iterations", required_argument, NULL, 'k'},
        {"initial", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    pthread_t tids[MAX_THREADS];
    long threads = 4, initial = 2;
    int c, err;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 't')
            threads = cli_long(optarg, 1, MAX_THREADS, "--threads", usage);
        else if (c == 'k')
            iterations = cli_long(optarg, 1, 1000000, "--iterations", usage);
        else
            initial = cli_long(optarg, 1, 16, "--initial", usage);
    }
    cli_no_operands(argc, argv, usage);
    if (argc == 1)
        printf("[main] %ld threads x %ld wait/post pairs on a futex semaphore of value %ld\n",
               threads, iterations, initial);
    atomic_init(&sem.value, (unsigned)initial);

    /* One thread: the main thread does the work itself, so no futex call is made at all. */
    for (long t = 1; t < threads; t++)
        if ((err = pthread_create(&tids[t], NULL, worker, NULL)) != 0)
            die_errnum(err, "pthread_create");
    worker(NULL);
    for (long t = 1; t < threads; t++)
        if ((err = pthread_join(tids[t], NULL)) != 0)
            die_errnum(err, "pthread_join");
    printf("acquisitions %ld\n", atomic_load(&acquisitions));
    printf("max inside %d\n", atomic_load(&max_inside));
    printf("final value %u\n", atomic_load(&sem.value));
    return 0;
}
