/*
 * conn.c - client connections of a worker (see conn.h).
 *
 * Life of a connection: conn_open() starts the read watcher. Each readable
 * event reads up to read_chunk bytes (a few times while the socket keeps
 * filling the chunk), feeds the input to proto_feed(), and flushes what it
 * produced with one send(). The write watcher is armed only while output is
 * pending or the connection has yielded; the read watcher only while the
 * connection may take more input (see conn_update()).
 *
 * Invariants:
 *  - out[out_off..len) is unsent output; out_off == len means nothing is
 *    pending, and both are then reset to 0;
 *  - a connection is on set->head's list from conn_open() to conn_close(),
 *    and counted in set->count and counters->curr_connections;
 *  - set->mem_used is the sum of the capacities of every buffer of every
 *    live connection (kept by the account_*() helpers);
 *  - after conn_close(c) returns nothing touches c: every internal function
 *    that may close returns -1, and callers stop at once;
 *  - whether a connection stands between requests is the protocol's word
 *    (proto_conn_idle); in hand-off mode the protocol is set to drain
 *    (proto_conn_drain): it finishes the current request and starts no
 *    new one, and a connection at a boundary reads nothing more: what the client
 *    sends next waits in the socket for the worker that adopts it;
 *  - hand-off releases a connection only through set->on_ready, which is
 *    called only from conn_process() and conn_set_handoff() (never inside
 *    proto_feed), and, like a close, ends every use of c;
 *  - synchronous replication (set->sync): a batch whose requests changed
 *    the cache (this process's change log moved during proto_feed) holds
 *    its output: c->waiting, on set->wait_head's list (oldest first, so
 *    positions and deadlines both grow along it), no reading, no sending,
 *    no direct send inside proto_feed either. A timer releases the head of
 *    the list while settled() or its deadline says so. A waiting
 *    connection is not at a boundary for hand-off or drain.
 *  - with a ring (set->uring, see conn.h): rbusy/sbusy say an operation is
 *    in flight, and while sbusy proto_feed() is not called (out must stay
 *    where the kernel reads it); conn_send_now's direct send therefore
 *    never overtakes a send in flight; a dead connection is off every list
 *    and only waits for its completions to be freed (conn_reap).
 */
#include "server/conn.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server/srvstate.h"
#include "core/log.h"
#include "proto/proto.h"

#define READS_PER_EVENT 4
#define DIRECT_READ_MIN 8192   /* smaller value windows go through c->in */

#define CONN_OF(w, field) \
    ((struct conn *)((char *)(w) - offsetof(struct conn, field)))

static void on_read(struct ev_loop *loop, ev_io *w, int revents);
static int boundary(const struct conn *c);
static void on_write(struct ev_loop *loop, ev_io *w, int revents);
static void on_sync_timer(struct ftimer *t);
static void uring_update(struct conn *c, int want_read);
static void yield_remove(struct conn *c);

void conn_set_init(struct conn_set *set, struct ev_loop *loop,
                   const struct proto_env *env,
                   struct server_counters *counters,
                   const struct logger *log)
{
    memset(set, 0, sizeof(*set));
    set->loop = loop;
    set->env = env;
    set->counters = counters;
    set->log = log;
    set->read_chunk = 16384;
    set->in_max = ((size_t)1 << 20) + 16384;
    set->out_high = (size_t)256 << 10;
    set->buf_keep = (size_t)64 << 10;
    ftimer_init(&set->sync_timer, loop, on_sync_timer, set);
}

static size_t buf_caps(const struct conn *c)
{
    return c->in.cap + c->out.cap + c->rx.cap;
}

static void account(struct conn *c, size_t before)
{
    c->set->mem_used = c->set->mem_used - before + buf_caps(c);
}

static int over_budget(const struct conn_set *set)
{
    return set->mem_limit != 0 && set->mem_used > set->mem_limit;
}

static size_t pending(const struct conn *c)
{
    return c->out.len - c->out_off;
}

/* Starts/stops the watchers to match the connection's state, and gives
 * back buffer memory the connection no longer needs. */
