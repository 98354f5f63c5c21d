/*
 * proto_text.c - memcached's text protocol (1.6, without meta commands,
 * extstore, proxy or TLS) over the shared-memory engine.
 *
 * Design. proto_feed() is a loop over three connection states:
 *   ST_CMD      find the next '\n'; tokenize the line in place into a
 *               struct request (parse: no copy, no allocation); look the
 *               command up in a table and run its handler (dispatch);
 *   ST_NREAD    a storage command's value is streamed into the engine's
 *               allocation (engine_alloc_write) as bytes arrive, then the
 *               two terminator bytes are collected and checked, and the
 *               item is stored (engine_alloc_store);
 *   ST_SWALLOW  the data block of a refused storage command (too large,
 *               out of memory) is read and dropped.
 * Replies go to the caller's out buffer; the hot paths (get, set) format
 * numbers by hand, never with printf.
 *
 * Invariants.
 *  - In ST_NREAD, pc->alloc holds a live engine allocation: it is consumed
 *    by engine_alloc_store() or engine_alloc_release() exactly once, and
 *    proto_conn_free() releases it if the connection dies mid-value.
 *  - Only whole command lines are consumed in ST_CMD; a partial line is
 *    left for the next call. Value bytes are consumed as they come.
 *  - Replies follow memcached byte for byte, including its quirks (see
 *    the handlers); the reference is memcached 1.6 run side by side.
 *
 * Counting. The engine counts per operation (cmd_get, cmd_set, cmd_touch,
 * cmd_flush, hits, misses, store_too_large, ...): handlers count nothing
 * except where the engine is not called (flush_all refused by -F). Bytes,
 * connections and conn_yields are the server's (conn.c).
 */
#include "proto/proto.h"

#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "engine/engine.h"
#include "proto/proto_auth.h"
#include "proto/proto_bin.h"
#include "proto/proto_crawler.h"
#include "proto/proto_slabs.h"
#include "proto/proto_meta.h"
#include "proto/proto_stats.h"
#include "proto/proto_text.h"
#include "core/version.h"


enum pc_state { ST_CMD = 0, ST_NREAD, ST_SWALLOW, ST_DUMP, ST_WATCH };

/* A connection's protocol, chosen on its first byte (cfg->mode). */
enum pc_mode { MODE_UNKNOWN = 0, MODE_TEXT, MODE_BINARY };

struct proto_conn {
    const struct proto_env *env;
    enum pc_state state;
    enum pc_mode mode;
    struct proto_bin *bin;     /* MODE_BINARY: proto_bin.c's state */
    /* ST_NREAD */
    struct engine_alloc alloc;
    size_t vleft;              /* value bytes not yet written */
    unsigned tgot;             /* terminator bytes received (0..2) */
    char term[2];
    enum engine_store_op op;
    uint64_t cas_in;
    int noreply;
    int meta_nread;            /* the value is an ms's (proto_meta.c) */
    /* ST_SWALLOW */
    size_t sleft;
    struct proto_meta *meta;   /* proto_meta.c's state */
    struct proto_dump *dump;   /* ST_DUMP: proto_crawler.c's dump */
    void *watch;               /* ST_WATCH: the server's log reader */
    int fd;                    /* for the watchers' cfd= */
    int quit;                  /* closed by "quit" */
    int authed;                /* -Y: authenticated (or no -Y) */
    /* a storage command's key and arguments while its value arrives,
     * kept only while someone watches fetchers or mutations */
    char lkey[SHMC_KEY_MAX];
    size_t lnkey;
    uint32_t lttl;
    int drain;                 /* finish the current request, start none */
    unsigned resp_pending;     /* response objects produced while out was
                                  not emptied (see resp_take) */
    proto_send_fn send;        /* optional: send large values directly */
    void *send_arg;
};

/* A literal reply with its line end: expands to (pointer, length). */
#define LIT(s) s "\r\n", sizeof(s "\r\n") - 1

/* ---- replies ------------------------------------------------------- */

/* Appends a reply unless the request said noreply. 0, or PROTO_CLOSE when
 * the output buffer cannot grow. */
static int reply(const struct request *r, struct buf *out, const char *s,
                 size_t n)
{
    if (r->noreply)
        return 0;
    return buf_append(out, s, n) == 0 ? 0 : PROTO_CLOSE;
}

static int reply_error(struct buf *out)
{
    return buf_append(out, LIT("ERROR")) == 0 ? 0 : PROTO_CLOSE;
}

static int reply_error_line(struct buf *out, const char *line)
{
    return buf_printf(out, "%s\r\n", line) == 0 ? 0 : PROTO_CLOSE;
}

/* One more response object (memcached's unit of response memory) for
 * this connection's unsent output: 0, or -1 (counted) past the worker's
 * limit, cfg->resp_obj_limit. */
static int resp_take(struct proto_conn *pc)
{
    unsigned limit = pc->env->cfg->resp_obj_limit;
    if (limit == 0 || pc->resp_pending < limit) {
        pc->resp_pending++;
        return 0;
    }
    if (pc->env->counters)
        pc->env->counters->response_obj_oom++;
    return -1;
}

/* ---- watchers --------------------------------------------------------- */

static int watching(const struct proto_env *env, enum proto_log_type t)
{
    return env->log_item && env->shared &&
           __atomic_load_n(&env->shared->watching[t], __ATOMIC_RELAXED) > 0;
}

/* item_get line: status "found" / "not_found". */
static void log_get(struct proto_conn *pc, const char *key, size_t nkey,
                    int found, unsigned cls, long size)
{
    struct proto_log_item ev = {
        PROTO_LOG_FETCHERS, key, nkey, found ? "found" : "not_found", NULL,
        0, found ? cls : 0, pc->fd, found ? size : 0,
    };
    pc->env->log_item(pc->env->arg, &ev);
}

