/*
 * proto_meta.c - memcached's meta commands: mg (get), ms (set), md
 * (delete), ma (arithmetic), mn (no-op), me (debug), as memcached 1.6.18
 * answers them, byte for byte (doc/protocol.txt "Meta Commands"), over the
 * engine's meta operations (ops.h).
 *
 * Design. A command line, already tokenized by proto_text.c, is parsed
 * into a struct meta_req (parse_flags: memcached's flag pre-parse, same
 * accepted set and error strings for every command), then the command's
 * handler runs one engine_meta operation and formats the reply. Reply
 * flags come back in the order the request gave them (memcached walks the
 * request tokens while formatting), so handlers walk the tokens again; a
 * TTL printed by `t` is the one current at that point of the walk (T or a
 * vivifying N earlier on the line has already changed it).
 *
 * ms: the line is checked, the item allocated, and what the reply needs
 * (return flags in order, key, opaque, q) is kept in the connection's
 * struct proto_meta, because the request tokens die with the input; the
 * value streams through proto_text.c's ST_NREAD, which calls
 * proto_meta_nread_done() to store it and reply. A refused ms (bad flag,
 * too large...) has its data block swallowed, as memcached does; a line
 * whose data length cannot be read is not followed by a swallow.
 *
 * Quirks kept from memcached 1.6.18: q hides only HD (ms, md, ma), the
 * VA of ma, and a whole mg miss (EN); an mg hit is always answered. md and
 * ma report any flag error as "invalid or duplicate flag". me's exp is
 * (now - exptime), negative for a live item.
 *
 * Extensions (memcached 1.6.18 refuses them as invalid flags; newer
 * memcached documents them): E<cas> sets the CAS of the item ms, ma, md I
 * or x, or a vivifying mg creates; md x empties the value and keeps the
 * item (flags, TTL).
 */
#include "proto/proto_meta.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "engine/ops.h"
#include "proto/proto.h"
#include "proto/proto_text.h"

#define META_MAX_TOKENS 20      /* memcached: 20 with its end token */
#define META_OPAQUE_MAX 32      /* 'O' and the opaque */
#define META_LINE_MAX 4096
#define META_FLAGS_MAX 640      /* ms return flags kept for the reply */

#define LIT(s) s "\r\n", sizeof(s "\r\n") - 1

static const char E_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char E_BADTOKEN[] = "CLIENT_ERROR bad token in command line format";

/* A parsed meta command line. */
struct meta_req {
    const struct request *r;
    size_t first;               /* first flag token */
    char key[SHMC_KEY_MAX + 1];
    size_t nkey;
    unsigned key_binary:1, q:1, u:1, v:1, inval:1, x:1;
    unsigned hasN:1, hasT:1, hasR:1, hasC:1, hasE:1, hasD:1;
    char mode;
    int32_t N, T, R;
    uint32_t F;
    uint64_t C, J, D, E;
};

/* An ms waiting for its value. */
struct proto_meta {
    struct engine_mset_opts opts;
    int q;
    char key[SHMC_KEY_MAX + 1];
    size_t nkey;
    int key_binary;
    char flags[META_FLAGS_MAX];    /* return flags, space separated */
    size_t nflags;
};

/* ---- base64 (RFC 4648, padded) --------------------------------------- */

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Decodes [s, s+n) into dst; returns the length, 0 on malformed input. */
static size_t b64_decode(const char *s, size_t n, char *dst)
{
    size_t out = 0;
    if (n == 0 || n % 4 != 0)
        return 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_val(s[i + k])) < 0) {
                return 0;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        dst[out++] = (char)(w >> 16);
        if (pad < 2)
            dst[out++] = (char)(w >> 8);
        if (pad < 1)
            dst[out++] = (char)w;
    }
    return out;
}

static char *b64_encode(const char *s, size_t n, char *p)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n)
            w |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            w |= (unsigned char)s[i + 2];
        *p++ = B64[w >> 18 & 63];
        *p++ = B64[w >> 12 & 63];
        *p++ = i + 1 < n ? B64[w >> 6 & 63] : '=';
        *p++ = i + 2 < n ? B64[w & 63] : '=';
    }
    return p;
}

/* ---- reply pieces ----------------------------------------------------- */

static char *put_u64(char *p, uint64_t v)
{
    return p + proto_u64toa(v, p);
}

