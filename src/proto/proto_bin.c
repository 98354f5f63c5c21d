/*
 * proto_bin.c - memcached's binary protocol (1.6: get/set/... with their
 * quiet and key-returning variants, incr/decr with initial value, touch,
 * gat, stat, flush, noop, version, quit; SASL answered as a server without
 * SASL) over the shared-memory engine.
 *
 * Design. proto_bin_feed() is a loop over three states, like the text
 * protocol's:
 *   BS_HEADER  wait for the 24-byte header, decode it (parse_header: bytes
 *              -> struct bin_req), check the lengths every request must
 *              satisfy, wait for extras + key, then look the opcode up in
 *              a table (validation rule + handler) and run the handler
 *              (dispatch). Only header + extras + key are consumed here;
 *   BS_VALUE   the value of a storage command is streamed into the
 *              engine's allocation (engine_alloc_write) as bytes arrive,
 *              then stored (engine_alloc_store) and answered: a value is
 *              never held whole in the connection's input;
 *   BS_SWALLOW the value of a refused request (too large, out of memory,
 *              unknown command) is read and dropped.
 * Responses are appended to the caller's out buffer; quiet requests add
 * nothing on success (quiet gets nothing on a miss), so their replies are
 * naturally batched with the next non-quiet one. Errors are always sent.
 *
 * Invariants.
 *  - In BS_VALUE, pb->alloc holds a live engine allocation, consumed by
 *    engine_alloc_store() or engine_alloc_release() exactly once;
 *    proto_bin_free() releases it if the connection dies mid-value.
 *  - A request is consumed only once header, extras and key are all in
 *    (at most 24 + 255 + 250 bytes are ever waited for); value bytes are
 *    consumed as they come. So the connection stands between requests
 *    exactly in BS_HEADER (proto_bin_idle).
 *  - While draining (proto_bin_drain), the value in progress is finished
 *    and no new request is started: a retiring worker hands the
 *    connection off at the boundary with its unconsumed input.
 *  - Validation follows memcached: extras + key longer than the body ->
 *    "Unknown command" and close; key over 250 bytes or lengths that do
 *    not fit the opcode -> "Invalid arguments" and close; a magic other
 *    than 0x80 -> close without a reply.
 *
 * Counting. The engine counts per operation (cmd_get, hits, misses,
 * cmd_set, ...); handlers count nothing (a flush refused by -F is not
 * counted by memcached's binary protocol either).
 */
#include "proto/proto_bin.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/ops.h"
#include "proto/proto_text.h"
#include "core/version.h"

#define DELTA_NO_CREATE 0xffffffffu

/* Opcodes (memcached's protocol_binary_command). */
enum {
    OP_GET = 0x00, OP_SET = 0x01, OP_ADD = 0x02, OP_REPLACE = 0x03,
    OP_DELETE = 0x04, OP_INCREMENT = 0x05, OP_DECREMENT = 0x06,
    OP_QUIT = 0x07, OP_FLUSH = 0x08, OP_GETQ = 0x09, OP_NOOP = 0x0a,
    OP_VERSION = 0x0b, OP_GETK = 0x0c, OP_GETKQ = 0x0d, OP_APPEND = 0x0e,
    OP_PREPEND = 0x0f, OP_STAT = 0x10, OP_SETQ = 0x11, OP_ADDQ = 0x12,
    OP_REPLACEQ = 0x13, OP_DELETEQ = 0x14, OP_INCREMENTQ = 0x15,
    OP_DECREMENTQ = 0x16, OP_QUITQ = 0x17, OP_FLUSHQ = 0x18,
    OP_APPENDQ = 0x19, OP_PREPENDQ = 0x1a, OP_TOUCH = 0x1c, OP_GAT = 0x1d,
    OP_GATQ = 0x1e, OP_SASL_LIST = 0x20, OP_SASL_AUTH = 0x21,
    OP_SASL_STEP = 0x22, OP_GATK = 0x23, OP_GATKQ = 0x24,
};

/* A decoded request header; ext and key point into the caller's input and
 * are valid during dispatch only. */