struct hit_info {
    unsigned hit_cls;
    long hit_size;
};

static void peek_fn(void *arg, const struct engine_item_info *it)
{
    struct hit_info *g = arg;
    g->hit_cls = it->clsid;
    g->hit_size = it->nbytes;
}

/* A store's lines, as memcached: the item_get of the key it replaces (or
 * not), then the item_store with its outcome. */
static void log_store(struct proto_conn *pc, int before, enum engine_status st,
                      long size)
{
    static const char *const cmds[] = {
        [ENGINE_SET] = "set", [ENGINE_ADD] = "add",
        [ENGINE_REPLACE] = "replace", [ENGINE_APPEND] = "append",
        [ENGINE_PREPEND] = "prepend", [ENGINE_CAS] = "cas",
    };
    const struct proto_env *env = pc->env;
    struct hit_info g = { 0, 0 };
    if (before && watching(env, PROTO_LOG_FETCHERS)) {
        int found = engine_peek(env->worker, pc->lkey, pc->lnkey, peek_fn,
                                &g) == ENGINE_OK;
        log_get(pc, pc->lkey, pc->lnkey, found, g.hit_cls, g.hit_size);
        return;
    }
    if (before || !watching(env, PROTO_LOG_MUTATIONS))
        return;
    const char *status = st == ENGINE_STORED ? "stored"
                       : st == ENGINE_EXISTS ? "exists"
                       : st == ENGINE_NOT_FOUND ? "not_found"
                       : st == ENGINE_TOO_LARGE ? "too_large"
                       : st == ENGINE_NO_MEMORY ? "no_memory" : "not_stored";
    if (st == ENGINE_STORED)
        engine_peek(env->worker, pc->lkey, pc->lnkey, peek_fn, &g);
    struct proto_log_item ev = {
        PROTO_LOG_MUTATIONS, pc->lkey, pc->lnkey, status,
        (unsigned)pc->op < sizeof(cmds) / sizeof(cmds[0]) ? cmds[pc->op]
                                                          : "na",
        pc->lttl, g.hit_cls, pc->fd, size,
    };
    env->log_item(env->arg, &ev);
}

/* ---- retrieval ----------------------------------------------------- */

/* Values from this size on are sent straight from shared memory (no copy
 * into the output buffer) when the connection allows it. */
#define DIRECT_MIN (32 * 1024)

struct get_ctx {
    struct buf *out;
    int with_cas;
    int oom;
    struct proto_conn *pc;
    int direct;         /* -1 not yet decided, 0 no, 1 yes */
    int sent;           /* some reply bytes went out directly */
    int end_sent;       /* the END line went with the last value */
    /* where the key scan stands, to vet the keys still to come */
    const struct request *r;
    size_t i;
    const char *scan;
    /* the last hit, for the watchers */
    unsigned hit_cls;
    long hit_size;
};

/* A value sent directly cannot be taken back, and memcached answers a get
 * with a bad key by dropping the whole reply: send directly only when every
 * key still to come is valid. */
static int direct_ok(struct get_ctx *g)
{
    if (g->direct < 0) {
        size_t i = g->i;
        const char *scan = g->scan;
        struct proto_token key;
        g->direct = 1;
        while (proto_next_key(g->r, &i, &scan, &key))
            if (key.len > SHMC_KEY_MAX)
                g->direct = 0;
    }
    return g->direct;
}

/* Sends "VALUE ...\r\n" (already in out) + value + "\r\n" with one call
 * from shared memory; copies what the socket did not take into out.
 * Returns 0, or -1 when the value has too many pieces (not sent). */
static int send_direct(struct get_ctx *g, const struct engine_item_info *it)
{
    static const char tail_end[] = "\r\nEND\r\n";
    struct proto_conn *pc = g->pc;
    struct buf *out = g->out;
    struct iovec iov[PROTO_SEND_MAX_IOV];
    int n = engine_value_iov(it, iov, PROTO_SEND_MAX_IOV - 1);
    if (n < 0)
        return -1;
    /* the command's last key: its END goes in the same call (one send,
     * one segment, as memcached does) */
    size_t i = g->i;
    const char *scan = g->scan;
    struct proto_token key;
    int last = !proto_next_key(g->r, &i, &scan, &key);
    size_t tail = last ? sizeof(tail_end) - 1 : 2;
    iov[n].iov_base = (void *)tail_end;
    iov[n].iov_len = tail;
    size_t total = (size_t)it->nbytes + tail;
    /* out holds earlier replies and this VALUE line: both go first */
    size_t before = out->len;
    size_t sent = pc->send(pc->send_arg, out, iov, n + 1);
    if (out->len != before || sent > 0)
        g->sent = 1;
    g->end_sent = last;
    if (sent < total) {
        size_t rest = total - sent;
        if (buf_reserve(out, rest) < 0) {
            g->oom = 1;
            return 0;
        }
        char *p = out->data + out->len;
        if (sent < it->nbytes) {
            engine_value_copy(it, sent, it->nbytes - sent, p);
            p += it->nbytes - sent;
            memcpy(p, tail_end, tail);
        } else {
            memcpy(p, tail_end + (sent - it->nbytes), rest);
        }
        out->len += rest;
    }
    return 0;
}

/* engine_get callback, under the bucket lock: formats the VALUE line and
 * copies the value straight into the output buffer. */
