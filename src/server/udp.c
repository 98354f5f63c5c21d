/*
 * udp.c - memcached's UDP protocol (see udp.h).
 *
 * Sockets: getaddrinfo(SOCK_DGRAM, AI_PASSIVE) per -l address, like the TCP
 * listeners (IPv6 sockets are IPV6_V6ONLY), bound before the fork and
 * shared by every worker; SO_REUSEPORT lets the new master of a binary
 * upgrade bind its own while the old one still holds them.
 *
 * Serving: a readable socket is drained by up to UDP_READS_PER_EVENT
 * recvfrom() calls (the other workers read the same socket). Each datagram
 * with a valid frame gets a new struct proto_conn, is fed to proto_feed()
 * until it is consumed (a yield only resumes: a datagram is one batch), and
 * the proto_conn is freed, which releases a value left half received (a set
 * whose data did not fit the datagram). The reply, gathered in us->out, is
 * cut into framed datagrams and sent with sendmsg() (header and data as two
 * iovecs, no copy); a full socket buffer drops the rest of that reply, as
 * UDP may.
 *
 * Invariants: nothing of a datagram outlives its handling (no state per
 * peer); us->out is empty between datagrams; a reply never exceeds
 * UDP_MAX_DATAGRAMS datagrams.
 */
#include "server/udp.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/log.h"
#include "proto/proto.h"
#include "server/conn.h"
#include "server/listener.h"
#include "server/srvstate.h"

#define UDP_READS_PER_EVENT 32

/* ---- sockets --------------------------------------------------------- */

