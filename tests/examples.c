/* examples.c - the harness that runs every example program of the collection.
 *
 * For every basic_/advanced_/pitfall_/solution_ program of the chapters named
 * on the command line it runs the cases of NAME.expect plus the checks every
 * program owes the contract (tests/README.md).  Each case runs in a runner
 * process of its own, isolated in namespaces where the machine allows it,
 * several at a time; each case's report is printed whole as it ends.  Then
 * every verdict becomes one Check test, so the summary counts cases, and a
 * last line counts the skipped ones too.
 *
 * usage: examples [-j N] [--only NAME] [--case TEXT] [--exercise NAME --bin PATH] [--valgrind]
 *                 [--light] [--threads-only] [--quick] [--no-namespaces] [--verbose]
 *                 CHAPTER_DIR...
 */
#define _GNU_SOURCE
#include "harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct options opt;

static struct program *programs;
static size_t nprograms;

enum verdict { PENDING, PASSED, FAILED, SKIPPED };

/* One case of one program, or one judgment that spans cases (a pitfall's
 * symptom, a file that cannot be loaded). */
struct job {
    size_t prog;
    struct expectation *exp;
    size_t index;     /* of the case in exp */
    bool narrated;    /* the contract's demo checks apply */
    bool keep_output; /* a pitfall's run: its stdout is needed afterwards */
    enum verdict verdict;
    char *name; /* "01_pipes/basic_pipe_fork: (no arguments)" */
    char *why;  /* FAILED: the reasons; SKIPPED: the requirement */
    char *stdout_kept;
    pid_t runner;
};

static struct job *jobs;
static size_t njobs;
static struct expectation *expectations; /* one per program */

static struct job *new_job(size_t prog, const char *label)
{
    struct job *j;

    jobs = realloc(jobs, (njobs + 1) * sizeof *jobs);
    if (jobs == NULL) {
        perror("examples: out of memory");
        exit(1);
    }
    j = &jobs[njobs++];
    memset(j, 0, sizeof *j);
    j->prog = prog;
    append(&j->name, "%s/%s: %s", programs[prog].chapter, programs[prog].name, label);
    return j;
}

/* ---- requirements -------------------------------------------------------- */

static bool have_command(const char *name)
{
    const char *path = getenv("PATH");
    char *copy = strdup(path != NULL ? path : "/usr/bin:/bin"), *dir, *save = NULL;
    bool found = false;

    for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];

        snprintf(full, sizeof full, "%s/%s", dir, name);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

static bool have_capability(const char *name)
{
    static const char *const caps[] = {
        [0] = "CAP_CHOWN",      [1] = "CAP_DAC_OVERRIDE",  [5] = "CAP_KILL",
        [12] = "CAP_NET_ADMIN", [13] = "CAP_NET_RAW",      [14] = "CAP_IPC_LOCK",
        [15] = "CAP_IPC_OWNER", [19] = "CAP_SYS_PTRACE",   [21] = "CAP_SYS_ADMIN",
        [23] = "CAP_SYS_NICE",  [24] = "CAP_SYS_RESOURCE",
    };
    char line[256];
    unsigned long long eff = 0;
    FILE *fp = fopen("/proc/self/status", "r");

    while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
        sscanf(line, "CapEff: %llx", &eff);
    if (fp != NULL)
        fclose(fp);
    for (size_t bit = 0; bit < sizeof caps / sizeof *caps; bit++)
        if (caps[bit] != NULL && strcmp(caps[bit], name) == 0)
            return (eff >> bit) & 1;
    return false;
}

