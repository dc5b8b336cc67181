/* test_harness.c - Check tests of the examples harness itself.
 *
 * A harness that passes a wrong program is worse than none, so this runs
 * `examples` on the small programs of tests/selftest/: basic_selftest is
 * right and every one of its cases, one for each directive, must pass;
 * basic_wrong is wrong in one way per case and each case must fail, for
 * the reason named here; basic_fdleak leaks a descriptor that only the
 * valgrind run may see; solution_quick says whether valgrind runs it, which
 * --quick decides per case; basic_netns binds a fixed abstract UNIX name
 * and loopback port in cases that overlap.  Two more tests check that the harness neither
 * blames nor touches what another process keeps in /tmp and in System V
 * IPC while it runs, and that the fallback mode, without namespaces,
 * reports an object without removing it.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs ./examples with these arguments; its stdout and stderr go to *out. */
static int run_examples(char **out, const char *const args[])
{
    char path[] = "/tmp/test_harness.XXXXXX";
    const char *argv[16] = {"./examples"};
    int fd = mkstemp(path), status;
    size_t n = 1;
    struct stat st;
    pid_t pid;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    fflush(NULL);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(fstat(fd, &st), 0);
    *out = calloc(1, (size_t)st.st_size + 1);
    ck_assert_ptr_nonnull(*out);
    ck_assert_int_eq(pread(fd, *out, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    ck_assert_msg(WIFEXITED(status), "examples did not exit normally: %#x", (unsigned)status);
    return WEXITSTATUS(status);
}

/* The report line of a case, or NULL: "  FAIL selftest/PROG: CASE..." */
static const char *report_line(const char *out, const char *verdict, const char *prog,
                               const char *name)
{
    char start[512];
    const char *p;

    snprintf(start, sizeof start, "  %s selftest/%s: %s", verdict, prog, name);
    for (p = out; (p = strstr(p, start)) != NULL; p++)
        if (p == out || p[-1] == '\n')
            return p;
    return NULL;
}

static bool line_has(const char *line, const char *text)
{
    size_t len = strcspn(line, "\n");
    char *copy = strndup(line, len);
    bool hit = copy != NULL && strstr(copy, text) != NULL;

    free(copy);
    return hit;
}

START_TEST(a_right_program_passes_every_directive)
{
    const char *args[] = {"--only", "basic_selftest", "selftest", NULL};
    char *out;
    int rc = run_examples(&out, args);

    ck_assert_msg(rc == 0, "examples exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, " passed, 0 failed, 1 skipped\n") != NULL, "%s", out);
    ck_assert_msg(report_line(out, "SKIP", "basic_selftest", "skipped when a command is missing") !=
                      NULL,
                  "no SKIP line:\n%s", out);
    ck_assert_msg(strstr(out, "requires command no-such-command-for-the-selftest: no ") != NULL,
                  "the skip gives no reason:\n%s", out);
    free(out);
}
END_TEST

/* Each wrong case, and what its report must say. */
static const struct {
    const char *name, *reason;
} mistakes[] = {
    {"leaves a POSIX shared memory object", "left behind: /dev/shm wrong-"},
    {"leaves a POSIX message queue", "left behind: POSIX message queue wrong-"},
    {"leaves a System V semaphore set", "left behind: System V semaphore set id "},
    {"leaves a FIFO in its temporary directory", "wrong.fifo (a FIFO)"},
    {"leaves a socket file in its temporary directory", "wrong.sock (a socket)"},
    {"leaves a file of a fixed name in /tmp", "left behind: /tmp wrong.fixed-name"},
    {"abandons a child", "left behind: 1 child process(es) it did not wait for"},
    {"hangs reading its own pipe", "hung: killed after "},
    {"reads only once", "stdout is not the same as stdin: 65536 bytes where 1048576 were "
                        "expected: the output stops early"},
    {"tears records with stdio", "1 matching call(s) of write, expected exactly 5"},
    {"assumes its reader keeps up", "exit status 1, expected exit status 0"},
    {"creates its output 0600", "file out.txt has mode 0600, expected 0644"},
    {"ignores SIGTERM", "hung: killed after "},
    {"prints one line too many", "stdout is not exactly the lines expected: 14 bytes where 7 "
                                 "were expected: extra output from byte 7 (line 2)"},
    {"prints a stray warning", "stderr has a line matching /./"},
};

/* In fallback mode the wrong program's leftovers are on the machine itself,
 * and the harness rightly removes none of them: this test does, since its
 * own fixture made them (each name carries the fixture's "wrong" prefix). */
static void remove_fallback_leftovers(const char *out)
{
    const char *p = out;
    char name[64];

    if (strstr(out, "cases run one at a time") == NULL)
        return;
    while ((p = strstr(p, "left behind: /dev/shm wrong-")) != NULL) {
        p += strlen("left behind: /dev/shm ");
        snprintf(name, sizeof name, "/%.*s", (int)strspn(p, "wrong-0123456789"), p);
        shm_unlink(name);
    }
    for (p = out; (p = strstr(p, "left behind: POSIX message queue wrong-")) != NULL;) {
        p += strlen("left behind: POSIX message queue ");
        snprintf(name, sizeof name, "/%.*s", (int)strspn(p, "wrong-0123456789"), p);
        mq_unlink(name);
    }
    for (p = out; (p = strstr(p, "[wrong] left System V semaphore set ")) != NULL; p++)
        semctl(atoi(p + strlen("[wrong] left System V semaphore set ")), 0, IPC_RMID);
    unlink("/tmp/wrong.fixed-name");
}

START_TEST(every_mistake_is_caught_for_its_reason)
{
    const char *args[] = {"--only", "basic_wrong", "selftest", NULL};
    size_t n = sizeof mistakes / sizeof *mistakes;
    char *out, summary[64];
    int rc = run_examples(&out, args);

    ck_assert_int_eq(rc, 1);
    for (size_t i = 0; i < n; i++) {
        const char *line = report_line(out, "FAIL", "basic_wrong", mistakes[i].name);

        ck_assert_msg(line != NULL, "'%s' was not failed:\n%s", mistakes[i].name, out);
        ck_assert_msg(line_has(line, mistakes[i].reason), "'%s' failed, but not with '%s':\n%.300s",
                      mistakes[i].name, mistakes[i].reason, line);
    }
    remove_fallback_leftovers(out);
    snprintf(summary, sizeof summary, "examples: 3 passed, %zu failed, 0 skipped\n", n);
    ck_assert_msg(strstr(out, summary) != NULL, "expected '%s' in:\n%s", summary, out);
    free(out);
}
END_TEST

START_TEST(a_hang_names_what_to_look_at)
{
    const char *args[] = {"--only", "basic_wrong", "--case", "hangs reading", "selftest", NULL};
    char *out;

    ck_assert_int_eq(run_examples(&out, args), 1);
    ck_assert_msg(strstr(out, "waiting in anon_pipe_read") != NULL ||
                      strstr(out, "waiting in pipe_read") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "look in the descriptor lists below for a write end") != NULL, "%s",
                  out);
    ck_assert_msg(strstr(out, "3 -> pipe:[") != NULL && strstr(out, "4 -> pipe:[") != NULL,
                  "the hung process's descriptors are not listed:\n%s", out);
    free(out);
}
END_TEST

START_TEST(an_open_descriptor_fails_only_under_valgrind)
{
    const char *natively[] = {"--only", "basic_fdleak", "selftest", NULL};
    const char *valgrind[] = {"--valgrind", "--only", "basic_fdleak", "selftest", NULL};
    char *out;

    ck_assert_msg(run_examples(&out, natively) == 0, "%s", out);
    free(out);
    ck_assert_int_eq(run_examples(&out, valgrind), 1);
    ck_assert_msg(report_line(out, "FAIL", "basic_fdleak", "(no arguments)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, ": /dev/null open at exit") != NULL, "%s", out);
    free(out);
}
END_TEST

/* A bystander keeps a file in /tmp and a System V semaphore set of its own
 * while the suite runs: no verdict changes, and both are still there. */
START_TEST(what_others_keep_is_neither_blamed_nor_touched)
{
    const char *args[] = {"--only", "basic_selftest", "selftest", NULL};
    char path[64], *out;
    int status, go[2], made[2], semid = -1;
    pid_t bystander;

    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(made), 0);
    snprintf(path, sizeof path, "/tmp/test_harness.bystander.%d", (int)getpid());
    bystander = fork();
    ck_assert_int_ge(bystander, 0);
    if (bystander == 0) {
        char byte;
        int fd, id;

        (void)!read(go[0], &byte, 1); /* the suite has started */
        usleep(100 * 1000);           /* and is in its first cases */
        fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
        id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
        (void)!write(made[1], &id, sizeof id);
        _exit(fd >= 0 ? 0 : 1);
    }
    (void)!write(go[1], "g", 1);
    int rc = run_examples(&out, args);

    ck_assert_int_eq(read(made[0], &semid, sizeof semid), (ssize_t)sizeof semid);
    ck_assert_int_eq(waitpid(bystander, &status, 0), bystander);
    ck_assert_int_eq(status, 0);
    /* Whether they survived is checked first, and the bystander's objects are removed before
     * any assertion can end the test: a failing run leaves nothing of its own behind. */
    bool file_kept = access(path, F_OK) == 0;
    bool set_kept = semid >= 0 && semctl(semid, 0, GETVAL) == 0;

    unlink(path);
    if (semid >= 0)
        semctl(semid, 0, IPC_RMID);
    ck_assert_msg(rc == 0 && strstr(out, "left behind") == NULL, "%s", out);
    ck_assert_msg(file_kept, "the bystander's file is gone");
    ck_assert_msg(set_kept, "the bystander's semaphore set %d is gone", semid);
    for (int i = 0; i < 2; i++) {
        close(go[i]);
        close(made[i]);
    }
    free(out);
}
END_TEST

/* --threads-only (make SANITIZE=thread) runs the programs that start threads
 * and no other. */
START_TEST(threads_only_keeps_the_threaded_programs)
{
    const char *args[] = {"--threads-only", "selftest", NULL};
    char *out;

    ck_assert_msg(run_examples(&out, args) == 0, "%s", out);
    ck_assert_msg(strstr(out, "of 1 programs") != NULL, "%s", out);
    ck_assert_msg(report_line(out, "ok  ", "basic_threads", "(no arguments)") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "basic_selftest") == NULL && strstr(out, "basic_wrong") == NULL,
                  "a program without threads ran: %s", out);
    free(out);
}
END_TEST

/* --quick (VALGRIND=quick in CI): a solution's demo and its signal cases under valgrind, its
 * other cases (the checker's inputs) natively.  solution_quick.expect holds only so; under
 * --valgrind alone its checker input must fail, since it ran under valgrind. */
START_TEST(quick_runs_only_a_solutions_checker_inputs_natively)
{
    const char *quick[] = {"--valgrind", "--quick", "--only", "solution_quick", "selftest", NULL};
    const char *full[] = {"--valgrind", "--only", "solution_quick", "selftest", NULL};
    char *out;

    ck_assert_msg(run_examples(&out, quick) == 0, "%s", out);
    ck_assert_msg(report_line(out, "ok  ", "solution_quick", "(no arguments)") != NULL, "%s", out);
    ck_assert_msg(report_line(out, "ok  ", "solution_quick", "a checker input runs natively") !=
                      NULL,
                  "%s", out);
    ck_assert_msg(report_line(out, "ok  ", "solution_quick", "a stop path runs under valgrind") !=
                      NULL,
                  "%s", out);
    free(out);
    ck_assert_int_eq(run_examples(&out, full), 1);
    const char *line = report_line(out, "FAIL", "solution_quick", "a checker input runs natively");
    ck_assert_msg(line != NULL && line_has(line, "stdout is not exactly the lines expected"), "%s",
                  out);
    ck_assert_msg(strstr(out, "examples: 4 passed, 1 failed, 0 skipped\n") != NULL, "%s", out);
    free(out);
}
END_TEST

/* A network namespace per case of a program that names sockets (basic_netns calls bind()):
 * three cases, two at a time, bind the same abstract UNIX name and loopback port, and each
 * sees no UNIX socket but its own.  Where the machine
 * refuses a network namespace, the harness must say so (and the cases share the network). */
START_TEST(parallel_cases_have_a_network_each)
{
    const char *args[] = {"-j", "2", "--only", "basic_netns", "selftest", NULL};
    char *out;
    int rc = run_examples(&out, args);

    if (strstr(out, "examples: note: no network namespace per case (") != NULL) {
        printf("test_harness: the machine refuses a network namespace per case: not tested\n");
        free(out);
        return;
    }
    ck_assert_msg(rc == 0, "%s", out);
    ck_assert_msg(strstr(out, "2 at a time, each in its own namespaces (a network too where it "
                              "names sockets)\n") != NULL,
                  "%s", out);
    ck_assert_msg(strstr(out, "examples: 5 passed, 0 failed, 0 skipped\n") != NULL, "%s", out);
    free(out);
}
END_TEST

START_TEST(the_fallback_mode_reports_but_removes_nothing)
{
    const char *args[] = {"--no-namespaces",    "--only",   "basic_wrong", "--case",
                          "System V semaphore", "selftest", NULL};
    char *out;
    const char *said;
    int semid;

    ck_assert_int_eq(run_examples(&out, args), 1);
    ck_assert_msg(strstr(out, "cases run one at a time") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "(appeared during the case; the harness removed nothing)") != NULL,
                  "%s", out);
    said = strstr(out, "[wrong] left System V semaphore set ");
    ck_assert_ptr_nonnull(said);
    semid = atoi(said + strlen("[wrong] left System V semaphore set "));
    ck_assert_msg(semctl(semid, 0, GETVAL) == 0, "set %d was removed: %s", semid, strerror(errno));
    semctl(semid, 0, IPC_RMID);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("selftest");
    SRunner *runner;
    int failed;

    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_right_program_passes_every_directive);
    tcase_add_test(tc, threads_only_keeps_the_threaded_programs);
    tcase_add_test(tc, every_mistake_is_caught_for_its_reason);
    tcase_add_test(tc, a_hang_names_what_to_look_at);
    tcase_add_test(tc, an_open_descriptor_fails_only_under_valgrind);
    tcase_add_test(tc, quick_runs_only_a_solutions_checker_inputs_natively);
    tcase_add_test(tc, parallel_cases_have_a_network_each);
    tcase_add_test(tc, what_others_keep_is_neither_blamed_nor_touched);
    tcase_add_test(tc, the_fallback_mode_reports_but_removes_nothing);
    suite_add_tcase(s, tc);
    runner = srunner_create(s);
    srunner_run_all(runner, CK_VERBOSE);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
