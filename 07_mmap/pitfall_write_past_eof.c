/* pitfall_write_past_eof.c - bytes stored past the file's end never reach the file
 *
 * A mapping covers whole pages.  When a file ends inside a page, the rest of that last page
 * is mapped too and can be read (zeros) and written without any signal; but those bytes are
 * beyond EOF, so no write-back puts them in the file and the file's size never changes
 * (POSIX: modifications past EOF "are not written to the file").  A program that appends by
 * storing after the end loses its data silently.  Pages wholly past EOF raise SIGBUS
 * instead (pitfall_sigbus_truncate).  --fixed extends the file with ftruncate() first.
 * Guide part: pitfall (a mapping does not grow its file).
 * Run: ./pitfall_write_past_eof [--fixed]
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] = "[--fixed]";

static const char header[] = "log: first line\n";
static const char appended[] = "log: appended through the mapping\n";

static off_t file_size(int fd)
{
    struct stat st;

    if (fstat(fd, &st) == -1)
        die_errno("fstat");
    return st.st_size;
}

int main(int argc, char *argv[])
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), old_size = strlen(header);
    size_t new_size = old_size + strlen(appended);
    char path[4096], buf[128], *data;
    sigset_t saved;
    ssize_t n;
    bool fixed;
    int fd;

    fixed = cli_pitfall_fixed(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */

    snprintf(path, sizeof path, "%s/pitfall_write_past_eof.XXXXXX", tmp_dir());
    stop_signals_hold(&saved); /* a Ctrl-C between the two would leave the file */
    fd = mkstemp(path);
    if (fd == -1 || cleanup_add_path(path) == -1)
        die_errno("mkstemp %s", path);
    stop_signals_release(&saved);
    if (write_full(fd, header, old_size) == -1)
        die_errno("write");
    printf("[main] the file holds %lld bytes\n", (long long)file_size(fd));

    data = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED)
        die_errno("mmap");
    printf("[main] mapped one whole page (%zu bytes): byte %zu, past EOF, reads as %d\n", page,
           old_size, data[old_size]);
    if (fixed) {
        if (ftruncate(fd, (off_t)new_size) == -1) /* THE FIX: the file grows first */
            die_errno("ftruncate");
        printf("[main] ftruncate(fd, %zu) first: the new bytes will lie inside the file\n",
               new_size);
    }
    memcpy(data + old_size, appended, strlen(appended));
    printf("[main] stored %zu bytes at offset %zu, no signal: the page is mapped\n",
           strlen(appended), old_size);
    if (msync(data, page, MS_SYNC) == -1 || munmap(data, page) == -1)
        die_errno("msync/munmap");
    printf("[main] msync(MS_SYNC) and munmap done\n");

    n = pread(fd, buf, sizeof buf, 0);
    if (n == -1)
        die_errno("pread");
    printf("[main] the file now holds %lld bytes; read() returns %zd\n", (long long)file_size(fd),
           n);
    if ((size_t)n == new_size && memcmp(buf + old_size, appended, strlen(appended)) == 0)
        printf("[main] the appended line is in the file\n");
    else
        printf("[main] the appended line is lost: it was written past the end of the file\n");
    close(fd);
    return 0;
}
