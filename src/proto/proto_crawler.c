/*
 * proto_crawler.c - memcached's "lru_crawler" commands (see
 * proto_crawler.h).
 *
 * Control: enable, disable, sleep and tocrawl change the crawler's shared
 * state (struct proto_shared: every worker and the crawler read it);
 * "crawl" records the classes asked for and marks the crawler running;
 * the server's crawler does the work and clears the mark (lru_crawler_
 * running in "stats"). Replies and checks are memcached 1.6's.
 *
 * Dumps: "metadump" (memcached's "key=... exp=... la=... cas=... fetch=...
 * cls=... size=..." lines, key URI-encoded, then "END") and "mgdump" (one
 * "mg <key>" line per item, binary keys base64 with the b flag, then
 * "EN") walk the hash table with engine_walk, a few buckets at a time,
 * holding one bucket's lock at a time and never more than a high-water
 * mark of output: the connection asks for the next part once the client
 * has read the last (PROTO_MORE). Items stored or removed during a dump
 * may or may not be in it, as with memcached's crawler.
 *
 * Invariants: a dump owns nothing but its cursor and filters; it is freed
 * when it ends or when its connection goes.
 */
#include "proto/proto_crawler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uri.h"
#include "engine/engine.h"

#define LIT(s) s "\r\n", sizeof(s "\r\n") - 1
#define DUMP_BUCKETS 64              /* hash buckets per engine_walk */
#define DUMP_HIGH (64 * 1024)        /* output held before waiting */

struct proto_dump {
    uint64_t cursor;
    uint64_t classes;                /* 0: every class */
    int mg;                          /* mgdump, else metadump */
    int err;
    struct buf *out;
};

static int reply(struct buf *out, const char *s, size_t n)
{
    return buf_append(out, s, n) == 0 ? 0 : PROTO_CLOSE;
}

int proto_crawler_classes(const struct proto_token *t, int allow_hash,
                          uint64_t *mask)
{
    *mask = 0;
    if (PROTO_TOK_IS(t, "all") || (allow_hash && PROTO_TOK_IS(t, "hash")))
        return 0;
    const char *p = t->p, *e = t->p + t->len;
    while (p < e) {
        unsigned id = 0;
        const char *d = p;
        while (p < e && *p >= '0' && *p <= '9' && id < 1000)
            id = id * 10 + (unsigned)(*p++ - '0');
        if (p == d || (p < e && *p != ',') || id < 1 ||
            id >= ENGINE_MAX_CLASSES)
            return -1;
        *mask |= (uint64_t)1 << id;
        if (p < e)
            p++;
    }
    return *mask ? 0 : -1;
}

/* 1 when one of the classes in mask (0: all) holds items or memory (the
 * background crawler may have reclaimed what a crawl was asked for). */
static int have_items(struct engine *e, uint64_t mask)
{
    unsigned n = engine_class_count(e);
    for (unsigned id = 1; id <= n && id < ENGINE_MAX_CLASSES; id++) {
        struct engine_class_stats cs;
        if (mask != 0 && !(mask & ((uint64_t)1 << id)))
            continue;
        engine_class_stats(e, id, &cs);
        if (cs.curr_items > 0 || cs.total_pages > 0)
            return 1;
    }
    return 0;
}