static void conn_update(struct conn *c)
{
    struct conn_set *set = c->set;
    size_t before = buf_caps(c);
    size_t keep = over_budget(set) ? 0 : set->buf_keep;
    if (c->in.len == 0 && c->in.cap > keep)
        buf_reset(&c->in, keep);
    if (c->out.len == 0 && c->out.cap > keep)
        buf_reset(&c->out, keep);
    account(c, before);

    size_t high = over_budget(set) ? 0 : set->out_high;
    int want_write = (pending(c) > 0 || c->yielded) && !c->waiting;
    int want_read = !c->closing && !c->eof && !c->yielded && !c->waiting &&
                    pending(c) <= high &&
                    !(set->handoff && boundary(c));

    if (set->uring != NULL) {
        uring_update(c, want_read);
        return;
    }
    if (want_write && !ev_is_active(&c->wio))
        ev_io_start(set->loop, &c->wio);
    else if (!want_write && ev_is_active(&c->wio))
        ev_io_stop(set->loop, &c->wio);
    if (want_read && !ev_is_active(&c->rio))
        ev_io_start(set->loop, &c->rio);
    else if (!want_read && ev_is_active(&c->rio))
        ev_io_stop(set->loop, &c->rio);
}

/* Sends pending output. Closes the connection once its output is out if
 * it is closing or the client has gone. Returns 0, or -1 if closed. */
static int conn_flush(struct conn *c)
{
    if (c->waiting || c->sbusy) {
        conn_update(c);
        return 0;
    }
    if (c->set->uring != NULL && pending(c) > 0) {
        conn_update(c);         /* queues the send: its completion goes on */
        return 0;
    }
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off,
                         c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->set->counters->bytes_written += (uint64_t)n;
            c->last_active = ev_now(c->set->loop);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        log_debug(c->set->log, "<%d send: %s", c->fd, strerror(errno));
        conn_close(c);
        return -1;
    }
    if (c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    if (pending(c) == 0 && (c->closing || (c->eof && !c->yielded))) {
        conn_close(c);
        return -1;
    }
    conn_update(c);
    return 0;
}

/* proto_send_fn: output pending in out, then iov, in one sendmsg that
 * does not block. Called inside proto_feed, when out_off is 0. */
static size_t conn_send_now(void *arg, struct buf *out,
                            const struct iovec *iov, int n)
{
    struct conn *c = arg;
    struct iovec v[1 + PROTO_SEND_MAX_IOV];
    int k = 0;
    size_t pend = out->len - c->out_off;
    if (n > PROTO_SEND_MAX_IOV || c->closing ||
        (c->set->sync != NULL &&
         c->set->sync->mark(c->set->sync->arg) != c->feed_mark))
        return 0;       /* closing, or replies that must wait (conn_sync) */
    if (pend > 0)
        v[k++] = (struct iovec){ out->data + c->out_off, pend };
    memcpy(v + k, iov, (size_t)n * sizeof(*iov));
    struct msghdr m = { .msg_iov = v, .msg_iovlen = (size_t)(k + n) };
    ssize_t s = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (s <= 0)
        return 0;       /* EAGAIN or an error: the normal flush sees it */
    c->set->counters->bytes_written += (uint64_t)s;
    if ((size_t)s < pend) {
        c->out_off += (size_t)s;
        return 0;
    }
    out->len = 0;
    c->out_off = 0;
    return (size_t)s - pend;
}

/* Between requests? The protocol's word (proto_conn_idle). */
static int boundary(const struct conn *c)
{
    return proto_conn_idle(c->pc);
}

int conn_at_boundary(const struct conn *c)
{
    return boundary(c);
}

static int ready_to_leave(const struct conn *c)
{
    return c->set->handoff && !c->busy && !c->closing && !c->waiting &&
           !c->rbusy && !c->sbusy && boundary(c) && c->set->on_ready != NULL;
}

/* ---- synchronous replication (conn_sync) ----------------------------- */

