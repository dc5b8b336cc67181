/* advanced_nginx_shared_zone.c - nginx's shared zone: an accept mutex and counters for workers
 *
 * Real-world pattern: nginx (src/event/ngx_event.c, ngx_event_module_init(); the stub_status
 * module).  Before forking its workers, the master maps one small anonymous shared zone and
 * carves it into 128-byte slots, one per variable so that no two share a cache line: the
 * accept mutex, a connection counter, and the stub_status counters (accepted, handled,
 * requests, active, reading, writing, waiting).  Workers take the accept mutex with a
 * compare-and-swap of 0 to their pid (ngx_shmtx_trylock()), and update the counters with
 * atomic adds; the status page just reads them.  Left out: real sockets and epoll, the
 * semaphore ngx_shmtx falls back to, and the slab-allocated zones of limit_req and caches.
 * Guide part: real-world (counters and locks shared by worker processes).
 * Run: ./advanced_nginx_shared_zone [--workers N] [--connections N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static const char usage[] = "[--workers N] [--connections N]    (workers 1-8, connections "
                            "1-1000000)";

#define CL 128 /* "cl should be equal to or greater than cache line size" */

enum slot {
    ACCEPT_MUTEX,
    CONNECTION_COUNTER,
    ACCEPTED,
    HANDLED,
    REQUESTS,
    ACTIVE,
    READING,
    WRITING,
    WAITING,
    PENDING,
    NSLOTS
};

static unsigned char *zone;

static atomic_long *slot(enum slot s)
{
    return (atomic_long *)(zone + (size_t)s * CL);
}

static void add(enum slot s, long n)
{
    atomic_fetch_add_explicit(slot(s), n, memory_order_relaxed);
}

/* ngx_shmtx_trylock / ngx_shmtx_unlock: the lock word holds the owner's pid. */
static bool trylock_accept_mutex(long pid)
{
    long expected = 0;

    return atomic_load(slot(ACCEPT_MUTEX)) == 0 &&
           atomic_compare_exchange_strong(slot(ACCEPT_MUTEX), &expected, pid);
}

static void unlock_accept_mutex(long pid)
{
    long expected = pid;

    atomic_compare_exchange_strong(slot(ACCEPT_MUTEX), &expected, 0);
}

/* Takes one waiting connection off the "listen queue", if any is left. */
static bool accept_one(void)
{
    long left = atomic_load(slot(PENDING));

    while (left > 0)
        if (atomic_compare_exchange_weak(slot(PENDING), &left, left - 1))
            return true;
    return false;
}

/* One connection through the states stub_status counts; 1 to 3 requests, then keepalive. */
static void serve(long conn)
{
    add(ACCEPTED, 1);
    add(HANDLED, 1);
    add(ACTIVE, 1);
    for (long r = 0; r <= conn % 3; r++) {
        add(READING, 1); /* reading the request header */
        add(READING, -1);
        add(REQUESTS, 1);
        add(WRITING, 1); /* sending the response */
        add(WRITING, -1);
        add(WAITING, 1); /* keepalive: idle between requests */
        add(WAITING, -1);
    }
    add(ACTIVE, -1);
}

static noreturn void run_worker(int id)
{
    long pid = getpid(), served = 0, held = 0;

    for (;;) {
        if (!trylock_accept_mutex(pid)) {
            sched_yield(); /* nginx would go back to its event loop */
            continue;
        }
        held++;
        /* While holding the mutex, accept a batch (as multi_accept does), then let go. */
        long batch[16], n = 0;

        while (n < 16 && accept_one())
            batch[n++] = atomic_fetch_add(slot(CONNECTION_COUNTER), 1);
        unlock_accept_mutex(pid);
        if (n == 0)
            break;
        for (long i = 0; i < n; i++)
            serve(batch[i]);
        served += n;
    }
    printf("[worker %d] served %ld connections, held the accept mutex %ld times\n", id, served,
           held);
    exit(0);
}

/* The stub_status page, in the module's own layout. */
static void print_status(void)
{
    printf("[status] Active connections: %ld\n", atomic_load(slot(ACTIVE)));
    printf("[status] server accepts handled requests\n");
    printf("[status]  %ld %ld %ld\n", atomic_load(slot(ACCEPTED)), atomic_load(slot(HANDLED)),
           atomic_load(slot(REQUESTS)));
    printf("[status] Reading: %ld Writing: %ld Waiting: %ld\n", atomic_load(slot(READING)),
           atomic_load(slot(WRITING)), atomic_load(slot(WAITING)));
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"connections", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long workers = 4, connections = 30000, expected_requests = 0;
    pid_t pids[8];
    int opt, failed = 0;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'w')
            workers = cli_long(optarg, 1, 8, "--workers", usage);
        else
            connections = cli_long(optarg, 1, 1000000, "--connections", usage);
    }
    cli_no_operands(argc, argv, usage);

    zone = mmap(NULL, NSLOTS * CL, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (zone == MAP_FAILED)
        die_errno("mmap");
    atomic_store(slot(PENDING), connections);
    atomic_store(slot(CONNECTION_COUNTER), 1); /* nginx starts it at 1 */
    printf("[master] mapped a shared zone of %d slots of %d bytes before fork; %ld "
           "connections queued for %ld workers\n",
           NSLOTS, CL, connections, workers);
    for (long i = 0; i < workers; i++) {
        pids[i] = fork_or_die();
        if (pids[i] == 0)
            run_worker((int)i + 1);
    }
    for (long i = 0; i < workers; i++)
        failed += reap_child(pids[i], "master") != 0;
    for (long c = 1; c <= connections; c++)
        expected_requests += c % 3 + 1;
    print_status();
    if (failed == 0 && atomic_load(slot(ACCEPTED)) == connections &&
        atomic_load(slot(REQUESTS)) == expected_requests && atomic_load(slot(ACTIVE)) == 0)
        printf("[master] every connection counted once by whichever worker served it\n");
    else
        die("the counters do not add up");
    munmap(zone, NSLOTS * CL);
    return 0;
}
