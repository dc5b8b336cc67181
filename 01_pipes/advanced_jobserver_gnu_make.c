/* advanced_jobserver_gnu_make.c - a real GNU make as the jobserver, for plain jobs and tools
 *
 * Real-world pattern: GNU make -jJ makes the jobserver itself and runs a Makefile of four
 * recipes: two plain jobs (this program with --job: a command that knows nothing of the
 * jobserver, a compiler say) and two advanced_jobserver_client tools, `a` in a recipe marked
 * recursive ('+', which lets it inherit make 4.3's jobserver pipe) and `b` not marked.  Each
 * job counts itself in the meter (meter.h): at most J of them run at once, all told.
 * advanced_jobserver runs `--job` as its plain jobs too.  Left out: sub-makes, -l.
 * Guide part: real-world (GNU make jobserver: what make gives plain and recursive recipes).
 * Run: ./advanced_jobserver_gnu_make [--jobs J]      (needs GNU make in PATH)
 *      in a recipe: ./advanced_jobserver_gnu_make --job NAME --meter-fd FD
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"
#include "timing.h"
#include "meter.h"
#include "sibling.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_JOBS 8

static const char usage[] = "[--jobs J] | --job NAME --meter-fd FD    (J 1-8, default 3)";

/* A plain job of a Makefile: it works, and tells what MAKEFLAGS gave it. */
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

/* The Makefile: plain jobs 1 and 2 run this program, a and b the client; '+' marks a. */
static void write_makefile(const char *path)
{
    sigset_t saved;
    FILE *mk;
    int fd;

    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the Makefile */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1 ||
        cleanup_add_path(path) == -1)
        die_errno("create %s", path);
    stop_signals_release(&saved);
    if ((mk = fdopen(fd, "w")) == NULL)
        die_errno("fdopen %s", path);
    fprintf(mk, ".PHONY: all 1 2 a b\nall: 1 2 a b\n"
                "1 2:\n\t@\"$(PLAIN)\" --job $@ --meter-fd $(METER)\n"
                "a:\n\t+@\"$(CLIENT)\" --client $@ --work 3 --meter-fd $(METER)\n"
                "b:\n\t@\"$(CLIENT)\" --client $@ --work 2 --meter-fd $(METER)\n");
    if (fclose(mk) == EOF)
        die_errno("write %s", path);
}

/* GNU make is the top make and the jobserver; its recipes run this program and the client.
 * Recipes run in make's directory: both by absolute paths. */
static int run_make(long jobs, int meter_fd)
{
    char dir[PATH_MAX], path[PATH_MAX + 16], jflag[16], meter_var[32];
    char *plain = sibling_path("advanced_jobserver_gnu_make");
    char *client = sibling_path("advanced_jobserver_client"), *plain_var, *client_var;

    make_temp_dir(dir, sizeof dir, "advanced_jobserver_gnu_make");
    snprintf(path, sizeof path, "%s/Makefile", dir);
    write_makefile(path);
    printf("[driver] GNU make -j%ld runs %s: plain jobs 1 and 2; clients a (a recipe marked "
           "'+': recursive) and b (not marked)\n",
           jobs, path);
    snprintf(jflag, sizeof jflag, "-j%ld", jobs);
    snprintf(meter_var, sizeof meter_var, "METER=%d", meter_fd);
    if (asprintf(&plain_var, "PLAIN=%s", plain) == -1 ||
        asprintf(&client_var, "CLIENT=%s", client) == -1)
        die_errno("asprintf");
    free(plain);
    free(client);
    pid_t pid = fork_or_die();
    if (pid == 0) {
        /* A top-level make, not the client of a make that may have started us. */
        unsetenv("MAKEFLAGS");
        unsetenv("MFLAGS");
        unsetenv("MAKELEVEL");
        execlp("make", "make", "-s", "-r", jflag, "-f", path, plain_var, client_var, meter_var,
               (char *)NULL);
        die_errno("exec make");
    }
    free(plain_var);
    free(client_var);
    return reap_child(pid, "driver");
}

int main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"job", required_argument, NULL, 'J'},
        {"meter-fd", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *job = NULL, *meter_arg = NULL;
    long jobs = 3;
    int c;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    while ((c = cli_getopt(argc, argv, "h", longopts, usage)) != -1) {
        if (c == 'j')
            jobs = cli_long(optarg, 1, MAX_JOBS, "--jobs", usage);
        else if (c == 'J')
            job = optarg;
        else if (c == 'M')
            meter_arg = optarg;
    }
    cli_no_operands(argc, argv, usage);
    if ((job != NULL) != (meter_arg != NULL))
        die_usage(usage, "--job and --meter-fd go together");

    if (job != NULL) { /* a recipe of make's: it inherited the meter (meter.h) */
        int meter_fd = (int)cli_long(meter_arg, 0, INT_MAX, "--meter-fd", usage);
        meter_map(meter_fd);
        close(meter_fd); /* the mapping stays; make's other recipes have their own copy */
        plain_job(job);
    }
    if (!in_path("make")) {
        printf("[driver] GNU make is not in PATH: install it to see a real make share its slots\n");
        return 0;
    }
    int meter_fd = meter_create();
    int status = run_make(jobs, meter_fd);
    close(meter_fd);
    int max = meter_max();
    meter_unmap();
    if (status != 0)
        die("make failed (%s)", fmt_wait_status(status).s);
    printf("[driver] at most %d work items ran at once, in all (limit -j%ld)\n", max, jobs);
    if (max > jobs)
        die("the jobserver did not keep its limit");
    return 0;
}