/* NULL when the machine has what `req` names, else why not. */
static const char *missing(const char *req)
{
    static char why[256];
    char what[32] = "", arg[128] = "";
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    sscanf(req, "%31s %127s", what, arg);
    if (strcmp(what, "mqueue") == 0 && access("/proc/sys/fs/mqueue", F_OK) != 0)
        return "the kernel has no POSIX message queues";
    if (strcmp(what, "cpus") == 0 && cpus < atol(arg)) {
        snprintf(why, sizeof why, "%ld CPU(s) online", cpus);
        return why;
    }
    if (strcmp(what, "ipv6") == 0 && !have_ipv6_loopback())
        return "no IPv6 loopback (::1) to bind";
    if ((strcmp(what, "command") == 0 && !have_command(arg)) ||
        (strcmp(what, "strace") == 0 && !have_command("strace"))) {
        snprintf(why, sizeof why, "no %s on PATH", what[0] == 's' ? "strace" : arg);
        return why;
    }
    if (strcmp(what, "cap") == 0 && !have_capability(arg)) {
        snprintf(why, sizeof why, "%s is not in the effective set", arg);
        return why;
    }
    if (strcmp(what, "root") == 0 && geteuid() != 0)
        return "not running as root";
    if (strcmp(what, "user") == 0 && geteuid() == 0)
        return "running as root";
    if (strcmp(what, "native") == 0 && (opt.light || opt.valgrind))
        return "the sanitizers or valgrind change what this case shows (its allocator, timing or "
               "memory order)";
    return NULL;
}

/* Marks the job skipped if one of its case's requirements is missing. */
static void check_requirements(struct job *j, const struct expect_case *c)
{
    const char *why;

    for (size_t i = 0; i < c->nrequires; i++)
        if ((why = missing(c->requires[i])) != NULL) {
            j->verdict = SKIPPED;
            append(&j->why, "requires %s: %s", c->requires[i], why);
            return;
        }
    if (c->nsyscalls > 0 && !opt.valgrind && (why = missing("strace")) != NULL) {
        j->verdict = SKIPPED;
        append(&j->why, "its system-call checks need strace: %s (Debian package strace)", why);
    }
}

/* ---- the cases of one program -------------------------------------------------- */

static struct expect_case *find_case(struct expectation *exp, const char *label)
{
    for (size_t i = 0; i < exp->ncases; i++)
        if (strcmp(exp->cases[i].label, label) == 0)
            return &exp->cases[i];
    return NULL;
}

static bool is_pitfall(const struct program *prog)
{
    return strncmp(prog->name, "pitfall_", 8) == 0 && opt.exercise == NULL;
}

/* The contract's cases, added unless the expectation already has them. */
static void add_contract_cases(const struct program *prog, struct expectation *exp)
{
    char *help[] = {"-h", NULL}, *bogus[] = {"--no-such-option", NULL},
         *fixed[] = {"--fixed", NULL};
    char name_re[200];
    struct expect_case *c;

    if (is_pitfall(prog) && find_case(exp, "--fixed") == NULL)
        expect_add_case(exp, "--fixed", fixed, 0);
    c = expect_add_case(exp, "-h", help, 0);
    c->usage_only = true;
    expect_add_pattern(c, STDOUT_STREAM, false, "usage:");
    c = expect_add_case(exp, "--no-such-option", bogus, 2);
    c->usage_only = true;
    snprintf(name_re, sizeof name_re, "^%s: ", prog->name);
    expect_add_pattern(c, STDERR_STREAM, false, name_re);
    expect_add_pattern(c, STDERR_STREAM, false, "usage:");
}