static void wait_remove(struct conn *c)
{
    struct conn_set *set = c->set;
    if (c->wait_prev)
        c->wait_prev->wait_next = c->wait_next;
    else
        set->wait_head = c->wait_next;
    if (c->wait_next)
        c->wait_next->wait_prev = c->wait_prev;
    else
        set->wait_tail = c->wait_prev;
    c->wait_prev = c->wait_next = NULL;
    c->waiting = 0;
    if (set->wait_head == NULL)
        ftimer_stop(&set->sync_timer);
}

/* After a batch: hold its replies if it changed the cache and the peer
 * does not have the changes yet. */
static void wait_maybe(struct conn *c)
{
    struct conn_set *set = c->set;
    const struct conn_sync *sy = set->sync;
    uint64_t pos = sy->mark(sy->arg);
    if (pos == c->feed_mark || sy->settled(sy->arg, pos))
        return;
    if (!ftimer_active(&set->sync_timer) &&
        ftimer_start(&set->sync_timer, sy->poll) < 0) {
        log_warn(set->log, "<%d no timer to wait for the peer (%s): "
                 "answering at once", c->fd, strerror(errno));
        return;
    }
    c->waiting = 1;
    c->wait_pos = pos;
    c->wait_until = ev_now(set->loop) + sy->timeout;
    c->wait_next = NULL;
    c->wait_prev = set->wait_tail;
    if (set->wait_tail)
        set->wait_tail->wait_next = c;
    else
        set->wait_head = c;
    set->wait_tail = c;
}

static int conn_process(struct conn *c);

/* The replies may go: sends them and serves what input waited. */
static void wait_release(struct conn *c)
{
    wait_remove(c);
    conn_process(c);        /* flushes, serves what input waited */
}

static void on_sync_timer(struct ftimer *t)
{
    struct conn_set *set = t->data;
    const struct conn_sync *sy = set->sync;
    ev_now_update(set->loop);
    ev_tstamp now = ev_now(set->loop);
    struct conn *c;
    while ((c = set->wait_head) != NULL) {
        if (sy != NULL && !sy->settled(sy->arg, c->wait_pos)) {
            if (now < c->wait_until)
                break;
            sy->timed_out(sy->arg);
        }
        wait_release(c);
    }
}

void conn_set_sync(struct conn_set *set, const struct conn_sync *sync)
{
    set->sync = sync;
    if (sync == NULL)
        on_sync_timer(&set->sync_timer);
}

/* Runs the buffered input through the protocol, then flushes.
 * Returns 0, or -1 if the connection was closed or handed off. */
static int conn_process(struct conn *c)
{
    if (c->waiting)
        return 0;               /* served once the peer has the changes */
    if (c->sbusy)
        return 0;               /* served when the send completes */
    c->yielded = 0;
    size_t feed = c->in.len;
    if (c->set->handoff) {
        /* finish the current request only; the rest travels as bytes */
        proto_conn_drain(c->pc, 1);
        if (boundary(c))
            feed = 0;
    }
    if ((feed > 0 || proto_conn_producing(c->pc)) && !c->closing) {
        size_t before = buf_caps(c);
        if (c->out_off > 0) {           /* drop the sent prefix first */
            buf_consume(&c->out, c->out_off);
            c->out_off = 0;
        }
        int flags = 0;
        c->busy = 1;
        if (c->set->sync != NULL)
            c->feed_mark = c->set->sync->mark(c->set->sync->arg);
        size_t used = proto_feed(c->pc, c->in.data, feed, &c->out, &flags);
        c->busy = 0;
        if (c->set->sync != NULL)
            wait_maybe(c);
        buf_consume(&c->in, used);
        account(c, before);
        if (flags & PROTO_CLOSE) {
            c->closing = 1;
            c->reason = proto_conn_quit(c->pc) ? CONN_CLOSE_NORMAL
                                               : CONN_CLOSE_ERROR;
        } else if ((flags & PROTO_YIELD) &&
                   (c->in.len > 0 || (flags & PROTO_MORE))) {
            c->yielded = 1;
            c->set->counters->conn_yields++;
        }
    }
    if (conn_flush(c) < 0)
        return -1;
    if (ready_to_leave(c) && c->set->on_ready(c->set->arg, c))
        return -1;
    return 0;
}

