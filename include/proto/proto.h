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

struct engine;
struct engine_worker;
struct settings;

/* What the protocol layer needs from the server around it. */
struct proto_env {
    struct engine *engine;
    struct engine_worker *worker;
    const struct settings *settings;
    /* "shutdown" command (only honoured with -A): asks the master to stop.
     * graceful is 1 for "shutdown graceful". */
    void (*shutdown)(void *arg, int graceful);
    /* "verbosity N" */
    void (*set_verbosity)(void *arg, int level);
    void *arg;
    /* max length of a command line without newline before the connection
     * is closed (memcached: 2048); get/gets lines may be longer, up to
     * line_max_get */
    size_t line_max;
    size_t line_max_get;
    /* "stats conns": appends one block of "STAT <fd>:<field> <value>\r\n"
     * lines per connection of this worker (addr, listen_addr, state,
     * secs_since_last_cmd), as memcached does; the protocol layer knows no
     * sockets. NULL: the reply is just END. */
    void (*conns)(void *arg, struct buf *out);
};

/* Flags returned by proto_feed. */
enum {
    PROTO_CLOSE = 1,        /* close after writing what is in out */
    PROTO_YIELD = 2,        /* reqs_per_event reached: more may be parsable */
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