static void get_hit(void *arg, const struct engine_item_info *it)
{
    struct get_ctx *g = arg;
    struct buf *out = g->out;
    g->hit_cls = it->clsid;
    g->hit_size = it->nbytes;
    int direct = it->nbytes >= DIRECT_MIN && g->pc && g->pc->send &&
                 direct_ok(g);
    size_t need = 6 + it->nkey + 3 * 21 + 2 + (direct ? 0 : it->nbytes + 2);
    if (buf_reserve(out, need) < 0) {
        g->oom = 1;
        return;
    }
    char *p = out->data + out->len;
    memcpy(p, "VALUE ", 6);
    p += 6;
    memcpy(p, it->key, it->nkey);
    p += it->nkey;
    *p++ = ' ';
    p += proto_u64toa(it->flags, p);
    *p++ = ' ';
    p += proto_u64toa(it->nbytes, p);
    if (g->with_cas) {
        *p++ = ' ';
        p += proto_u64toa(it->cas, p);
    }
    *p++ = '\r';
    *p++ = '\n';
    if (direct) {
        size_t hdr_at = out->len;
        out->len = (size_t)(p - out->data);
        if (send_direct(g, it) == 0)
            return;
        /* too many pieces to send at once: copy after all */
        out->len = hdr_at;
        g->direct = 0;
        get_hit(g, it);
        return;
    }
    engine_value_copy(it, 0, it->nbytes, p);
    p += it->nbytes;
    *p++ = '\r';
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
}

/* get/gets <key>*, gat/gats <exptime> <key>*. arg bit 0: cas, bit 1: touch.
 * A key over 250 bytes fails the whole command: what this command had
 * already produced is dropped and replaced by the error (memcached also
 * drops earlier pipelined replies still unsent; we do not). */
static int cmd_get(struct proto_conn *pc, struct request *r, struct buf *out,
                   int arg)
{
    const struct proto_env *env = pc->env;
    struct get_ctx g = { .out = out, .with_cas = arg & 1, .pc = pc,
                         .direct = -1, .r = r };
    int touch = arg & 2;
    uint32_t exptime = 0;
    size_t i = 1, start = out->len;
    const char *scan = r->rest;
    struct proto_token key;

    if (touch) {
        int32_t t;
        if (!proto_strtol32(&r->tok[1], &t))
            return reply(r, out, LIT("CLIENT_ERROR invalid exptime argument"));
        exptime = engine_exptime(env->engine, t);
        i = 2;
    }
    while (proto_next_key(r, &i, &scan, &key)) {
        if (key.len > SHMC_KEY_MAX) {
            out->len = start;
            return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
        }
        if (resp_take(pc) < 0) {    /* memcached: one object per key */
            out->len = start;
            return reply(r, out,
                LIT("SERVER_ERROR out of memory writing get response"));
        }
        g.i = i;
        g.scan = scan;
        /* the engine counts cmd_get / cmd_touch / hits / misses */
        enum engine_status st =
            touch ? engine_gat(env->worker, key.p, key.len, exptime,
                               get_hit, &g)
                  : engine_get(env->worker, key.p, key.len, get_hit, &g);
        if (st == ENGINE_ERROR && !g.sent) {
            out->len = start;   /* as a bad key: the whole reply goes */
            return reply(r, out, LIT("SERVER_ERROR internal error"));
        }
        if (watching(env, PROTO_LOG_FETCHERS))
            log_get(pc, key.p, key.len, st == ENGINE_OK, g.hit_cls,
                    g.hit_size);
        if (st == ENGINE_ERROR)
            return PROTO_CLOSE;
        if (g.oom) {
            if (g.sent)     /* part of the reply is out: cannot recover */
                return PROTO_CLOSE;
            out->len = start;
            return reply(r, out,
                LIT("SERVER_ERROR out of memory writing get response"));
        }
    }
    if (g.end_sent)
        return 0;
    return reply(r, out, LIT("END"));
}

/* ---- storage ------------------------------------------------------- */

/* set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]
 * cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
 * Allocates the item now; the value follows in ST_NREAD. */
static int cmd_store(struct proto_conn *pc, struct request *r,
                     struct buf *out, int op)
{
    const struct proto_env *env = pc->env;
    const struct proto_token *key = &r->tok[1];
    uint32_t flags;
    int32_t exptime, vlen;
    uint64_t cas_in = 0;

    r->noreply = proto_last_is_noreply(r);
    if (key->len > SHMC_KEY_MAX)
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    if (!proto_strtoul32(&r->tok[2], &flags) ||
        !proto_strtol32(&r->tok[3], &exptime) ||
        !proto_strtol32(&r->tok[4], &vlen) ||
        (op == ENGINE_CAS && !proto_strtoull(&r->tok[5], &cas_in)) ||
        vlen < 0 || vlen > INT32_MAX - 2)
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));

    /* the engine counts cmd_set, store_too_large, store_no_memory */
    enum engine_status st = engine_alloc(env->worker, key->p, key->len, flags,
                                         engine_exptime(env->engine, exptime),
                                         (size_t)vlen, &pc->alloc);
    if (st != ENGINE_OK) {
        int rc;
        if (st == ENGINE_TOO_LARGE)
            rc = reply(r, out, LIT("SERVER_ERROR object too large for cache"));
        else if (st == ENGINE_ERROR)
            rc = reply(r, out, LIT("SERVER_ERROR internal error"));
        else
            rc = reply(r, out, LIT("SERVER_ERROR out of memory storing object"));
        /* memcached: a failed set must not leave the old value readable */
        if (op == ENGINE_SET)
            engine_unlink(env->worker, key->p, key->len);
        pc->state = ST_SWALLOW;
        pc->sleft = (size_t)vlen + 2;
        return rc;
    }
    pc->state = ST_NREAD;
    pc->vleft = (size_t)vlen;
    pc->tgot = 0;
    pc->op = (enum engine_store_op)op;
    pc->cas_in = cas_in;
    pc->noreply = r->noreply;
    pc->lnkey = 0;
    if (watching(env, PROTO_LOG_FETCHERS) ||
        watching(env, PROTO_LOG_MUTATIONS)) {
        memcpy(pc->lkey, key->p, key->len);
        pc->lnkey = key->len;
        pc->lttl = (uint32_t)exptime;
    }
    return 0;
}