static void conn_read(struct conn *c)
{
    struct conn_set *set = c->set;
    for (int round = 0; round < READS_PER_EVENT; round++) {
        if (c->in.len >= set->in_max) {
            log_warn(set->log, "<%d input buffer limit (%zu bytes) reached, "
                     "closing", c->fd, set->in_max);
            conn_close(c);
            return;
        }
        /* a value being received and nothing buffered: read it straight
         * into the engine's allocation (no copy through c->in) */
        void *vp;
        size_t vw = c->in.len == 0 ? proto_conn_value_window(c->pc, &vp) : 0;
        if (vw >= DIRECT_READ_MIN) {
            ssize_t n = read(c->fd, vp, vw);
            if (n > 0) {
                proto_conn_value_advance(c->pc, (size_t)n);
                set->counters->bytes_read += (uint64_t)n;
                c->last_active = ev_now(set->loop);
                if ((size_t)n < vw)
                    break;          /* the socket is drained */
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n < 0) {
                log_debug(set->log, "<%d read: %s", c->fd, strerror(errno));
                conn_close(c);
                return;
            }
            c->eof = 1;
            c->reason = CONN_CLOSE_NORMAL;
            if (conn_process(c) < 0)
                return;
            break;
        }
        size_t room = set->in_max - c->in.len;
        if (room > set->read_chunk)
            room = set->read_chunk;
        size_t before = buf_caps(c);
        if (buf_reserve(&c->in, room) < 0) {
            log_error(set->log, "<%d out of memory for input, closing",
                      c->fd);
            conn_close(c);
            return;
        }
        account(c, before);
        ssize_t n = read(c->fd, c->in.data + c->in.len, room);
        if (n > 0) {
            c->in.len += (size_t)n;
            set->counters->bytes_read += (uint64_t)n;
            c->last_active = ev_now(set->loop);
        } else if (n == 0) {
            c->eof = 1;
            c->reason = CONN_CLOSE_NORMAL;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        } else {
            log_debug(set->log, "<%d read: %s", c->fd, strerror(errno));
            conn_close(c);
            return;
        }
        if (conn_process(c) < 0)
            return;
        /* stop when the socket is drained or reading got paused */
        if (n <= 0 || (size_t)n < room || !ev_is_active(&c->rio))
            return;
    }
    conn_update(c);
}

/* ---- io_uring (set->uring) -------------------------------------------- */

static void yield_push(struct conn *c)
{
    struct conn_set *set = c->set;
    struct conn **pp = &set->yield_head;
    while (*pp != NULL)             /* at the tail: oldest first */
        pp = &(*pp)->yield_next;
    c->yield_next = NULL;
    *pp = c;
    c->yq = 1;
}

static void yield_remove(struct conn *c)
{
    struct conn **pp = &c->set->yield_head;
    while (*pp != NULL && *pp != c)
        pp = &(*pp)->yield_next;
    if (*pp == c)
        *pp = c->yield_next;
    c->yield_next = NULL;
    c->yq = 0;
}

/* The ring's idle hook: every connection that yielded before this round
 * continues once. Returns 1 while some yielded connection is left. */
static int run_yielded(void *arg)
{
    struct conn_set *set = arg;
    struct conn *c = set->yield_head, *next;
    set->yield_head = NULL;
    for (; c != NULL; c = next) {
        next = c->yield_next;
        c->yield_next = NULL;
        c->yq = 0;
        /* sending: its completion puts it back on the list */
        if (c->yielded && !c->sbusy)
            conn_process(c);
    }
    return set->yield_head != NULL;
}

static void arm_recv(struct conn *c)
{
    struct conn_set *set = c->set;
    void *vp;
    size_t vw = c->in.len == 0 ? proto_conn_value_window(c->pc, &vp) : 0;
    c->rdirect = vw >= DIRECT_READ_MIN;
    c->rbusy = 1;
    c->rcancel = 0;
    /* a value's bytes are on their way; a request after a reply is not */
    if (c->rdirect)
        uring_recv(set->uring, &c->rop, c->fd, vp, vw, 0);
    else
        uring_recv(set->uring, &c->rop, c->fd, c->rx.data, c->rx.cap, 1);
}

