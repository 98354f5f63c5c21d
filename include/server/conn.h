/*
 * conn.h - one client connection inside a worker, and the set of them.
 *
 * A connection is a non-blocking socket with an input buffer, an output
 * buffer, two libev io watchers and the protocol state (struct proto_conn).
 * Bytes read are handed to proto_feed(); every reply of a batch is gathered
 * in the output buffer and sent with one send() per batch.
 *
 * Flow control, per connection:
 *  - reading stops while more than out_high bytes of output are unwritten
 *    (the client is not reading its replies: backpressure), and while the
 *    connection has yielded;
 *  - PROTO_YIELD (reqs_per_event served) leaves the rest of the input
 *    buffered and arms the write watcher, like memcached: the loop polls
 *    every other connection before this one continues;
 *  - PROTO_CLOSE, or EOF from the client, flushes the output, then closes.
 *
 * A struct conn_set holds what every connection of a worker shares (loop,
 * protocol environment, counters, limits) and the list of live connections.
 *
 * Hand-off (a retiring worker, see handoff.h): in hand-off mode a
 * connection is fed to the protocol only up to the end of the request it is
 * in the middle of (a value being received); at a request boundary it stops
 * reading and is offered to set->on_ready, which sends it away with its
 * unparsed input and unsent output (conn_pending_*) and conn_release()s it.
 * A connection adopted from another worker (conn_adopt) sends the inherited
 * output first, then serves the inherited input as if just read.
 *
 * With a ring (conn_set_uring, -o io_uring) the same connection does its
 * reads and sends through the worker's io_uring instead of readiness
 * watchers: at most one receive (into its own landing buffer rx, or
 * straight into a value's allocation) and one send (of out) in flight.
 * While a send is in flight, out is not touched (no request is parsed;
 * input waits in `in`); while a receive is in flight, its target is not
 * touched. Reading "stops" by not queueing the next receive: one receive
 * already queued may still bring up to read_chunk bytes, kept in `in`.
 * A connection closed with an operation in flight is cancelled and freed
 * when its last completion comes (its protocol state too: a receive may
 * be writing into a value's allocation). Hand-off waits until nothing is
 * in flight (the receive is cancelled first: it must not take bytes
 * meant for the adopting worker). A yielded connection waits on the set's
 * yield list, which the ring's idle hook runs once per round.
 */
#ifndef SHMC_CONN_H
#define SHMC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "core/ftimer.h"
#include "core/limits.h"
#include "server/uring.h"

/* Why a connection closed: memcached's conn_close reasons. */
enum { CONN_CLOSE_ERROR = 0, CONN_CLOSE_NORMAL, CONN_CLOSE_IDLE,
       CONN_CLOSE_SHUTDOWN };

struct conn;
struct server_counters;
struct logger;
struct proto_env;
struct proto_conn;

/* Synchronous replication (repl_sync): the replies to a batch of requests
 * that changed the cache wait until the peer has the changes. The
 * connection reads nothing more meanwhile (its order is kept), and its
 * replies go out when settled() says so or after `timeout` seconds. */
struct conn_sync {
    /* where this process's change log ends now (0: nothing logged) */
    uint64_t (*mark)(void *arg);
    /* 1: every change up to pos is with the peer (or there is no link to
     * wait for); 0: wait */
    int (*settled)(void *arg, uint64_t pos);
    void (*timed_out)(void *arg);       /* a wait ran out: count it */
    double timeout;
    double poll;            /* seconds between two looks at settled() */
    void *arg;
};

struct conn_set {
    struct ev_loop *loop;
    const struct proto_env *env;
    struct server_counters *counters;   /* this worker's (srvstate.h) */
    const struct logger *log;
    size_t read_chunk;      /* bytes asked per read() */
    size_t in_max;          /* input never grows past this (then close) */
    size_t out_high;        /* stop reading above this much unsent output */
    size_t buf_keep;        /* empty buffers larger than this are freed */
    size_t mem_limit;       /* buffer bytes for all conns, 0 = no limit */
    size_t mem_used;        /* sum of buffer capacities */
    int handoff;            /* hand-off mode (see above) */
    /* called when a connection closes, before it is freed */
    void (*on_close)(void *arg, struct conn *c);
    /* hand-off mode: c stands at a request boundary. Returns 1 when c was
     * sent away and released, 0 to be offered again later. */
    int (*on_ready)(void *arg, struct conn *c);
    void *arg;
    struct conn *head;      /* live connections */
    unsigned count;
    const struct conn_sync *sync;       /* NULL: replies go out at once */
    struct conn *wait_head, *wait_tail; /* waiting for the peer, oldest
                                           first */
    struct ftimer sync_timer; /* runs while a connection waits */
    struct uring *uring;    /* NULL: libev readiness watchers */
    struct conn *yield_head; /* ring: yielded, to continue next round */
};

