/*
 * srvstate.h - the server's shared state: what the processes of one server
 * know about each other, apart from the cache.
 *
 * The engine's region holds items and memory only. Everything else that
 * several processes read or write lives here, in one shared mapping the
 * master creates before it forks (a memfd, so it can be handed to a new
 * binary on an upgrade):
 *   info        written by the master only: its pid, start time, worker
 *               count, restart and reload counts;
 *   slot[i]     one per engine worker slot, written only by the process
 *               that holds engine slot i: its connection and byte counters
 *               (struct server_counters) and the protocol layer's own
 *               (struct proto_counters). Cache-line aligned, so two workers
 *               never write one line. The master zeroes the curr_connections
 *               gauge of a dead worker's slot; the other counters stay, so
 *               totals survive worker restarts;
 *   proto       the protocol layer's server-wide state (struct proto_shared);
 *   proc[i]     written by the master only: who holds engine slot i (a
 *               worker, a retiring worker or a helper process such as the
 *               console), its pid, index and start time, and how often that
 *               worker index or helper was restarted (the console's table
 *               of processes). pid == 0: the slot is unused.
 * Readers sum the slots without locks: aligned 64-bit loads never tear; a
 * sum may miss an increment in flight.
 */
#ifndef SHMC_SERVER_SRVSTATE_H
#define SHMC_SERVER_SRVSTATE_H

#include <stdint.h>

#include "engine/engine.h"
#include "proto/proto.h"

#define SERVER_COUNTERS(X) \
    X(bytes_read) X(bytes_written) X(curr_connections) \
    X(total_connections) X(rejected_connections) X(conn_yields) \
    X(listen_disabled_num) X(idle_kicks) X(io_uring_enters)

struct server_counters {
#define X(name) uint64_t name;
    SERVER_COUNTERS(X)
#undef X
};

struct server_info {
    int64_t started;           /* unix time the server started */
    int32_t master_pid;
    uint32_t workers;          /* workers currently configured (-t) */
    uint64_t worker_restarts;  /* workers replaced after dying */
    uint64_t worker_crashes;   /* of those, deaths by signal or exit != 0 */
    uint64_t reloads;          /* SIGHUP reloads applied */
    uint64_t reload_failures;  /* SIGHUP reloads rejected (bad config) */
};

enum server_role {
    SERVER_ROLE_NONE = 0,
    SERVER_ROLE_WORKER,         /* serving */
    SERVER_ROLE_RETIRING,       /* handing its connections over */
    SERVER_ROLE_HELPER,         /* a helper process (name says which) */
};

struct server_proc {
    int32_t pid;                /* 0: slot unused */
    int32_t index;              /* worker index, or helper index */
    int64_t started;            /* unix time of the fork */
    uint32_t role;              /* enum server_role */
    char name[12];              /* "worker", "console", ... */
    uint64_t restarts;          /* of this worker index or helper */
};

struct server_slot {
    struct server_counters c;
    struct proto_counters p;
} __attribute__((aligned(64)));

/* Replication's figures: written by the replication process (src/repl/),
 * except sync_timeouts, which workers count atomically. */
enum repl_state {
    REPL_OFF = 0,           /* no -x */
    REPL_DOWN,              /* no link to the peer (connecting) */
    REPL_SYNCING,           /* a full copy is under way (either way) */
    REPL_CONNECTED,         /* both ways up, streaming changes */
};

struct repl_stats {
    uint32_t state;         /* enum repl_state */
    uint32_t out_up;        /* our changes go to the peer */
    uint32_t in_up;         /* the peer's changes come in */
    uint32_t pad;
    uint64_t queued_bytes;  /* our change log not yet applied by the peer */
    uint64_t queued_items;  /* ... in changes */
    uint64_t sent;          /* changes sent (items, deletions, flushes) */
    uint64_t sent_bytes;
    uint64_t applied;       /* the peer's changes applied here */
    uint64_t applied_bytes;
    uint64_t apply_failed;  /* the peer's changes that did not fit here */
    uint64_t copies_sent;   /* full copies to the peer (resyncs) */
    uint64_t copies_received;
    uint64_t copy_items;    /* items of the last full copy sent */
    uint64_t refused;       /* connections from addresses not the peer */
    uint64_t link_downs;    /* links lost */
    uint64_t lag_ms;        /* change to its acknowledgment, last seen */
    uint64_t sync_timeouts; /* repl_sync writes acknowledged unsynced */
};

struct srvstate {
    struct server_info info;
    struct repl_stats repl __attribute__((aligned(64)));
    struct proto_shared proto __attribute__((aligned(64)));
    struct server_slot slot[ENGINE_MAX_SLOTS];
    struct server_proc proc[ENGINE_MAX_SLOTS];
};

/* Maps a zeroed block shared with every process forked afterwards, and
 * sets info.started and info.master_pid. NULL on failure (errno set). */
struct srvstate *srvstate_create(void);
void srvstate_destroy(struct srvstate *st);

/* The counters of engine slot `slot`. */
static inline struct server_slot *srvstate_slot(struct srvstate *st,
                                                int slot)
{
    return &st->slot[slot];
}

/* Master: the worker of `slot` is gone; its connections are closed. */
void srvstate_slot_dead(struct srvstate *st, int slot);

/* Sums every slot into *sum (counters) and *auth (protocol counters). */
void srvstate_sum(const struct srvstate *st, struct server_counters *sum,
                  struct proto_counters *auth);

/* "stats reset": zeroes counters (not the curr_connections gauge). */
void srvstate_reset(struct srvstate *st);

/* Master: records who now holds engine slot `slot` (pid 0 clears it).
 * Readers may see a half-written entry for an instant; every field is an
 * aligned word, so no single value is torn. */
void srvstate_proc_set(struct srvstate *st, int slot, const struct server_proc *p);

struct buf;
/* What "stats" prints from the server's state, for any process that
 * answers it (a worker, the console): the figures of memcached's lines
 * (maxconns and threads are the running settings'). */
void srvstate_server_stats(const struct srvstate *st, int maxconns,
                           int threads, struct proto_server_stats *out);
/* The server's lines of "stats shmcached" (workers, io_uring_enters,
 * restarts, crashes, reloads, repl_*), appended to out. */
void srvstate_stats_shmcached(const struct srvstate *st, struct buf *out);

#endif
