/* advanced_pg_peer_auth.c - PostgreSQL's "peer" authentication over its UNIX socket
 *
 * Real-world pattern: PostgreSQL, pg_hba.conf method "peer" (and a pg_ident.conf user name
 * map).  A client on the server's UNIX socket (.s.PGSQL.5432) names the database role it
 * wants in its startup packet.  The server asks the kernel who the client is (SO_PEERCRED,
 * behind getpeereid()), turns the uid into an operating-system user name (getpwuid_r here,
 * as auth_peer() in src/backend/libpq/auth.c does with getpwuid) and admits the client only
 * if the map pairs that name with the role requested (check_usermap()).  Nothing the client
 * sends can change the uid.  Left out: every other pg_hba.conf field and method,
 * regular expressions in pg_ident.conf, include files, and all of the protocol after
 * ReadyForQuery (no queries: the client sends Terminate).
 * Guide part: real-world (UNIX sockets: credentials; PostgreSQL).
 * Run: ./advanced_pg_peer_auth
 */
#define _GNU_SOURCE
#include "common.h"
#include "cleanup.h"
#include "io.h"
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROTOCOL_3_0 196608u     /* major 3 in the high 16 bits, minor 0 */
#define MAX_STARTUP 10000        /* PostgreSQL refuses a longer startup packet too */
#define OTHER_UID ((uid_t)65534) /* "nobody": a client of another uid, shown only as root */

static const char usage[] = "";

/* pg_ident.conf, map "demo": which operating-system user may act as which role. */
struct ident_line {
    char system_user[64], role[64];
};

/* The startup packet: length, protocol 3.0, then "user", role, "database", db, and a 0. */
static void send_startup(int fd, const char *role)
{
    char packet[256];
    uint32_t be;
    size_t len = 8;

    len += (size_t)snprintf(packet + len, sizeof packet - len, "user%c%s%cdatabase%cdemo%c", 0,
                            role, 0, 0, 0) +
           1;
    packet[len - 1] = '\0';
    be = htonl((uint32_t)len);
    memcpy(packet, &be, 4);
    be = htonl(PROTOCOL_3_0);
    memcpy(packet + 4, &be, 4);
    if (write_full(fd, packet, len) == -1)
        die_errno("send the startup packet");
}

/* Reads the startup packet and finds the value of "user" in it; NULL if malformed. */
static const char *read_startup(int conn, char *packet)
{
    uint32_t len, version;

    if (read_full(conn, &len, 4) != 4 || (len = ntohl(len)) < 8 || len > MAX_STARTUP ||
        read_full(conn, packet, len - 4) != (ssize_t)(len - 4) || packet[len - 5] != '\0')
        return NULL;
    memcpy(&version, packet, 4);
    if (ntohl(version) >> 16 != 3)
        return NULL;
    for (const char *key = packet + 4, *end = packet + len - 4; key < end && *key != '\0';) {
        const char *value = key + strlen(key) + 1; /* the packet ends in 0: strlen stops */

        if (value >= end)
            return NULL;
        if (strcmp(key, "user") == 0)
            return value;
        key = value + strlen(value) + 1;
    }
    return NULL;
}

/* A backend message: type byte, length (itself included), body. */
static void send_message(int conn, char type, const void *body, size_t n)
{
    char msg[512];
    uint32_t be = htonl((uint32_t)(n + 4));

    msg[0] = type;
    memcpy(msg + 1, &be, 4);
    memcpy(msg + 5, body, n);
    if (write_full(conn, msg, n + 5) == -1)
        die_errno("send a message to the client");
}

/* The server's side of one connection: who is it, what may it be. */
static void authenticate(int conn, int number, const struct ident_line *map, int lines)
{
    char packet[MAX_STARTUP], pwbuf[1024], error[256];
    struct passwd pw, *found = NULL;
    struct ucred peer;
    socklen_t len = sizeof peer;
    const char *role = read_startup(conn, packet);
    int rc;

    if (role == NULL) {
        printf("[server] connection %d: not a protocol 3.0 startup packet\n", number);
        return;
    }
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) == -1)
        die_errno("getsockopt SO_PEERCRED");
    rc = getpwuid_r(peer.uid, &pw, pwbuf, sizeof pwbuf, &found);
    if (found == NULL) {
        if (rc == 0)
            printf("[server] connection %d: local user with ID %ld does not exist\n", number,
                   (long)peer.uid);
        else
            printf("[server] connection %d: could not look up local user ID %ld: %s\n", number,
                   (long)peer.uid, strerror(rc));
    } else {
        printf("[server] connection %d: SO_PEERCRED uid %ld -> getpwuid_r \"%s\"; role \"%s\" "
               "requested\n",
               number, (long)peer.uid, pw.pw_name, role);
        for (int i = 0; i < lines; i++) {
            if (strcmp(map[i].system_user, pw.pw_name) == 0 && strcmp(map[i].role, role) == 0) {
                static const char ok[4] = {0}, idle = 'I';

                printf("[server] connection %d: pg_ident line %d pairs them: AuthenticationOk\n",
                       number, i + 1);
                send_message(conn, 'R', ok, sizeof ok); /* 0: authentication done */
                send_message(conn, 'Z', &idle, 1);      /* ReadyForQuery, idle */
                return;
            }
        }
        printf("[server] connection %d: map demo does not pair \"%s\" with \"%s\": refused\n",
               number, pw.pw_name, role);
    }
    /* ErrorResponse: fields of a code byte and a string, then a 0; 28000 is
     * invalid_authorization_specification. */
    len = (socklen_t)snprintf(error, sizeof error,
                              "SFATAL%cC28000%cMPeer authentication failed for user \"%s\"%c", 0, 0,
                              role, 0);
    error[len++] = '\0';
    send_message(conn, 'E', error, len);
}

