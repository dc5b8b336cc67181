/* pitfall_wall_clock.c - a benchmark timed with CLOCK_REALTIME, and the clock steps back
 *
 * CLOCK_REALTIME (time(), gettimeofday(), clock_gettime(CLOCK_REALTIME)) is the wall clock:
 * settimeofday(), clock_settime(), `date -s` and an NTP daemon stepping the time move it, by
 * any amount, in either direction.  An interval measured on it can come out negative or
 * hours long.  CLOCK_MONOTONIC never jumps (NTP may only slew its rate slightly;
 * CLOCK_MONOTONIC_RAW not even that).  Setting the clock needs CAP_SYS_TIME, so this program
 * SIMULATES the step: it adds -1 s to every wall-clock reading taken after the work began,
 * as a step of the real clock would.  --fixed: the same measurement on CLOCK_MONOTONIC.
 * Guide part: pitfall (benchmarking: a wall clock that jumps).
 * Run: ./pitfall_wall_clock [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "io.h"
#include "timing.h"

#include <time.h>
#include <unistd.h>

#define ROUNDS 200          /* 64-byte writes and reads through a pipe: the "work" */
#define STEP_NS -1000000000 /* the simulated step of the wall clock: back 1 s */

static const char usage[] = "[--fixed]";

static bool stepped; /* has the simulated step happened yet? */

static double clock_s(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) == -1)
        die_errno("clock_gettime");
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reading of `id`; the wall clock carries the simulated step once it has happened. */
static double reading_s(clockid_t id)
{
    double s = clock_s(id);

    if (id == CLOCK_REALTIME && stepped)
        s += STEP_NS / 1e9;
    return s;
}

static void work(void)
{
    char msg[64] = "work";
    int fds[2];

    if (pipe(fds) == -1)
        die_errno("pipe");
    for (int i = 0; i < ROUNDS; i++)
        if (write_full(fds[1], msg, sizeof msg) == -1 || read_full(fds[0], msg, sizeof msg) == -1)
            die_errno("pipe round");
    close(fds[0]);
    close(fds[1]);
    sleep_ms(20); /* so that the true duration is about 20 ms */
}

int main(int argc, char *argv[])
{
    bool fixed = cli_pitfall_fixed(argc, argv, usage);
    clockid_t id = fixed ? CLOCK_MONOTONIC : CLOCK_REALTIME; /* THE FIX is this choice */
    const char *name = fixed ? "CLOCK_MONOTONIC" : "CLOCK_REALTIME";
    double start, end;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("[clock] CLOCK_REALTIME reads %.3f s (since 1970: the wall clock, settable)\n",
           clock_s(CLOCK_REALTIME));
    printf("[clock] CLOCK_MONOTONIC reads %.3f s (since an unspecified start, here boot: never "
           "set)\n",
           clock_s(CLOCK_MONOTONIC));
    printf("[bench] timing %d pipe round trips and a 20 ms sleep with %s\n", ROUNDS, name);
    start = reading_s(id);
    work();
    stepped = true;
    printf("[bench] meanwhile the wall clock steps back 1 s (simulated: what `date -s` or an "
           "NTP step does)\n");
    end = reading_s(id);
    if (!fixed) {
        printf("[bench] elapsed by %s: %.3f s: a negative duration, the step and not the work\n",
               name, end - start);
        printf("[bench] a step forward would have made it look 1 s slower instead\n");
        return 0;
    }
    printf("[bench] elapsed by %s: %.3f s: the work alone, whatever the wall clock did\n", name,
           end - start);
    return 0;
}
