/*
 * rig.c - the protocol fuzz targets' engine and connection (see rig.h).
 *
 * Invariants checked after every input, each an abort() when broken:
 * the connection closed by itself after the client's EOF; the worker's
 * curr_connections is 0; engine_check() is 0; after flush_all and a full
 * sweep every class has no chunk in use.
 */
#include "rig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "core/log.h"
#include "engine/engine.h"
#include "proto/proto.h"
#include "server/conn.h"
#include "server/settings.h"
#include "server/srvstate.h"

#define RIG_MEM_MB 4
#define RIG_SPINS_MAX 2000      /* loop rounds allowed after the EOF */

struct rig {
    struct engine *e;
    struct engine_worker *w;
    time_t now;
    struct settings s;          /* for "stats settings" only */
    struct proto_config pc;
    struct proto_counters pcount;
    struct proto_shared shared;
    struct server_counters ct;
    struct logger log;
    struct ev_loop *loop;
    struct proto_env env;
    struct conn_set set;        /* where each input's connection opens */
    struct conn_set adopted;    /* where it goes after a hand-off */
    /* a connection handed off by set, waiting to be adopted */
    int moved_fd;               /* -1: none */
    struct buf moved_in, moved_out;
};

static struct rig *the_rig;     /* libFuzzer gives no context pointer */

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "\nfuzz rig: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

static time_t rig_clock(void *arg)
{
    return ((struct rig *)arg)->now;
}

static void cb_shutdown(void *arg, int graceful)
{
    (void)arg;
    (void)graceful;
}

static void cb_verbosity(void *arg, int level)
{
    (void)arg;
    (void)level;
}

static void cb_conns(void *arg, struct buf *out)
{
    struct rig *r = arg;
    if (conn_set_stats(&r->set, out) < 0)
        fail("stats conns", "out of memory");
}

static void cb_server_stats(void *arg, struct proto_server_stats *st)
{
    struct rig *r = arg;
    st->pid = (int)getpid();
    st->started = 1700000000;
    st->threads = 1;
    st->max_connections = 1024;
    st->curr_connections = r->ct.curr_connections;
    st->total_connections = r->ct.total_connections;
    st->bytes_read = r->ct.bytes_read;
    st->bytes_written = r->ct.bytes_written;
    st->auth_cmds = r->pcount.auth_cmds;
    st->auth_errors = r->pcount.auth_errors;
}

static void cb_stats_shmcached(void *arg, struct buf *out)
{
    (void)arg;
    buf_appendz(out, "STAT workers 1\r\n");
}

static void cb_stats_reset(void *arg)
{
    struct rig *r = arg;
    r->ct.total_connections = r->ct.bytes_read = r->ct.bytes_written = 0;
}

static void cb_stats_settings(void *arg, struct buf *out)
{
    struct rig *r = arg;
    if (settings_stats(&r->s, r->e, &r->shared, out) < 0)
        fail("stats settings", "out of memory");
}

/* conn_set on_ready (hand-off mode): c stands at a request boundary.
 * Keeps what a retiring worker would send (the socket, the unparsed
 * input, the unsent output) for rig_adopt(), and releases c. */
static int on_ready(void *arg, struct conn *c)
{
    struct rig *r = arg;
    size_t in_len, out_len;
    const char *in = conn_pending_in(c, &in_len);
    const char *out = conn_pending_out(c, &out_len);
    if (r->moved_fd >= 0)
        fail("hand-off", "a second connection offered");
    buf_reset(&r->moved_in, 0);
    buf_reset(&r->moved_out, 0);
    if (buf_append(&r->moved_in, in, in_len) < 0 ||
        buf_append(&r->moved_out, out, out_len) < 0)
        fail("hand-off", "out of memory");
    r->moved_fd = dup(c->fd);       /* what SCM_RIGHTS would carry */
    if (r->moved_fd < 0)
        fail("dup", strerror(errno));
    conn_release(c);
    return 1;
}

/* The new worker's side: adopts the handed-off connection, if any. */
static void rig_adopt(struct rig *r)
{
    if (r->moved_fd < 0)
        return;
    int fd = r->moved_fd;
    r->moved_fd = -1;
    if (conn_adopt(&r->adopted, fd, "unix:fuzz", r->moved_in.data,
                   r->moved_in.len, r->moved_out.data,
                   r->moved_out.len) < 0)
        fail("conn_adopt", NULL);
}

static struct rig *rig_get(enum rig_proto proto)
{
    if (the_rig != NULL) {
        the_rig->pc.mode = (enum proto_mode)proto;
        return the_rig;
    }
    struct rig *r = calloc(1, sizeof(*r));
    struct engine_config cfg;
    const char *err = NULL;
    if (r == NULL)
        fail("calloc", NULL);
    engine_config_defaults(&cfg);
    cfg.mem_limit = (size_t)RIG_MEM_MB << 20;
    cfg.hashpower = 12;         /* the smallest the engine takes */
    r->e = engine_create(&cfg, &err);
    if (r->e == NULL)
        fail("engine_create", err);
    r->now = 1700000000;
    engine_set_clock(r->e, rig_clock, r);
    r->w = engine_worker_attach(r->e, getpid());
    if (r->w == NULL)
        fail("engine_worker_attach", NULL);

