/*
 * test_listener.c - the listening sockets (server/listener.c): address
 * parsing, TCP listeners on 127.0.0.1 (non-blocking, close-on-exec,
 * named with the port the kernel chose, accepting), a port in use fails
 * with nothing left open, unix sockets (mode from -a, a stale socket file
 * replaced, any other file left alone, a path too long refused), and the
 * reload reconciliation that keeps a listener still named (same
 * descriptor), opens new ones and hands removed ones back as stale.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "server/listener.h"
#include "unit.h"

static struct logger quiet;     /* errors go to /dev/null */

static int setup(void)
{
    log_init(&quiet, 0);
    quiet.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    return quiet.fd >= 0 ? 0 : -1;
}

static int teardown(void)
{
    close(quiet.fd);
    return 0;
}

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1;               /* opendir's own descriptor */
}

static int port_of(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    return ntohs(sa.sin_port);
}

static int tcp_connect(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void tcp_config(struct listen_config *cfg,
                       const char (*addrs)[SHMC_HOST_MAX],
                       int n, int port)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->addrs = addrs;
    cfg->naddrs = n;
    cfg->port = port;
    cfg->backlog = 16;
    cfg->unix_path = "";
    cfg->unix_mask = 0700;
}

static void test_listener_split(void)
{
    char host[SHMC_HOST_MAX];
    int port;
    CU_ASSERT_EQUAL(listener_split("127.0.0.1", 11211, host, sizeof(host),
                                   &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
    CU_ASSERT_EQUAL(port, 11211);
    CU_ASSERT_EQUAL(listener_split("10.0.0.1:22", 1, host, sizeof(host),
                                   &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "10.0.0.1");
    CU_ASSERT_EQUAL(port, 22);
    CU_ASSERT_EQUAL(listener_split("::1", 5, host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(port, 5);
    CU_ASSERT_EQUAL(listener_split("[::1]:7", 5, host, sizeof(host),
                                   &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(port, 7);
    CU_ASSERT_EQUAL(listener_split("[::1]", 5, host, sizeof(host), &port),
                    0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(port, 5);
    CU_ASSERT_EQUAL(listener_split("*:99", 5, host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "");
    CU_ASSERT_EQUAL(port, 99);
    CU_ASSERT_EQUAL(listener_split(":98", 5, host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "");
    CU_ASSERT_EQUAL(port, 98);
    CU_ASSERT_EQUAL(listener_split("h:0", 5, host, sizeof(host), &port), 0);
    CU_ASSERT_EQUAL(port, 0);
    CU_ASSERT_EQUAL(listener_split("h:65535", 5, host, sizeof(host), &port),
                    0);
    CU_ASSERT_EQUAL(port, 65535);
    CU_ASSERT_EQUAL(listener_split("[::1", 5, host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(listener_split("[::1]x", 5, host, sizeof(host), &port),
                    -1);
    CU_ASSERT_EQUAL(listener_split("h:65536", 5, host, sizeof(host), &port),
                    -1);
    CU_ASSERT_EQUAL(listener_split("h:", 5, host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(listener_split("h:1x", 5, host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(listener_split("h:-1", 5, host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(listener_split("abcdefgh", 5, host, 4, &port), -1);
    CU_ASSERT_EQUAL(listener_split("abc", 5, host, 4, &port), 0);  /* fits */
    CU_ASSERT_STRING_EQUAL(host, "abc");
}

static void test_listener_tcp(void)
{
    static const char addrs[1][SHMC_HOST_MAX] = { "127.0.0.1" };
    struct listen_config cfg;
    struct listeners ls;
    char want[96];
    tcp_config(&cfg, addrs, 1, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_open(&ls, &cfg, &quiet), 0);
    CU_ASSERT_EQUAL_FATAL(ls.n, 1);
    int fd = ls.l[0].fd;
    CU_ASSERT_FALSE(ls.l[0].is_unix);
    CU_ASSERT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CU_ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int port = port_of(fd);
    CU_ASSERT(port > 0);
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    CU_ASSERT_STRING_EQUAL(ls.l[0].name, want);     /* the real port */
    CU_ASSERT_STRING_EQUAL(ls.unix_path, "");
    int c = tcp_connect(port);
    CU_ASSERT(c >= 0);
    int a = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    CU_ASSERT(a >= 0);
    /* nothing more waiting: a non-blocking accept says so at once */
    CU_ASSERT_EQUAL(accept(fd, NULL, NULL), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    close(a);
    close(c);
    listeners_close(&ls);
    CU_ASSERT_EQUAL(ls.n, 0);
    CU_ASSERT_EQUAL(fcntl(fd, F_GETFD), -1);        /* closed */
}

/* No -l at all means 127.0.0.1 with -p. */
static void test_listener_default_address(void)
{
    struct listen_config cfg;
    struct listeners ls;
    tcp_config(&cfg, NULL, 0, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_open(&ls, &cfg, &quiet), 0);
    CU_ASSERT_EQUAL(ls.n, 1);
    CU_ASSERT_EQUAL(strncmp(ls.l[0].name, "127.0.0.1:", 10), 0);
    listeners_close(&ls);
}

/* A second address that cannot be bound fails the whole call, and the
 * first one opened is closed again. */
static void test_listener_port_in_use(void)
{
    static const char one[1][SHMC_HOST_MAX] = { "127.0.0.1" };
    char two[2][SHMC_HOST_MAX];
    struct listen_config cfg;
    struct listeners busy, ls;
    tcp_config(&cfg, one, 1, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_open(&busy, &cfg, &quiet), 0);
    int port = port_of(busy.l[0].fd);
    snprintf(two[0], sizeof(two[0]), "127.0.0.1:0");
    snprintf(two[1], sizeof(two[1]), "127.0.0.1:%d", port);
    tcp_config(&cfg, (const char (*)[SHMC_HOST_MAX])two, 2, 0);
    int before = open_fds();
    CU_ASSERT_EQUAL(listeners_open(&ls, &cfg, &quiet), -1);
    CU_ASSERT_EQUAL(ls.n, 0);
    CU_ASSERT_EQUAL(open_fds(), before);            /* nothing leaked */
    listeners_close(&busy);
}

static void test_listener_bad_spec(void)
{
    static const char bad[1][SHMC_HOST_MAX] = { "[::1" };
    struct listen_config cfg;
    struct listeners ls;
    tcp_config(&cfg, bad, 1, 0);
    CU_ASSERT_EQUAL(listeners_open(&ls, &cfg, &quiet), -1);
    CU_ASSERT_EQUAL(ls.n, 0);
}

static void test_listener_unix(void)
{
    char dir[] = "/tmp/shmc_listener_XXXXXX", path[64];
    struct listen_config cfg;
    struct listeners ls;
    struct stat st;
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/sock", dir);
    tcp_config(&cfg, NULL, 0, 0);
    cfg.unix_path = path;
    cfg.unix_mask = 0640;
    CU_ASSERT_EQUAL_FATAL(listeners_open(&ls, &cfg, &quiet), 0);
    CU_ASSERT_EQUAL(ls.n, 1);           /* -s: no TCP listener */
    CU_ASSERT_TRUE(ls.l[0].is_unix);
    CU_ASSERT_STRING_EQUAL(ls.l[0].name, path);
    CU_ASSERT_STRING_EQUAL(ls.unix_path, path);
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0640);
    /* a client gets in */
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CU_ASSERT_EQUAL(connect(c, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(c);
    /* closed without unlink: the file stays (a stale socket) ... */
    listeners_close(&ls);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    /* ... and is replaced by the next open */
    CU_ASSERT_EQUAL_FATAL(listeners_open(&ls, &cfg, &quiet), 0);
    listeners_close(&ls);
    listeners_unlink(&ls);
    CU_ASSERT_EQUAL(stat(path, &st), -1);
    CU_ASSERT_STRING_EQUAL(ls.unix_path, "");

    /* a regular file at the path is never removed: the open fails */
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_EQUAL(listeners_open(&ls, &cfg, &quiet), -1);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(S_ISREG(st.st_mode));
    unlink(path);
    rmdir(dir);
}

static void test_listener_unix_path_too_long(void)
{
    char path[200];
    struct listen_config cfg;
    struct listeners ls;
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    tcp_config(&cfg, NULL, 0, 0);
    cfg.unix_path = path;
    CU_ASSERT_EQUAL(listeners_open(&ls, &cfg, &quiet), -1);
    CU_ASSERT_EQUAL(ls.n, 0);
}

/* Reload: the listener still named keeps its descriptor, a new address is
 * opened, a removed one comes back in stale (still open). */
static void test_listener_reconcile(void)
{
    static const char one[1][SHMC_HOST_MAX] = { "127.0.0.1" };
    char addrs[2][SHMC_HOST_MAX];
    struct listen_config cfg;
    struct listeners cur, stale;
    tcp_config(&cfg, one, 1, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_open(&cur, &cfg, &quiet), 0);
    int fd = cur.l[0].fd, port = port_of(fd);
    snprintf(addrs[0], sizeof(addrs[0]), "127.0.0.1:%d", port);
    snprintf(addrs[1], sizeof(addrs[1]), "127.0.0.1:0");
    tcp_config(&cfg, (const char (*)[SHMC_HOST_MAX])addrs, 2, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_reconcile(&cur, &cfg, &stale, &quiet), 0);
    CU_ASSERT_EQUAL(cur.n, 2);
    CU_ASSERT_EQUAL(cur.l[0].fd, fd);               /* kept, not reopened */
    CU_ASSERT_EQUAL(cur.l[0].kept, -1);
    CU_ASSERT(cur.l[1].fd >= 0 && cur.l[1].fd != fd);
    int port2 = port_of(cur.l[1].fd);
    CU_ASSERT(port2 > 0 && port2 != port);
    CU_ASSERT_EQUAL(stale.n, 0);

    /* drop the first address: it goes to stale, still open */
    snprintf(addrs[1], sizeof(addrs[1]), "127.0.0.1:%d", port2);
    tcp_config(&cfg, (const char (*)[SHMC_HOST_MAX])addrs + 1, 1, 0);
    CU_ASSERT_EQUAL_FATAL(listeners_reconcile(&cur, &cfg, &stale, &quiet), 0);
    CU_ASSERT_EQUAL(cur.n, 1);
    CU_ASSERT_EQUAL(port_of(cur.l[0].fd), port2);
    CU_ASSERT_EQUAL(stale.n, 1);
    CU_ASSERT_EQUAL(stale.l[0].fd, fd);
    CU_ASSERT(fcntl(fd, F_GETFD) >= 0);
    listeners_close(&stale);
    CU_ASSERT_EQUAL(fcntl(fd, F_GETFD), -1);

    /* a failing reconcile leaves cur as it was */
    static const char bad[1][SHMC_HOST_MAX] = { "[::1" };
    int keep = cur.l[0].fd;
    tcp_config(&cfg, bad, 1, 0);
    CU_ASSERT_EQUAL(listeners_reconcile(&cur, &cfg, &stale, &quiet), -1);
    CU_ASSERT_EQUAL(cur.n, 1);
    CU_ASSERT_EQUAL(cur.l[0].fd, keep);
    CU_ASSERT(fcntl(keep, F_GETFD) >= 0);
    listeners_close(&cur);
}

UNIT_SUITE(listener, setup, teardown,
           UNIT_TEST(test_listener_split),
           UNIT_TEST(test_listener_tcp),
           UNIT_TEST(test_listener_default_address),
           UNIT_TEST(test_listener_port_in_use),
           UNIT_TEST(test_listener_bad_spec),
           UNIT_TEST(test_listener_unix),
           UNIT_TEST(test_listener_unix_path_too_long),
           UNIT_TEST(test_listener_reconcile))