/* The value and its terminator are in: store and reply. */
static int store_complete(struct proto_conn *pc, struct buf *out)
{
    const struct proto_env *env = pc->env;
    struct request r;
    r.noreply = pc->noreply;
    pc->state = ST_CMD;
    if (pc->meta_nread) {
        pc->meta_nread = 0;
        return proto_meta_nread_done(pc, &pc->alloc, pc->term[0] == '\r' &&
                                     pc->term[1] == '\n', out);
    }
    if (pc->term[0] != '\r' || pc->term[1] != '\n') {
        engine_alloc_release(env->worker, &pc->alloc);
        return reply(&r, out, LIT("CLIENT_ERROR bad data chunk"));
    }
    long size = (long)pc->alloc.nbytes;
    if (pc->lnkey)
        log_store(pc, 1, ENGINE_OK, size);
    enum engine_status st = engine_alloc_store(env->worker, &pc->alloc,
                                               pc->op, pc->cas_in, NULL);
    if (pc->lnkey)
        log_store(pc, 0, st, size);
    switch (st) {
    case ENGINE_STORED:
        return reply(&r, out, LIT("STORED"));
    case ENGINE_EXISTS:
        return reply(&r, out, LIT("EXISTS"));
    case ENGINE_NOT_FOUND:
        return reply(&r, out, LIT("NOT_FOUND"));
    case ENGINE_NOT_STORED:
        return reply(&r, out, LIT("NOT_STORED"));
    case ENGINE_TOO_LARGE:
    case ENGINE_NO_MEMORY:
        /* append/prepend whose result does not fit: memcached NOT_STORED */
        if (pc->op == ENGINE_APPEND || pc->op == ENGINE_PREPEND)
            return reply(&r, out, LIT("NOT_STORED"));
        return reply(&r, out, LIT("SERVER_ERROR out of memory storing object"));
    case ENGINE_ERROR:
        return reply(&r, out, LIT("SERVER_ERROR internal error"));
    default:
        return reply(&r, out, LIT("SERVER_ERROR Unhandled storage type."));
    }
}

/* ST_NREAD: consumes value and terminator bytes from in[0..len). */
static size_t nread_feed(struct proto_conn *pc, const char *in, size_t len,
                         struct buf *out, int *rc)
{
    size_t used = 0;
    if (pc->vleft) {
        size_t n = len < pc->vleft ? len : pc->vleft;
        engine_alloc_write(pc->env->worker, &pc->alloc, in, n);
        pc->vleft -= n;
        used = n;
    }
    while (pc->vleft == 0 && pc->tgot < 2 && used < len)
        pc->term[pc->tgot++] = in[used++];
    if (pc->vleft == 0 && pc->tgot == 2)
        *rc = store_complete(pc, out);
    return used;
}

/* ---- other commands ------------------------------------------------ */

/* delete <key> [0] [noreply] */
static int cmd_delete(struct proto_conn *pc, struct request *r,
                      struct buf *out, int arg)
{
    (void)arg;
    if (r->ntok > 2) {
        int hold0 = PROTO_TOK_IS(&r->tok[2], "0");
        r->noreply = proto_last_is_noreply(r);
        if (!((r->ntok == 3 && (hold0 || r->noreply)) ||
              (r->ntok == 4 && hold0 && r->noreply)))
            return reply(r, out, LIT("CLIENT_ERROR bad command line format.  "
                                     "Usage: delete <key> [noreply]"));
    }
    const struct proto_token *key = &r->tok[1];
    if (key->len > SHMC_KEY_MAX)
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    switch (engine_delete(pc->env->worker, key->p, key->len)) {
    case ENGINE_OK:
        return reply(r, out, LIT("DELETED"));
    case ENGINE_ERROR:
        return reply(r, out, LIT("SERVER_ERROR internal error"));
    default:
        return reply(r, out, LIT("NOT_FOUND"));
    }
}

/* incr/decr <key> <delta> [noreply]; arg: 1 incr, 0 decr */
static int cmd_delta(struct proto_conn *pc, struct request *r,
                     struct buf *out, int incr)
{
    const struct proto_token *key = &r->tok[1];
    uint64_t delta, result;
    r->noreply = proto_last_is_noreply(r);
    if (key->len > SHMC_KEY_MAX)
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    if (!proto_strtoull(&r->tok[2], &delta))
        return reply(r, out, LIT("CLIENT_ERROR invalid numeric delta argument"));
    switch (engine_delta(pc->env->worker, key->p, key->len, incr, delta,
                         &result, NULL)) {
    case ENGINE_OK: {
        char num[24];
        size_t n = proto_u64toa(result, num);
        num[n++] = '\r';
        num[n++] = '\n';
        return reply(r, out, num, n);
    }
    case ENGINE_NOT_FOUND:
        return reply(r, out, LIT("NOT_FOUND"));
    case ENGINE_NON_NUMERIC:
        return reply(r, out, LIT("CLIENT_ERROR cannot increment or decrement "
                                 "non-numeric value"));
    case ENGINE_NO_MEMORY:
        return reply(r, out, LIT("SERVER_ERROR out of memory"));
    default:
        return reply(r, out, LIT("SERVER_ERROR internal error"));
    }
}