static void plan_program(size_t p)
{
    const struct program *prog = &programs[p];
    struct expectation *exp = &expectations[p];
    char path[PATH_MAX + 200], err[1024];
    struct job *j;

    snprintf(path, sizeof path, "%s/%s.expect", prog->dir, prog->name);
    if (expect_load(path, exp, err, sizeof err) == -1) {
        j = new_job(p, "its .expect file");
        j->verdict = FAILED;
        append(&j->why, "%s", err);
        expect_free(exp);
        return;
    }
    if (access(prog->bin, X_OK) == -1) {
        j = new_job(p, "its binary");
        j->verdict = FAILED;
        append(&j->why, "no program at %s (not built?)", prog->bin);
        return;
    }
    if (is_pitfall(prog) && exp->nsymptoms == 0) {
        j = new_job(p, "its .expect file");
        j->verdict = FAILED;
        append(&j->why, "a pitfall's expectation needs a symptom: line");
    }
    if (opt.exercise == NULL)
        add_contract_cases(prog, exp);
    for (size_t i = 0; i < exp->ncases; i++) {
        struct expect_case *c = &exp->cases[i];
        bool fixed = is_pitfall(prog) && strcmp(c->label, "--fixed") == 0;

        /* --quick: a solution's demo and its stop paths (a signal: the cleanup under test)
         * run under valgrind; the rest of its cases are the exercise checker's inputs,
         * which walk the same code with other data: natively, they cost a tenth.  A usage
         * error (exit 2) of any program runs natively too: it parses the command line and
         * exits before it allocates or opens anything, and it is a quarter of all cases. */
        c->natively = opt.quick && c->nsignals == 0 &&
                      ((strncmp(prog->name, "solution_", 9) == 0 && !c->is_demo) ||
                       (!c->exit_by_signal && c->exit_status == 2));

        if (opt.case_part != NULL && strstr(c->label, opt.case_part) == NULL)
            continue;
        j = new_job(p, c->label);
        j->exp = exp;
        j->index = i;
        j->narrated = (c->is_demo || fixed) && opt.exercise == NULL;
        j->keep_output = is_pitfall(prog) && (c->is_demo || fixed);
        if (c->line > 0)
            append(&j->name, " (.expect line %d)", c->line);
        check_requirements(j, c);
    }
}

/* ---- running a case: the runner process ------------------------------------------ */

static pid_t scheduler; /* case folders carry its pid: runs never share one */

static void case_dir_of(size_t job, char *buf, size_t size)
{
    snprintf(buf, size, "%s/case.%d.%zu", opt.work, (int)scheduler, job);
}

/* The result file: "PASS" or "FAIL", the reasons on one line, the report. */
static void write_result(const char *case_dir, const char *why, const char *report)
{
    char path[PATH_MAX + 32];
    FILE *fp;

    snprintf(path, sizeof path, "%s/result", case_dir);
    fp = fopen(path, "w");
    if (fp == NULL)
        _exit(3);
    fprintf(fp, "%s\n%.*s\n%s", why == NULL ? "PASS" : "FAIL",
            why != NULL ? (int)strlen(why) - 2 : 0, why != NULL ? why : "",
            report != NULL ? report : "");
    fclose(fp);
}

/* The text of a case's report: a result line, and with a failure the
 * hint, the streams, the hung processes and valgrind's log. */
static char *compose_report(const struct job *j, const struct expect_case *c,
                            const struct outcome *o, const char *why, const char *log)
{
    char *r = NULL;
    bool slow = c->is_demo && o->seconds > DEMO_BUDGET_S * opt.timeout_scale;

    if (why == NULL) {
        append(&r, "  ok   %s [%.2f s]%s\n", j->name, o->seconds,
               slow ? " (slow: over the 2 s budget)" : "");
        if (!opt.verbose)
            return r;
    } else {
        append(&r, "  FAIL %s: %.*s\n", j->name, (int)strlen(why) - 2, why);
        if (c->hint != NULL)
            append(&r, "    hint: %s\n", c->hint);
    }
    for (unsigned i = 0; i < o->ninstances; i++) {
        char name[48];

        snprintf(name, sizeof name, "stdout%s", o->ninstances > 1 ? " of a copy" : "");
        append_stream(&r, name, o->inst[i].out, o->inst[i].out_len);
        snprintf(name, sizeof name, "stderr%s", o->ninstances > 1 ? " of a copy" : "");
        append_stream(&r, name, o->inst[i].err, o->inst[i].err_len);
    }
    if (o->diagnosis != NULL)
        append(&r, "%s", o->diagnosis);
    if (why != NULL && log != NULL && log[0] != '\0')
        append_stream(&r, "valgrind's log", log, strlen(log));
    return r;
}

static void hold_machine_lock(void)
{
    /* Fallback mode: harness runs from any checkout take turns, by a lock
     * on /tmp itself, which every machine has and no lock file litters. */
    int lock = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (lock >= 0)
        flock(lock, LOCK_EX); /* released when the runner exits */
}

