/* advanced_seqlock.c - a sequence lock: one writer, lock-free readers that retry torn reads
 *
 * The writer makes the sequence number odd, updates the data, and makes it even again.  A
 * reader notes the number, copies the data, and checks the number again: if it was odd or has
 * changed, the copy may be torn and it simply retries.  Readers never write shared memory, so
 * any number of them cost the writer nothing.  The kernel publishes the clock to every process
 * this way: clock_gettime() in the vDSO reads `struct vdso_clock` between vdso_read_begin()
 * and vdso_read_retry() (include/vdso/helpers.h).  Beside each protected read, the readers
 * here also read without the protocol and count the torn copies that it would have missed.
 * Guide part: advanced (lock-free readers: sequence locks, as the vDSO does).
 * Run: ./advanced_seqlock [--readers N] [--ms N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "timing.h"

#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--readers N] [--ms N]    (readers 1-8, ms 10-5000)";

#define FIELDS 8 /* field i holds (i + 1) * v: a consistent copy satisfies that relation */

struct seqlocked {
    alignas(64) atomic_uint seq;
    atomic_ulong field[FIELDS];
    alignas(64) atomic_int stop;
};

struct reader_result {
    unsigned long reads, retries, torn_protected, torn_unprotected;
};

/* C11 form of the protocol (Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012): the data itself is accessed with relaxed atomics, and the fences order it
 * against the sequence number. */
static void write_value(struct seqlocked *s, unsigned long v)
{
    unsigned seq = atomic_load_explicit(&s->seq, memory_order_relaxed);

    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed); /* odd: writing */
    atomic_thread_fence(memory_order_release);
    for (int i = 0; i < FIELDS; i++)
        atomic_store_explicit(&s->field[i], (unsigned long)(i + 1) * v, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release); /* even: done */
}

static bool consistent(const unsigned long copy[FIELDS])
{
    for (int i = 1; i < FIELDS; i++)
        if (copy[i] != (unsigned long)(i + 1) * copy[0])
            return false;
    return true;
}

static void copy_fields(struct seqlocked *s, unsigned long copy[FIELDS])
{
    for (int i = 0; i < FIELDS; i++)
        copy[i] = atomic_load_explicit(&s->field[i], memory_order_relaxed);
}

/* Returns a consistent copy, and how many times it had to retry. */
static unsigned long read_value(struct seqlocked *s, unsigned long copy[FIELDS])
{
    unsigned long retries = 0;
    unsigned begin, end;

    for (;;) {
        begin = atomic_load_explicit(&s->seq, memory_order_acquire);
        if ((begin & 1) == 0) {
            copy_fields(s, copy);
            atomic_thread_fence(memory_order_acquire);
            end = atomic_load_explicit(&s->seq, memory_order_relaxed);
            if (begin == end)
                return retries;
        }
        retries++;
        if (retries % 1024 == 0)
            sched_yield(); /* a writer preempted mid-update needs the CPU to finish */
    }
}

static void run_reader(struct seqlocked *s, struct reader_result *r)
{
    unsigned long copy[FIELDS];

    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        r->retries += read_value(s, copy);
        r->torn_protected += !consistent(copy);
        copy_fields(s, copy); /* the same read without the protocol */
        r->torn_unprotected += !consistent(copy);
        r->reads++;
    }
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"readers", required_argument, NULL, 'r'},
        {"ms", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long readers = 3, ms = 300;
    struct reader_result *results;
    unsigned long writes = 0;
    struct seqlocked *s;
    pid_t pids[8];
    uint64_t start;
    int opt;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'r')
            readers = cli_long(optarg, 1, 8, "--readers", usage);
        else
            ms = cli_long(optarg, 10, 5000, "--ms", usage);
    }
    cli_no_operands(argc, argv, usage);

    s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    results = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED || results == MAP_FAILED)
        die_errno("mmap");
    printf("[writer] %ld reader processes, %d fields where field i = (i+1) * v, for %ld ms\n",
           readers, FIELDS, ms);
    for (long r = 0; r < readers; r++) {
        pids[r] = fork_or_die();
        if (pids[r] == 0) {
            run_reader(s, &results[r]);
            exit(0);
        }
    }
    start = now_ns();
    while (elapsed_ns(start) < (uint64_t)ms * 1000000) {
        write_value(s, ++writes);
        if (writes % 4096 == 0)
            sched_yield(); /* let readers run even when they share our CPU */
    }
    atomic_store_explicit(&s->stop, 1, memory_order_release);
    printf("[writer] %lu updates, never waiting for a reader\n", writes);
    for (long r = 0; r < readers; r++) {
        struct reader_result *res = &results[r];

        if (reap_child(pids[r], "writer") != 0)
            die("a reader failed");
        printf("[reader %ld] %lu reads, %lu retries; torn copies: %lu with the seqlock, %lu "
               "without\n",
               r + 1, res->reads, res->retries, res->torn_protected, res->torn_unprotected);
        if (res->torn_protected != 0)
            die("a read under the seqlock was torn");
    }
    printf("[writer] every read under the seqlock was consistent; the retries are the reads it "
           "threw away\n");
    munmap(results, 4096);
    munmap(s, 4096);
    return 0;
}
