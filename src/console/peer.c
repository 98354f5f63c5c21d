/*
 * peer.c - one bounded memcached text-protocol query (see peer.h).
 *
 * Non-blocking connect and I/O with poll(), against one deadline for the
 * whole query. The address is "host:port" or "[v6]:port".
 */
#include "console/peer.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start of the last line of reply (which ends with "\r\n"). */
static const char *last_line(const char *reply, size_t len)
{
    if (len < 2 || reply[len - 1] != '\n')
        return NULL;
    size_t i = len - 1;
    while (i > 0 && reply[i - 1] != '\n')
        i--;
    return reply + i;
}

int peer_complete_end(const char *reply, size_t len)
{
    const char *l = last_line(reply, len);
    if (l == NULL)
        return 0;
    return strncmp(l, "END\r\n", 5) == 0 || strncmp(l, "ERROR", 5) == 0 ||
           strncmp(l, "CLIENT_ERROR", 12) == 0 ||
           strncmp(l, "SERVER_ERROR", 12) == 0;
}

int peer_complete_line(const char *reply, size_t len)
{
    return memchr(reply, '\n', len) != NULL;
}

int peer_complete_get(const char *reply, size_t len)
{
    size_t at = 0;
    while (at < len) {
        const char *nl = memchr(reply + at, '\n', len - at);
        if (nl == NULL)
            return 0;
        size_t ll = (size_t)(nl - (reply + at)) + 1;
        if (ll >= 6 && strncmp(reply + at, "VALUE ", 6) == 0) {
            /* VALUE <key> <flags> <bytes> [<cas>] */
            char line[400];
            size_t n = ll < sizeof(line) ? ll : sizeof(line) - 1;
            memcpy(line, reply + at, n);
            line[n] = '\0';
            char key[300];
            unsigned flags;
            unsigned long bytes;
            if (sscanf(line, "VALUE %299s %u %lu", key, &flags, &bytes) != 3)
                return 1;       /* malformed: stop reading */
            at += ll + bytes + 2;
            continue;
        }
        return 1;               /* END, or an error line */
    }
    return 0;
}

static int split_addr(const char *addr, char *host, size_t hl, char *port,
                      size_t pl)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || colon[1] == '\0')
        return -1;
    const char *h = addr;
    size_t n = (size_t)(colon - addr);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n >= hl || strlen(colon + 1) >= pl)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, pl, "%s", colon + 1);
    return 0;
}

/* Waits for fd to be ready for events before the deadline: 1, 0 on
 * timeout, -1 on error. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = { fd, events, 0 };
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        return rc < 0 ? -1 : rc;
    }
}

static int connect_to(const char *addr, long long deadline, char *err,
                      size_t errlen)
{
    char host[256], port[16];
    struct addrinfo hints, *res = NULL;
    if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
        snprintf(err, errlen, "bad address (host:port)");
        return -1;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
        errno != EINPROGRESS) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    rc = wait_fd(fd, POLLOUT, deadline);
    if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
        soerr == 0)
        return fd;
    snprintf(err, errlen, "connect: %s",
             rc == 0 ? "timed out" : strerror(soerr ? soerr : errno));
    close(fd);
    return -1;
}

static int exchange(int fd, const char *cmd, peer_complete_fn done,
                    struct buf *out, long long deadline, char *err,
                    size_t errlen)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s\r\n", cmd);
    if (n < 0 || (size_t)n >= sizeof(line))
        return snprintf(err, errlen, "command too long"), -1;
    for (int off = 0; off < n;) {
        if (wait_fd(fd, POLLOUT, deadline) <= 0)
            return snprintf(err, errlen, "send: timed out"), -1;
        ssize_t w = send(fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return snprintf(err, errlen, "send: %s", strerror(errno)), -1;
        off += w > 0 ? (int)w : 0;
    }
    size_t start = out->len;
    while (!done(out->data + start, out->len - start)) {
        if (out->len - start >= PEER_REPLY_MAX)
            return snprintf(err, errlen, "reply too large"), -1;
        if (wait_fd(fd, POLLIN, deadline) <= 0)
            return snprintf(err, errlen, "reply: timed out"), -1;
        if (buf_reserve(out, 65536) < 0)
            return snprintf(err, errlen, "out of memory"), -1;
        ssize_t r = recv(fd, out->data + out->len, out->cap - out->len, 0);
        if (r == 0)
            return snprintf(err, errlen, "connection closed"), -1;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return snprintf(err, errlen, "recv: %s", strerror(errno)), -1;
        out->len += r > 0 ? (size_t)r : 0;
    }
    return 0;
}

int peer_query(const char *addr, const char *cmd, peer_complete_fn done,
               struct buf *out, char *err, size_t errlen)
{
    long long deadline = now_ms() + PEER_TIMEOUT_MS;
    int fd = connect_to(addr, deadline, err, errlen);
    if (fd < 0)
        return -1;
    int rc = exchange(fd, cmd, done, out, deadline, err, errlen);
    close(fd);
    return rc;
}

int peer_stats_cmd(void *arg, const char *cmd, struct buf *out, char *err,
                   size_t errlen)
{
    return peer_query(arg, cmd, peer_complete_end, out, err, errlen);
}