static void run_job(size_t n)
{
    struct job *j = &jobs[n];
    const struct expect_case *c = &j->exp->cases[j->index];
    char case_dir[CASE_PATH], *why = NULL, *log = NULL, *report;
    struct outcome o;

    case_dir_of(n, case_dir, sizeof case_dir);
    if (!opt.namespaces)
        hold_machine_lock();
    run_case(&programs[j->prog], c, case_dir, &o);
    judge_case(&programs[j->prog], c, &o, j->narrated, case_dir, &why, &log);
    report = compose_report(j, c, &o, why, log);
    write_result(case_dir, why, report);
    free(report);
    free(why);
    free(log);
    free_outcome(&o);
    _exit(0);
}

static char *slurp_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *text = NULL, buf[4096];
    size_t n;

    while (fp != NULL && (n = fread(buf, 1, sizeof buf, fp)) > 0)
        append(&text, "%.*s", (int)n, buf);
    if (fp != NULL)
        fclose(fp);
    return text != NULL ? text : strdup("");
}

/* A runner ended: read its result, print the report whole. */
static void finish_job(size_t n, int status)
{
    struct job *j = &jobs[n];
    char case_dir[CASE_PATH], path[PATH_MAX + 96];
    char *result;

    case_dir_of(n, case_dir, sizeof case_dir);
    snprintf(path, sizeof path, "%s/result", case_dir);
    result = slurp_text(path);
    char *reasons = result + 5, *report = strchr(reasons, '\n');

    if ((strncmp(result, "PASS\n", 5) == 0 || strncmp(result, "FAIL\n", 5) == 0) &&
        report != NULL) {
        j->verdict = result[0] == 'P' ? PASSED : FAILED;
        *report++ = '\0';
        fputs(report, stdout);
        if (j->verdict == FAILED)
            append(&j->why, "%s", reasons);
    } else {
        j->verdict = FAILED;
        append(&j->why, "the harness's runner failed (wait status %#x)", (unsigned)status);
        printf("  FAIL %s: %s\n", j->name, j->why);
    }
    fflush(stdout);
    if (j->keep_output) {
        snprintf(path, sizeof path, "%s/out.0", case_dir);
        j->stdout_kept = slurp_text(path);
    }
    free(result);
    remove_tree(case_dir);
}

static void start_job(size_t n)
{
    char case_dir[CASE_PATH];

    case_dir_of(n, case_dir, sizeof case_dir);
    if (mkdir(case_dir, 0700) == -1) {
        perror(case_dir);
        exit(1);
    }
    fflush(NULL);
    jobs[n].runner = fork();
    if (jobs[n].runner == -1) {
        perror("examples: fork");
        exit(1);
    }
    if (jobs[n].runner == 0)
        run_job(n);
}

static size_t job_of_runner(pid_t pid)
{
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].runner == pid)
            return i;
    return njobs;
}

/* Up to opt.jobs runners at once; reports in the order cases end. */
static void run_all(void)
{
    size_t next = 0, running = 0;

    for (;;) {
        while (running < opt.jobs && next < njobs) {
            if (jobs[next].verdict == PENDING) {
                start_job(next);
                running++;
            } else if (jobs[next].verdict == SKIPPED) {
                printf("  SKIP %s: %s\n", jobs[next].name, jobs[next].why);
            } else if (jobs[next].verdict == FAILED) {
                printf("  FAIL %s: %s\n", jobs[next].name, jobs[next].why);
            }
            fflush(stdout);
            next++;
        }
        if (running == 0)
            break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);

        if (pid == -1 && errno == EINTR)
            continue;
        if (pid == -1) {
            perror("examples: waitpid");
            exit(1);
        }
        size_t n = job_of_runner(pid);

        if (n < njobs) {
            finish_job(n, status);
            running--;
        }
    }
}

/* ---- a pitfall's symptom: shows broken, gone with --fixed ------------------------------ */