struct bin_req {
    uint8_t magic, opcode, extlen;
    uint16_t keylen;
    uint32_t bodylen, opaque;
    uint64_t cas;
    const unsigned char *ext;
    const char *key;
};

enum bin_state { BS_HEADER = 0, BS_VALUE, BS_SWALLOW };

struct proto_bin {
    const struct proto_env *env;
    enum bin_state state;
    /* BS_VALUE: the storage request being received */
    struct engine_alloc alloc;
    size_t vleft;
    uint8_t opcode;
    uint8_t quiet;
    uint32_t opaque;
    uint64_t cas_in;
    int op;                 /* enum engine_store_op as asked (not CAS) */
    char key[SHMC_KEY_MAX];      /* append/prepend with CAS: key to check */
    uint8_t nkey;
    /* BS_SWALLOW */
    size_t sleft;
    int drain;              /* proto_bin_drain(): no new request */
    void *sasl;             /* -S: the connection's SASL state */
    int sasl_started;       /* SASL_AUTH answered OK or continue */
    int authed;             /* -S passed (or no -S) */
};

/* ---- encoding ------------------------------------------------------ */

static inline uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static inline unsigned char *put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static inline unsigned char *put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    return put32(p + 4, (uint32_t)v);
}

int proto_bin_header(struct buf *out, uint8_t opcode, uint16_t status,
                     uint8_t extlen, uint16_t keylen, uint32_t bodylen,
                     uint32_t opaque, uint64_t cas)
{
    if (buf_reserve(out, PROTO_BIN_HEADER) < 0)
        return -1;
    unsigned char *p = (unsigned char *)out->data + out->len;
    p[0] = PROTO_BIN_RES_MAGIC;
    p[1] = opcode;
    p[2] = (unsigned char)(keylen >> 8);
    p[3] = (unsigned char)keylen;
    p[4] = extlen;
    p[5] = 0;                               /* datatype: raw bytes */
    p[6] = (unsigned char)(status >> 8);
    p[7] = (unsigned char)status;
    put32(p + 8, bodylen);
    memcpy(p + 12, &opaque, 4);             /* echoed as received */
    put64(p + 16, cas);
    out->len += PROTO_BIN_HEADER;
    return 0;
}

/* ---- parser -------------------------------------------------------- */

/* Decodes the 24-byte header at p (len >= 24 bytes available). */
static void parse_header(const unsigned char *p, struct bin_req *r)
{
    r->magic = p[0];
    r->opcode = p[1];
    r->keylen = get16(p + 2);
    r->extlen = p[4];
    r->bodylen = get32(p + 8);
    memcpy(&r->opaque, p + 12, 4);
    r->cas = get64(p + 16);
    r->ext = p + PROTO_BIN_HEADER;
    r->key = (const char *)p + PROTO_BIN_HEADER + r->extlen;
}

/* Body bytes after extras and key (the value). */
static inline uint32_t value_len(const struct bin_req *r)
{
    return r->bodylen - r->extlen - r->keylen;
}

/* ---- replies ------------------------------------------------------- */

static int rc_of(int err)
{
    return err ? PROTO_CLOSE : 0;
}

/* memcached's text for each error status. */
static const char *status_text(uint16_t status)
{
    switch (status) {
    case BIN_KEY_ENOENT: return "Not found";
    case BIN_KEY_EEXISTS: return "Data exists for key.";
    case BIN_E2BIG: return "Too large.";
    case BIN_EINVAL: return "Invalid arguments";
    case BIN_NOT_STORED: return "Not stored.";
    case BIN_DELTA_BADVAL:
        return "Non-numeric server-side value for incr or decr";
    case BIN_AUTH_ERROR: return "Auth failure.";
    case BIN_UNKNOWN_COMMAND: return "Unknown command";
    case BIN_ENOMEM: return "Out of memory";
    case BIN_EINTERNAL: return "Internal error";
    default: return "";
    }
}

static int reply_error(struct buf *out, uint8_t opcode, uint32_t opaque,
                       uint16_t status)
{
    const char *s = status_text(status);
    size_t n = strlen(s);
    return rc_of(proto_bin_header(out, opcode, status, 0, 0, (uint32_t)n,
                                  opaque, 0) ||
                 buf_append(out, s, n));
}

