/* advanced_huge_pages.c - the TLB side: transparent huge pages, MAP_HUGETLB, faults and a walk
 *
 * A 4 KiB page needs a TLB entry; a 2 MiB huge page covers 512 with one.  Transparent huge pages
 * (mm/huge_memory.c) back an aligned anonymous range with 2 MiB pages at fault time when the mode
 * in /sys/kernel/mm/transparent_hugepage/enabled allows: "always", or "madvise" for MADV_HUGEPAGE
 * ranges.  64 MiB is mapped with MADV_NOHUGEPAGE, then MADV_HUGEPAGE: faults, AnonHugePages and a
 * random walk's time (median of 3 after a warm-up, pinned) for each.  MAP_HUGETLB needs the
 * hugetlb pool (vm.nr_hugepages), empty unless an administrator fills it: it says which here.
 * Guide part: kernel (huge pages and the TLB).
 * Run: ./advanced_huge_pages [--mib N]
 */
#define _GNU_SOURCE
#include "common.h"
#include "proc.h"
#include "procfs.h"
#include "stats.h"
#include "timing.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage[] = "[--mib N]    (N a multiple of 2 from 2 to 512, default 64)";

#define HUGE (2UL << 20)
#define WALK_STEPS 2000000
#define RUNS 3

static long minor_faults(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) == -1)
        die_errno("getrusage");
    return ru.ru_minflt;
}

/* A range aligned to 2 MiB, so that huge pages can back it. */
static char *map_aligned(size_t length)
{
    char *raw =
        mmap(NULL, length + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *aligned;

    if (raw == MAP_FAILED)
        die_errno("mmap");
    aligned = (char *)(((uintptr_t)raw + HUGE - 1) & ~(HUGE - 1));
    if (aligned > raw)
        munmap(raw, (size_t)(aligned - raw));
    munmap(aligned + length, (size_t)(raw + HUGE - aligned));
    return aligned;
}

/* Random 8-byte loads over the range: the TLB is what they stress. */
static double walk_ns_per_load(const char *data, size_t length)
{
    double ns[RUNS];
    struct stats st;
    uint64_t x = 88172645463325252ULL, sum = 0;

    for (int r = -1; r < RUNS; r++) { /* run -1 is the warm-up */
        uint64_t start = now_ns();

        for (int i = 0; i < WALK_STEPS; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sum += *(const volatile uint64_t *)(data + (x % (length / 8)) * 8);
        }
        if (r >= 0)
            ns[r] = (double)elapsed_ns(start) / WALK_STEPS;
    }
    stats_compute(ns, RUNS, &st);
    return st.p50 + (double)(sum & 0); /* sum keeps the loads */
}

static void one_way(size_t length, int advice, const char *role)
{
    char *data = map_aligned(length);
    long before, huge_kib;

    if (madvise(data, length, advice) == -1)
        printf("[%s] madvise failed: %s\n", role, strerror(errno));
    before = minor_faults();
    memset(data, 1, length);
    before = minor_faults() - before;
    huge_kib = smaps_field_kib(data, "AnonHugePages");
    if (huge_kib == -1)
        die_errno("smaps AnonHugePages");
    printf("[%s] touching %zu MiB: %ld page faults; AnonHugePages: %ld kB\n", role, length >> 20,
           before, huge_kib);
    if (advice == MADV_HUGEPAGE && huge_kib > 0)
        printf("[%s] %ld of %zu 2 MiB ranges got a huge page: one fault and one TLB entry each\n",
               role, huge_kib / 2048, length / HUGE);
    else if (advice == MADV_HUGEPAGE)
        printf("[%s] no huge page: the mode is never, or no free 2 MiB block was found\n", role);
    printf("[%s] random walk: %.1f ns a load\n", role, walk_ns_per_load(data, length));
    munmap(data, length);
}

static void thp_mode(char *mode, size_t size)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    char line[128] = "";

    snprintf(mode, size, "unknown (no /sys/kernel/mm/transparent_hugepage)");
    if (f == NULL)
        return;
    if (fgets(line, sizeof line, f) != NULL && strchr(line, '[') != NULL)
        snprintf(mode, size, "%.*s", (int)strcspn(strchr(line, '[') + 1, "]"),
                 strchr(line, '[') + 1);
    fclose(f);
}

static void try_hugetlb(void)
{
    char *p =
        mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

    if (p == MAP_FAILED) {
        printf("[hugetlb] MAP_HUGETLB failed (%s): no free page in the hugetlb pool here "
               "(HugePages_Free in /proc/meminfo; vm.nr_hugepages fills it)\n",
               strerrorname_np(errno));
        return;
    }
    memset(p, 1, HUGE);
    printf("[hugetlb] MAP_HUGETLB gave a 2 MiB page from the pool at %p\n", (void *)p);
    munmap(p, HUGE);
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"mib", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char mode[128];
    long mib = 64;
    int c, cpu;

    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1)
        if (c == 'm')
            mib = cli_long(optarg, 2, 512, "--mib", usage);
    cli_no_operands(argc, argv, usage);
    if (mib % 2 != 0)
        die_usage(usage, "--mib must be a multiple of 2");
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    thp_mode(mode, sizeof mode);
    printf("[main] transparent huge pages: mode %s\n", mode);
    cpu = sched_getcpu();
    if (cpu >= 0 && pin_to_cpu(cpu) == 0)
        printf("[main] pinned to CPU %d; walks of %d loads, median of %d after a warm-up\n", cpu,
               WALK_STEPS, RUNS);
    one_way((size_t)mib << 20, MADV_NOHUGEPAGE, "4k");
    one_way((size_t)mib << 20, MADV_HUGEPAGE, "thp");
    try_hugetlb();
    return 0;
}