/* touch <key> <exptime> [noreply] */
static int cmd_touch(struct proto_conn *pc, struct request *r,
                     struct buf *out, int arg)
{
    const struct proto_token *key = &r->tok[1];
    int32_t t;
    (void)arg;
    r->noreply = proto_last_is_noreply(r);
    if (key->len > SHMC_KEY_MAX)
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    if (!proto_strtol32(&r->tok[2], &t))
        return reply(r, out, LIT("CLIENT_ERROR invalid exptime argument"));
    /* the engine counts cmd_touch, touch_hits, touch_misses */
    switch (engine_touch(pc->env->worker, key->p, key->len,
                         engine_exptime(pc->env->engine, t))) {
    case ENGINE_OK:
        return reply(r, out, LIT("TOUCHED"));
    case ENGINE_ERROR:
        return reply(r, out, LIT("SERVER_ERROR internal error"));
    default:
        return reply(r, out, LIT("NOT_FOUND"));
    }
}

/* flush_all [delay] [noreply] */
static int cmd_flush(struct proto_conn *pc, struct request *r,
                     struct buf *out, int arg)
{
    int32_t when = 0;
    (void)arg;
    r->noreply = proto_last_is_noreply(r);
    if (!pc->env->cfg->flush_enabled) {
        /* memcached counts refused flushes too; the engine is not called */
        engine_worker_counters(pc->env->worker)->cmd_flush++;
        return reply(r, out, LIT("CLIENT_ERROR flush_all not allowed"));
    }
    if (r->ntok != (r->noreply ? 2u : 1u) &&
        !proto_strtol32(&r->tok[1], &when))
        return reply(r, out, LIT("CLIENT_ERROR invalid exptime argument"));
    engine_flush(pc->env->worker, when);    /* counts cmd_flush */
    return reply(r, out, LIT("OK"));
}

static int cmd_version(struct proto_conn *pc, struct request *r,
                       struct buf *out, int arg)
{
    (void)pc, (void)arg;
    return reply(r, out, LIT("VERSION " SHMC_VERSION));
}

static int cmd_quit(struct proto_conn *pc, struct request *r,
                    struct buf *out, int arg)
{
    (void)r, (void)out, (void)arg;
    pc->quit = 1;
    return PROTO_CLOSE;
}

/* verbosity <level> [noreply] */
static int cmd_verbosity(struct proto_conn *pc, struct request *r,
                         struct buf *out, int arg)
{
    uint32_t level;
    (void)arg;
    r->noreply = proto_last_is_noreply(r);
    if (!proto_strtoul32(&r->tok[1], &level))
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    if (pc->env->set_verbosity)
        pc->env->set_verbosity(pc->env->arg, level > 2 ? 2 : (int)level);
    return reply(r, out, LIT("OK"));
}

/* cache_memlimit <megabytes> [noreply] */
static int cmd_memlimit(struct proto_conn *pc, struct request *r,
                        struct buf *out, int arg)
{
    uint32_t mb;
    (void)arg;
    r->noreply = proto_last_is_noreply(r);
    if (!proto_strtoul32(&r->tok[1], &mb))
        return reply(r, out, LIT("ERROR"));
    if (mb < 8)
        return reply(r, out, LIT("MEMLIMIT_TOO_SMALL cannot set maxbytes to "
                                 "less than 8m"));
    if (mb > 1000000000)
        return reply(r, out, LIT("MEMLIMIT_ADJUST_FAILED input value is "
                                 "megabytes not bytes"));
    if (engine_set_mem_limit(pc->env->engine, (size_t)mb * 1024 * 1024) == 0)
        return reply(r, out, LIT("OK"));
    return reply(r, out, LIT("MEMLIMIT_ADJUST_FAILED out of bounds or unable "
                             "to adjust"));
}

/* shutdown [graceful]: only with -A; the connection closes silently. */
static int cmd_shutdown(struct proto_conn *pc, struct request *r,
                        struct buf *out, int arg)
{
    const struct proto_env *env = pc->env;
    (void)arg;
    if (!env->cfg->shutdown_enabled)
        return reply(r, out, LIT("ERROR: shutdown not enabled"));
    int graceful;
    if (r->ntok == 1 && r->rest == NULL)
        graceful = 0;
    else if (r->ntok == 2 && r->rest == NULL &&
             PROTO_TOK_IS(&r->tok[1], "graceful"))
        graceful = 1;
    else
        return reply(r, out, LIT("CLIENT_ERROR invalid shutdown mode"));
    if (env->shutdown)
        env->shutdown(env->arg, graceful);
    return PROTO_CLOSE;
}

static int cmd_stats(struct proto_conn *pc, struct request *r,
                     struct buf *out, int arg)
{
    (void)arg;
    return proto_stats(pc->env, r, out) == 0 ? 0 : PROTO_CLOSE;
}

/* lru_crawler ...: a dump puts the connection in ST_DUMP */
static int cmd_crawler(struct proto_conn *pc, struct request *r,
                       struct buf *out, int arg)
{
    (void)arg;
    int rc = proto_crawler_cmd(pc->env, r, out, &pc->dump);
    if (pc->dump != NULL)
        pc->state = ST_DUMP;
    return rc;
}

/* slabs reassign|automove ... (proto_slabs.c) */
static int cmd_slabs(struct proto_conn *pc, struct request *r,
                     struct buf *out, int arg)
{
    (void)arg;
    return proto_slabs_cmd(pc->env, r, out);
}

