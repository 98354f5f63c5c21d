/*
 * proto.h - the protocol layer between a connection and the engine.
 *
 * A connection owns one struct proto_conn. The worker feeds it the bytes it
 * has read; proto_feed() parses complete requests, runs them against the
 * engine, and appends replies to the output buffer. It consumes what it has
 * used: a partial command line is left in the input for the next call, while
 * value data of a storage command is streamed straight into the engine's
 * allocation as it arrives, so the input buffer never has to hold a whole
 * value. Parsing (bytes -> struct request) and dispatch (command table ->
 * handler) are separate inside the text protocol module.
 *
 * The protocol layer never touches sockets: it is testable with plain
 * buffers, and the same code serves every worker.
 */
#ifndef SHMC_PROTO_H
#define SHMC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"

struct engine;
struct engine_worker;
struct proto_authfile;

/* The protocol layer's configuration: what it needs of the server's
 * settings, and nothing else (the server fills it, see settings.h). */
enum proto_mode { PROTO_MODE_AUTO = 0, PROTO_MODE_ASCII, PROTO_MODE_BINARY };

struct proto_config {
    enum proto_mode mode;       /* -B: chosen per connection on its first
                                   byte (auto), or fixed */
    int reqs_per_event;         /* -R: requests before PROTO_YIELD */
    size_t line_max;            /* a command line without '\n' longer than
                                   this closes the connection (memcached:
                                   2048) ... */
    size_t line_max_get;        /* ... except get/gets lines, up to this */
    unsigned flush_enabled:1;   /* -F clears: flush_all refused */
    unsigned shutdown_enabled:1;/* -A: the shutdown command */
    unsigned dump_enabled:1;    /* -X clears: stats cachedump refused */
    unsigned watch_enabled:1;   /* -W clears: watch refused */
    char detail_delimiter;      /* -D: stats detail prefix delimiter */
    unsigned sasl:1;            /* -S: binary connections must pass SASL
                                   (env->sasl_*) before any command but
                                   version and SASL's own */
    const struct proto_authfile *auth; /* -Y: text connections start
                                   unauthenticated (proto_auth.h); NULL:
                                   no authentication */
    unsigned resp_obj_limit;    /* read_buf_mem_limit, in memcached's
                                   response objects a worker may hold
                                   unsent (0 = no limit): a request beyond
                                   it gets memcached's "SERVER_ERROR out of
                                   memory writing ..." or closes */
    /* Settings that decide which lines "stats" prints, as memcached's
     * server_stats() and item_stats_totals() decide (the slab mover's
     * lines follow the engine's slab_reassign, the crawler's follow
     * proto_shared.crawler_enabled, which "lru_crawler enable|disable"
     * changes at run time). */
    unsigned maxconns_fast:1;   /* -o maxconns_fast (default): the
                                   rejected_connections line */
    unsigned idle_timeout:1;    /* -o idle_timeout=N, N > 0: idle_kicks */
    unsigned lru_maintainer:1;  /* -o lru_maintainer (default): the
                                   maintainer's lines (lru_maintainer_juggles,
                                   evicted_active, moves_*, direct_reclaims,
                                   lru_bumps_dropped) */
};

/* memcached's accounting of response memory: 16 KB bundles (its read
 * buffer size) of 13 response objects each. */
#define PROTO_RESP_BUNDLE (16 * 1024)
#define PROTO_RESP_PER_BUNDLE 13

/* memcached's defaults (core/limits.h). */
void proto_config_defaults(struct proto_config *cfg);

/* What "watch" can follow (memcached's names: fetchers, mutations,
 * evictions, connevents, sysevents, rawcmds). */
enum proto_log_type {
    PROTO_LOG_FETCHERS = 0, PROTO_LOG_MUTATIONS, PROTO_LOG_EVICTIONS,
    PROTO_LOG_CONNEVENTS, PROTO_LOG_SYSEVENTS, PROTO_LOG_RAWCMDS,
    PROTO_LOG_TYPES
};

/* One fetch or store, for the watchers (memcached's item_get/item_store
 * lines). */