/* A success with an optional body (not sent for a quiet request). */
static int reply_ok(struct buf *out, uint8_t opcode, uint32_t opaque,
                    int quiet, uint64_t cas, const void *body, size_t n)
{
    if (quiet)
        return 0;
    return rc_of(proto_bin_header(out, opcode, BIN_OK, 0, 0, (uint32_t)n,
                                  opaque, cas) ||
                 (n && buf_append(out, body, n)));
}

/* ---- retrieval: get, getk, gat, gatk, touch (and quiet forms) ------- */

enum { G_KEY = 1, G_TOUCH = 2, G_NOVALUE = 4 };

struct get_ctx {
    struct buf *out;
    const struct bin_req *r;
    int how;
    int oom;
};

/* Engine callback, under the bucket lock: header, flags, [key], [value]. */
static void get_hit(void *arg, const struct engine_item_info *it)
{
    struct get_ctx *g = arg;
    size_t nkey = (g->how & G_KEY) ? it->nkey : 0;
    size_t nval = (g->how & G_NOVALUE) ? 0 : it->nbytes;
    struct buf *out = g->out;

    if (buf_reserve(out, PROTO_BIN_HEADER + 4 + nkey + nval) < 0 ||
        proto_bin_header(out, g->r->opcode, BIN_OK, 4, (uint16_t)nkey,
                         (uint32_t)(4 + nkey + nval), g->r->opaque,
                         it->cas) < 0) {
        g->oom = 1;
        return;
    }
    unsigned char *p = (unsigned char *)out->data + out->len;
    p = put32(p, it->flags);
    memcpy(p, it->key, nkey);
    engine_value_copy(it, 0, nval, p + nkey);
    out->len += 4 + nkey + nval;
}

static int cmd_get(struct proto_bin *pb, const struct bin_req *r,
                   struct buf *out, int how, int quiet)
{
    const struct proto_env *env = pb->env;
    struct get_ctx g = { out, r, how, 0 };
    enum engine_status st;

    if (how & G_NOVALUE) {
        /* touch: the engine counts it as a touch; the reply carries the
         * item's flags and CAS, read right after */
        st = engine_touch(env->worker, r->key, r->keylen,
                          engine_exptime(env->engine, get32(r->ext)));
        if (st == ENGINE_OK)
            st = engine_peek(env->worker, r->key, r->keylen, get_hit, &g);
    } else if (how & G_TOUCH) {
        st = engine_gat(env->worker, r->key, r->keylen,
                        engine_exptime(env->engine, get32(r->ext)),
                        get_hit, &g);
    } else {
        st = engine_get(env->worker, r->key, r->keylen, get_hit, &g);
    }
    if (g.oom)
        return PROTO_CLOSE;
    if (st == ENGINE_OK)
        return 0;
    if (st == ENGINE_ERROR)     /* reported even by a quiet get */
        return reply_error(out, r->opcode, r->opaque, BIN_EINTERNAL);
    if (quiet)
        return 0;
    if (how & G_KEY)    /* getk/gatk miss: the key, no text */
        return rc_of(proto_bin_header(out, r->opcode, BIN_KEY_ENOENT, 0,
                                      r->keylen, r->keylen, r->opaque, 0) ||
                     buf_append(out, r->key, r->keylen));
    return reply_error(out, r->opcode, r->opaque, BIN_KEY_ENOENT);
}

/* ---- storage: set, add, replace, append, prepend (and quiet forms) -- */

static void swallow(struct proto_bin *pb, size_t n)
{
    if (n > 0) {
        pb->state = BS_SWALLOW;
        pb->sleft = n;
    }
}

static int store_complete(struct proto_bin *pb, struct buf *out);

static int cmd_store(struct proto_bin *pb, const struct bin_req *r,
                     struct buf *out, int op, int quiet)
{
    const struct proto_env *env = pb->env;
    uint32_t flags = 0, exptime = 0, vlen = value_len(r);