static char *put_flag(char *p, char f)
{
    *p++ = ' ';
    *p++ = f;
    return p;
}

static char *put_tok(char *p, const struct proto_token *t)
{
    *p++ = ' ';
    memcpy(p, t->p, t->len);
    return p + t->len;
}

/* " k<key>", base64 and followed by " b" for a binary key. */
static char *put_key(char *p, const char *key, size_t nkey, int binary)
{
    p = put_flag(p, 'k');
    if (!binary) {
        memcpy(p, key, nkey);
        return p + nkey;
    }
    p = b64_encode(key, nkey, p);
    return put_flag(p, 'b');
}

/* " t<ttl>" as memcached prints it: -1 for never, else exptime - now. */
static char *put_ttl(char *p, uint32_t exptime, uint32_t now)
{
    p = put_flag(p, 't');
    if (exptime == 0) {
        memcpy(p, "-1", 2);
        return p + 2;
    }
    return put_u64(p, (uint32_t)(exptime - now));
}

static int emit(struct buf *out, const char *line, size_t n)
{
    return buf_append(out, line, n) == 0 ? 0 : PROTO_CLOSE;
}

static int emit_err(struct buf *out, const char *msg)
{
    if (buf_appendz(out, msg) < 0 || buf_append(out, "\r\n", 2) < 0)
        return PROTO_CLOSE;
    return 0;
}

/* Code plus the O and k flags in request order (misses, EX, NF...). */
static int emit_code(const struct meta_req *q, const char *code,
                     struct buf *out)
{
    char line[META_LINE_MAX], *p = line;
    memcpy(p, code, 2);
    p += 2;
    for (size_t i = q->first; i < q->r->ntok; i++) {
        const struct proto_token *t = &q->r->tok[i];
        if (t->p[0] == 'O')
            p = put_tok(p, t);
        else if (t->p[0] == 'k')
            p = put_key(p, q->key, q->nkey, q->key_binary);
    }
    *p++ = '\r';
    *p++ = '\n';
    return emit(out, line, (size_t)(p - line));
}

/* ---- parser ----------------------------------------------------------- */

/* memcached's flag pre-parse over tok[first..]: the same accepted flags
 * and messages for every meta command. 0, or -1 with *err. A duplicate or
 * unknown flag stops at once; a bad value is remembered (the last message
 * wins) and the walk goes on. */
/* The key of q, decoded from base64 (flag b). 0, or -1 with *err. */
static int decode_key(struct meta_req *q, const struct request *r,
                      const char **err)
{
    char dec[SHMC_KEY_MAX + 1];
    size_t n = b64_decode(r->tok[1].p, r->tok[1].len, dec);
    memcpy(q->key, dec, n);
    q->nkey = n;
    q->key_binary = 1;
    if (n == 0) {
        *err = "CLIENT_ERROR error decoding key";
        return -1;
    }
    return 0;
}

/* One flag with a value (or a mode). 0 when accepted, 1 when its value is
 * bad (*err says why), -1 when o is not such a flag. */
static int value_flag(struct meta_req *q, unsigned char o,
                      const struct proto_token *t, const char **err)
{
    struct proto_token arg = { t->p + 1, t->len - 1 };
    int ok;
    switch (o) {
    case 'N': q->hasN = 1; ok = proto_strtol32(&arg, &q->N); break;
    case 'T': q->hasT = 1; ok = proto_strtol32(&arg, &q->T); break;
    case 'R': q->hasR = 1; ok = proto_strtol32(&arg, &q->R); break;
    case 'C': q->hasC = 1; ok = proto_strtoull(&arg, &q->C); break;
    case 'E': q->hasE = 1; ok = proto_strtoull(&arg, &q->E); break;
    default: ok = -1; break;
    }
    if (ok >= 0) {
        if (!ok)
            *err = E_BADTOKEN;
        return !ok;
    }
    switch (o) {
    case 'F':
        return !proto_strtoul32(&arg, &q->F);
    case 'J':
        if (proto_strtoull(&arg, &q->J))
            return 0;
        *err = "CLIENT_ERROR invalid numeric initial value";
        return 1;
    case 'D':
        q->hasD = 1;
        if (proto_strtoull(&arg, &q->D))
            return 0;
        *err = "CLIENT_ERROR invalid numeric delta value";
        return 1;
    case 'M':
        if (t->len == 2) {
            q->mode = t->p[1];
            return 0;
        }
        *err = "CLIENT_ERROR incorrect length for M token";
        return 1;
    default:
        return -1;
    }
}