/* ErrorResponse fields: a code byte and a string each (S severity, C code, M message). */
static void print_error(int number, char *fields, size_t n)
{
    fields[n] = '\0';
    printf("[client %d] ErrorResponse:", number);
    for (char *f = fields; f < fields + n && *f != '\0'; f += strlen(f) + 1)
        printf(" %c=%s", f[0], f + 1);
    printf("\n");
}

/* A client: startup packet, then every message until the server closes. */
static noreturn void run_client(const struct sockaddr_un *addr, const char *role, int number)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    char msg[512];
    uint32_t len;

    if (fd == -1 || connect(fd, (const struct sockaddr *)addr, sizeof *addr) == -1)
        die_errno("[client %d] connect", number);
    printf("[client %d] uid %ld asks for role \"%s\" (startup packet, protocol 3.0)\n", number,
           (long)getuid(), role);
    send_startup(fd, role);
    while (read_full(fd, msg, 5) == 5) {
        memcpy(&len, msg + 1, 4);
        len = ntohl(len);
        if (len < 4 || len - 4 > sizeof msg - 1 || read_full(fd, msg + 5, len - 4) != len - 4)
            die("[client %d] a message cut short", number);
        if (msg[0] == 'R')
            printf("[client %d] AuthenticationOk\n", number);
        else if (msg[0] == 'Z')
            printf("[client %d] ReadyForQuery (%c); sends Terminate\n", number, msg[5]);
        else if (msg[0] == 'E')
            print_error(number, msg + 5, len - 4);
        if (msg[0] != 'R')
            break;
    }
    if (msg[0] == 'Z' && write_full(fd, "X\0\0\0\4", 5) == -1)
        die_errno("[client %d] send Terminate", number);
    close(fd);
    exit(0);
}

int main(int argc, char *argv[])
{
    struct sockaddr_un addr;
    char sock_path[300];
    struct ident_line map[2];
    char dir[256], pwbuf[1024];
    struct passwd pw, *me = NULL;
    const char *roles[3] = {NULL, "reporting", "postgres"};
    int listener, lines = 0, clients = 3;

    cli_no_options(argc, argv, usage);
    setvbuf(stdout, NULL, _IOLBF, 0);

    getpwuid_r(getuid(), &pw, pwbuf, sizeof pwbuf, &me);
    roles[0] = me != NULL ? pw.pw_name : "unknown";
    printf("[server] pg_hba.conf: local all all peer map=demo\n");
    for (int i = 0; me != NULL && i < 2; i++, lines++) {
        snprintf(map[i].system_user, sizeof map[i].system_user, "%s", pw.pw_name);
        snprintf(map[i].role, sizeof map[i].role, "%s", roles[i]);
        printf("[server] pg_ident.conf line %d: demo %s %s\n", i + 1, map[i].system_user,
               map[i].role);
    }
    make_temp_dir(dir, sizeof dir, "advanced_pg_peer_auth");
    snprintf(sock_path, sizeof sock_path, "%s/.s.PGSQL.5432", dir);
    listener = unix_listener_registered(sock_path, SOCK_STREAM | SOCK_CLOEXEC, 4);
    if (listener == -1)
        die_errno("listen on %s", sock_path);
    unix_address(&addr, sock_path); /* the clients' address: it fits, the listener has it */
    printf("[server] listening on %s (PostgreSQL's name for port 5432)\n", addr.sun_path);

    /* Root can make a client of another uid; it needs the way in (PostgreSQL's socket is
     * usually mode 0777: the authentication, not the file mode, decides who gets in). */
    if (geteuid() == 0 && chown(dir, OTHER_UID, (gid_t)-1) == 0 &&
        chown(addr.sun_path, OTHER_UID, (gid_t)-1) == 0)
        clients = 4;
    else
        printf("[server] not root: no client of another uid can be made here (setuid needs "
               "CAP_SETUID)\n");
    for (int c = 1; c <= clients; c++) {
        pid_t client = fork_or_die();
        int conn;

        if (client == 0) {
            close(listener);
            if (c == 4 && setuid(OTHER_UID) == -1)
                die_errno("[client 4] setuid %ld", (long)OTHER_UID);
            run_client(&addr, roles[c == 4 ? 0 : c - 1], c);
        }
        if (poll(&(struct pollfd){.fd = listener, .events = POLLIN}, 1, 5000) != 1)
            die("[server] client %d did not connect within 5 s", c);
        conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn == -1)
            die_errno("accept");
        authenticate(conn, c, map, lines);
        close(conn);
        reap_quietly(client);
    }
    close(listener);
    return 0;
}