    if (op == ENGINE_SET || op == ENGINE_ADD || op == ENGINE_REPLACE) {
        flags = get32(r->ext);
        exptime = engine_exptime(env->engine, get32(r->ext + 4));
    }
    /* the engine counts cmd_set, store_too_large, store_no_memory */
    enum engine_status st = engine_alloc(env->worker, r->key, r->keylen,
                                         flags, exptime, vlen, &pb->alloc);
    if (st != ENGINE_OK) {
        /* memcached: a failed set must not leave the old value readable */
        if (op == ENGINE_SET)
            engine_unlink(env->worker, r->key, r->keylen);
        swallow(pb, vlen);
        return reply_error(out, r->opcode, r->opaque,
                           st == ENGINE_TOO_LARGE ? BIN_E2BIG :
                           st == ENGINE_ERROR ? BIN_EINTERNAL : BIN_ENOMEM);
    }
    pb->state = BS_VALUE;
    pb->vleft = vlen;
    pb->opcode = r->opcode;
    pb->quiet = (uint8_t)quiet;
    pb->opaque = r->opaque;
    pb->cas_in = r->cas;
    pb->op = op;
    memcpy(pb->key, r->key, r->keylen);
    pb->nkey = (uint8_t)r->keylen;
    return vlen == 0 ? store_complete(pb, out) : 0;
}

/* The value is in: store it and reply. */
static int store_complete(struct proto_bin *pb, struct buf *out)
{
    struct engine_worker *w = pb->env->worker;
    int op = pb->op;
    uint64_t cas = 0;

    pb->state = BS_HEADER;
    /* a non-zero CAS in the header: compare-and-swap, checked in the same
     * step as the store (append/prepend too, as memcached refuses them on
     * a different CAS) */
    if (pb->cas_in != 0 && op != ENGINE_APPEND && op != ENGINE_PREPEND)
        op = ENGINE_CAS;
    struct engine_mset_opts o = { .mode = op, .cas = pb->cas_in,
                                  .has_cas = pb->cas_in != 0 };
    enum engine_status st = engine_mset(w, &pb->alloc, &o, &cas);
    uint16_t status;
    switch (st) {
    case ENGINE_STORED:
        return reply_ok(out, pb->opcode, pb->opaque, pb->quiet, cas, NULL, 0);
    case ENGINE_EXISTS:
        status = BIN_KEY_EEXISTS;
        break;
    case ENGINE_NOT_FOUND:
        status = BIN_KEY_ENOENT;
        break;
    case ENGINE_ERROR:
        status = BIN_EINTERNAL;
        break;
    default:    /* not stored, too large or no memory after concat */
        status = op == ENGINE_ADD ? BIN_KEY_EEXISTS :
                 op == ENGINE_REPLACE ? BIN_KEY_ENOENT : BIN_NOT_STORED;
        break;
    }
    return reply_error(out, pb->opcode, pb->opaque, status);
}

/* BS_VALUE: value bytes from in[0..len). */
static size_t value_feed(struct proto_bin *pb, const char *in, size_t len,
                         struct buf *out, int *rc)
{
    size_t n = len < pb->vleft ? len : pb->vleft;
    engine_alloc_write(pb->env->worker, &pb->alloc, in, n);
    pb->vleft -= n;
    if (pb->vleft == 0)
        *rc = store_complete(pb, out);
    return n;
}

/* ---- other commands ------------------------------------------------ */

static int cmd_delete(struct proto_bin *pb, const struct bin_req *r,
                      struct buf *out, int arg, int quiet)
{
    (void)arg;
    struct engine_mdel_opts o = { .has_cas = r->cas != 0, .cas = r->cas,
                                  .exists_uncounted = 1 };
    struct engine_worker *w = pb->env->worker;
    switch (r->cas == 0 ? engine_delete(w, r->key, r->keylen)
                        : engine_mdelete(w, r->key, r->keylen, &o)) {
    case ENGINE_OK:
        return reply_ok(out, r->opcode, r->opaque, quiet, 0, NULL, 0);
    case ENGINE_EXISTS:
        return reply_error(out, r->opcode, r->opaque, BIN_KEY_EEXISTS);
    case ENGINE_ERROR:
        return reply_error(out, r->opcode, r->opaque, BIN_EINTERNAL);
    default:
        return reply_error(out, r->opcode, r->opaque, BIN_KEY_ENOENT);
    }
}