/* watch [fetchers|mutations|evictions|connevents|sysevents|rawcmds]*:
 * the connection becomes a watcher (ST_WATCH) until it closes. */
static int cmd_watch(struct proto_conn *pc, struct request *r,
                     struct buf *out, int arg)
{
    static const char *const names[PROTO_LOG_TYPES] = {
        "fetchers", "mutations", "evictions", "connevents", "sysevents",
        "rawcmds",
    };
    const struct proto_env *env = pc->env;
    unsigned mask = 0;
    (void)arg;
    if (!env->cfg->watch_enabled)
        return reply_error_line(out, "CLIENT_ERROR watch commands not allowed");
    if (out->len > 0)
        return reply_error_line(out, "ERROR cannot pipeline other commands "
                                     "before watch");
    for (size_t i = 1; i < r->ntok; i++) {
        int t = 0;
        while (t < PROTO_LOG_TYPES &&
               !proto_tok_eq(&r->tok[i], names[t], strlen(names[t])))
            t++;
        if (t == PROTO_LOG_TYPES)
            return reply_error(out);
        mask |= 1u << t;
    }
    if (mask == 0)
        mask = 1u << PROTO_LOG_FETCHERS;
    void *w = env->watch_open ? env->watch_open(env->arg, mask) : NULL;
    if (w == NULL)
        return reply_error_line(out, "WATCHER_FAILED failed to add log "
                                     "watcher");
    pc->watch = w;
    pc->state = ST_WATCH;
    return buf_append(out, LIT("OK")) == 0 ? 0 : PROTO_CLOSE;
}

/* Commands memcached knows but shmcached does not serve (yet): ERROR. */
static int cmd_unsupported(struct proto_conn *pc, struct request *r,
                           struct buf *out, int arg)
{
    (void)pc, (void)r, (void)arg;
    return reply_error(out);
}

/* ---- dispatch ------------------------------------------------------ */

typedef int (*cmd_fn)(struct proto_conn *, struct request *, struct buf *,
                      int);

struct proto_cmd {
    const char *name;
    unsigned char len;
    unsigned char min, max;     /* token count including the command */
    cmd_fn fn;
    int arg;
};

#define CMD(n, mn, mx, f, a) { n, sizeof(n) - 1, mn, mx, f, a }
/* Hot commands first. Token limits are memcached's WANT_TOKENS rules. */
static const struct proto_cmd cmd_table[] = {
    CMD("get", 2, 255, cmd_get, 0),
    CMD("set", 5, 6, cmd_store, ENGINE_SET),
    CMD("gets", 2, 255, cmd_get, 1),
    CMD("delete", 2, 4, cmd_delete, 0),
    CMD("incr", 3, 4, cmd_delta, 1),
    CMD("decr", 3, 4, cmd_delta, 0),
    CMD("add", 5, 6, cmd_store, ENGINE_ADD),
    CMD("replace", 5, 6, cmd_store, ENGINE_REPLACE),
    CMD("append", 5, 6, cmd_store, ENGINE_APPEND),
    CMD("prepend", 5, 6, cmd_store, ENGINE_PREPEND),
    CMD("cas", 6, 7, cmd_store, ENGINE_CAS),
    CMD("touch", 3, 4, cmd_touch, 0),
    CMD("gat", 2, 255, cmd_get, 2),
    CMD("gats", 2, 255, cmd_get, 3),
    CMD("stats", 1, 255, cmd_stats, 0),
    CMD("flush_all", 1, 3, cmd_flush, 0),
    CMD("version", 1, 255, cmd_version, 0),
    CMD("quit", 1, 255, cmd_quit, 0),
    CMD("verbosity", 2, 3, cmd_verbosity, 0),
    CMD("cache_memlimit", 2, 3, cmd_memlimit, 0),
    CMD("shutdown", 1, 255, cmd_shutdown, 0),
    CMD("lru_crawler", 1, 255, cmd_crawler, 0),
    CMD("slabs", 1, 255, cmd_slabs, 0),
    CMD("watch", 1, PROTO_MAX_TOKENS, cmd_watch, 0),
    CMD("lru", 1, 255, cmd_unsupported, 0),
    CMD("extstore", 1, 255, cmd_unsupported, 0),
    CMD("mg", 2, 255, proto_meta_cmd, 'g'),
    CMD("ms", 2, 255, proto_meta_cmd, 's'),
    CMD("md", 2, 255, proto_meta_cmd, 'd'),
    CMD("ma", 2, 255, proto_meta_cmd, 'a'),
    CMD("mn", 1, 255, proto_meta_cmd, 'n'),
    CMD("me", 1, 255, proto_meta_cmd, 'e'),
};

static const struct proto_cmd *cmd_lookup(const struct proto_token *t)
{
    for (size_t i = 0; i < sizeof cmd_table / sizeof cmd_table[0]; i++) {
        const struct proto_cmd *c = &cmd_table[i];
        if (c->len == t->len && c->name[0] == t->p[0] &&
            memcmp(c->name, t->p, t->len) == 0)
            return c;
    }
    return NULL;
}

