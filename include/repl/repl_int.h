/*
 * repl_int.h - the replication process's state, shared by its files
 * (repl.c: its life, sockets and links; sender.c: our changes to the peer;
 * receiver.c: the peer's changes to us). See repl.h for the design.
 */
#ifndef SHMC_REPL_INT_H
#define SHMC_REPL_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "core/buf.h"
#include "core/ftimer.h"
#include "core/log.h"
#include "engine/engine.h"
#include "server/listener.h"
#include "server/settings.h"
#include "server/srvstate.h"

#define REPL_OUT_HIGH (1u << 20)    /* stop producing above this output */
#define REPL_IN_MAX_EXTRA 4096      /* input beyond one largest frame */
#define REPL_ACK_EVERY 64           /* frames applied between two ACKs */
#define REPL_PEERS_MAX 8            /* addresses the peer's name gives */
/* A link silent this long (seconds) is dropped: both ends hear from the
 * other at least every PING period (100 ms) while it is up. */
#define REPL_TIMEOUT(r) ((r)->s->repl_timeout_ms / 1000.0)

/* What replication keeps in the region (engine_app), so that it lives and
 * dies with the cache: after a warm restart the node resumes where it
 * was; a new region is a new node that must be copied in full. */
#define REPL_APP_MAGIC 0x5250454c434d4853ull      /* "SHMCLEPR" */
struct repl_app {
    uint64_t magic;
    uint64_t token;         /* this node's, random, made with the region */
    uint64_t peer_token;    /* the peer whose changes we applied */
    uint64_t applied;       /* ... up to this position of its log */
};

/* One TCP link: a connection, its buffers and watchers. */
struct link {
    struct repl *r;
    int fd;                 /* -1: none */
    ev_io rio, wio;
    struct buf in, out;
    double last_rx;         /* ev_now of the last byte read */
    char addr[SHMC_ADDR_MAX];
};

enum sender_state { S_DOWN, S_CONNECTING, S_HELLO, S_COPY, S_LIVE };
enum receiver_state { R_NONE, R_HELLO, R_LIVE, R_COPY };

struct sender {
    struct link l;
    enum sender_state st;
    uint64_t pos;           /* the next log position to ship */
    uint64_t copy_cursor;   /* engine_walk's, during S_COPY */
    int copy_deletions;     /* the items are sent; now the deletions */
    uint64_t copy_items;
    uint64_t last_sent_pos; /* position after the last change sent */
    uint32_t last_ms;       /* its time */
    double next_ping;
    ev_timer retry;         /* reconnect */
};

struct receiver {
    struct link l;
    enum receiver_state st;
    uint64_t peer_token;
    uint64_t applied;       /* the peer's log is applied up to here
                               (WIRE_NONE: nothing yet, a copy is due) */
    uint64_t copy_items;    /* items of the copy being received */
    unsigned since_ack;     /* frames applied since the last ACK */
    int warned_full;        /* said once that a change did not fit */
};

struct repl {
    const struct settings *s;
    struct engine *engine;
    struct engine_worker *w;
    struct srvstate *state;
    struct repl_app *app;
    struct logger log;
    struct ev_loop *loop;
    struct listeners ls;            /* the replication port */
    ev_io lio[LISTENER_MAX];
    struct ftimer tick;             /* 1 ms: ship changes, ACK, stats */
    ev_signal sigterm, sigquit;
    struct sockaddr_storage peer[REPL_PEERS_MAX];   /* who may connect */
    int npeer;
    char peer_host[SHMC_HOST_MAX];
    int peer_port;
    size_t value_max;               /* the largest value a frame holds */
    struct sender out;
    struct receiver in;
};

/* repl.c */
void link_init(struct repl *r, struct link *l);
void link_close(struct link *l);
/* Starts/stops the write watcher as output is pending. */
void link_update(struct link *l);
/* Sends what out holds without blocking. 0, or -1 (the link broke). */
int link_flush(struct link *l);
/* Reads what the socket has into in. 1 read something, 0 nothing, -1 EOF
 * or an error. */
int link_read(struct link *l);
void repl_publish(struct repl *r);
/* Equal versions from the two nodes: the one with the larger token wins. */
static inline int repl_peer_wins_ties(const struct repl *r, uint64_t peer)
{
    return peer > r->app->token;
}

/* sender.c */
void sender_start(struct repl *r);              /* connect (again) */
void sender_stop(struct repl *r, const char *why);
void sender_on_read(struct repl *r);            /* WELCOME, ACKs */
void sender_pump(struct repl *r);               /* ship what is due */

/* receiver.c */
void receiver_accept(struct repl *r, int fd, const char *addr);
void receiver_on_read(struct repl *r);
void receiver_stop(struct repl *r, const char *why);
void receiver_tick(struct repl *r);             /* ACK what is applied */

#endif