/* A flag without a value: 0, or -1 when o is no flag at all. */
static int plain_flag(struct meta_req *q, unsigned char o)
{
    switch (o) {
    case 'I': q->inval = 1; return 0;
    case 'q': q->q = 1; return 0;
    case 'u': q->u = 1; return 0;
    case 'v': q->v = 1; return 0;
    case 'x': q->x = 1; return 0;
    case 'O': case 'P': case 'L': case 'k': case 's': case 't':
    case 'c': case 'f': case 'h': case 'l':
        return 0;           /* return flags: read when the reply is made */
    default:
        return -1;
    }
}

static int parse_flags(struct meta_req *q, const struct request *r,
                       size_t first, const char **err)
{
    uint64_t seen[2] = { 0, 0 };
    int bad = 0;

    memset(q, 0, sizeof *q);
    q->r = r;
    q->first = first;
    memcpy(q->key, r->tok[1].p, r->tok[1].len);
    q->nkey = r->tok[1].len;
    *err = E_FORMAT;
    for (size_t i = first; i < r->ntok; i++) {
        const struct proto_token *t = &r->tok[i];
        unsigned char o = (unsigned char)t->p[0];
        if (o >= 127 || (seen[o >> 6] >> (o & 63) & 1)) {
            *err = "CLIENT_ERROR duplicate flag";
            return -1;
        }
        seen[o >> 6] |= 1ull << (o & 63);
        int rc = o == 'b' ? (decode_key(q, r, err) < 0)
                          : value_flag(q, o, t, err);
        if (rc < 0 && plain_flag(q, o) < 0) {
            *err = "CLIENT_ERROR invalid flag";
            return -1;
        }
        bad |= rc > 0;
    }
    return bad ? -1 : 0;
}

/* 1 when an O token is longer than memcached allows. */
static int opaque_too_long(const struct request *r, size_t first)
{
    for (size_t i = first; i < r->ntok; i++)
        if (r->tok[i].p[0] == 'O' && r->tok[i].len > META_OPAQUE_MAX)
            return 1;
    return 0;
}

static uint32_t ttl_abs(const struct proto_env *env, int32_t t)
{
    return engine_exptime(env->engine, t);
}

/* ---- mg --------------------------------------------------------------- */

struct mg_ctx {
    const struct meta_req *q;
    struct buf *out;
    uint32_t touch_exp, viv_exp;
    int oom;
};

/* engine_mget callback, under the stripe lock: the reply line and value. */
static void mg_hit(void *arg, const struct engine_item_info *it,
                   const struct engine_meta *m)
{
    struct mg_ctx *g = arg;
    const struct meta_req *q = g->q;
    char line[META_LINE_MAX], *p = line;
    uint32_t exp = m->exptime_before;

    if (q->v) {
        memcpy(p, "VA ", 3);
        p = put_u64(p + 3, it->nbytes);
    } else {
        memcpy(p, "HD", 2);
        p += 2;
    }
    for (size_t i = q->first; i < q->r->ntok; i++) {
        const struct proto_token *t = &q->r->tok[i];
        switch (t->p[0]) {
        case 'T': exp = g->touch_exp; break;
        case 'N': if (m->created) exp = g->viv_exp; break;
        case 's': p = put_u64(put_flag(p, 's'), it->nbytes); break;
        case 't': p = put_ttl(p, exp, m->now); break;
        case 'c': p = put_u64(put_flag(p, 'c'), it->cas); break;
        case 'f': p = put_u64(put_flag(p, 'f'), it->flags); break;
        case 'l': p = put_u64(put_flag(p, 'l'), m->last_access); break;
        case 'h': p = put_u64(put_flag(p, 'h'), m->fetched); break;
        case 'O': p = put_tok(p, t); break;
        case 'k': p = put_key(p, it->key, it->nkey, m->key_binary); break;
        default: break;
        }
    }
    if (m->token_sent)
        p = put_flag(p, 'Z');
    if (m->stale)
        p = put_flag(p, 'X');
    if (m->won)
        p = put_flag(p, 'W');
    *p++ = '\r';
    *p++ = '\n';
    size_t n = (size_t)(p - line);
    size_t need = n + (q->v ? it->nbytes + 2u : 0u);
    if (buf_reserve(g->out, need) < 0) {
        g->oom = 1;
        return;
    }
    char *o = g->out->data + g->out->len;
    memcpy(o, line, n);
    if (q->v) {
        engine_value_copy(it, 0, it->nbytes, o + n);
        memcpy(o + n + it->nbytes, "\r\n", 2);
    }
    g->out->len += need;
}