static const struct job *find_job(size_t prog, bool demo)
{
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].prog == prog && jobs[i].keep_output &&
            jobs[i].exp->cases[jobs[i].index].is_demo == demo)
            return &jobs[i];
    return NULL;
}

static void judge_symptoms(void)
{
    for (size_t p = 0; p < nprograms; p++) {
        const struct job *broken = find_job(p, true), *fixed = find_job(p, false);
        const struct expectation *exp = &expectations[p];
        const char *broken_out, *fixed_out;

        if (broken == NULL || fixed == NULL || broken->stdout_kept == NULL ||
            fixed->stdout_kept == NULL)
            continue;
        broken_out = broken->stdout_kept; /* new_job() below moves the jobs */
        fixed_out = fixed->stdout_kept;
        for (size_t i = 0; i < exp->nsymptoms; i++) {
            const struct pattern *s = &exp->symptoms[i];
            bool in_broken = any_line_matches(&s->re, broken_out);
            bool in_fixed = any_line_matches(&s->re, fixed_out);
            char label[512];
            struct job *j;

            snprintf(label, sizeof label, "symptom /%s/ shows broken, gone with --fixed",
                     s->source);
            j = new_job(p, label);
            if (in_broken && !in_fixed) {
                j->verdict = PASSED;
                printf("  ok   %s\n", j->name);
            } else {
                j->verdict = FAILED;
                append(&j->why, "%s",
                       !in_broken ? "it does not show in the broken run"
                                  : "it still shows with --fixed");
                printf("  FAIL %s: %s\n", j->name, j->why);
            }
        }
    }
}

/* ---- Check: one test per case ------------------------------------------------------------- */

static size_t *checked; /* the jobs that became tests: all but the skipped */

START_TEST(case_verdict)
{
    const struct job *j = &jobs[checked[_i]];

    /* Check's messages are bounded; the whole reasons are in the report above. */
    ck_assert_msg(j->verdict == PASSED, "%.200s: %.1500s", j->name,
                  j->why != NULL ? j->why : "failed");
}
END_TEST

static int report_with_check(void)
{
    Suite *suite = suite_create("examples");
    size_t nchecked = 0, passed = 0, failed = 0, skipped = 0;
    SRunner *runner;
    int check_failed;

    checked = calloc(njobs + 1, sizeof *checked);
    for (size_t i = 0; i < njobs; i++) {
        if (jobs[i].verdict == SKIPPED) {
            skipped++;
            continue;
        }
        checked[nchecked++] = i;
        passed += jobs[i].verdict == PASSED;
        failed += jobs[i].verdict != PASSED;
    }
    /* One TCase per program keeps Check's failure lines naming the program. */
    for (size_t start = 0; start < nchecked;) {
        size_t end = start;
        TCase *tc;

        while (end < nchecked && jobs[checked[end]].prog == jobs[checked[start]].prog)
            end++;
        tc = tcase_create(programs[jobs[checked[start]].prog].name);
        tcase_add_loop_test(tc, case_verdict, (int)start, (int)end);
        suite_add_tcase(suite, tc);
        start = end;
    }
    runner = srunner_create(suite);
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    check_failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    printf("examples: %zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
    free(checked);
    return check_failed == 0 && failed == 0 ? 0 : 1;
}

/* ---- finding the programs ------------------------------------------------------------------- */

static bool is_program_source(const char *file)
{
    static const char *const levels[] = {"basic_", "advanced_", "pitfall_", "solution_"};
    size_t len = strlen(file);

    if (len < 3 || strcmp(file + len - 2, ".c") != 0)
        return false;
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++)
        if (strncmp(file, levels[i], strlen(levels[i])) == 0)
            return true;
    return false;
}

/* True if the file holds `word`; a file that cannot be read holds nothing. */
static bool file_mentions(const char *path, const char *word)
{
    char line[1024];
    bool found = false;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, word) != NULL;
    fclose(f);
    return found;
}

/* Does the program's source, or a module of its chapter that it includes ("ring.h" beside
 * ring.c), hold one of `words`?  A source that cannot be read does (let the run report it). */