struct proto_log_item {
    enum proto_log_type type;   /* FETCHERS: item_get; MUTATIONS: store */
    const char *key;
    size_t nkey;
    const char *status;         /* "found", "not_found"; "stored", ... */
    const char *cmd;            /* store: "set", "add", ... */
    uint32_t ttl;               /* store: the exptime asked */
    unsigned clsid;
    int cfd;                    /* the connection's descriptor */
    long size;                  /* value bytes */
};

/* Counters the protocol layer keeps itself, per worker (one writer). */
struct proto_counters {
    uint64_t auth_cmds;
    uint64_t auth_errors;
    uint64_t response_obj_oom;  /* requests refused for resp_obj_limit */
};

/* Protocol state every worker shares (placed in shared memory by the
 * server): written by any worker, plain aligned words. */
struct proto_shared {
    uint32_t track_sizes;       /* "stats sizes" enabled (-o track_sizes,
                                   stats sizes_enable / sizes_disable) */
    /* The LRU crawler (lru_crawler commands; the server runs the crawls):
     * a worker that accepts "crawl" sets crawl_classes and running, the
     * crawler clears running when done. */
    uint32_t crawler_enabled;   /* -o lru_crawler, lru_crawler enable */
    uint32_t crawler_sleep;     /* lru_crawler sleep (us) */
    uint32_t crawler_tocrawl;   /* lru_crawler tocrawl (0 = all) */
    uint32_t crawler_running;   /* a crawl is requested or in progress */
    uint64_t crawl_classes;     /* bit i: class i requested (0: all) */
    uint64_t crawler_starts;    /* crawls started */
    /* watchers following each proto_log_type, over every worker: an
     * event is formatted only while its count is not 0 */
    uint32_t watching[PROTO_LOG_TYPES];
};

/* What the server knows for "stats" (summed over every worker). */
struct proto_server_stats {
    int pid;                    /* the master's */
    int64_t started;            /* unix time the server started */
    unsigned threads;           /* workers configured (-t) */
    uint64_t max_connections;   /* -c */
    uint64_t curr_connections, total_connections, rejected_connections;
    uint64_t bytes_read, bytes_written;
    uint64_t listen_disabled_num, conn_yields;
    uint64_t auth_cmds, auth_errors, response_obj_oom;
    uint64_t log_written, log_skipped, log_sent, log_watchers;
    uint64_t idle_kicks;        /* connections closed for idling */
};

/* What the protocol layer needs from the server around it. Every callback
 * may be NULL (the command then answers as if there were nothing to say). */
struct proto_env {
    struct engine *engine;
    struct engine_worker *worker;
    const struct proto_config *cfg;
    struct proto_counters *counters;    /* this worker's */
    struct proto_shared *shared;
    void *arg;                          /* passed to every callback */
    /* "shutdown [graceful]" (only called with shutdown_enabled): asks the
     * master to stop. */
    void (*shutdown)(void *arg, int graceful);
    /* "verbosity N" */
    void (*set_verbosity)(void *arg, int level);
    /* "slabs reassign" / "slabs automove": the master's slab mover has
     * work (a move was asked for, the policy changed): wake it. */
    void (*mover_kick)(void *arg);
    /* "stats conns": appends one block of "STAT <fd>:<field> <value>\r\n"
     * lines per connection of this worker (addr, listen_addr, state,
     * secs_since_last_cmd), as memcached does; the protocol layer knows no
     * sockets. */
    void (*conns)(void *arg, struct buf *out);
    /* "stats": the server's figures, for memcached's lines. */
    void (*server_stats)(void *arg, struct proto_server_stats *st);
    /* "stats shmcached": the server's own lines (workers, restarts,
     * reloads, replication, ...), which memcached's "stats" does not
     * have; the engine's (lock_repairs, slot_reaps) follow them. */
    void (*stats_shmcached)(void *arg, struct buf *out);
    /* "stats reset": the server's counters (the engine's are reset by the
     * protocol layer itself). */
    void (*stats_reset)(void *arg);
    /* "stats settings": every STAT line (the settings are the server's). */
    void (*stats_settings)(void *arg, struct buf *out);
    /* An event for the watchers (called only while shared->watching of
     * its type is not 0). */
    void (*log_item)(void *arg, const struct proto_log_item *ev);
    /* "watch": a reader of the types in mask (bit per proto_log_type),
     * or NULL (memcached: WATCHER_FAILED); read appends what arrived
     * (returns the lines appended); close ends it. */
    void *(*watch_open)(void *arg, unsigned mask);
    size_t (*watch_read)(void *arg, void *watch, struct buf *out);
    void (*watch_close)(void *arg, void *watch);
    /* -S: SASL, one state per connection (*state, NULL at first): the
     * mechanisms ("PLAIN CRAM-MD5"), a step (start: SASL_AUTH with mech;
     * else SASL_STEP) returning 0 authenticated, 1 continue (*out is the
     * challenge), -1 refused; free at the connection's end. */
    int (*sasl_mechs)(void *arg, void **state, const char **list,
                      unsigned *len);
    int (*sasl_step)(void *arg, void **state, int start, const char *mech,
                     const char *data, unsigned len, const char **out,
                     unsigned *outlen);
    void (*sasl_free)(void *arg, void *state);
};