/* incr/decr: extras are delta (8), initial (8), expiration (4). A miss
 * creates the item with the initial value unless expiration is
 * 0xffffffff. A non-zero CAS must match the item's. */
static int cmd_delta(struct proto_bin *pb, const struct bin_req *r,
                     struct buf *out, int incr, int quiet)
{
    const struct proto_env *env = pb->env;
    uint64_t delta = get64(r->ext), initial = get64(r->ext + 8);
    uint32_t exp = get32(r->ext + 16);
    /* compare, create with the initial value, change: one atomic step */
    struct engine_marith_opts o = {
        .incr = incr != 0, .delta = delta, .has_cas = r->cas != 0,
        .cas = r->cas, .vivify = exp != DELTA_NO_CREATE, .initial = initial,
        .viv_exptime = engine_exptime(env->engine, exp) };
    struct engine_marith_result res;
    enum engine_status st = engine_marith(env->worker, r->key, r->keylen, &o,
                                          &res);
    unsigned char body[8];
    switch (st) {
    case ENGINE_OK:
        put64(body, res.value);
        return reply_ok(out, r->opcode, r->opaque, quiet, res.cas, body, 8);
    case ENGINE_EXISTS:
        return reply_error(out, r->opcode, r->opaque, BIN_KEY_EEXISTS);
    case ENGINE_NOT_FOUND:
        return reply_error(out, r->opcode, r->opaque, BIN_KEY_ENOENT);
    case ENGINE_NON_NUMERIC:
        return reply_error(out, r->opcode, r->opaque, BIN_DELTA_BADVAL);
    case ENGINE_ERROR:
        return reply_error(out, r->opcode, r->opaque, BIN_EINTERNAL);
    default:
        return reply_error(out, r->opcode, r->opaque, BIN_ENOMEM);
    }
}

static int cmd_flush(struct proto_bin *pb, const struct bin_req *r,
                     struct buf *out, int arg, int quiet)
{
    (void)arg;
    if (!pb->env->cfg->flush_enabled)  /* memcached: not counted, auth failure */
        return reply_error(out, r->opcode, r->opaque, BIN_AUTH_ERROR);
    uint32_t when = r->extlen == 4 ? get32(r->ext) : 0;
    engine_flush(pb->env->worker, when);    /* counts cmd_flush */
    return reply_ok(out, r->opcode, r->opaque, quiet, 0, NULL, 0);
}

static int cmd_noop(struct proto_bin *pb, const struct bin_req *r,
                    struct buf *out, int arg, int quiet)
{
    (void)pb, (void)arg, (void)quiet;
    return reply_ok(out, r->opcode, r->opaque, 0, 0, NULL, 0);
}

static int cmd_version(struct proto_bin *pb, const struct bin_req *r,
                       struct buf *out, int arg, int quiet)
{
    (void)pb, (void)arg, (void)quiet;
    return reply_ok(out, r->opcode, r->opaque, 0, 0, SHMC_VERSION,
                    sizeof(SHMC_VERSION) - 1);
}

static int cmd_quit(struct proto_bin *pb, const struct bin_req *r,
                    struct buf *out, int arg, int quiet)
{
    (void)pb, (void)arg;
    return reply_ok(out, r->opcode, r->opaque, quiet, 0, NULL, 0) |
           PROTO_CLOSE;
}

static int cmd_stat(struct proto_bin *pb, const struct bin_req *r,
                    struct buf *out, int arg, int quiet)
{
    (void)arg, (void)quiet;
    return rc_of(proto_bin_stats(pb->env, r->key, r->keylen, r->opcode,
                                 r->opaque, out));
}

/* ---- SASL (-S) -------------------------------------------------------- */

#define SASL_MECH_MAX 32    /* memcached's MAX_SASL_MECH_LEN */
#define SASL_DATA_MAX 1024