static bool source_mentions(const char *dir, const char *file, const char *const words[])
{
    char path[PATH_MAX + 256], line[1024];
    bool found = false;
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    if ((f = fopen(path, "r")) == NULL)
        return true;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        char module[128];

        for (size_t i = 0; !found && words[i] != NULL; i++)
            found = strstr(line, words[i]) != NULL;
        if (!found && sscanf(line, "#include \"%120[a-z0-9_].h\"", module) == 1) {
            snprintf(path, sizeof path, "%s/%s.c", dir, module);
            for (size_t i = 0; !found && words[i] != NULL; i++)
                found = file_mentions(path, words[i]);
        }
    }
    fclose(f);
    return found;
}

/* For --threads-only: does the program start threads?  ThreadSanitizer has nothing to say
 * about a program with one thread. */
static bool starts_threads(const char *dir, const char *file)
{
    static const char *const words[] = {"pthread_create", "thrd_create", NULL};

    return source_mentions(dir, file, words);
}

/* Does the program name sockets (a loopback port, an abstract or a path name)?  Only such a
 * program's cases get a network namespace each: making one costs a few milliseconds. */
static bool names_sockets(const char *dir, const char *file)
{
    static const char *const words[] = {"bind(", "connect(", NULL};

    return source_mentions(dir, file, words);
}

static void add_program(const char *dir, const char *file)
{
    struct program *p;

    programs = realloc(programs, (nprograms + 1) * sizeof *programs);
    if (programs == NULL) {
        perror("realloc");
        exit(1);
    }
    p = &programs[nprograms++];
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->chapter, sizeof p->chapter, "%s", strrchr(dir, '/') + 1);
    snprintf(p->name, sizeof p->name, "%.*s", (int)(strlen(file) - 2), file);
    p->names_sockets = names_sockets(dir, file);
    if (opt.bin == NULL)
        snprintf(p->bin, sizeof p->bin, "%s/%s", dir, p->name);
    else if (realpath(opt.bin, p->bin) == NULL)         /* programs run in their own directory */
        snprintf(p->bin, sizeof p->bin, "%s", opt.bin); /* reported missing later */
}

static void find_programs(const char *chapter_dir)
{
    char dir[PATH_MAX];
    struct names files = {0};
    const char *wanted = opt.exercise != NULL ? opt.exercise : opt.only;

    if (realpath(chapter_dir, dir) == NULL) {
        fprintf(stderr, "examples: %s: %s\n", chapter_dir, strerror(errno));
        exit(2);
    }
    list_dir(dir, &files);
    for (size_t i = 0; i < files.n; i++) {
        size_t len = strlen(files.v[i]);

        if (!is_program_source(files.v[i]))
            continue;
        if (wanted != NULL &&
            (strlen(wanted) != len - 2 || strncmp(files.v[i], wanted, len - 2) != 0))
            continue;
        if (opt.threads_only && !starts_threads(dir, files.v[i]))
            continue;
        add_program(dir, files.v[i]);
    }
    names_free(&files);
}

/* ---- setting up --------------------------------------------------------------------------------
 */

static void setup_paths(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (n <= 0) {
        perror("readlink /proc/self/exe");
        exit(1);
    }
    exe[n] = '\0';
    if ((size_t)n > sizeof opt.work - 16) {
        fprintf(stderr, "examples: %s: the collection's path is too long for the harness\n", exe);
        exit(1);
    }
    *strrchr(exe, '/') = '\0'; /* .../tests */
    memcpy(opt.work, exe, strlen(exe));
    memcpy(opt.work + strlen(exe), "/.work", sizeof "/.work");
    mkdir(opt.work, 0700);
    *strrchr(exe, '/') = '\0'; /* the collection's top */
    memcpy(opt.top, exe, strlen(exe) + 1);
}

static void choose_isolation(void)
{
    char why[512] = "";

    if (!opt.no_namespaces && isolation_works(why, sizeof why)) {
        opt.namespaces = true;
        return;
    }
    printf("examples: note: %s: cases run one at a time and leftovers are compared "
           "machine-wide; nothing is removed that the case did not create\n",
           opt.no_namespaces ? "--no-namespaces"
           : why[0] != '\0'  ? why
                             : "namespaces refused");
    opt.jobs = 1;
    fallback_find_mqueue();
}