/* Runs one parsed line. Returns 0 or PROTO_CLOSE. */
static int dispatch(struct proto_conn *pc, struct request *r, struct buf *out)
{
    if (r->ntok == 0 || r->tok[0].len < 2)
        return reply_error(out);
    const struct proto_cmd *c = cmd_lookup(&r->tok[0]);
    if (c == NULL) {
        /* memcached drops a connection that speaks HTTP to it, except for
         * names in its own command families (g s a c i d t, meta mX) */
        char f = r->tok[0].p[0];
        const struct proto_token *last = &r->tok[r->ntok - 1];
        if (!(f == 'm' && r->tok[0].len == 2) && !strchr("gsacidt", f) &&
            last->len >= 5 && memcmp(last->p, "HTTP/", 5) == 0)
            return PROTO_CLOSE;
        return reply_error(out);
    }
    if (r->ntok < c->min || r->ntok > c->max)
        return reply_error(out);
    /* memcached closes a connection it has no response object for, and
     * what it had not sent yet goes with it */
    if (c->fn != cmd_get && resp_take(pc) < 0) {
        out->len = 0;
        return PROTO_CLOSE;
    }
    return c->fn(pc, r, out, c->arg);
}

/* No '\n' in line[0..len): 1 to wait for more, 0 to close (memcached
 * closes past 2048 bytes unless the line is a get/gets, which may grow up
 * to line_max_get). */
static int partial_line_ok(const struct proto_env *env, const char *line,
                           size_t len)
{
    size_t max = env->cfg->line_max;
    size_t max_get = env->cfg->line_max_get;
    if (len <= max)
        return 1;
    size_t sp = 0;
    while (sp < len && line[sp] == ' ')
        sp++;
    if (sp > 100)
        return 0;
    const char *p = line + sp;
    size_t rem = len - sp;
    if (!((rem >= 4 && memcmp(p, "get ", 4) == 0) ||
          (rem >= 5 && memcmp(p, "gets ", 5) == 0)))
        return 0;
    return len <= max_get;
}

/* ---- -Y authentication ------------------------------------------------ */

#define AUTH_VALUE_MAX (2 * PROTO_AUTH_LEN)

/* An unauthenticated connection's request at in[*pos..len): anything but
 * "set <key> <flags> <exptime> <bytes>" with the value "<user> <pass>" is
 * refused (memcached's proto_text.c). Returns 0 or PROTO_CLOSE with *pos
 * past the request, or 1 to wait for more input (nothing consumed). */
static int auth_request(struct proto_conn *pc, const char *in, size_t len,
                        size_t *pos, struct buf *out)
{
    const char *line = in + *pos;
    const char *nl = memchr(line, '\n', len - *pos);
    struct request r;
    uint32_t size = 0;
    if (nl == NULL)
        return partial_line_ok(pc->env, line, len - *pos) ? 1 : PROTO_CLOSE;
    const char *end = nl > line && nl[-1] == '\r' ? nl - 1 : nl;
    proto_parse_line(line, end, &r);
    if (r.ntok < 5 || !PROTO_TOK_IS(&r.tok[0], "set") ||
        !proto_strtoul32(&r.tok[4], &size) || size > AUTH_VALUE_MAX) {
        *pos += (size_t)(nl - line) + 1;
        return reply_error_line(out, "CLIENT_ERROR unauthenticated");
    }
    const char *val = nl + 1;
    if ((size_t)(in + len - val) < (size_t)size + 2)
        return 1;                           /* the value is not all here */
    *pos = (size_t)(val - in) + size + 2;
    if (val[size] != '\r' || val[size + 1] != '\n')
        return reply_error_line(out, "CLIENT_ERROR bad command line "
                                     "termination");
    struct request cred;
    proto_parse_line(val, val + size, &cred);
    if (cred.ntok < 2)
        return reply_error_line(out, "CLIENT_ERROR bad authentication "
                                     "token format");
    struct proto_counters *k = pc->env->counters;
    if (k)
        k->auth_cmds++;
    if (proto_authfile_check(pc->env->cfg->auth, cred.tok[0].p,
                             cred.tok[0].len, cred.tok[1].p,
                             cred.tok[1].len)) {
        pc->authed = 1;
        return buf_append(out, LIT("STORED")) == 0 ? 0 : PROTO_CLOSE;
    }
    if (k)
        k->auth_errors++;
    return reply_error_line(out, "CLIENT_ERROR authentication failure");
}

/* ---- public -------------------------------------------------------- */

void proto_config_defaults(struct proto_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = PROTO_MODE_AUTO;
    cfg->reqs_per_event = SHMC_REQS_PER_EVENT;
    cfg->line_max = SHMC_LINE_MAX;
    cfg->line_max_get = SHMC_LINE_MAX_GET;
    cfg->flush_enabled = 1;
    cfg->dump_enabled = 1;
    cfg->watch_enabled = 1;
    cfg->detail_delimiter = ':';
    cfg->maxconns_fast = 1;
    cfg->lru_maintainer = 1;
}

struct proto_conn *proto_conn_new(const struct proto_env *env)
{
    struct proto_conn *pc = calloc(1, sizeof *pc);
    if (pc == NULL)
        return NULL;
    pc->env = env;
    pc->state = ST_CMD;
    pc->fd = -1;
    pc->authed = env->cfg->auth == NULL;
    return pc;
}

void proto_conn_free(struct proto_conn *pc)
{
    if (pc == NULL)
        return;
    if (pc->state == ST_NREAD)
        engine_alloc_release(pc->env->worker, &pc->alloc);
    proto_bin_free(pc->bin);
    proto_meta_free(pc->meta);
    proto_dump_free(pc->dump);
    if (pc->watch && pc->env->watch_close)
        pc->env->watch_close(pc->env->arg, pc->watch);
    free(pc);
}

/* ---- for proto_meta.c ------------------------------------------------ */

const struct proto_env *proto_conn_env(const struct proto_conn *pc)
{
    return pc->env;
}

struct proto_meta **proto_conn_meta(struct proto_conn *pc)
{
    return &pc->meta;
}

