/*
 * listener.c - opens the listening sockets (see listener.h).
 *
 * TCP: each -l spec is resolved with getaddrinfo(AI_PASSIVE) and every
 * address it yields gets its own socket, so "localhost" binds both 127.0.0.1
 * and ::1 and the wildcard binds 0.0.0.0 and :: (IPv6 sockets are
 * IPV6_V6ONLY so the two never collide). Unix: a stale socket file left by a
 * previous run is removed first (only if it is a socket), the socket is
 * created under a umask matching -a, then chmod'ed to the mask.
 *
 * Invariants: every descriptor in ls->l is non-blocking and close-on-exec
 * (workers are forked, never exec'd, so they still inherit them);
 * on failure nothing stays open.
 */
#include "server/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/log.h"

static int parse_port(const char *s, int *port)
{
    if (*s == '\0')
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
        if (v > 65535)
            return -1;
    }
    *port = (int)v;
    return 0;
}

int listener_split(const char *spec, int default_port, char *host,
                   size_t hostlen, int *port)
{
    const char *h = spec, *portstr = NULL;
    size_t hlen;

    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL)
            return -1;
        h = spec + 1;
        hlen = (size_t)(end - h);
        if (end[1] == ':')
            portstr = end + 2;
        else if (end[1] != '\0')
            return -1;
    } else {
        const char *colon = strchr(spec, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            hlen = (size_t)(colon - spec);      /* host:port */
            portstr = colon + 1;
        } else {
            hlen = strlen(spec);                /* host, or bare IPv6 */
        }
    }
    if (hlen >= hostlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    *port = default_port;
    if (portstr != NULL && parse_port(portstr, port) < 0)
        return -1;
    return 0;
}

static void name_of(const struct sockaddr *sa, int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        sa = (const struct sockaddr *)&ss;     /* learn the port for -p 0 */
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%d", ip, port);
    } else {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%d", ip, port);
    }
}

/* Opens one TCP listener for ai. Returns the fd, or -1 with errno set. */
static int open_tcp(const struct addrinfo *ai, int backlog)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
        listen(fd, backlog) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Same bound address (family, address, port)? */
static int same_addr(int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 || sl != salen ||
        ss.ss_family != sa->sa_family)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&ss, *b = (const void *)sa;
        return a->sin_port == b->sin_port &&
               a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)&ss, *b = (const void *)sa;
        return a->sin6_port == b->sin6_port &&
               memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
    }
    return 0;
}

/* Takes the listener of `reuse` bound to sa (a port 0 never matches), if
 * any: moves it into ls, updates its backlog, returns 1. */
static int take_tcp(struct listeners *ls, struct listeners *reuse,
                    const struct addrinfo *ai, int port, int backlog)
{
    if (reuse == NULL || port == 0)
        return 0;
    for (int i = 0; i < reuse->n; i++) {
        struct listener *r = &reuse->l[i];
        if (r->fd < 0 || r->is_unix ||
            !same_addr(r->fd, ai->ai_addr, ai->ai_addrlen))
            continue;
        listen(r->fd, backlog);         /* a new -b applies at once */
        ls->l[ls->n] = *r;
        ls->l[ls->n].kept = i;
        ls->n++;
        r->fd = -1;
        return 1;
    }
    return 0;
}

static int open_spec(struct listeners *ls, const char *spec,
                     const struct listen_config *cfg, struct listeners *reuse,
                     const struct logger *lg)
{
    char host[SHMC_HOST_MAX], portbuf[8];
    int port;
    if (listener_split(spec, cfg->port, host, sizeof(host), &port) < 0) {
        log_error(lg, "invalid listen address '%s'", spec);
        return -1;
    }
    snprintf(portbuf, sizeof(portbuf), "%d", port);

    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host[0] ? host : NULL, portbuf, &hints, &res);
    if (rc != 0) {
        log_error(lg, "getaddrinfo(%s): %s", spec, gai_strerror(rc));
        return -1;
    }
    int opened = 0;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        if (ls->n >= LISTENER_MAX) {
            log_error(lg, "too many listening sockets (max %d)", LISTENER_MAX);
            freeaddrinfo(res);
            return -1;
        }
        if (take_tcp(ls, reuse, ai, port, cfg->backlog)) {
            log_info(lg, "keeping listener %s", ls->l[ls->n - 1].name);
            opened++;
            continue;
        }
        int fd = open_tcp(ai, cfg->backlog);
        if (fd < 0) {
            if (errno == EAFNOSUPPORT && ai->ai_family == AF_INET6)
                continue;                       /* no IPv6 on this host */
            log_error(lg, "failed to listen on TCP port %d: %s", port,
                      strerror(errno));
            freeaddrinfo(res);
            return -1;
        }
        struct listener *l = &ls->l[ls->n++];
        l->fd = fd;
        l->is_unix = 0;
        l->kept = -1;
        name_of(ai->ai_addr, fd, l->name, sizeof(l->name));
        log_info(lg, "listening on %s", l->name);
        opened++;
    }
    freeaddrinfo(res);
    if (opened == 0) {
        log_error(lg, "failed to listen on TCP port %d: no usable address "
                  "for '%s'", port, spec);
        return -1;
    }
    return 0;
}

static int open_unix(struct listeners *ls, const struct listen_config *cfg,
                     struct listeners *reuse, const struct logger *lg)
{
    struct sockaddr_un sun;
    struct stat st;
    size_t len = strlen(cfg->unix_path);

