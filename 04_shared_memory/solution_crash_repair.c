/* solution_crash_repair.c - exercise 4: writers killed at random, survivors repair the data
 *
 * The worked answer to exercise 4 of the README.  Sixteen accounts in shared memory always
 * add up to 16000, except inside a transfer.  Writer processes move money under a robust,
 * process-shared mutex; before touching an account, a writer records the two old balances in
 * an undo journal.  The parent SIGKILLs a random writer at random moments and starts a new
 * one.  A writer killed while holding the mutex leaves it owner-dead: the next locker gets
 * EOWNERDEAD, rolls the half-done transfer back from the journal and calls
 * pthread_mutex_consistent().  --replay feeds that same repair one crash image from stdin.
 * Guide part: exercise 4 (advanced).
 * Run: ./solution_crash_repair [--writers N] [--kills K]
 *      printf 'balances: ...\njournal: 1 3 7 990 1010\n' | ./solution_crash_repair --replay
 */
#define _GNU_SOURCE
#include "common.h"
#include "timing.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "[--writers N] [--kills K] | --replay    (N 2-16, K 1-1000)";

#define ACCOUNTS 16
#define START_BALANCE 1000

struct bank {
    pthread_mutex_t lock;
    long balance[ACCOUNTS];
    struct {
        int from, to;
        long old_from, old_to;
        atomic_int active; /* 1 while a transfer may be half done */
    } journal;
    atomic_long repairs;
    atomic_int stop;
};

static struct bank *bank;

static void lock_bank(void)
{
    int err = pthread_mutex_lock(&bank->lock);

    if (err == EOWNERDEAD) {
        /* Its owner died inside: undo whatever part of the transfer it did. */
        if (atomic_load_explicit(&bank->journal.active, memory_order_acquire)) {
            bank->balance[bank->journal.from] = bank->journal.old_from;
            bank->balance[bank->journal.to] = bank->journal.old_to;
            atomic_store(&bank->journal.active, 0);
        }
        atomic_fetch_add(&bank->repairs, 1);
        err = pthread_mutex_consistent(&bank->lock);
    }
    if (err != 0)
        die_errnum(err, "lock the bank");
}

static void spin_us(unsigned us)
{
    uint64_t until = now_ns() + us * 1000u;

    while (now_ns() < until)
        ;
}

static noreturn void run_writer(unsigned seed)
{
    while (!atomic_load(&bank->stop)) {
        int from = (int)(rand_r(&seed) % ACCOUNTS), to = (int)(rand_r(&seed) % ACCOUNTS);
        long amount = rand_r(&seed) % 50 + 1;

        if (from == to)
            continue;
        lock_bank();
        bank->journal.from = from;
        bank->journal.to = to;
        bank->journal.old_from = bank->balance[from];
        bank->journal.old_to = bank->balance[to];
        atomic_store_explicit(&bank->journal.active, 1, memory_order_release);
        bank->balance[from] -= amount;
        spin_us(10); /* the window in which a kill leaves the bank inconsistent */
        bank->balance[to] += amount;
        atomic_store_explicit(&bank->journal.active, 0, memory_order_release);
        pthread_mutex_unlock(&bank->lock);
    }
    exit(0);
}

static pid_t start_process(void)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == -1)
        die_errno("fork");
    return pid;
}

static pid_t start_writer(unsigned seed)
{
    pid_t pid = start_process();

    if (pid == 0)
        run_writer(seed);
    return pid;
}

static void reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) == -1)
        if (errno != EINTR)
            die_errno("waitpid");
}

static void init_bank(void)
{
    pthread_mutexattr_t attr;
    int err;

    bank = mmap(NULL, sizeof *bank, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bank == MAP_FAILED)
        die_errno("mmap");
    pthread_mutexattr_init(&attr);
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (err == 0)
        err = pthread_mutex_init(&bank->lock, &attr);
    if (err != 0)
        die_errnum(err, "robust mutex");
    pthread_mutexattr_destroy(&attr);
    for (int i = 0; i < ACCOUNTS; i++)
        bank->balance[i] = START_BALANCE;
}

/* ---- --replay: one crash image, repaired by the same code as the live run ---------------- */