static int open_one(struct udp_sockets *u, const struct addrinfo *ai,
                    int port, const struct logger *lg)
{
    if (u->n >= UDP_MAX_SOCKETS) {
        log_error(lg, "too many UDP sockets (max %d)", UDP_MAX_SOCKETS);
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        if (errno == EAFNOSUPPORT && ai->ai_family == AF_INET6)
            return 0;                       /* no IPv6 on this host */
        log_error(lg, "failed to listen on UDP port %d: %s", port,
                  strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        log_error(lg, "failed to listen on UDP port %d: %s", port,
                  strerror(errno));
        close(fd);
        return -1;
    }
    char name[SHMC_ADDR_MAX];
    conn_sockname(fd, 0, name, sizeof(name));
    /* conn_sockname says "tcp:" / "tcp6:": memcached says udp here */
    snprintf(u->name[u->n], sizeof(u->name[0]), "udp%.*s",
             (int)sizeof(u->name[0]) - 4,
             strncmp(name, "tcp", 3) == 0 ? name + 3 : name);
    u->fd[u->n++] = fd;
    log_info(lg, "listening on %s", u->name[u->n - 1]);
    return 0;
}

static int open_spec(struct udp_sockets *u, const char *spec, int udp_port,
                     const struct logger *lg)
{
    char host[SHMC_HOST_MAX], portbuf[16];
    int port;
    if (listener_split(spec, udp_port, host, sizeof(host), &port) < 0) {
        log_error(lg, "invalid listen address '%s'", spec);
        return -1;
    }
    if (port < 0)
        port = 0;                   /* -U -1: an ephemeral port */
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(host[0] ? host : NULL, portbuf, &hints, &res);
    if (rc != 0) {
        log_error(lg, "getaddrinfo(%s): %s", spec, gai_strerror(rc));
        return -1;
    }
    int before = u->n;
    for (struct addrinfo *ai = res; ai != NULL && rc == 0; ai = ai->ai_next)
        rc = open_one(u, ai, port, lg);
    freeaddrinfo(res);
    if (rc == 0 && u->n == before) {
        log_error(lg, "failed to listen on UDP port %d: no usable address "
                  "for '%s'", port, spec);
        rc = -1;
    }
    return rc;
}

int udp_open(struct udp_sockets *u, const struct listen_config *cfg,
             int udp_port, const struct logger *lg)
{
    memset(u, 0, sizeof(*u));
    if (udp_port == 0 || (cfg->unix_path && cfg->unix_path[0]))
        return 0;
    int rc = 0;
    if (cfg->naddrs == 0)
        rc = open_spec(u, "127.0.0.1", udp_port, lg);
    for (int i = 0; i < cfg->naddrs && rc == 0; i++)
        rc = open_spec(u, cfg->addrs[i], udp_port, lg);
    if (rc < 0)
        udp_close(u);
    return rc;
}

void udp_close(struct udp_sockets *u)
{
    for (int i = 0; i < u->n; i++)
        if (u->fd[i] >= 0)
            close(u->fd[i]);
    u->n = 0;
}

/* ---- frames ------------------------------------------------------------ */

int udp_frame_parse(const unsigned char *pkt, size_t len, uint16_t *req_id)
{
    if (len <= UDP_HEADER_SIZE)
        return -1;
    *req_id = (uint16_t)(pkt[0] << 8 | pkt[1]);
    if (pkt[4] != 0 || pkt[5] != 1)
        return -1;              /* multi-datagram requests: memcached drops */
    return UDP_HEADER_SIZE;
}

void udp_frame_header(unsigned char hdr[UDP_HEADER_SIZE], uint16_t req_id,
                      uint16_t seq, uint16_t total)
{
    hdr[0] = (unsigned char)(req_id >> 8);
    hdr[1] = (unsigned char)req_id;
    hdr[2] = (unsigned char)(seq >> 8);
    hdr[3] = (unsigned char)seq;
    hdr[4] = (unsigned char)(total >> 8);
    hdr[5] = (unsigned char)total;
    hdr[6] = 0;
    hdr[7] = 0;
}

size_t udp_frame_count(size_t len)
{
    size_t n = (len + UDP_DATA_SIZE - 1) / UDP_DATA_SIZE;
    return n ? n : 1;
}

/* ---- serving ------------------------------------------------------------ */

/* Runs the payload through a fresh protocol state; the reply is in out. */
static void run_request(struct udp_server *us, const char *in, size_t len)
{
    struct proto_conn *pc = proto_conn_new(us->env);
    if (pc == NULL) {
        log_error(us->log, "udp: out of memory for a request");
        return;
    }
    size_t pos = 0;
    while (pos < len) {
        int flags = 0;
        size_t used = proto_feed(pc, in + pos, len - pos, &us->out, &flags);
        pos += used;
        if ((flags & PROTO_CLOSE) || (used == 0 && !(flags & PROTO_YIELD)))
            break;              /* done, or a partial line: dropped */
    }
    proto_conn_free(pc);        /* releases a value left half received */
}

/* Sends us->out to peer as framed datagrams; returns how many went. */
static size_t send_reply(struct udp_server *us, int fd, uint16_t req_id,
                         const struct sockaddr *peer, unsigned peerlen)
{
    size_t len = us->out.len, count = udp_frame_count(len), sent = 0;
    if (count > UDP_MAX_DATAGRAMS) {
        us->dropped++;
        log_debug(us->log, "udp: reply of %zu bytes exceeds %d datagrams; "
                  "sending the first %d", len, UDP_MAX_DATAGRAMS,
                  UDP_MAX_DATAGRAMS);
        count = UDP_MAX_DATAGRAMS;
    }
    for (size_t seq = 0; seq < count; seq++) {
        unsigned char hdr[UDP_HEADER_SIZE];
        size_t off = seq * UDP_DATA_SIZE;
        size_t n = len - off < UDP_DATA_SIZE ? len - off : UDP_DATA_SIZE;
        udp_frame_header(hdr, req_id, (uint16_t)seq, (uint16_t)count);
        struct iovec iov[2] = { { hdr, sizeof(hdr) },
                                { us->out.data + off, n } };
        struct msghdr m = { .msg_name = (void *)peer, .msg_namelen = peerlen,
                            .msg_iov = iov, .msg_iovlen = n ? 2 : 1 };
        ssize_t w = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                seq--;
                continue;
            }
            us->dropped++;      /* socket buffer full: UDP may drop */
            log_debug(us->log, "udp: sendmsg: %s", strerror(errno));
            break;
        }
        us->counters->bytes_written += (uint64_t)w;
        sent++;
    }
    return sent;
}