static int cmd_sasl_list(struct proto_bin *pb, const struct bin_req *r,
                         struct buf *out, int arg, int quiet)
{
    const struct proto_env *env = pb->env;
    const char *list = NULL;
    unsigned n = 0;
    (void)arg, (void)quiet;
    if (env->sasl_mechs(env->arg, &pb->sasl, &list, &n) < 0)
        return reply_error(out, r->opcode, r->opaque, BIN_AUTH_ERROR);
    return reply_ok(out, r->opcode, r->opaque, 0, 0, list, n);
}

/* SASL_AUTH / SASL_STEP: the body (mechanism as key, data as value) is
 * all in: proto_bin_feed() waits for it. */
static int cmd_sasl_auth(struct proto_bin *pb, const struct bin_req *r,
                         struct buf *out, int start, int quiet)
{
    const struct proto_env *env = pb->env;
    struct proto_counters *k = env->counters;
    const char *chal = NULL;
    unsigned clen = 0;
    char mech[SASL_MECH_MAX + 1];
    (void)quiet;
    memcpy(mech, r->key, r->keylen);
    mech[r->keylen] = '\0';
    uint32_t vlen = value_len(r);
    const char *data = vlen ? r->key + r->keylen : NULL;
    int rc = -1;
    if (start) {
        rc = env->sasl_step(env->arg, &pb->sasl, 1, mech, data, vlen, &chal,
                            &clen);
        pb->sasl_started = rc >= 0;
    } else if (pb->sasl_started) {
        rc = env->sasl_step(env->arg, &pb->sasl, 0, mech, data, vlen, &chal,
                            &clen);
    }
    if (rc == 1)                /* the mechanism's challenge */
        return rc_of(proto_bin_header(out, r->opcode, 0x21, 0, 0, clen,
                                      r->opaque, 0) ||
                     (clen && buf_append(out, chal, clen)));
    if (k)
        k->auth_cmds++;
    if (rc == 0) {
        pb->authed = 1;
        return reply_ok(out, r->opcode, r->opaque, 0, 0, "Authenticated",
                        strlen("Authenticated"));
    }
    if (k)
        k->auth_errors++;
    return reply_error(out, r->opcode, r->opaque, BIN_AUTH_ERROR);
}

/* Unknown opcodes, and SASL on a server without SASL: "Unknown command",
 * the value is read and dropped. */
static int cmd_unknown(struct proto_bin *pb, const struct bin_req *r,
                       struct buf *out, int arg, int quiet)
{
    (void)arg, (void)quiet;
    swallow(pb, value_len(r));
    return reply_error(out, r->opcode, r->opaque, BIN_UNKNOWN_COMMAND);
}

/* ---- dispatch ------------------------------------------------------ */

/* Length rules per opcode, as memcached checks them. */
enum rule {
    R_NONE = 0,     /* unknown opcode: any lengths */
    R_EMPTY,        /* no extras, key or body */
    R_FLUSH,        /* no key, extras 0 or 4, nothing else */
    R_STORE,        /* extras 8, key, body >= key + 8 */
    R_KEY,          /* key only */
    R_DELTA,        /* extras 20, key, nothing else */
    R_CONCAT,       /* key, no extras (value follows) */
    R_STAT,         /* no extras */
    R_SASL,         /* key, no extras */
    R_TOUCH,        /* extras 4, key */
};

static int valid(enum rule rule, const struct bin_req *r)
{
    unsigned e = r->extlen, k = r->keylen;
    uint32_t b = r->bodylen;
    switch (rule) {
    case R_NONE: return 1;
    case R_EMPTY: return e == 0 && k == 0 && b == 0;
    case R_FLUSH: return k == 0 && b == e && (e == 0 || e == 4);
    case R_STORE: return e == 8 && k != 0 && b >= k + 8;
    case R_KEY: return e == 0 && k != 0 && b == k;
    case R_DELTA: return e == 20 && k != 0 && b == k + 20;
    case R_CONCAT: return e == 0 && k != 0;
    case R_STAT: return e == 0;
    case R_SASL: return e == 0 && k != 0;
    case R_TOUCH: return e == 4 && k != 0;
    }
    return 0;
}

typedef int (*bin_fn)(struct proto_bin *, const struct bin_req *,
                      struct buf *, int arg, int quiet);