static void usage_exit(void)
{
    fprintf(
        stderr,
        "usage: examples [-j N] [--only NAME] [--case TEXT] [--exercise NAME --bin "
        "PATH] [--valgrind] [--light] [--threads-only] [--quick] [--no-namespaces] [--verbose] CHAPTER_DIR...\n");
    exit(2);
}

static int parse_options(int argc, char *argv[])
{
    const char *scale = getenv("TIMEOUT_SCALE");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool jobs_given = false;
    int i;

    opt.timeout_scale = scale != NULL && atof(scale) > 0 ? atof(scale) : 1.0;
    opt.jobs = cpus > 0 ? (unsigned)cpus : 1;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--valgrind") == 0)
            opt.valgrind = true;
        else if (strcmp(argv[i], "--light") == 0)
            opt.light = true;
        else if (strcmp(argv[i], "--no-namespaces") == 0)
            opt.no_namespaces = true;
        else if (strcmp(argv[i], "--verbose") == 0)
            opt.verbose = true;
        else if (strcmp(argv[i], "--threads-only") == 0)
            opt.threads_only = true;
        else if (strcmp(argv[i], "--quick") == 0)
            opt.quick = true;
        else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc && atoi(argv[i + 1]) > 0) {
            opt.jobs = (unsigned)atoi(argv[++i]);
            jobs_given = true;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            opt.only = argv[++i];
        else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc)
            opt.case_part = argv[++i];
        else if (strcmp(argv[i], "--exercise") == 0 && i + 1 < argc)
            opt.exercise = argv[++i];
        else if (strcmp(argv[i], "--bin") == 0 && i + 1 < argc)
            opt.bin = argv[++i];
        else
            usage_exit();
    }
    if (i == argc || (opt.bin != NULL) != (opt.exercise != NULL))
        usage_exit();
    opt.delay_scale = opt.timeout_scale;
    if (opt.valgrind) {
        /* Work runs 10-50 times slower, but a signal's delay is mostly waiting: the
         * start-up (a second or more on a busy machine) and more time to reach the state
         * the delay allows for. */
        opt.timeout_scale *= 10;
        opt.delay_scale *= 4;
        opt.delay_offset_ms = 1500;
    }
    if ((opt.valgrind || opt.light) && !jobs_given)
        opt.jobs *= 2; /* slowed cases mostly wait; twice the CPUs keeps both busy (three
                        * made timing-sensitive demos miss their windows) */
    return i;
}

int main(int argc, char *argv[])
{
    int rc;

    for (int i = parse_options(argc, argv); i < argc; i++)
        find_programs(argv[i]);
    if (nprograms == 0) {
        fprintf(stderr, "examples: no program found%s%s\n",
                opt.only || opt.exercise ? " named " : "",
                opt.exercise ? opt.exercise
                : opt.only   ? opt.only
                             : "");
        return 2;
    }
    scheduler = getpid();
    setup_paths();
    choose_isolation();
    signal(SIGPIPE, SIG_IGN);
    expectations = calloc(nprograms, sizeof *expectations);
    for (size_t p = 0; p < nprograms; p++)
        plan_program(p);
    printf("examples: %zu cases of %zu programs, %u at a time, %s\n", njobs, nprograms, opt.jobs,
           !opt.namespaces ? "machine-wide"
           : opt.netns     ? "each in its own namespaces (a network too where it names sockets)"
                           : "each in its own namespaces");
    fflush(stdout);
    run_all();
    judge_symptoms();
    rc = report_with_check();
    for (size_t i = 0; i < njobs; i++) {
        free(jobs[i].name);
        free(jobs[i].why);
        free(jobs[i].stdout_kept);
    }
    for (size_t p = 0; p < nprograms; p++)
        expect_free(&expectations[p]);
    free(expectations);
    free(jobs);
    free(programs);
    return rc;
}