static int cmd_mg(struct proto_conn *pc, const struct request *r,
                  struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    struct meta_req q;
    const char *err;

    if (r->tok[1].len > SHMC_KEY_MAX)
        return emit_err(out, E_FORMAT);
    if (r->ntok >= META_MAX_TOKENS)
        return emit_err(out, "CLIENT_ERROR options flags are too long");
    if (parse_flags(&q, r, 2, &err) < 0)
        return emit_err(out, err);
    if (opaque_too_long(r, 2))
        return emit_err(out, "CLIENT_ERROR opaque token too long");

    struct engine_mget_opts o;
    memset(&o, 0, sizeof o);
    struct mg_ctx g = { &q, out, 0, 0, 0 };
    uint32_t created_exp = 0;
    int seen_t = 0;
    for (size_t i = 2; i < r->ntok; i++) {
        switch (r->tok[i].p[0]) {
        case 'T':
            seen_t = 1;
            g.touch_exp = created_exp = ttl_abs(env, q.T);
            break;
        case 'N':
            g.viv_exp = created_exp = ttl_abs(env, q.N);
            break;
        case 'R':
            o.recache_after_touch = (unsigned)seen_t;
            break;
        default:
            break;
        }
    }
    o.no_bump = q.u;
    o.touch = q.hasT;
    o.touch_exptime = g.touch_exp;
    o.vivify = q.hasN;
    o.viv_exptime = created_exp;
    o.recache = q.hasR;
    o.recache_time = q.hasR ? ttl_abs(env, q.R) : 0;
    o.has_new_cas = q.hasE;
    o.new_cas = q.E;
    enum engine_status st = engine_mget(env->worker, q.key, q.nkey, &o,
                                        mg_hit, NULL, &g);
    if (g.oom)
        return PROTO_CLOSE;
    if (st == ENGINE_OK)
        return 0;
    if (st == ENGINE_NOT_FOUND)
        return q.q ? 0 : emit_code(&q, "EN", out);
    if (st == ENGINE_BAD_KEY)
        return emit_err(out, E_FORMAT);
    return emit_err(out, "SERVER_ERROR internal error");
}

/* ---- ms --------------------------------------------------------------- */

static int ms_refuse(struct proto_conn *pc, struct buf *out, const char *err,
                     int32_t vlen)
{
    proto_conn_swallow(pc, (size_t)vlen + 2);
    return emit_err(out, err);
}