struct bin_cmd {
    bin_fn fn;
    unsigned char rule;
    unsigned char quiet;
    int arg;
};

#define BC(op, f, ru, q, a) [op] = { f, ru, q, a }
static const struct bin_cmd cmd_table[256] = {
    BC(OP_GET, cmd_get, R_KEY, 0, 0),
    BC(OP_GETQ, cmd_get, R_KEY, 1, 0),
    BC(OP_GETK, cmd_get, R_KEY, 0, G_KEY),
    BC(OP_GETKQ, cmd_get, R_KEY, 1, G_KEY),
    BC(OP_GAT, cmd_get, R_TOUCH, 0, G_TOUCH),
    BC(OP_GATQ, cmd_get, R_TOUCH, 1, G_TOUCH),
    BC(OP_GATK, cmd_get, R_TOUCH, 0, G_TOUCH | G_KEY),
    BC(OP_GATKQ, cmd_get, R_TOUCH, 1, G_TOUCH | G_KEY),
    BC(OP_TOUCH, cmd_get, R_TOUCH, 0, G_TOUCH | G_NOVALUE),
    BC(OP_SET, cmd_store, R_STORE, 0, ENGINE_SET),
    BC(OP_SETQ, cmd_store, R_STORE, 1, ENGINE_SET),
    BC(OP_ADD, cmd_store, R_STORE, 0, ENGINE_ADD),
    BC(OP_ADDQ, cmd_store, R_STORE, 1, ENGINE_ADD),
    BC(OP_REPLACE, cmd_store, R_STORE, 0, ENGINE_REPLACE),
    BC(OP_REPLACEQ, cmd_store, R_STORE, 1, ENGINE_REPLACE),
    BC(OP_APPEND, cmd_store, R_CONCAT, 0, ENGINE_APPEND),
    BC(OP_APPENDQ, cmd_store, R_CONCAT, 1, ENGINE_APPEND),
    BC(OP_PREPEND, cmd_store, R_CONCAT, 0, ENGINE_PREPEND),
    BC(OP_PREPENDQ, cmd_store, R_CONCAT, 1, ENGINE_PREPEND),
    BC(OP_DELETE, cmd_delete, R_KEY, 0, 0),
    BC(OP_DELETEQ, cmd_delete, R_KEY, 1, 0),
    BC(OP_INCREMENT, cmd_delta, R_DELTA, 0, 1),
    BC(OP_INCREMENTQ, cmd_delta, R_DELTA, 1, 1),
    BC(OP_DECREMENT, cmd_delta, R_DELTA, 0, 0),
    BC(OP_DECREMENTQ, cmd_delta, R_DELTA, 1, 0),
    BC(OP_FLUSH, cmd_flush, R_FLUSH, 0, 0),
    BC(OP_FLUSHQ, cmd_flush, R_FLUSH, 1, 0),
    BC(OP_QUIT, cmd_quit, R_EMPTY, 0, 0),
    BC(OP_QUITQ, cmd_quit, R_EMPTY, 1, 0),
    BC(OP_NOOP, cmd_noop, R_EMPTY, 0, 0),
    BC(OP_VERSION, cmd_version, R_EMPTY, 0, 0),
    BC(OP_STAT, cmd_stat, R_STAT, 0, 0),
    BC(OP_SASL_LIST, cmd_unknown, R_EMPTY, 0, 0),
    BC(OP_SASL_AUTH, cmd_unknown, R_SASL, 0, 0),
    BC(OP_SASL_STEP, cmd_unknown, R_SASL, 0, 0),
};

/* Runs one request whose header, extras and key are in. 0 or PROTO_CLOSE. */
static int dispatch(struct proto_bin *pb, const struct bin_req *r,
                    struct buf *out)
{
    const struct bin_cmd *c = &cmd_table[r->opcode];
    if (c->fn == NULL)
        return cmd_unknown(pb, r, out, 0, 0);
    if (!valid((enum rule)c->rule, r))
        return reply_error(out, r->opcode, r->opaque, BIN_EINVAL) |
               PROTO_CLOSE;
    if (pb->env->cfg->sasl && pb->env->sasl_step) {
        switch (r->opcode) {
        case OP_SASL_LIST:
            return cmd_sasl_list(pb, r, out, 0, 0);
        case OP_SASL_AUTH:
        case OP_SASL_STEP:
            return cmd_sasl_auth(pb, r, out, r->opcode == OP_SASL_AUTH, 0);
        case OP_VERSION:
            break;
        default:        /* memcached: refused, and the connection closes */
            if (!pb->authed)
                return reply_error(out, r->opcode, r->opaque,
                                   BIN_AUTH_ERROR) | PROTO_CLOSE;
        }
    }
    return c->fn(pb, r, out, c->arg, c->quiet);
}