    for (int i = 0; reuse != NULL && i < reuse->n; i++) {
        struct listener *r = &reuse->l[i];
        if (r->fd < 0 || !r->is_unix || strcmp(r->name, cfg->unix_path) != 0)
            continue;
        listen(r->fd, cfg->backlog);
        ls->l[ls->n] = *r;
        ls->l[ls->n].kept = i;
        ls->n++;
        r->fd = -1;
        snprintf(ls->unix_path, sizeof(ls->unix_path), "%s", reuse->unix_path);
        reuse->unix_path[0] = '\0';    /* the file stays: it is in use */
        log_info(lg, "keeping listener %s", cfg->unix_path);
        return 0;
    }

    if (len >= sizeof(sun.sun_path)) {
        log_error(lg, "unix socket path too long: %s", cfg->unix_path);
        return -1;
    }
    /* A socket file left by a previous run would make bind fail. */
    if (lstat(cfg->unix_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(cfg->unix_path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error(lg, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, cfg->unix_path, len + 1);

    mode_t old = umask((mode_t)(~cfg->unix_mask & 0777));
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    int saved = errno;
    umask(old);
    if (rc < 0) {
        log_error(lg, "bind(%s): %s", cfg->unix_path, strerror(saved));
        close(fd);
        return -1;
    }
    snprintf(ls->unix_path, sizeof(ls->unix_path), "%s", cfg->unix_path);
    if (chmod(cfg->unix_path, (mode_t)cfg->unix_mask) < 0)
        log_warn(lg, "chmod(%s): %s", cfg->unix_path, strerror(errno));
    if (listen(fd, cfg->backlog) < 0) {
        log_error(lg, "listen(%s): %s", cfg->unix_path, strerror(errno));
        close(fd);
        return -1;
    }
    struct listener *l = &ls->l[ls->n++];
    l->fd = fd;
    l->is_unix = 1;
    l->kept = -1;
    snprintf(l->name, sizeof(l->name), "%s", cfg->unix_path);
    log_info(lg, "listening on unix socket %s", l->name);
    return 0;
}

/* Opens what cfg describes into ls, taking matching listeners out of
 * reuse (may be NULL). On failure the taken ones are put back, the new ones
 * closed, and -1 returned. */
static int open_all(struct listeners *ls, const struct listen_config *cfg,
                    struct listeners *reuse, const struct logger *lg)
{
    ls->n = 0;
    ls->unix_path[0] = '\0';
    int rc = 0;
    if (cfg->unix_path != NULL && cfg->unix_path[0] != '\0') {
        rc = open_unix(ls, cfg, reuse, lg);
    } else if (cfg->port < 0) {
        /* -p 0: no TCP listener, as memcached */
    } else if (cfg->naddrs == 0) {
        rc = open_spec(ls, "127.0.0.1", cfg, reuse, lg);
    } else {
        for (int i = 0; i < cfg->naddrs && rc == 0; i++)
            rc = open_spec(ls, cfg->addrs[i], cfg, reuse, lg);
    }
    if (rc < 0) {
        for (int i = 0; i < ls->n; i++) {
            struct listener *l = &ls->l[i];
            if (l->kept >= 0) {
                reuse->l[l->kept].fd = l->fd;
                if (l->is_unix)
                    snprintf(reuse->unix_path, sizeof(reuse->unix_path),
                             "%s", ls->unix_path);
            } else {
                close(l->fd);
                if (l->is_unix)
                    unlink(ls->unix_path);
            }
        }
        ls->n = 0;
        ls->unix_path[0] = '\0';
    }
    return rc;
}

int listeners_open(struct listeners *ls, const struct listen_config *cfg,
                   const struct logger *lg)
{
    return open_all(ls, cfg, NULL, lg);
}

int listeners_reconcile(struct listeners *cur, const struct listen_config *cfg,
                        struct listeners *stale, const struct logger *lg)
{
    struct listeners next;
    memset(&next, 0, sizeof(next));
    if (open_all(&next, cfg, cur, lg) < 0)
        return -1;
    stale->n = 0;
    for (int i = 0; i < cur->n; i++)
        if (cur->l[i].fd >= 0)
            stale->l[stale->n++] = cur->l[i];
    snprintf(stale->unix_path, sizeof(stale->unix_path), "%s",
             cur->unix_path);
    for (int i = 0; i < next.n; i++)
        next.l[i].kept = -1;
    *cur = next;
    return 0;
}

int listeners_inherit(struct listeners *ls, const int *fds, int n)
{
    memset(ls, 0, sizeof(*ls));
    for (int i = 0; i < n && ls->n < LISTENER_MAX; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockname(fds[i], (struct sockaddr *)&ss, &sl) < 0)
            return -1;
        struct listener *l = &ls->l[ls->n++];
        l->fd = fds[i];
        l->kept = -1;
        l->is_unix = ss.ss_family == AF_UNIX;
        if (l->is_unix) {
            const struct sockaddr_un *su = (const void *)&ss;
            size_t len = strnlen(su->sun_path, sizeof(ls->unix_path) - 1);
            memcpy(ls->unix_path, su->sun_path, len);
            ls->unix_path[len] = '\0';
            snprintf(l->name, sizeof(l->name), "%.*s", (int)(sizeof(l->name)
                     - 1), ls->unix_path);
        } else {
            name_of((const struct sockaddr *)&ss, fds[i], l->name,
                    sizeof(l->name));
        }
    }
    return 0;
}

void listeners_close(struct listeners *ls)
{
    for (int i = 0; i < ls->n; i++)
        if (ls->l[i].fd >= 0)
            close(ls->l[i].fd);
    ls->n = 0;
}

void listeners_unlink(struct listeners *ls)
{
    if (ls->unix_path[0] != '\0') {
        unlink(ls->unix_path);
        ls->unix_path[0] = '\0';
    }
}