/* Reads "KEYWORD: n1 n2 ... nCOUNT" (nothing else on the line) from stdin, or dies. */
static void read_numbers(const char *keyword, long *v, int count)
{
    char line[512], *p = line, *end;
    size_t klen = strlen(keyword);

    if (fgets(line, sizeof line, stdin) == NULL || strchr(line, '\n') == NULL)
        die("--replay: expected a line '%s: ...' on stdin", keyword);
    if (strncmp(line, keyword, klen) != 0 || line[klen] != ':')
        die("--replay: the line does not start with '%s:'", keyword);
    p += klen + 1;
    for (int i = 0; i < count; i++) {
        errno = 0;
        v[i] = strtol(p, &end, 10);
        if (end == p || errno != 0)
            die("--replay: '%s:' needs %d whole numbers", keyword, count);
        p = end;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\n')
        die("--replay: '%s:' has more than %d numbers", keyword, count);
}

static void read_image(long balance[ACCOUNTS], long journal[5])
{
    read_numbers("balances", balance, ACCOUNTS);
    read_numbers("journal", journal, 5);
    if (journal[0] != 0 && journal[0] != 1)
        die("--replay: the journal's ACTIVE must be 0 or 1");
    if (journal[1] < 0 || journal[1] >= ACCOUNTS || journal[2] < 0 || journal[2] >= ACCOUNTS ||
        journal[1] == journal[2])
        die("--replay: FROM and TO must be two different accounts, 0 to %d", ACCOUNTS - 1);
}

/* A child locks the mutex, leaves the image in the bank and exits still holding it: the
 * kernel walks its robust list and marks the mutex owner-dead, exactly as after a SIGKILL. */
static noreturn void die_holding_the_lock(const long balance[ACCOUNTS], const long journal[5])
{
    if (pthread_mutex_lock(&bank->lock) != 0)
        _exit(1);
    memcpy(bank->balance, balance, sizeof bank->balance);
    bank->journal.from = (int)journal[1];
    bank->journal.to = (int)journal[2];
    bank->journal.old_from = journal[3];
    bank->journal.old_to = journal[4];
    atomic_store(&bank->journal.active, (int)journal[0]);
    _exit(0);
}

static int replay(void)
{
    long balance[ACCOUNTS], journal[5], total = 0;
    pid_t pid;

    read_image(balance, journal);
    init_bank();
    pid = start_process();
    if (pid == 0)
        die_holding_the_lock(balance, journal);
    reap(pid);
    lock_bank(); /* a survivor's lock: EOWNERDEAD, and the repair */
    printf("repairs: %ld\nbalances:", atomic_load(&bank->repairs));
    for (int i = 0; i < ACCOUNTS; i++) {
        printf(" %ld", bank->balance[i]);
        total += bank->balance[i];
    }
    printf("\ntotal: %ld expected %d\n", total, ACCOUNTS * START_BALANCE);
    pthread_mutex_unlock(&bank->lock);
    munmap(bank, sizeof *bank);
    return total == ACCOUNTS * START_BALANCE ? 0 : 1;
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"writers", required_argument, NULL, 'w'},
        {"kills", required_argument, NULL, 'k'},
        {"replay", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long writers = 4, kills = 20, total = 0;
    unsigned seed = (unsigned)getpid() ^ (unsigned)now_ns();
    pid_t pids[16];
    int opt, live_options = 0, replaying = 0;

    while ((opt = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (opt == 'w')
            writers = cli_long(optarg, 2, 16, "--writers", usage);
        else if (opt == 'k')
            kills = cli_long(optarg, 1, 1000, "--kills", usage);
        else
            replaying = 1;
        live_options += opt != 'r';
    }
    cli_no_operands(argc, argv, usage);
    if (replaying && live_options > 0)
        die_usage(usage, "--replay takes no other option");
    if (replaying)
        return replay();
    init_bank();
    printf("[parent] %ld writers moving money among %d accounts; %ld of them will be killed\n",
           writers, ACCOUNTS, kills);
    for (long w = 0; w < writers; w++)
        pids[w] = start_writer(seed + (unsigned)w);

    for (long k = 0; k < kills; k++) {
        long victim = rand_r(&seed) % writers;

        sleep_ms(rand_r(&seed) % 5 + 1); /* a random moment */
        kill(pids[victim], SIGKILL);
        reap(pids[victim]);
        pids[victim] = start_writer(seed + (unsigned)k * 31u);
    }
    sleep_ms(20); /* the survivors run on, repairing what the last kills left */
    atomic_store(&bank->stop, 1);
    for (long w = 0; w < writers; w++)
        reap(pids[w]);

    lock_bank(); /* a last kill's damage is repaired here if no writer got to it */
    for (int i = 0; i < ACCOUNTS; i++)
        total += bank->balance[i];
    pthread_mutex_unlock(&bank->lock);
    printf("kills: %ld\n", kills);
    printf("repairs: %ld\n", atomic_load(&bank->repairs));
    printf("total: %ld expected %d\n", total, ACCOUNTS * START_BALANCE);
    munmap(bank, sizeof *bank);
    return total == ACCOUNTS * START_BALANCE ? 0 : 1;
}
