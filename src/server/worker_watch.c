/*
 * worker_watch.c - a worker's part of "watch" (see worker_watch.h).
 *
 * Lines are memcached 1.6's (logger.c): item_get, item_store, conn_new,
 * conn_close, with "ts=<sec>.<usec> gid=<n>" before them (watchlog.c adds
 * it) and keys URI-encoded. An event is formatted only while a watcher of
 * its type exists somewhere (proto_shared.watching).
 *
 * The poll timer runs while this worker has watchers: it gives each a
 * turn (conn_set_poke), which reads what the rings gained since; it stops
 * itself when none is left.
 */
#include "server/worker_watch.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "engine/engine.h"
#include "server/conn.h"
#include "server/watchlog.h"

static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker_watch *ww = t->data;
    if (conn_set_poke(ww->conns) == 0)
        ev_timer_stop(loop, t);
}

void worker_watch_init(struct worker_watch *ww, struct watchlog *wl,
                       int slot, size_t out_max,
                       const struct proto_shared *shared,
                       struct ev_loop *loop, struct conn_set *conns)
{
    memset(ww, 0, sizeof(*ww));
    ww->wl = wl;
    ww->slot = slot;
    ww->out_max = out_max;
    ww->shared = shared;
    ww->loop = loop;
    ww->conns = conns;
    ev_timer_init(&ww->poll, on_poll, WATCH_POLL, WATCH_POLL);
    ww->poll.data = ww;
}

void worker_watch_stop(struct worker_watch *ww)
{
    if (ww->loop)
        ev_timer_stop(ww->loop, &ww->poll);
}

static int watched(const struct worker_watch *ww, enum proto_log_type t)
{
    return ww->wl && ww->shared &&
           __atomic_load_n(&ww->shared->watching[t], __ATOMIC_RELAXED) > 0;
}

void worker_watch_item(struct worker_watch *ww,
                       const struct proto_log_item *ev)
{
    char key[3 * SHMC_KEY_MAX + 1];
    if (!watched(ww, ev->type))
        return;
    size_t n = watchlog_uriencode(ev->key, ev->nkey < SHMC_KEY_MAX
                                              ? ev->nkey : SHMC_KEY_MAX, key);
    key[n] = '\0';
    if (ev->type == PROTO_LOG_FETCHERS)
        watchlog_write(ww->wl, ww->slot, ev->type,
                       "type=item_get key=%s status=%s clsid=%u cfd=%d "
                       "size=%ld", key, ev->status, ev->clsid, ev->cfd,
                       ev->size);
    else
        watchlog_write(ww->wl, ww->slot, ev->type,
                       "type=item_store key=%s status=%s cmd=%s ttl=%u "
                       "clsid=%u cfd=%d size=%ld", key, ev->status,
                       ev->cmd ? ev->cmd : "na", ev->ttl, ev->clsid,
                       ev->cfd, ev->size);
}

void worker_watch_evicted(void *arg, const struct engine_evicted *ev)
{
    struct worker_watch *ww = arg;
    char key[3 * SHMC_KEY_MAX + 1];
    if (!watched(ww, PROTO_LOG_EVICTIONS))
        return;
    size_t n = watchlog_uriencode(ev->key, ev->nkey < SHMC_KEY_MAX
                                              ? ev->nkey : SHMC_KEY_MAX, key);
    key[n] = '\0';
    watchlog_write(ww->wl, ww->slot, PROTO_LOG_EVICTIONS,
                   "type=eviction key=%s fetch=%s ttl=%lld la=%u clsid=%u "
                   "size=%u", key, ev->fetched ? "yes" : "no",
                   (long long)ev->ttl, ev->last_access, ev->clsid,
                   ev->nbytes);
}

void *worker_watch_open(struct worker_watch *ww, unsigned mask)
{
    struct watch_reader *r = watchlog_reader_new(ww->wl, ww->slot, mask,
                                                 ww->out_max);
    if (r != NULL && !ev_is_active(&ww->poll))
        ev_timer_start(ww->loop, &ww->poll);
    return r;
}

size_t worker_watch_read(struct worker_watch *ww, void *watch,
                         struct buf *out)
{
    (void)ww;
    return watch ? watchlog_read(watch, out) : 0;
}

void worker_watch_close(struct worker_watch *ww, void *watch)
{
    (void)ww;
    watchlog_reader_free(watch);
}

/* "tcp:1.2.3.4:5678", "tcp6:[::1]:5678", "unix:/p" -> ip, port,
 * memcached's transport name. */
static void peer_of(const char *addr, char *ip, size_t iplen,
                    unsigned *port, const char **transport)
{
    *port = 0;
    *transport = "tcp";
    snprintf(ip, iplen, "%s", "");
    if (strncmp(addr, "unix:", 5) == 0) {
        *transport = "local";
        return;
    }
    const char *p = strchr(addr, ':');
    const char *last = strrchr(addr, ':');
    if (p == NULL || last == p)
        return;
    size_t n = (size_t)(last - p - 1);
    if (n >= 2 && p[1] == '[')              /* tcp6:[v6]:port */
        p++, n -= 2;
    snprintf(ip, iplen, "%.*s", (int)n, p + 1);
    sscanf(last + 1, "%u", port);
}

void worker_watch_conn(struct worker_watch *ww, const struct conn *c,
                       int opened)
{
    static const char *const reasons[] = { "error", "normal",
                                           "idle_timeout", "shutdown" };
    if (!watched(ww, PROTO_LOG_CONNEVENTS))
        return;
    char ip[64];
    unsigned port;
    const char *transport;
    peer_of(c->addr, ip, sizeof(ip), &port, &transport);
    if (opened)
        watchlog_write(ww->wl, ww->slot, PROTO_LOG_CONNEVENTS,
                       "type=conn_new rip=%s rport=%u transport=%s cfd=%d",
                       ip, port, transport, c->fd);
    else
        watchlog_write(ww->wl, ww->slot, PROTO_LOG_CONNEVENTS,
                       "type=conn_close rip=%s rport=%u transport=%s "
                       "reason=%s cfd=%d", ip, port, transport,
                       reasons[c->reason < 4 ? c->reason : 0], c->fd);
}