static int cmd_ms(struct proto_conn *pc, const struct request *r,
                  struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    struct meta_req q;
    const char *err;
    int32_t vlen;

    if (r->tok[1].len > SHMC_KEY_MAX || r->ntok == 2)
        return emit_err(out, E_FORMAT);
    if (r->ntok >= META_MAX_TOKENS)
        return emit_err(out, "CLIENT_ERROR options flags too long");
    if (!proto_strtol32(&r->tok[2], &vlen) || vlen < 0 ||
        vlen > INT32_MAX - 2)
        return emit_err(out, E_FORMAT);
    if (parse_flags(&q, r, 3, &err) < 0)
        return ms_refuse(pc, out, err, vlen);

    struct engine_mset_opts o;
    memset(&o, 0, sizeof o);
    switch (q.mode) {
    case 0: case 'S': o.mode = ENGINE_SET; break;
    case 'E': o.mode = ENGINE_ADD; break;
    case 'A': o.mode = ENGINE_APPEND; break;
    case 'P': o.mode = ENGINE_PREPEND; break;
    case 'R': o.mode = ENGINE_REPLACE; break;
    default:
        return ms_refuse(pc, out, "CLIENT_ERROR invalid mode for ms M token",
                         vlen);
    }
    if (opaque_too_long(r, 3))
        return ms_refuse(pc, out, "CLIENT_ERROR opaque token too long", vlen);
    o.has_cas = q.hasC;
    o.cas = q.C;
    o.invalidate = q.inval;
    o.has_new_cas = q.hasE;
    o.new_cas = q.E;
    o.key_binary = q.key_binary;

    struct engine_alloc a;
    enum engine_status st = engine_alloc(env->worker, q.key, q.nkey, q.F,
                                         q.hasT ? ttl_abs(env, q.T) : 0,
                                         (size_t)vlen, &a);
    if (st != ENGINE_OK) {
        if (st == ENGINE_BAD_KEY)
            return ms_refuse(pc, out, E_FORMAT, vlen);
        /* memcached: a failed store must not leave the old value */
        engine_unlink(env->worker, q.key, q.nkey);
        return ms_refuse(pc, out, st == ENGINE_TOO_LARGE
                         ? "SERVER_ERROR object too large for cache"
                         : "SERVER_ERROR out of memory storing object", vlen);
    }

    struct proto_meta **slot = proto_conn_meta(pc);
    if (*slot == NULL && (*slot = calloc(1, sizeof **slot)) == NULL) {
        engine_alloc_release(env->worker, &a);
        return PROTO_CLOSE;
    }
    struct proto_meta *pm = *slot;
    pm->opts = o;
    pm->q = q.q;
    memcpy(pm->key, q.key, q.nkey);
    pm->nkey = q.nkey;
    pm->key_binary = q.key_binary;
    pm->nflags = 0;
    for (size_t i = 3; i < r->ntok; i++) {
        const struct proto_token *t = &r->tok[i];
        char f = t->p[0];
        size_t n = f == 'O' ? t->len : 1;
        if (f != 'O' && f != 'k' && f != 'c')
            continue;
        memcpy(pm->flags + pm->nflags, t->p, n);
        pm->nflags += n;
        pm->flags[pm->nflags++] = ' ';
    }
    proto_conn_nread_meta(pc, &a, (size_t)vlen);
    return 0;
}

int proto_meta_nread_done(struct proto_conn *pc, struct engine_alloc *a,
                          int ok, struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    struct proto_meta *pm = *proto_conn_meta(pc);
    uint64_t cas = 0;

    if (!ok) {
        engine_alloc_release(env->worker, a);
        return emit_err(out, "CLIENT_ERROR bad data chunk");
    }
    const char *code;
    switch (engine_mset(env->worker, a, &pm->opts, &cas)) {
    case ENGINE_STORED:
        if (pm->q)
            return 0;
        code = "HD";
        break;
    case ENGINE_EXISTS: code = "EX"; break;
    case ENGINE_NOT_FOUND: code = "NF"; break;
    case ENGINE_NOT_STORED: code = "NS"; break;
    default:
        return emit_err(out, "SERVER_ERROR Unhandled storage type.");
    }
    char line[META_LINE_MAX], *p = line;
    memcpy(p, code, 2);
    p += 2;
    for (size_t i = 0; i < pm->nflags;) {
        const char *f = pm->flags + i;
        size_t n = (size_t)((const char *)memchr(f, ' ', pm->nflags - i) - f);
        if (f[0] == 'O') {
            *p++ = ' ';
            memcpy(p, f, n);
            p += n;
        } else if (f[0] == 'k') {
            p = put_key(p, pm->key, pm->nkey, pm->key_binary);
        } else {
            p = put_u64(put_flag(p, 'c'), cas);
        }
        i += n + 1;
    }
    *p++ = '\r';
    *p++ = '\n';
    return emit(out, line, (size_t)(p - line));
}

void proto_meta_free(struct proto_meta *m)
{
    free(m);
}

/* ---- md --------------------------------------------------------------- */

static int cmd_md(struct proto_conn *pc, const struct request *r,
                  struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    struct meta_req q;
    const char *err;

    if (r->tok[1].len > SHMC_KEY_MAX)
        return emit_err(out, E_FORMAT);
    if (r->ntok >= META_MAX_TOKENS)
        return emit_err(out, "CLIENT_ERROR options flags too long");
    if (parse_flags(&q, r, 2, &err) < 0)
        return emit_err(out, "CLIENT_ERROR invalid or duplicate flag");
    if (opaque_too_long(r, 2))
        return emit_err(out, "CLIENT_ERROR opaque token too long");

    struct engine_mdel_opts o;
    memset(&o, 0, sizeof o);
    o.has_cas = q.hasC;
    o.cas = q.C;
    o.invalidate = q.inval;
    o.touch = q.hasT;
    o.exptime = q.hasT ? ttl_abs(env, q.T) : 0;
    o.remove_value = q.x;
    o.has_new_cas = q.hasE;
    o.new_cas = q.E;
    switch (engine_mdelete(env->worker, q.key, q.nkey, &o)) {
    case ENGINE_OK:
        return q.q ? 0 : emit_code(&q, "HD", out);
    case ENGINE_NOT_FOUND:
        return emit_code(&q, "NF", out);
    case ENGINE_EXISTS:
        return emit_code(&q, "EX", out);
    case ENGINE_BAD_KEY:
        return emit_err(out, E_FORMAT);
    case ENGINE_NO_MEMORY:
        return emit_err(out, "SERVER_ERROR out of memory");
    default:
        return emit_err(out, "SERVER_ERROR internal error");
    }
}

