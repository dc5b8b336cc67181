/* basic_threads.c - a demo whose work is done by a second thread, for the
 * harness's own test of --threads-only (test_harness.c): of the fixtures in
 * selftest/, only this one calls pthread_create.
 *
 * usage: basic_threads [-h]
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *narrate(void *arg)
{
    (void)arg;
    printf("[worker] running beside main\n");
    return NULL;
}

int main(int argc, char *argv[])
{
    pthread_t worker;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
        return fputs("usage: basic_threads [-h]\n", stdout) == EOF;
    if (argc > 1) {
        fprintf(stderr, "basic_threads: unknown option %s\nusage: basic_threads [-h]\n", argv[1]);
        return 2;
    }
    if (pthread_create(&worker, NULL, narrate, NULL) != 0 || pthread_join(worker, NULL) != 0)
        return 1;
    printf("[main] joined the worker\n");
    return 0;
}
