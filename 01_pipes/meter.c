/* meter.c - the job meter of meter.h. */
#define _GNU_SOURCE
#include "meter.h"

#include "common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

struct meter {
    atomic_int running, max;
};

static struct meter *meter;

void meter_map(int fd)
{
    meter = mmap(NULL, sizeof *meter, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (meter == MAP_FAILED)
        die_errno("mmap the job meter");
}

int meter_create(void)
{
    int fd = memfd_create("meter", 0);

    if (fd == -1 || ftruncate(fd, sizeof *meter) == -1)
        die_errno("memfd_create the job meter");
    meter_map(fd); /* a fresh memfd reads as zeros */
    return fd;
}

void meter_count(int delta, const char *who, unsigned ms)
{
    int now = atomic_fetch_add(&meter->running, delta) + delta;
    int seen = atomic_load(&meter->max);

    while (now > seen && !atomic_compare_exchange_weak(&meter->max, &seen, now))
        ;
    if (delta > 0)
        printf("[%s] start, %d running now\n", who, now);
    else
        printf("[%s] end after %u ms, %d running now\n", who, ms, now);
}

int meter_max(void)
{
    return atomic_load(&meter->max);
}

void meter_unmap(void)
{
    munmap(meter, sizeof *meter);
    meter = NULL;
}