/* ---- ma --------------------------------------------------------------- */

/* ma's options from its flags; *texp / *nexp: the T and N times. */
static int ma_opts(const struct proto_env *env, const struct meta_req *q,
                   const struct request *r, struct engine_marith_opts *o,
                   uint32_t *texp, uint32_t *nexp)
{
    memset(o, 0, sizeof *o);
    switch (q->mode) {
    case 0: case 'I': case '+': o->incr = 1; break;
    case 'D': case '-': o->incr = 0; break;
    default: return -1;
    }
    *texp = q->hasT ? ttl_abs(env, q->T) : 0;
    *nexp = q->hasN ? ttl_abs(env, q->N) : 0;
    uint32_t created_exp = 0;       /* the last of T and N wins */
    for (size_t i = 2; i < r->ntok; i++) {
        if (r->tok[i].p[0] == 'T')
            created_exp = *texp;
        else if (r->tok[i].p[0] == 'N')
            created_exp = *nexp;
    }
    o->delta = q->hasD ? q->D : 1;      /* memcached's default delta */
    o->has_cas = q->hasC;
    o->cas = q->C;
    o->vivify = q->hasN;
    o->initial = q->J;
    o->viv_exptime = created_exp;
    o->touch = q->hasT;
    o->touch_exptime = *texp;
    o->has_new_cas = q->hasE;
    o->new_cas = q->E;
    return 0;
}

/* HD / VA with the return flags, then the number for VA. */
static int ma_reply(const struct meta_req *q, const struct request *r,
                    const struct engine_marith_result *res, uint32_t texp,
                    uint32_t nexp, struct buf *out)
{
    char num[24];
    size_t nlen = proto_u64toa(res->value, num);
    char line[META_LINE_MAX], *p = line;
    if (q->v) {
        memcpy(p, "VA ", 3);
        p = put_u64(p + 3, nlen);
    } else {
        memcpy(p, "HD", 2);
        p += 2;
    }
    uint32_t exp = res->exptime_before;
    for (size_t i = 2; i < r->ntok; i++) {
        const struct proto_token *t = &r->tok[i];
        switch (t->p[0]) {
        case 'T': exp = texp; break;
        case 'N': if (res->created) exp = nexp; break;
        case 'c': p = put_u64(put_flag(p, 'c'), res->cas); break;
        case 't': p = put_ttl(p, exp, res->now); break;
        case 'O': p = put_tok(p, t); break;
        case 'k': p = put_key(p, q->key, q->nkey, q->key_binary); break;
        default: break;
        }
    }
    *p++ = '\r';
    *p++ = '\n';
    if (q->v) {
        memcpy(p, num, nlen);
        p += nlen;
        *p++ = '\r';
        *p++ = '\n';
    }
    return emit(out, line, (size_t)(p - line));
}