    settings_defaults(&r->s);
    r->s.maxbytes = cfg.mem_limit;
    proto_config_defaults(&r->pc);
    r->pc.mode = (enum proto_mode)proto;
    r->pc.shutdown_enabled = 1;     /* "shutdown" reaches its callback */
    r->pc.reqs_per_event = 4;       /* PROTO_YIELD happens often */
    r->pc.line_max_get = 65536;
    log_init(&r->log, 0);
    r->loop = ev_loop_new(EVFLAG_AUTO);
    if (r->loop == NULL)
        fail("ev_loop_new", NULL);
    r->env.engine = r->e;
    r->env.worker = r->w;
    r->env.cfg = &r->pc;
    r->env.counters = &r->pcount;
    r->env.shared = &r->shared;
    r->env.arg = r;
    r->env.shutdown = cb_shutdown;
    r->env.set_verbosity = cb_verbosity;
    r->env.conns = cb_conns;
    r->env.server_stats = cb_server_stats;
    r->env.stats_shmcached = cb_stats_shmcached;
    r->env.stats_reset = cb_stats_reset;
    r->env.stats_settings = cb_stats_settings;
    conn_set_init(&r->set, r->loop, &r->env, &r->ct, &r->log);
    r->set.in_max = 65536 + r->set.read_chunk;
    r->set.on_ready = on_ready;
    r->set.arg = r;
    conn_set_init(&r->adopted, r->loop, &r->env, &r->ct, &r->log);
    r->adopted.in_max = r->set.in_max;
    r->moved_fd = -1;
    buf_init(&r->moved_in);
    buf_init(&r->moved_out);
    the_rig = r;
    return r;
}

/* Every item gone, the switches an input may flip put back. The clock
 * moves first: flush_all spares an item stored in its own second whose CAS
 * is above the CAS counter (a meta "E" CAS), as memcached's does. */
static void rig_clean(struct rig *r)
{
    r->now += 1;
    engine_flush(r->w, 0);
    engine_sweep(r->w, UINT_MAX);
    engine_set_mem_limit(r->e, (size_t)RIG_MEM_MB << 20);
    engine_detail_enable(r->e, 0, ':');
    r->shared.track_sizes = 0;
}

static void check_engine(struct rig *r)
{
    char msg[512] = "";
    if (engine_check(r->e, msg, sizeof(msg)) != 0)
        fail("engine_check", msg);
}

/* After rig_clean(): no chunk of any class may still be in use. */
static void check_no_chunk_used(struct rig *r)
{
    unsigned n = engine_class_count(r->e);
    for (unsigned id = 1; id <= n; id++) {
        struct engine_class_stats st;
        if (engine_class_stats(r->e, id, &st) == 0 || st.used_chunks == 0)
            continue;
        char msg[128];
        snprintf(msg, sizeof(msg), "class %u: %llu chunk(s) in use, %llu "
                 "item(s)", id, (unsigned long long)st.used_chunks,
                 (unsigned long long)st.curr_items);
        fail("chunks still in use after flush_all and a full sweep", msg);
    }
}

/* FNV-1a over the input, then xorshift: the cuts depend on the bytes. */
static uint64_t seed_of(const uint8_t *data, size_t size)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h ? h : 1;
}

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void spin(struct rig *r, int peer, int rounds)
{
    char sink[16384];
    for (int i = 0; i < rounds; i++) {
        ev_run(r->loop, EVRUN_NOWAIT);
        rig_adopt(r);
        while (read(peer, sink, sizeof(sink)) > 0)
            ;
    }
}

/* Writes data to peer in pieces, running the loop in between. One input
 * in four is handed off (as on a reload) before one of its pieces: the
 * connection finishes the request it is in, leaves at the boundary with
 * its pending bytes, and is adopted by the other set, which serves the
 * rest of the input. */
static void feed(struct rig *r, int peer, const uint8_t *data, size_t size)
{
    uint64_t x = seed_of(data, size);
    size_t at = 0;
    int handoff_at = x % 4 == 0 ? (int)((x >> 8) % 16) : -1;
    for (int piece = 0; at < size; piece++) {
        uint64_t v = next_rand(&x);
        if (piece == handoff_at)
            conn_set_handoff(&r->set);
        size_t left = size - at, n;
        switch (v & 3) {
        case 0: n = left; break;                       /* the rest */
        case 1: n = 1 + (size_t)((v >> 8) % 8); break; /* a few bytes */
        default: n = 1 + (size_t)((v >> 8) % 200); break;
        }
        if (n > left)
            n = left;
        ssize_t w = send(peer, data + at, n, MSG_NOSIGNAL);
        if (w > 0)
            at += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;                  /* the server closed: nothing to add */
        if ((v >> 40) % 8 == 0)
            r->now += (time_t)((v >> 48) % 3);
        spin(r, peer, 1 + (int)((v >> 32) % 2));
    }
}

int rig_run(enum rig_proto proto, const uint8_t *data, size_t size)
{
    struct rig *r = rig_get(proto);
    int sv[2];
    rig_clean(r);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        fail("socketpair", strerror(errno));
    if (conn_open(&r->set, sv[0], "unix:fuzz") == NULL)
        fail("conn_open", NULL);
    feed(r, sv[1], data, size);
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < RIG_SPINS_MAX &&
                    r->set.count + r->adopted.count > 0; i++)
        spin(r, sv[1], 1);
    if (r->set.count + r->adopted.count > 0)
        fail("the connection did not close after the client's EOF", NULL);
    r->set.handoff = 0;
    close(sv[1]);
    if (r->ct.curr_connections != 0)
        fail("curr_connections is not 0 after the close", NULL);
    check_engine(r);
    rig_clean(r);
    check_no_chunk_used(r);
    return 0;
}