size_t udp_serve_datagram(struct udp_server *us, int fd,
                          const unsigned char *pkt, size_t len,
                          const struct sockaddr *peer, unsigned peerlen)
{
    uint16_t req_id;
    int off = udp_frame_parse(pkt, len, &req_id);
    if (off < 0) {
        us->dropped++;
        return 0;
    }
    us->out.len = 0;
    run_request(us, (const char *)pkt + off, len - (size_t)off);
    size_t sent = us->out.len ? send_reply(us, fd, req_id, peer, peerlen)
                              : 0;      /* noreply: nothing to send */
    us->out.len = 0;
    if (us->out.cap > (size_t)256 << 10)
        buf_reset(&us->out, 0);         /* a big reply's buffer goes */
    return sent;
}

static void on_datagram(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct udp_server *us = w->data;
    int i = (int)(w - us->io);
    for (int r = 0; r < UDP_READS_PER_EVENT; r++) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        ssize_t n = recvfrom(w->fd, us->rbuf, UDP_READ_MAX, MSG_DONTWAIT,
                             (struct sockaddr *)&peer, &pl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_debug(us->log, "udp: recvfrom: %s", strerror(errno));
            return;             /* drained, or another worker took it */
        }
        us->counters->bytes_read += (uint64_t)n;
        us->last[i] = ev_now(loop);
        udp_serve_datagram(us, w->fd, us->rbuf, (size_t)n,
                           (const struct sockaddr *)&peer, pl);
    }
}

int udp_server_start(struct udp_server *us, struct ev_loop *loop,
                     const struct udp_sockets *socks,
                     const struct proto_env *env,
                     struct server_counters *counters,
                     const struct logger *log)
{
    memset(us, 0, sizeof(*us));
    us->loop = loop;
    us->env = env;
    us->counters = counters;
    us->log = log;
    us->socks = socks;
    buf_init(&us->out);
    if (socks == NULL || socks->n == 0)
        return 0;
    us->rbuf = malloc(UDP_READ_MAX);
    if (us->rbuf == NULL)
        return -1;
    for (int i = 0; i < socks->n; i++) {
        ev_io_init(&us->io[i], on_datagram, socks->fd[i], EV_READ);
        us->io[i].data = us;
        us->last[i] = ev_now(loop);
        ev_io_start(loop, &us->io[i]);
    }
    us->n = socks->n;
    return 0;
}

void udp_server_stop(struct udp_server *us)
{
    for (int i = 0; i < us->n; i++)
        ev_io_stop(us->loop, &us->io[i]);
    us->n = 0;
    free(us->rbuf);
    us->rbuf = NULL;
    buf_free(&us->out);
}

int udp_server_stats(const struct udp_server *us, struct buf *out)
{
    int err = 0;
    ev_tstamp now = us->n ? ev_now(us->loop) : 0;
    for (int i = 0; i < us->n; i++) {
        int fd = us->socks->fd[i];
        err |= buf_printf(out, "STAT %d:UDP UDP\r\n", fd);
        err |= buf_printf(out, "STAT %d:addr %s\r\n", fd, us->socks->name[i]);
        err |= buf_printf(out, "STAT %d:state conn_read\r\n", fd);
        err |= buf_printf(out, "STAT %d:secs_since_last_cmd %u\r\n", fd,
                          (unsigned)((long long)now -
                                     (long long)us->last[i]));
    }
    return err ? -1 : 0;
}