/* conn_update's ring half: queue what the connection wants. */
static void uring_update(struct conn *c, int want_read)
{
    struct conn_set *set = c->set;
    if (c->yielded && !c->yq && !c->waiting)
        yield_push(c);
    if (want_read && !c->rbusy && c->rx.cap > 0)
        arm_recv(c);
    else if (!want_read && c->rbusy && !c->rcancel && set->handoff &&
             boundary(c)) {
        c->rcancel = 1;         /* its bytes belong to the next worker */
        uring_cancel(set->uring, &c->rop);
    }
    if (pending(c) > 0 && !c->sbusy && !c->waiting) {
        c->sbusy = 1;
        uring_send(set->uring, &c->sop, c->fd, c->out.data + c->out_off,
                   pending(c));
    }
}

/* A dead connection's last completion frees it. */
static void conn_reap(struct conn *c)
{
    if (c->rbusy || c->sbusy)
        return;
    proto_conn_free(c->pc);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->rx);
    free(c);
}

static void on_recv(struct uring_op *op, int res)
{
    struct conn *c = CONN_OF(op, rop);
    struct conn_set *set = c->set;
    c->rbusy = 0;
    if (c->dead) {
        conn_reap(c);
        return;
    }
    if (res > 0 && c->rdirect) {
        proto_conn_value_advance(c->pc, (size_t)res);
    } else if (res > 0) {
        size_t before = buf_caps(c);
        if (buf_append(&c->in, c->rx.data, (size_t)res) < 0) {
            log_error(set->log, "<%d out of memory for input, closing",
                      c->fd);
            conn_close(c);
            return;
        }
        account(c, before);
    } else if (res == 0) {
        c->eof = 1;
        c->reason = CONN_CLOSE_NORMAL;
    } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN &&
               res != -EBUSY) {
        log_debug(set->log, "<%d read: %s", c->fd, strerror(-res));
        conn_close(c);
        return;
    }
    if (res > 0) {
        set->counters->bytes_read += (uint64_t)res;
        c->last_active = ev_now(set->loop);
    }
    if (c->in.len >= set->in_max) {
        log_warn(set->log, "<%d input buffer limit (%zu bytes) reached, "
                 "closing", c->fd, set->in_max);
        conn_close(c);
        return;
    }
    if (res > 0 && c->rdirect)
        conn_update(c);         /* more of the value: read on */
    else
        conn_process(c);
}

static void on_send(struct uring_op *op, int res)
{
    struct conn *c = CONN_OF(op, sop);
    struct conn_set *set = c->set;
    c->sbusy = 0;
    if (c->dead) {
        conn_reap(c);
        return;
    }
    if (res < 0 && res != -EINTR && res != -EAGAIN && res != -EBUSY) {
        log_debug(set->log, "<%d send: %s", c->fd, strerror(-res));
        conn_close(c);
        return;
    }
    if (res > 0) {
        c->out_off += (size_t)res;
        set->counters->bytes_written += (uint64_t)res;
        c->last_active = ev_now(set->loop);
    }
    if (c->out_off == c->out.len)
        c->out.len = c->out_off = 0;
    if (c->yielded || pending(c) > 0)
        conn_flush(c);          /* the rest; a yielded one waits its turn */
    else
        conn_process(c);        /* input that came meanwhile, a close, a
                                   hand-off */
}

void conn_set_uring(struct conn_set *set, struct uring *u)
{
    set->uring = u;
    u->idle = run_yielded;
    u->idle_arg = set;
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    conn_read(CONN_OF(w, rio));
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct conn *c = CONN_OF(w, wio);
    if (conn_flush(c) < 0)
        return;
    /* A yielded connection continues once the loop came round to it and
     * its output is below the high-water mark. */
    if (c->yielded && pending(c) <= c->set->out_high)
        conn_process(c);
}