/* lru_crawler crawl <classes|all> */
static int crawl(const struct proto_env *env, const struct request *r,
                 struct buf *out)
{
    struct proto_shared *sh = env->shared;
    uint64_t mask;
    if (!sh || !__atomic_load_n(&sh->crawler_enabled, __ATOMIC_RELAXED))
        return reply(out, LIT("CLIENT_ERROR lru crawler disabled"));
    if (proto_crawler_classes(&r->tok[2], 0, &mask) < 0)
        return reply(out, LIT("BADCLASS invalid class id"));
    if (!have_items(env->engine, mask))
        return reply(out, LIT("NOTSTARTED no items to crawl"));
    uint32_t idle = 0;
    if (!__atomic_compare_exchange_n(&sh->crawler_running, &idle, 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return reply(out, LIT("BUSY currently processing crawler request"));
    __atomic_store_n(&sh->crawl_classes, mask, __ATOMIC_RELEASE);
    __atomic_fetch_add(&sh->crawler_starts, 1, __ATOMIC_RELAXED);
    return reply(out, LIT("OK"));
}

/* lru_crawler metadump|mgdump <classes|all|hash> */
static int dump_start(const struct proto_env *env, const struct request *r,
                      struct buf *out, struct proto_dump **dump, int mg)
{
    struct proto_shared *sh = env->shared;
    uint64_t mask;
    if (!sh || !__atomic_load_n(&sh->crawler_enabled, __ATOMIC_RELAXED))
        return reply(out, LIT("CLIENT_ERROR lru crawler disabled"));
    if (!env->cfg->dump_enabled)
        return mg ? reply(out, LIT("ERROR key dump not allowed"))
                  : reply(out, LIT("ERROR metadump not allowed"));
    if (out->len > 0)       /* replies of this batch not sent yet */
        return mg ? reply(out, LIT("ERROR cannot pipeline other commands "
                                   "before mgdump"))
                  : reply(out, LIT("ERROR cannot pipeline other commands "
                                   "before metadump"));
    if (proto_crawler_classes(&r->tok[2], 1, &mask) < 0)
        return reply(out, LIT("BADCLASS invalid class id"));
    struct proto_dump *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return reply(out, LIT("SERVER_ERROR out of memory"));
    d->classes = mask;
    d->mg = mg;
    *dump = d;
    return 0;
}

int proto_crawler_cmd(const struct proto_env *env, const struct request *r,
                      struct buf *out, struct proto_dump **dump)
{
    struct proto_shared *sh = env->shared;
    const struct proto_token *sub = r->ntok > 1 ? &r->tok[1] : NULL;
    uint32_t v;
    if (r->ntok == 3 && PROTO_TOK_IS(sub, "crawl"))
        return crawl(env, r, out);
    if (r->ntok == 3 && PROTO_TOK_IS(sub, "metadump"))
        return dump_start(env, r, out, dump, 0);
    if (r->ntok == 3 && PROTO_TOK_IS(sub, "mgdump"))
        return dump_start(env, r, out, dump, 1);
    if (r->ntok == 3 && (PROTO_TOK_IS(sub, "tocrawl") ||
                         PROTO_TOK_IS(sub, "sleep"))) {
        if (!proto_strtoul32(&r->tok[2], &v))
            return reply(out, LIT("CLIENT_ERROR bad command line format"));
        if (sub->p[0] == 's' && v > 1000000)
            return reply(out, LIT("CLIENT_ERROR sleep must be one second or "
                                  "less"));
        if (sh)
            __atomic_store_n(sub->p[0] == 's' ? &sh->crawler_sleep
                                              : &sh->crawler_tocrawl, v,
                             __ATOMIC_RELAXED);
        return reply(out, LIT("OK"));
    }
    if (r->ntok == 2 && (PROTO_TOK_IS(sub, "enable") ||
                         PROTO_TOK_IS(sub, "disable"))) {
        if (sh)
            __atomic_store_n(&sh->crawler_enabled,
                             PROTO_TOK_IS(sub, "enable") ? 1u : 0u,
                             __ATOMIC_RELEASE);
        return reply(out, LIT("OK"));
    }
    return reply(out, LIT("ERROR"));
}

/* ---- dumps ----------------------------------------------------------- */

/* Standard base64 of n bytes into dst (no line breaks). */
static size_t base64(const unsigned char *s, size_t n, char *dst)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        dst[o++] = tab[v >> 18];
        dst[o++] = tab[(v >> 12) & 63];
        dst[o++] = tab[(v >> 6) & 63];
        dst[o++] = tab[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        dst[o++] = tab[v >> 18];
        dst[o++] = tab[(v >> 12) & 63];
        dst[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        dst[o++] = '=';
    }
    return o;
}

static int printable_key(const char *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] <= ' ' || (unsigned char)key[i] >= 0x7f)
            return 0;
    return 1;
}

/* engine_walk callback, under the bucket lock: one line per item. */
static int dump_item(void *arg, const struct engine_item_info *it,
                     uint32_t last_access)
{
    struct proto_dump *d = arg;
    char line[3 * ENGINE_KEY_MAX + 200];
    size_t n;
    (void)last_access;
    if (d->classes && !(d->classes & ((uint64_t)1 << (it->clsid & 63))))
        return 0;
    if (d->mg) {
        int plain = printable_key(it->key, it->nkey);
        memcpy(line, "mg ", 3);
        n = 3 + (plain ? (memcpy(line + 3, it->key, it->nkey), it->nkey)
                       : base64((const unsigned char *)it->key, it->nkey,
                                line + 3));
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s\r\n",
                              plain ? "" : " b");
    } else {
        memcpy(line, "key=", 4);
        n = 4 + uri_encode(it->key, it->nkey, line + 4);
        /* size: memcached's item header (48 bytes with CAS), key, its
         * NUL, value and its CRLF */
        n += (size_t)snprintf(line + n, sizeof(line) - n,
                              " exp=%ld la=%llu cas=%llu fetch=%s cls=%u "
                              "size=%lu\n",
                              it->exptime ? (long)it->exptime : -1L,
                              (unsigned long long)it->atime,
                              (unsigned long long)it->cas,
                              it->fetched ? "yes" : "no", (unsigned)it->clsid,
                              (unsigned long)(48 + it->nkey + 1 +
                                              it->nbytes + 2));
    }
    d->err |= buf_append(d->out, line, n);
    return 0;
}

int proto_dump_step(const struct proto_env *env, struct proto_dump **dump,
                    struct buf *out)
{
    struct proto_dump *d = *dump;
    d->out = out;
    while (out->len < DUMP_HIGH && d->cursor != ENGINE_WALK_END && !d->err) {
        if (engine_walk(env->worker, &d->cursor, DUMP_BUCKETS, dump_item,
                        d) < 0)
            break;          /* a lock is unusable: end the dump here */
    }
    if (d->cursor != ENGINE_WALK_END && !d->err && out->len >= DUMP_HIGH)
        return 0;
    if (d->mg)
        buf_append(out, LIT("EN"));
    else
        buf_append(out, LIT("END"));
    proto_dump_free(d);
    *dump = NULL;
    return 1;
}

void proto_dump_free(struct proto_dump *dump)
{
    free(dump);
}
