/* advanced_syslog_priority_mq.c - a syslog-style logger on a priority queue: the severe first
 *
 * Real-world pattern: syslog.  Programs log with the syslog(3) interface, an
 * identity, options and a facility (openlog), a mask of the severities worth
 * sending (setlogmask, LOG_UPTO), and a priority per message (facility |
 * severity, emerg 0 to debug 7).  Each message travels in the RFC 5424 format
 * "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG".  Here the transport
 * is a POSIX queue whose priority is 7 - severity, so while the logger daemon
 * is busy, the most severe messages overtake the rest, in order within one
 * severity.  A full queue is handled as syslog(3)'s LOG_CONS says: the message
 * goes to the console instead (here stdout, as [console]).
 * Left out: the /dev/log datagram socket and RFC 3164 framing that glibc's
 * syslog() really uses, structured data, remote forwarding, rate limiting.
 *
 * Guide part: real-world (syslog severities as message priorities).
 * Run: ./advanced_syslog_priority_mq
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char usage[] = "";

enum { MAXMSG = 10, MSGSIZE = 512 };

static const char *const severity_names[] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
static const char *const macro_names[] = {"LOG_EMERG",   "LOG_ALERT",  "LOG_CRIT", "LOG_ERR",
                                          "LOG_WARNING", "LOG_NOTICE", "LOG_INFO", "LOG_DEBUG"};
static char queue_name[64];

/* ---- the client side: openlog, setlogmask, syslog ------------------------- */

static struct {
    char ident[32];
    int option, facility, mask;
    mqd_t mq;
} log_state = {.mask = 0xff, .mq = (mqd_t)-1};

static void log_open(const char *ident, int option, int facility)
{
    snprintf(log_state.ident, sizeof log_state.ident, "%s", ident);
    log_state.option = option;
    log_state.facility = facility;
    /* Non-blocking: a logger that is behind must never stall the program. */
    if ((log_state.mq = mq_open(queue_name, O_WRONLY | O_NONBLOCK)) == (mqd_t)-1)
        die_errno("mq_open %s", queue_name);
}

static void log_close(void)
{
    mq_close(log_state.mq);
}