/* Flags returned by proto_feed. */
enum {
    PROTO_CLOSE = 1,        /* close after writing what is in out */
    PROTO_YIELD = 2,        /* reqs_per_event reached: more may be parsable */
    PROTO_MORE = 4,         /* with PROTO_YIELD: the connection produces
                               more output by itself (a dump): call
                               proto_feed again once out has drained, even
                               with no input */
};

struct proto_conn;

/* Returns NULL on allocation failure. */
struct proto_conn *proto_conn_new(const struct proto_env *env);
/* Frees the state and releases any half-received value allocation. */
void proto_conn_free(struct proto_conn *pc);

/* 1 when the connection stands between requests: no value is being
 * received into an engine allocation or swallowed, so the connection may
 * be handed to another worker (its unconsumed input continued on a new
 * proto_conn there). 0 while a storage command owns the next bytes. */
int proto_conn_idle(const struct proto_conn *pc);

/* The connection's descriptor, for the watchers' cfd= (default -1). */
void proto_conn_set_fd(struct proto_conn *pc, int fd);

/* 1 when the connection ended by the client's "quit" (memcached logs the
 * close as normal), 0 when the protocol closed it for an error. */
int proto_conn_quit(const struct proto_conn *pc);

/* 1 while the connection produces output of its own (a dump) and wants
 * proto_feed() called even without input (see PROTO_MORE). */
int proto_conn_producing(const struct proto_conn *pc);

/* While on, proto_feed() finishes the request in progress (the rest of its
 * value) and starts no new one, consuming nothing further: a retiring
 * worker feeds a connection to its next request boundary this way, then
 * hands it off with the unconsumed input. */
void proto_conn_drain(struct proto_conn *pc, int on);

/* Sends, at once and without blocking, the connection's output not yet
 * sent (what is in out) followed by iov[0..n); returns how many bytes of
 * the iovecs went out (out's own bytes are consumed from out as sent).
 * A get of a large value uses it to send the value straight from shared
 * memory, under the bucket lock, instead of copying it into out; what the
 * socket does not take is then copied into out as usual. */
struct iovec;
typedef size_t (*proto_send_fn)(void *arg, struct buf *out,
                                const struct iovec *iov, int n);
#define PROTO_SEND_MAX_IOV 8
/* While a storage command's value is being received: where the next value
 * bytes can be read to directly (inside the engine's allocation), and how
 * many (0 when there is no such place: then bytes go through proto_feed).
 * After reading n bytes there, call proto_conn_value_advance(). */
size_t proto_conn_value_window(struct proto_conn *pc, void **p);
void proto_conn_value_advance(struct proto_conn *pc, size_t n);

/* Optional, per connection; without it every value is copied into out. */
void proto_conn_set_sender(struct proto_conn *pc, proto_send_fn fn,
                           void *arg);

/* Consumes requests from in[0..len), appending replies to out, until the
 * input is exhausted, a command line is incomplete, reqs_per_event requests
 * were served (PROTO_YIELD), or the connection must close (PROTO_CLOSE).
 * Returns the number of input bytes consumed; *flags gets PROTO_* bits. */
size_t proto_feed(struct proto_conn *pc, const char *in, size_t len,
                  struct buf *out, int *flags);

#endif