void proto_conn_nread_meta(struct proto_conn *pc, const struct engine_alloc *a,
                           size_t vlen)
{
    pc->alloc = *a;
    pc->state = ST_NREAD;
    pc->vleft = vlen;
    pc->tgot = 0;
    pc->meta_nread = 1;
}

void proto_conn_swallow(struct proto_conn *pc, size_t n)
{
    pc->state = ST_SWALLOW;
    pc->sleft = n;
}

size_t proto_conn_value_window(struct proto_conn *pc, void **p)
{
    if (pc->mode != MODE_TEXT || pc->state != ST_NREAD || pc->vleft == 0)
        return 0;
    size_t n = engine_alloc_window(pc->env->worker, &pc->alloc, p);
    return n < pc->vleft ? n : pc->vleft;
}

void proto_conn_value_advance(struct proto_conn *pc, size_t n)
{
    if (n > pc->vleft)
        n = pc->vleft;
    engine_alloc_advance(&pc->alloc, n);
    pc->vleft -= n;
}

void proto_conn_set_sender(struct proto_conn *pc, proto_send_fn fn,
                           void *arg)
{
    pc->send = fn;
    pc->send_arg = arg;
}

void proto_conn_drain(struct proto_conn *pc, int on)
{
    pc->drain = on;
    if (pc->bin)
        proto_bin_drain(pc->bin, on);
}

int proto_conn_producing(const struct proto_conn *pc)
{
    return pc->state == ST_DUMP || pc->state == ST_WATCH;
}

void proto_conn_set_fd(struct proto_conn *pc, int fd)
{
    pc->fd = fd;
}

int proto_conn_quit(const struct proto_conn *pc)
{
    return pc->quit;
}

int proto_conn_idle(const struct proto_conn *pc)
{
    if (pc->mode == MODE_BINARY)
        return proto_bin_idle(pc->bin);
    return pc->state == ST_CMD;
}

/* memcached's -B: ascii never, binary always, auto on the request magic. */
static int choose_mode(struct proto_conn *pc, unsigned char first)
{
    enum proto_mode mode = pc->env->cfg->mode;
    if (mode == PROTO_MODE_BINARY ||
        (mode == PROTO_MODE_AUTO && first == PROTO_BIN_REQ_MAGIC)) {
        pc->bin = proto_bin_new(pc->env);
        if (pc->bin == NULL)
            return -1;
        proto_bin_drain(pc->bin, pc->drain);
        pc->mode = MODE_BINARY;
    } else {
        pc->mode = MODE_TEXT;
    }
    return 0;
}

/* ST_DUMP, ST_WATCH: output of the connection's own. Returns 1 to stop
 * feeding (the dump or the watcher waits for its client or for news,
 * PROTO_YIELD | PROTO_MORE set when it produced something), 0 when a dump
 * ended (back to ST_CMD). */
static int produce(struct proto_conn *pc, struct buf *out, int *flags)
{
    const struct proto_env *env = pc->env;
    if (pc->state == ST_DUMP) {
        if (!proto_dump_step(env, &pc->dump, out)) {
            *flags |= PROTO_YIELD | PROTO_MORE;
            return 1;
        }
        pc->state = ST_CMD;
        return 0;
    }
    if (env->watch_read && env->watch_read(env->arg, pc->watch, out) > 0)
        *flags |= PROTO_YIELD | PROTO_MORE;
    return 1;
}

size_t proto_feed(struct proto_conn *pc, const char *in, size_t len,
                  struct buf *out, int *flags)
{
    int max_reqs = pc->env->cfg->reqs_per_event;
    int nreq = 0, rc = 0;
    size_t pos = 0;
    struct request r;

    *flags = 0;
    if (out->len == 0)
        pc->resp_pending = 0;       /* everything before went out */
    if (pc->mode == MODE_UNKNOWN && len > 0 &&
        choose_mode(pc, (unsigned char)in[0]) < 0) {
        *flags = PROTO_CLOSE;
        return 0;
    }
    if (pc->mode == MODE_BINARY)
        return proto_bin_feed(pc->bin, in, len, out, flags);
    while (rc == 0) {
        if (pc->state == ST_DUMP || pc->state == ST_WATCH) {
            if (produce(pc, out, flags)) {
                if (pc->state == ST_WATCH)
                    pos = len;      /* what a watcher sends is dropped */
                break;
            }
            continue;
        }
        if (pos >= len)
            break;
        if (pc->state == ST_NREAD) {
            pos += nread_feed(pc, in + pos, len - pos, out, &rc);
            continue;
        }
        if (pc->state == ST_SWALLOW) {
            size_t n = len - pos < pc->sleft ? len - pos : pc->sleft;
            pc->sleft -= n;
            pos += n;
            if (pc->sleft == 0)
                pc->state = ST_CMD;
            continue;
        }
        if (pc->drain)
            break;
        if (nreq >= max_reqs) {
            *flags |= PROTO_YIELD;
            break;
        }
        if (!pc->authed) {
            int a = auth_request(pc, in, len, &pos, out);
            if (a == 1)
                break;
            nreq++;
            rc = a;
            continue;
        }
        const char *line = in + pos;
        const char *nl = memchr(line, '\n', len - pos);
        if (nl == NULL) {
            if (!partial_line_ok(pc->env, line, len - pos))
                rc = PROTO_CLOSE;
            break;
        }
        const char *end = nl;
        if (end - line > 1 && end[-1] == '\r')
            end--;
        proto_parse_line(line, end, &r);
        pos += (size_t)(nl - line) + 1;
        nreq++;
        rc = dispatch(pc, &r, out);
    }
    *flags |= rc;
    return pos;
}