struct conn {
    struct conn_set *set;
    int fd;
    ev_io rio, wio;
    struct buf in, out;
    size_t out_off;         /* out[0..out_off) already sent */
    struct proto_conn *pc;
    ev_tstamp last_active;  /* last byte read or written */
    const char *listen_addr; /* memcached form: "tcp:127.0.0.1:11211" */
    char addr[SHMC_ADDR_MAX]; /* the peer, same form ("unix:/path", ...) */
    unsigned busy : 1;      /* inside proto_feed (for "stats conns") */
    unsigned yielded : 1;   /* input left to process after PROTO_YIELD */
    unsigned closing : 1;   /* PROTO_CLOSE: close once output is sent */
    unsigned eof : 1;       /* the client closed its side */
    unsigned char reason;   /* why it closes (CONN_CLOSE_*), for the
                               watchers' conn_close lines */
    unsigned waiting : 1;   /* replies held for the peer (conn_sync) */
    uint64_t feed_mark;     /* conn_sync mark() before the batch */
    uint64_t wait_pos;      /* ... and after it: what the peer must have */
    ev_tstamp wait_until;
    struct conn *prev, *next;
    struct conn *wait_prev, *wait_next;
    /* with a ring (set->uring) */
    struct uring_op rop, sop;   /* the receive and the send */
    struct buf rx;              /* where a receive lands (read_chunk) */
    unsigned rbusy : 1;         /* a receive in flight */
    unsigned sbusy : 1;         /* a send in flight (of out[out_off..)) */
    unsigned rdirect : 1;       /* ... straight into a value */
    unsigned rcancel : 1;       /* the receive was asked to stop */
    unsigned dead : 1;          /* closed: freed at its last completion */
    unsigned yq : 1;            /* on set->yield_head's list */
    struct conn *yield_next;
};

/* Serves the set's connections through ring u from now on (call before
 * the first conn_open; u outlives the set's connections). Installs the
 * ring's idle hook (yielded connections). */
void conn_set_uring(struct conn_set *set, struct uring *u);

/* Turns synchronous replication on (sync kept by pointer) or off (NULL);
 * connections waiting when it goes off are released. */
void conn_set_sync(struct conn_set *set, const struct conn_sync *sync);

/* Initialises an empty set; limits get defaults the caller may change. */
void conn_set_init(struct conn_set *set, struct ev_loop *loop,
                   const struct proto_env *env,
                   struct server_counters *counters,
                   const struct logger *log);

/* Takes ownership of fd (a freshly accepted, non-blocking socket) and
 * starts serving it; listen_addr (kept by pointer) names the listener for
 * "stats conns". Counts curr_connections and total_connections.
 * Returns the connection, or NULL (fd closed, error logged). */
struct conn *conn_open(struct conn_set *set, int fd, const char *listen_addr);

/* Writes the local (peer = 0) or remote (peer = 1) address of socket fd in
 * memcached's "stats conns" form: "tcp:1.2.3.4:11211", "tcp6:[::1]:11211",
 * "unix:/path". Returns 0, or -1 (buf gets "unknown"). */
int conn_sockname(int fd, int peer, char *buf, size_t len);

/* memcached's name of c's state ("conn_nread", "conn_waiting", ...). */
const char *conn_state_name(const struct conn *c);

/* "stats conns": one block of STAT <fd>:addr / listen_addr / state /
 * secs_since_last_cmd lines per connection. Returns 0 or -1 (ENOMEM). */
int conn_set_stats(const struct conn_set *set, struct buf *out);

/* Closes the socket, frees the protocol state and buffers, counts the
 * connection out. c is invalid afterwards. */
void conn_close(struct conn *c);

/* Like conn_close, for a connection whose socket was handed to another
 * process: only this process's descriptor is closed. */
void conn_release(struct conn *c);

/* Takes ownership of fd, a connection handed over by another worker, with
 * the input it had read but not parsed and the output it had not sent
 * (both copied). Counts curr_connections (not total_connections: the
 * connection is not new). Sends the output, then serves the input (which
 * may close it: set->on_close is then called as for any close). Returns 0,
 * or -1 when no connection could be allocated (fd closed, on_close not
 * called). */
int conn_adopt(struct conn_set *set, int fd, const char *listen_addr,
               const char *in, size_t in_len,
               const char *out, size_t out_len);

/* Hand-off mode on (idempotent): offers every connection standing at a
 * request boundary to set->on_ready, lets the others finish the request
 * they are in. Call again to retry those on_ready declined. */
void conn_set_handoff(struct conn_set *set);

/* 1 when c stands at a request boundary (no value half received). */
int conn_at_boundary(const struct conn *c);

/* The input read but not parsed, and the output not yet sent. Either may
 * be NULL when its length is 0 (a buffer never allocated, or given back). */
const char *conn_pending_in(const struct conn *c, size_t *len);
const char *conn_pending_out(const struct conn *c, size_t *len);

/* Closes connections without traffic for idle_timeout seconds. Returns how
 * many were closed. */
unsigned conn_set_close_idle(struct conn_set *set, ev_tstamp now,
                             double idle_timeout);

/* Graceful stop: closes every connection at a request boundary with
 * nothing buffered, nothing unread in its socket and no traffic for
 * `quiet` seconds (a value still arriving finishes; a request that has
 * arrived is served).
 * Returns the number of connections left. */
unsigned conn_set_drain(struct conn_set *set, ev_tstamp now, double quiet);

/* Closes every connection at once. */
void conn_set_close_all(struct conn_set *set);

/* Gives every connection that produces output of its own (a watcher, a
 * dump) a turn when it is not already waiting for its output to drain.
 * Returns how many such connections there are. */
unsigned conn_set_poke(struct conn_set *set);

#endif
