/*
 * worker_watch.h - a worker's part of "watch": it writes the events that
 * happen in it (fetches and stores from the protocol, connections opened
 * and closed) to its log ring, and serves the watchers connected to it,
 * whose connections it pokes every WATCH_POLL seconds for new lines from
 * every ring (watchlog.h). The worker's protocol callbacks call these.
 */
#ifndef SHMC_SERVER_WORKER_WATCH_H
#define SHMC_SERVER_WORKER_WATCH_H

#include <stddef.h>

#include <ev.h>

#include "proto/proto.h"

struct conn;
struct conn_set;
struct watchlog;

#define WATCH_POLL 0.01         /* seconds between polls of the rings */

struct worker_watch {
    struct watchlog *wl;
    int slot;                   /* this worker's engine slot */
    size_t out_max;             /* -o watcher_logbuf_size */
    const struct proto_shared *shared;
    struct ev_loop *loop;
    struct conn_set *conns;
    ev_timer poll;
};

void worker_watch_init(struct worker_watch *ww, struct watchlog *wl,
                       int slot, size_t out_max,
                       const struct proto_shared *shared,
                       struct ev_loop *loop, struct conn_set *conns);
void worker_watch_stop(struct worker_watch *ww);

/* proto_env's log_item / watch_open / watch_read / watch_close. */
void worker_watch_item(struct worker_watch *ww,
                       const struct proto_log_item *ev);
/* engine_on_evict's hook (arg: the worker_watch): a "type=eviction" line
 * for "watch evictions", as memcached's. */
struct engine_evicted;
void worker_watch_evicted(void *arg, const struct engine_evicted *ev);
void *worker_watch_open(struct worker_watch *ww, unsigned mask);
size_t worker_watch_read(struct worker_watch *ww, void *watch,
                         struct buf *out);
void worker_watch_close(struct worker_watch *ww, void *watch);

/* conn_new / conn_close lines (connevents) for c. */
void worker_watch_conn(struct worker_watch *ww, const struct conn *c,
                       int opened);

#endif
