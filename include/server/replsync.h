/*
 * replsync.h - repl_sync for a worker: the conn_sync (conn.h) whose marks
 * are this process's change log positions and whose "settled" is the
 * replication process's word, read from the shared state.
 *
 * A change is with the peer once the log is released past it: the
 * replication process releases only what the peer acknowledged having
 * applied (src/repl/sender.c). When no link carries changes to the peer
 * (it is down or connecting) nothing waits: the write is answered at once,
 * as without repl_sync, and the peer gets it when the link is back. A wait
 * that runs out (repl_sync_timeout_ms) answers the client anyway and
 * counts STAT repl_sync_timeouts.
 */
#ifndef SHMC_SERVER_REPLSYNC_H
#define SHMC_SERVER_REPLSYNC_H

#include "core/log.h"
#include "server/conn.h"

struct engine;
struct engine_worker;
struct settings;
struct srvstate;

struct replsync {
    struct conn_sync cs;
    struct engine *engine;
    struct engine_worker *slot;
    struct srvstate *state;
    const struct logger *log;
    int warned;             /* a timeout was logged */
};

/* Fills rs from the settings; returns &rs->cs when repl_sync is on (and a
 * peer is set), else NULL (for conn_set_sync). */
const struct conn_sync *replsync_init(struct replsync *rs,
                                      const struct settings *s,
                                      struct engine *e,
                                      struct engine_worker *slot,
                                      struct srvstate *state,
                                      const struct logger *log);

#endif