/* ---- public -------------------------------------------------------- */

struct proto_bin *proto_bin_new(const struct proto_env *env)
{
    struct proto_bin *pb = calloc(1, sizeof *pb);
    if (pb == NULL)
        return NULL;
    pb->env = env;
    pb->state = BS_HEADER;
    pb->authed = !env->cfg->sasl;
    return pb;
}

void proto_bin_free(struct proto_bin *pb)
{
    if (pb == NULL)
        return;
    if (pb->state == BS_VALUE)
        engine_alloc_release(pb->env->worker, &pb->alloc);
    if (pb->sasl && pb->env->sasl_free)
        pb->env->sasl_free(pb->env->arg, pb->sasl);
    free(pb);
}

int proto_bin_idle(const struct proto_bin *pb)
{
    return pb->state == BS_HEADER;
}

void proto_bin_drain(struct proto_bin *pb, int on)
{
    pb->drain = on;
}

size_t proto_bin_feed(struct proto_bin *pb, const char *in, size_t len,
                      struct buf *out, int *flags)
{
    int max_reqs = pb->env->cfg->reqs_per_event;
    int nreq = 0, rc = 0;
    size_t pos = 0;
    struct bin_req r;

    *flags = 0;
    while (pos < len && rc == 0) {
        if (pb->state == BS_VALUE) {
            pos += value_feed(pb, in + pos, len - pos, out, &rc);
            continue;
        }
        if (pb->state == BS_SWALLOW) {
            size_t n = len - pos < pb->sleft ? len - pos : pb->sleft;
            pb->sleft -= n;
            pos += n;
            if (pb->sleft == 0)
                pb->state = BS_HEADER;
            continue;
        }
        if (pb->drain)
            break;
        if (nreq >= max_reqs) {
            *flags |= PROTO_YIELD;
            break;
        }
        if (len - pos < PROTO_BIN_HEADER)
            break;
        parse_header((const unsigned char *)in + pos, &r);
        if (r.magic != PROTO_BIN_REQ_MAGIC) {
            rc = PROTO_CLOSE;       /* memcached closes without a reply */
            break;
        }
        if ((uint32_t)r.keylen + r.extlen > r.bodylen) {
            rc = reply_error(out, r.opcode, r.opaque, BIN_UNKNOWN_COMMAND) |
                 PROTO_CLOSE;
            break;
        }
        if (r.keylen > SHMC_KEY_MAX) {
            rc = reply_error(out, r.opcode, r.opaque, BIN_EINVAL) |
                 PROTO_CLOSE;
            break;
        }
        size_t need = PROTO_BIN_HEADER + (size_t)r.extlen + r.keylen;
        int sasl = pb->env->cfg->sasl && (r.opcode == OP_SASL_AUTH ||
                                          r.opcode == OP_SASL_STEP);
        if (sasl && (r.keylen > SASL_MECH_MAX ||
                     r.bodylen > SASL_MECH_MAX + SASL_DATA_MAX)) {
            /* memcached: EINVAL, the body is swallowed */
            if (len - pos < need)
                break;
            pos += need;
            nreq++;
            swallow(pb, value_len(&r));
            rc = reply_error(out, r.opcode, r.opaque, BIN_EINVAL);
            continue;
        }
        if (sasl)
            need = PROTO_BIN_HEADER + (size_t)r.bodylen;   /* all of it */
        if (len - pos < need)
            break;
        pos += need;
        nreq++;
        rc = dispatch(pb, &r, out);
    }
    *flags |= rc;
    return pos;
}