static int cmd_ma(struct proto_conn *pc, const struct request *r,
                  struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    struct engine_marith_opts o;
    struct engine_marith_result res;
    struct meta_req q;
    uint32_t texp, nexp;
    const char *err;

    if (r->tok[1].len > SHMC_KEY_MAX)
        return emit_err(out, E_FORMAT);
    if (r->ntok >= META_MAX_TOKENS)
        return emit_err(out, "CLIENT_ERROR options flags too long");
    if (parse_flags(&q, r, 2, &err) < 0)
        return emit_err(out, "CLIENT_ERROR invalid or duplicate flag");
    if (ma_opts(env, &q, r, &o, &texp, &nexp) < 0)
        return emit_err(out, "CLIENT_ERROR invalid mode for ma M token");
    if (opaque_too_long(r, 2))
        return emit_err(out, "CLIENT_ERROR opaque token too long");
    switch (engine_marith(env->worker, q.key, q.nkey, &o, &res)) {
    case ENGINE_OK:
        if (q.q && !res.created)    /* memcached answers a vivify */
            return 0;
        return ma_reply(&q, r, &res, texp, nexp, out);
    case ENGINE_NOT_FOUND:
        return emit_code(&q, "NF", out);
    case ENGINE_EXISTS:
        return emit_code(&q, "EX", out);
    case ENGINE_NOT_STORED:
        return emit_code(&q, "NS", out);
    case ENGINE_NON_NUMERIC:
        return emit_err(out, "CLIENT_ERROR cannot increment or decrement "
                             "non-numeric value");
    case ENGINE_NO_MEMORY:
        return emit_err(out, "SERVER_ERROR out of memory");
    case ENGINE_BAD_KEY:
        return emit_err(out, E_FORMAT);
    default:
        return emit_err(out, "SERVER_ERROR internal error");
    }
}

/* ---- me, mn ----------------------------------------------------------- */

struct me_ctx {
    struct buf *out;
    int rc;
};

static void me_hit(void *arg, const struct engine_item_info *it,
                   const struct engine_meta *m)
{
    struct me_ctx *g = arg;
    char line[META_LINE_MAX], *p = line;
    memcpy(p, "ME ", 3);
    p += 3;
    if (m->key_binary) {
        p = b64_encode(it->key, it->nkey, p);
    } else {
        memcpy(p, it->key, it->nkey);
        p += it->nkey;
    }
    memcpy(p, " exp=", 5);
    p += 5;
    if (it->exptime == 0) {
        memcpy(p, "-1", 2);
        p += 2;
    } else {
        int32_t d = (int32_t)(m->now - it->exptime);
        if (d < 0) {
            *p++ = '-';
            p = put_u64(p, (uint64_t)-(int64_t)d);
        } else {
            p = put_u64(p, (uint64_t)d);
        }
    }
    memcpy(p, " la=", 4);
    p = put_u64(p + 4, m->last_access);
    memcpy(p, " cas=", 5);
    p = put_u64(p + 5, it->cas);
    if (m->fetched) {
        memcpy(p, " fetch=yes", 10);
        p += 10;
    } else {
        memcpy(p, " fetch=no", 9);
        p += 9;
    }
    memcpy(p, " cls=", 5);
    p = put_u64(p + 5, m->clsid);
    memcpy(p, " size=", 6);
    p = put_u64(p + 6, m->size);
    *p++ = '\r';
    *p++ = '\n';
    g->rc = emit(g->out, line, (size_t)(p - line));
}

/* me <key> [b] */
static int cmd_me(struct proto_conn *pc, const struct request *r,
                  struct buf *out)
{
    const struct proto_env *env = proto_conn_env(pc);
    char key[SHMC_KEY_MAX + 1];
    size_t nkey;

    if (r->ntok < 2 || r->tok[1].len > SHMC_KEY_MAX)
        return emit_err(out, E_FORMAT);
    nkey = r->tok[1].len;
    memcpy(key, r->tok[1].p, nkey);
    if (r->ntok >= 3 && PROTO_TOK_IS(&r->tok[2], "b")) {
        nkey = b64_decode(r->tok[1].p, r->tok[1].len, key);
        if (nkey == 0)
            return emit_err(out, E_FORMAT);
    }
    struct me_ctx g = { out, 0 };
    enum engine_status st = engine_mdebug(env->worker, key, nkey, me_hit, &g);
    if (st == ENGINE_OK)
        return g.rc;
    if (st == ENGINE_NOT_FOUND)
        return emit(out, LIT("EN"));
    if (st == ENGINE_BAD_KEY)
        return emit_err(out, E_FORMAT);
    return emit_err(out, "SERVER_ERROR internal error");
}

int proto_meta_cmd(struct proto_conn *pc, struct request *r, struct buf *out,
                   int arg)
{
    switch (arg) {
    case 'g': return cmd_mg(pc, r, out);
    case 's': return cmd_ms(pc, r, out);
    case 'd': return cmd_md(pc, r, out);
    case 'a': return cmd_ma(pc, r, out);
    case 'e': return cmd_me(pc, r, out);
    case 'n': return emit(out, LIT("MN"));
    default: return emit(out, LIT("ERROR"));
    }
}