int conn_sockname(int fd, int peer, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
                  : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (rc == 0 && ss.ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "tcp:%s:%u", ip, ntohs(s4->sin_port));
    } else if (rc == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "tcp6:[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (rc == 0 && ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *su = (const void *)&ss;
        size_t n = sl > offsetof(struct sockaddr_un, sun_path)
                   ? sl - offsetof(struct sockaddr_un, sun_path) : 0;
        snprintf(buf, len, "unix:%.*s", (int)strnlen(su->sun_path, n),
                 su->sun_path);
    } else {
        snprintf(buf, len, "unknown");
        return -1;
    }
    return 0;
}

const char *conn_state_name(const struct conn *c)
{
    return c->busy ? "conn_parse_cmd"
         : proto_conn_producing(c->pc) ? "conn_watch"
         : !boundary(c) ? "conn_nread"
         : pending(c) > 0 ? "conn_mwrite"
         : c->closing ? "conn_closing"
         : c->in.len > 0 ? "conn_read" : "conn_waiting";
}

static int by_fd(const void *a, const void *b)
{
    const struct conn *x = *(const struct conn *const *)a;
    const struct conn *y = *(const struct conn *const *)b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

int conn_set_stats(const struct conn_set *set, struct buf *out)
{
    ev_tstamp now = ev_now(set->loop);
    int err = 0;
    /* in descriptor order, as memcached lists them */
    const struct conn **v = malloc((set->count + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    size_t n = 0;
    for (const struct conn *c = set->head; c != NULL && n < set->count;
         c = c->next)
        v[n++] = c;
    qsort(v, n, sizeof(*v), by_fd);
    for (size_t i = 0; i < n; i++) {
        const struct conn *c = v[i];
        const char *state = conn_state_name(c);
        err |= buf_printf(out, "STAT %d:addr %s\r\n", c->fd, c->addr);
        err |= buf_printf(out, "STAT %d:listen_addr %s\r\n", c->fd,
                          c->listen_addr ? c->listen_addr : "unknown");
        err |= buf_printf(out, "STAT %d:state %s\r\n", c->fd, state);
        /* memcached subtracts whole-second clocks */
        err |= buf_printf(out, "STAT %d:secs_since_last_cmd %u\r\n", c->fd,
                          (unsigned)((long long)now -
                                     (long long)c->last_active));
    }
    free(v);
    return err ? -1 : 0;
}

static struct conn *conn_new(struct conn_set *set, int fd,
                             const char *listen_addr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        log_error(set->log, "out of memory for a connection");
        close(fd);
        return NULL;
    }
    c->pc = proto_conn_new(set->env);
    if (c->pc != NULL)
        proto_conn_set_sender(c->pc, conn_send_now, c);
    if (c->pc != NULL)
        proto_conn_set_fd(c->pc, fd);
    if (c->pc == NULL) {
        log_error(set->log, "out of memory for a connection");
        free(c);
        close(fd);
        return NULL;
    }
    int one = 1;
    /* fails with EOPNOTSUPP on unix sockets: harmless */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->set = set;
    c->fd = fd;
    c->listen_addr = listen_addr;
    conn_sockname(fd, 1, c->addr, sizeof(c->addr));
    buf_init(&c->in);
    buf_init(&c->out);
    c->last_active = ev_now(set->loop);
    ev_io_init(&c->rio, on_read, fd, EV_READ);
    ev_io_init(&c->wio, on_write, fd, EV_WRITE);
    buf_init(&c->rx);
    c->rop.done = on_recv;
    c->sop.done = on_send;
    if (set->uring == NULL)
        ev_io_start(set->loop, &c->rio);
    else if (buf_reserve(&c->rx, set->read_chunk) < 0) {
        log_error(set->log, "out of memory for a connection");
        proto_conn_free(c->pc);
        free(c);
        close(fd);
        return NULL;
    }

    c->next = set->head;
    if (set->head)
        set->head->prev = c;
    set->head = c;
    set->count++;
    set->counters->curr_connections++;
    account(c, 0);
    if (set->uring != NULL)
        arm_recv(c);
    return c;
}

struct conn *conn_open(struct conn_set *set, int fd, const char *listen_addr)
{
    struct conn *c = conn_new(set, fd, listen_addr);
    if (c != NULL) {
        set->counters->total_connections++;
        log_debug(set->log, "<%d new client connection", fd);
    }
    return c;
}

int conn_adopt(struct conn_set *set, int fd, const char *listen_addr,
               const char *in, size_t in_len,
               const char *out, size_t out_len)
{
    struct conn *c = conn_new(set, fd, listen_addr);
    if (c == NULL)
        return -1;
    size_t before = buf_caps(c);
    if ((in_len > 0 && buf_append(&c->in, in, in_len) < 0) ||
        (out_len > 0 && buf_append(&c->out, out, out_len) < 0)) {
        log_error(set->log, "<%d out of memory adopting a connection, "
                  "closing", fd);
        conn_close(c);
        return 0;
    }
    account(c, before);
    log_debug(set->log, "<%d connection adopted (%zu bytes in, %zu out)", fd,
              in_len, out_len);
    conn_process(c);
    return 0;
}

const char *conn_pending_in(const struct conn *c, size_t *len)
{
    *len = c->in.len;
    return c->in.data;
}

const char *conn_pending_out(const struct conn *c, size_t *len)
{
    *len = pending(c);
    /* nothing pending: out_off is 0, and out.data may be NULL (no offset
     * may be added to a null pointer) */
    return *len > 0 ? c->out.data + c->out_off : c->out.data;
}

void conn_set_handoff(struct conn_set *set)
{
    set->handoff = 1;
    struct conn *c = set->head, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (ready_to_leave(c)) {
            if (set->on_ready(set->arg, c))
                continue;
        } else if (!c->busy && !c->closing && !boundary(c) &&
                   c->in.len > 0) {
            conn_process(c);        /* value bytes already buffered */
            continue;
        }
        conn_update(c);
    }
}

static void conn_end(struct conn *c, int handed_off)
{
    struct conn_set *set = c->set;
    ev_io_stop(set->loop, &c->rio);
    ev_io_stop(set->loop, &c->wio);
    if (c->waiting)
        wait_remove(c);
    if (c->yq)
        yield_remove(c);
    if (set->on_close)
        set->on_close(set->arg, c);
    close(c->fd);
    if (handed_off)
        log_debug(set->log, "<%d connection handed off", c->fd);
    else
        log_debug(set->log, "<%d connection closed.", c->fd);

    set->mem_used -= buf_caps(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        set->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    set->count--;
    set->counters->curr_connections--;
    c->dead = 1;
    /* with operations in flight, their completions free it (conn_reap) */
    if (c->rbusy)
        uring_cancel(set->uring, &c->rop);
    if (c->sbusy)
        uring_cancel(set->uring, &c->sop);
    conn_reap(c);
}

void conn_close(struct conn *c)
{
    conn_end(c, 0);
}

void conn_release(struct conn *c)
{
    conn_end(c, 1);
}

unsigned conn_set_close_idle(struct conn_set *set, ev_tstamp now,
                             double idle_timeout)
{
    unsigned closed = 0;
    struct conn *c = set->head, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (now - c->last_active >= idle_timeout) {
            log_debug(set->log, "<%d idle timeout, closing", c->fd);
            set->counters->idle_kicks++;
            c->reason = CONN_CLOSE_IDLE;
            conn_close(c);
            closed++;
        }
    }
    return closed;
}

unsigned conn_set_drain(struct conn_set *set, ev_tstamp now, double quiet)
{
    struct conn *c = set->head, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        int unread = 0;
        if (c->in.len == 0 && pending(c) == 0 && !c->yielded && !c->waiting &&
            boundary(c) && now - c->last_active >= quiet &&
            (ioctl(c->fd, FIONREAD, &unread) < 0 || unread == 0))
            conn_close(c);
    }
    return set->count;
}

void conn_set_close_all(struct conn_set *set)
{
    while (set->head != NULL) {
        set->head->reason = CONN_CLOSE_SHUTDOWN;
        conn_close(set->head);
    }
    ftimer_close(&set->sync_timer);
}

unsigned conn_set_poke(struct conn_set *set)
{
    unsigned n = 0;
    struct conn *c = set->head, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        if (!proto_conn_producing(c->pc))
            continue;
        n++;
        if (!c->yielded && !c->busy && !c->closing)
            conn_process(c);
    }
    return n;
}