/* RFC 5424: "<PRI>1 2024-05-01T12:00:00.123Z host app 1234 - - text". */
static void log_send(int priority, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void log_send(int priority, const char *fmt, ...)
{
    int severity = LOG_PRI(priority), len;
    char line[MSGSIZE], host[64] = "-", stamp[32];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    if (!(log_state.mask & LOG_MASK(severity)))
        return; /* setlogmask(): not even sent */
    if ((priority & LOG_FACMASK) == 0)
        priority |= log_state.facility;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    gethostname(host, sizeof host - 1);
    len = snprintf(line, sizeof line, "<%d>1 %s.%03dZ %s %s %d - - ", priority, stamp,
                   (int)(tv.tv_usec / 1000), host, log_state.ident, (int)getpid());
    va_start(ap, fmt);
    vsnprintf(line + len, sizeof line - (size_t)len, fmt, ap);
    va_end(ap);
    /* Queue priority 7 - severity: emerg (0) is the most urgent of all. */
    if (mq_send(log_state.mq, line, strlen(line), (unsigned)(LOG_DEBUG - severity)) == 0)
        return;
    if (errno != EAGAIN)
        die_errno("mq_send");
    if (log_state.option & LOG_CONS)
        printf("[console] logger busy, queue full: %s\n", line);
}

/* ---- three programs that log ---------------------------------------------- */

struct entry {
    int priority;
    const char *text;
};

static const struct app {
    const char *ident;
    int option, facility, upto;
    struct entry entries[7];
} apps[] = {
    {"backupd",
     LOG_PID,
     LOG_DAEMON,
     LOG_INFO,
     {{LOG_INFO, "backup started"},
      {LOG_DEBUG, "block 1 of 7 copied"},
      {LOG_NOTICE, "backup of /home done"},
      {LOG_INFO, "next run in 24 h"}}},
    {"diskmon",
     LOG_PID,
     LOG_DAEMON,
     LOG_DEBUG,
     {{LOG_WARNING, "sda: 2 reallocated sectors"},
      {LOG_CRIT, "sda: SMART predicts failure"},
      {LOG_ERR, "sda: write error at block 12345"}}},
    {"webapp",
     LOG_PID | LOG_CONS,
     LOG_USER,
     LOG_INFO,
     {{LOG_INFO, "GET /index.html 200"},
      {LOG_INFO, "GET /favicon.ico 404"},
      {LOG_ERR, "database connection lost"},
      {LOG_ALERT, "disk full: sessions not saved"},
      {LOG_INFO, "GET / 200"},
      {LOG_INFO, "GET /about 200"}}},
};

static noreturn void run_app(const struct app *app)
{
    log_open(app->ident, app->option, app->facility);
    setlogmask(0); /* (ours, not glibc's: the real one is for syslog() itself) */
    log_state.mask = LOG_UPTO(app->upto);
    printf("[%s] openlog(\"%s\", %s, %s); setlogmask(LOG_UPTO(LOG_%s))\n", app->ident, app->ident,
           (app->option & LOG_CONS) ? "LOG_PID|LOG_CONS" : "LOG_PID",
           app->facility == LOG_USER ? "LOG_USER" : "LOG_DAEMON",
           app->upto == LOG_DEBUG ? "DEBUG" : "INFO");
    for (int i = 0; i < 7 && app->entries[i].text != NULL; i++) {
        const struct entry *e = &app->entries[i];

        printf("[%s] syslog(%s, \"%s\")%s\n", app->ident, macro_names[e->priority], e->text,
               (log_state.mask & LOG_MASK(e->priority)) ? "" : ": masked, not sent");
        log_send(e->priority, "%s", e->text);
    }
    log_close();
    exit(0);
}

/* ---- the logger daemon ---------------------------------------------------- */

static noreturn void run_daemon(int go_fd)
{
    mqd_t mq = mq_open(queue_name, O_RDONLY | O_NONBLOCK);
    char line[MSGSIZE + 1], order[MAXMSG * 10] = "", byte;
    size_t len = 0;
    unsigned prio;
    ssize_t n;
    int pri;

    if (mq == (mqd_t)-1)
        die_errno("mq_open %s", queue_name);
    printf("[syslogd] busy rotating its log files: messages wait in the queue\n");
    if (read(go_fd, &byte, 1) == -1)
        die_errno("read");
    close(go_fd);
    printf("[syslogd] back: draining the queue, most severe first\n");
    while ((n = mq_receive(mq, line, MSGSIZE, &prio)) != -1) {
        line[n] = '\0';
        if (sscanf(line, "<%d>", &pri) != 1 || pri < 0 || LOG_PRI(pri) != LOG_DEBUG - (int)prio)
            die("a malformed record: %s", line);
        printf("[syslogd] %-7s %s\n", severity_names[LOG_PRI(pri)], line);
        len += snprintf(order + len, sizeof order - len, " %s", severity_names[LOG_PRI(pri)]);
    }
    printf("[syslogd] severities in the order received:%s\n", order);
    if (errno != EAGAIN)
        die_errno("mq_receive");
    mq_close(mq);
    exit(0);
}

int main(int argc, char *argv[])
{
    pid_t daemon;
    int go[2];
    mqd_t mq;

    setvbuf(stdout, NULL, _IOLBF, 0); /* narration in order, even into a pipe */
    cli_no_options(argc, argv, usage);

    snprintf(queue_name, sizeof queue_name, "/advanced_syslog_priority_mq.%d", (int)getpid());
    mq = mq_create_registered(queue_name, O_RDONLY, MAXMSG, MSGSIZE);
    mq_close(mq);
    printf("[demo] the log queue %s holds %d records; queue priority = 7 - severity\n", queue_name,
           MAXMSG);

    if (pipe(go) == -1)
        die_errno("pipe");
    if ((daemon = fork_or_die()) == 0) {
        close(go[1]);
        run_daemon(go[0]);
    }
    close(go[0]);
    for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++) {
        pid_t app = fork_or_die();

        if (app == 0) {
            close(go[1]);
            run_app(&apps[i]);
        }
        reap_child(app, "demo");
    }
    if (write(go[1], "g", 1) != 1)
        die_errno("wake the logger");
    close(go[1]);
    reap_child(daemon, "demo");
    return 0; /* exit() unlinks the queue */
}
