/*
 * keys.c - the key browser: listing, one item, delete (see console_int.h).
 *
 * GET /api/keys?cursor=C&limit=N&match=P&value=V[&server=S]
 *   Local: engine_walk() from bucket C, one bucket per call (one stripe
 *   lock held while that bucket's chain is read, values copied at most
 *   VALUE_SCAN_MAX bytes for the value filter), until N items matched,
 *   the walk ended, or the request's budget (KEYS_BUDGET_BUCKETS buckets,
 *   KEYS_BUDGET_MS) ran out; "next" is the cursor to continue from (null
 *   at the end). P is a glob (fnmatch) when it has * ? or [, else a
 *   substring; V is a substring of the value.
 *   A peer: "lru_crawler metadump all" (memcached 1.5+), else "stats
 *   cachedump" of each class; the cursor is a position in that list.
 * GET /api/item?key=K (or kx=<hex>)[&server=S]
 *   Local: engine_peek() (no LRU bump, nothing counted); a peer: "gets".
 *   The value is decoded (decode.h) and shown as text and hex.
 * POST /api/delete  key=K (or kx=<hex>)[&server=S]
 *   Only with -o http_write (else 403).
 *
 * Keys travel in JSON as text ("key"), plus "kx" (hex) when they are not
 * UTF-8, so the page can name any key back exactly. A key sent to a peer
 * must be a valid memcached key (no spaces or control bytes): nothing can
 * be smuggled into the peer's command stream.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console/console_int.h"
#include "console/decode.h"
#include "console/json.h"
#include "console/peer.h"
#include "engine/engine.h"
#include "server/settings.h"

#define KEYS_LIMIT_DEFAULT 50
#define KEYS_LIMIT_MAX 1000
#define KEYS_BUDGET_BUCKETS (1u << 20)
#define KEYS_BUDGET_MS 100
#define VALUE_SCAN_MAX 65536
#define ITEM_HEX_MAX 4096
#define PATTERN_MAX 256

struct filter {
    char match[PATTERN_MAX];
    int glob;
    char value[PATTERN_MAX];
    size_t value_len;
    long limit;
};

struct walk_ctx {
    const struct filter *f;
    struct buf *out;
    long n;
    uint32_t now;
    char *vbuf;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void read_filter(const struct http_req *r, struct filter *f)
{
    char num[32];
    memset(f, 0, sizeof(*f));
    if (http_param(r->query, r->query_len, "match", f->match,
                   sizeof(f->match)) < 0)
        f->match[0] = '\0';
    f->glob = strpbrk(f->match, "*?[") != NULL;
    long vl = http_param(r->query, r->query_len, "value", f->value,
                         sizeof(f->value));
    f->value_len = vl > 0 ? (size_t)vl : 0;
    f->limit = KEYS_LIMIT_DEFAULT;
    if (http_param(r->query, r->query_len, "limit", num, sizeof(num)) > 0)
        f->limit = strtol(num, NULL, 10);
    if (f->limit < 1 || f->limit > KEYS_LIMIT_MAX)
        f->limit = f->limit < 1 ? KEYS_LIMIT_DEFAULT : KEYS_LIMIT_MAX;
}

static int key_matches(const struct filter *f, const char *key, size_t nkey)
{
    if (f->match[0] == '\0')
        return 1;
    char k[ENGINE_KEY_MAX + 1];
    size_t n = nkey < ENGINE_KEY_MAX ? nkey : ENGINE_KEY_MAX;
    memcpy(k, key, n);
    k[n] = '\0';
    if (f->glob)
        return fnmatch(f->match, k, 0) == 0;
    return memmem(k, n, f->match, strlen(f->match)) != NULL;
}

/* "key":...[,"kx":...] */
static void json_keyfield(struct buf *o, const char *key, size_t nkey)
{
    json_key(o, "key");
    json_str(o, key, nkey);
    if (!json_utf8_valid(key, nkey)) {
        buf_append(o, ",", 1);
        json_key(o, "kx");
        json_hex(o, key, nkey);
    }
}

static int on_item(void *arg, const struct engine_item_info *it,
                   uint32_t last_access)
{
    struct walk_ctx *w = arg;
    if (!key_matches(w->f, it->key, it->nkey))
        return 0;
    if (w->f->value_len > 0) {
        size_t n = it->nbytes < VALUE_SCAN_MAX ? it->nbytes : VALUE_SCAN_MAX;
        engine_value_copy(it, 0, n, w->vbuf);
        if (memmem(w->vbuf, n, w->f->value, w->f->value_len) == NULL)
            return 0;
    }
    buf_append(w->out, w->n ? ",{" : "{", w->n ? 2 : 1);
    json_keyfield(w->out, it->key, it->nkey);
    long long ttl = it->exptime ? (long long)it->exptime - w->now : -1;
    buf_printf(w->out, ",\"size\":%u,\"flags\":%u,\"exptime\":%u,"
               "\"ttl\":%lld,\"cas\":%llu,\"la\":%u}", it->nbytes, it->flags,
               it->exptime, ttl, (unsigned long long)it->cas, last_access);
    w->n++;
    return 0;
}

static void keys_local(struct console *c, const struct http_req *r,
                       const struct filter *f, struct reply *rep)
{
    char num[32];
    uint64_t cursor = 0;
    if (http_param(r->query, r->query_len, "cursor", num, sizeof(num)) > 0)
        cursor = strtoull(num, NULL, 10);
    struct buf *o = &rep->body;
    struct walk_ctx w = { f, o, 0, (uint32_t)engine_now(c->engine),
                          malloc(VALUE_SCAN_MAX) };
    if (w.vbuf == NULL) {
        reply_error(rep, 500, "out of memory");
        return;
    }
    rep->ctype = "application/json";
    buf_appendz(o, "{\"server\":\"local\",\"items\":[");
    long long deadline = now_ms() + KEYS_BUDGET_MS;
    uint64_t scanned = 0;
    int err = 0;
    while (cursor != ENGINE_WALK_END && w.n < f->limit &&
           scanned < KEYS_BUDGET_BUCKETS && !err) {
        err = engine_walk(c->slot, &cursor, 1, on_item, &w) < 0;
        scanned++;
        if ((scanned & 255) == 0 && now_ms() > deadline)
            break;
    }
    free(w.vbuf);
    buf_printf(o, "],\"count\":%ld,\"scanned\":%llu,\"next\":", w.n,
               (unsigned long long)scanned);
    if (cursor == ENGINE_WALK_END)
        buf_appendz(o, "null");
    else
        buf_printf(o, "\"%llu\"", (unsigned long long)cursor);
    buf_appendz(o, err ? ",\"error\":\"a lock could not be taken\"}\n"
                       : "}\n");
}

/* ---- a peer's keys ------------------------------------------------------ */

/* One "key=... exp=... la=... cas=... fetch=... cls=... size=..." line of
 * a metadump into JSON (if it passes the filter). Returns 1 if emitted. */
static int metadump_line(const char *l, size_t n, const struct filter *f,
                         struct buf *o, long emitted)
{
    char line[1024], key[ENGINE_KEY_MAX * 3 + 1], dkey[ENGINE_KEY_MAX + 1];
    long long exp = 0, la = 0;
    unsigned long long cas = 0;
    unsigned size = 0;
    if (n >= sizeof(line))
        return 0;
    memcpy(line, l, n);
    line[n] = '\0';
    const char *p;
    if (sscanf(line, "key=%750s exp=%lld la=%lld cas=%llu", key, &exp, &la,
               &cas) < 2)
        return 0;
    if ((p = strstr(line, " size=")) != NULL)
        size = (unsigned)strtoul(p + 6, NULL, 10);
    long kl = http_unescape(key, strlen(key), dkey, sizeof(dkey));
    if (kl <= 0 || !key_matches(f, dkey, (size_t)kl))
        return 0;
    buf_append(o, emitted ? ",{" : "{", emitted ? 2 : 1);
    json_keyfield(o, dkey, (size_t)kl);
    buf_printf(o, ",\"size\":%u,\"ttl\":%lld,\"cas\":%llu,\"la\":%lld}",
               size, exp, cas, la);
    return 1;
}

/* "ITEM <key> [<n> b; <t> s]" of stats cachedump. */
static int cachedump_line(const char *l, size_t n, const struct filter *f,
                          struct buf *o, long emitted)
{
    char line[600], key[ENGINE_KEY_MAX + 1];
    unsigned size = 0;
    long long exp = 0;
    if (n >= sizeof(line))
        return 0;
    memcpy(line, l, n);
    line[n] = '\0';
    if (sscanf(line, "ITEM %250s [%u b; %lld s]", key, &size, &exp) < 2 ||
        !key_matches(f, key, strlen(key)))
        return 0;
    buf_append(o, emitted ? ",{" : "{", emitted ? 2 : 1);
    json_keyfield(o, key, strlen(key));
    buf_printf(o, ",\"size\":%u,\"exptime\":%lld}", size, exp);
    return 1;
}

/* The listing of a peer: metadump, or cachedump of every class. */
static int peer_listing(const char *server, struct buf *dump, int *meta,
                        char *err, size_t errlen)
{
    *meta = 1;
    if (peer_query(server, "lru_crawler metadump all", peer_complete_end,
                   dump, err, errlen) < 0)
        return -1;
    if (dump->len >= 3 && memcmp(dump->data, "END", 3) != 0 &&
        memcmp(dump->data, "key=", 4) != 0) {
        struct buf items;
        buf_init(&items);
        *meta = 0;
        buf_reset(dump, 0);
        int rc = peer_query(server, "stats items", peer_complete_end, &items,
                            err, errlen);
        for (char *p = items.data; rc == 0 && p && p < items.data + items.len;) {
            unsigned id;
            char rest[64];
            if (sscanf(p, "STAT items:%u:%63s", &id, rest) == 2 &&
                strcmp(rest, "number") == 0) {
                char cmd[64];
                snprintf(cmd, sizeof(cmd), "stats cachedump %u 0", id);
                rc = peer_query(server, cmd, peer_complete_end, dump, err,
                                errlen);
            }
            p = memchr(p, '\n', (size_t)(items.data + items.len - p));
            p = p ? p + 1 : NULL;
        }
        buf_free(&items);
        return rc;
    }
    return 0;
}

static void keys_peer(const char *server, const struct http_req *r,
                      const struct filter *f, struct reply *rep)
{
    char num[32], err[160] = "";
    long skip = 0;
    if (http_param(r->query, r->query_len, "cursor", num, sizeof(num)) > 0)
        skip = strtol(num, NULL, 10);
    struct buf dump;
    buf_init(&dump);
    int meta;
    if (peer_listing(server, &dump, &meta, err, sizeof(err)) < 0) {
        buf_free(&dump);
        reply_error(rep, 502, err);
        return;
    }
    struct buf *o = &rep->body;
    rep->ctype = "application/json";
    buf_appendz(o, "{\"server\":");
    json_strz(o, server);
    buf_appendz(o, ",\"items\":[");
    long pos = 0, n = 0, next = -1;
    for (char *p = dump.data; p && p < dump.data + dump.len;) {
        char *nl = memchr(p, '\n', (size_t)(dump.data + dump.len - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(dump.data + dump.len - p);
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        if (pos >= skip && n >= f->limit) {
            next = pos;
            break;
        }
        if (pos >= skip)
            n += meta ? metadump_line(p, ll, f, o, n)
                      : cachedump_line(p, ll, f, o, n);
        pos++;
        p = nl ? nl + 1 : NULL;
    }
    buf_printf(o, "],\"count\":%ld,\"source\":\"%s\",\"next\":", n,
               meta ? "metadump" : "cachedump");
    if (next >= 0)
        buf_printf(o, "\"%ld\"}\n", next);
    else
        buf_appendz(o, "null}\n");
    buf_free(&dump);
}

void keys_list(struct console *c, const struct http_req *r,
               struct reply *rep)
{
    char addr[CONSOLE_SERVER_MAX];
    const char *server;
    struct filter f;
    if (console_server(c, r, addr, sizeof(addr), &server, rep) < 0)
        return;
    read_filter(r, &f);
    if (server == NULL)
        keys_local(c, r, &f, rep);
    else if (f.value_len > 0)
        reply_error(rep, 400, "the value filter needs the values: it works "
                    "on this server only");
    else
        keys_peer(server, r, &f, rep);
}

/* ---- one item ------------------------------------------------------------ */

struct item_copy {
    int found;
    struct engine_item_info info;
    char *value;                /* at most DECODE_IN_MAX bytes */
    size_t len;
};

static void on_peek(void *arg, const struct engine_item_info *it)
{
    struct item_copy *ic = arg;
    ic->found = 1;
    ic->info = *it;
    ic->info.key = NULL;
    ic->info.value = NULL;
    ic->len = it->nbytes < DECODE_IN_MAX ? it->nbytes : DECODE_IN_MAX;
    ic->value = malloc(ic->len + 1);
    if (ic->value != NULL)
        engine_value_copy(it, 0, ic->len, ic->value);
    else
        ic->len = 0;
}

/* The key a request names (key= or kx=); its length, or -1. */
static long request_key(const char *qs, size_t qlen, char *key, size_t len)
{
    char hex[2 * ENGINE_KEY_MAX + 2];
    long n = http_param(qs, qlen, "key", key, len);
    if (n > 0 && n <= ENGINE_KEY_MAX)
        return n;
    n = http_param(qs, qlen, "kx", hex, sizeof(hex));
    if (n <= 0 || n % 2 != 0 || n / 2 > ENGINE_KEY_MAX)
        return -1;
    for (long i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (char)v;
    }
    key[n / 2] = '\0';
    return n / 2;
}

/* A key that may be sent to a peer in a command line. */
static int wire_key(const char *key, long n)
{
    for (long i = 0; i < n; i++)
        if ((unsigned char)key[i] <= ' ' || key[i] == 0x7f)
            return 0;
    return n > 0;
}

static void item_json(struct buf *o, const char *server, const char *key,
                      long nkey, const struct item_copy *ic, long long ttl)
{
    buf_appendz(o, "{\"server\":");
    json_strz(o, server ? server : "local");
    buf_append(o, ",", 1);
    json_keyfield(o, key, (size_t)nkey);
    buf_printf(o, ",\"size\":%u,\"flags\":%u,\"exptime\":%u,\"ttl\":%lld,"
               "\"cas\":%llu,\"truncated\":%s,\"format\":", ic->info.nbytes,
               ic->info.flags, ic->info.exptime, ttl,
               (unsigned long long)ic->info.cas,
               ic->len < ic->info.nbytes ? "true" : "false");
    struct buf dec;
    buf_init(&dec);
    enum decode_fmt f = ic->len == ic->info.nbytes
                        ? decode_value(ic->value, ic->len, &dec) : DECODE_NONE;
    json_strz(o, decode_name(f));
    buf_appendz(o, ",\"decoded\":");
    if (f == DECODE_NONE)
        buf_appendz(o, "null");
    else
        buf_append(o, dec.data, dec.len);
    buf_free(&dec);
    if (json_utf8_valid(ic->value, ic->len)) {
        buf_appendz(o, ",\"text\":");
        json_str(o, ic->value, ic->len);
    }
    buf_appendz(o, ",\"hex\":");
    json_hex(o, ic->value, ic->len < ITEM_HEX_MAX ? ic->len : ITEM_HEX_MAX);
    buf_appendz(o, "}\n");
}

/* gets <key> on a peer into ic. */
static int peer_item(const char *server, const char *key,
                     struct item_copy *ic, char *err, size_t errlen)
{
    char cmd[ENGINE_KEY_MAX + 8];
    struct buf o;
    buf_init(&o);
    snprintf(cmd, sizeof(cmd), "gets %s", key);
    int rc = peer_query(server, cmd, peer_complete_get, &o, err, errlen);
    unsigned flags;
    unsigned long bytes;
    unsigned long long cas = 0;
    char *nl = rc == 0 ? memchr(o.data, '\n', o.len) : NULL;
    if (nl != NULL && sscanf(o.data, "VALUE %*s %u %lu %llu", &flags, &bytes,
                             &cas) >= 2 &&
        bytes <= o.len - (size_t)(nl + 1 - o.data)) {
        ic->found = 1;
        ic->info.flags = flags;
        ic->info.nbytes = (uint32_t)bytes;
        ic->info.cas = cas;
        ic->len = bytes < DECODE_IN_MAX ? bytes : DECODE_IN_MAX;
        ic->value = malloc(ic->len + 1);
        if (ic->value)
            memcpy(ic->value, nl + 1, ic->len);
        else
            ic->len = 0;
    }
    buf_free(&o);
    return rc;
}

void keys_item(struct console *c, const struct http_req *r,
               struct reply *rep)
{
    char addr[CONSOLE_SERVER_MAX], key[ENGINE_KEY_MAX + 1], err[160] = "";
    const char *server;
    if (console_server(c, r, addr, sizeof(addr), &server, rep) < 0)
        return;
    long nkey = request_key(r->query, r->query_len, key, sizeof(key));
    if (nkey <= 0 || (server && !wire_key(key, nkey))) {
        reply_error(rep, 400, "key= (or kx=, hex) names a valid key");
        return;
    }
    struct item_copy ic;
    memset(&ic, 0, sizeof(ic));
    if (server == NULL)
        engine_peek(c->slot, key, (size_t)nkey, on_peek, &ic);
    else if (peer_item(server, key, &ic, err, sizeof(err)) < 0) {
        reply_error(rep, 502, err);
        return;
    }
    if (!ic.found) {
        reply_error(rep, 404, "no such key");
        return;
    }
    long long ttl = ic.info.exptime
                    ? (long long)ic.info.exptime - (long long)engine_now(c->engine)
                    : -1;
    rep->ctype = "application/json";
    item_json(&rep->body, server, key, nkey, &ic, ttl);
    free(ic.value);
}

void keys_delete(struct console *c, const struct http_req *r,
                 struct reply *rep)
{
    char addr[CONSOLE_SERVER_MAX], key[ENGINE_KEY_MAX + 1], err[160] = "";
    if (!c->s->http_write) {
        reply_error(rep, 403, "deleting needs -o http_write");
        return;
    }
    /* the form's fields, with the query's server= */
    struct http_req form = *r;
    form.query = r->body;
    form.query_len = r->body_len;
    const char *server;
    if (console_server(c, &form, addr, sizeof(addr), &server, rep) < 0)
        return;
    long nkey = request_key(r->body, r->body_len, key, sizeof(key));
    if (nkey <= 0 || (server && !wire_key(key, nkey))) {
        reply_error(rep, 400, "key= (or kx=, hex) names a valid key");
        return;
    }
    int found;
    if (server == NULL) {
        found = engine_delete(c->slot, key, (size_t)nkey) == ENGINE_OK;
    } else {
        char cmd[ENGINE_KEY_MAX + 8];
        struct buf o;
        buf_init(&o);
        snprintf(cmd, sizeof(cmd), "delete %s", key);
        int rc = peer_query(server, cmd, peer_complete_line, &o, err,
                            sizeof(err));
        found = rc == 0 && o.len >= 7 && memcmp(o.data, "DELETED", 7) == 0;
        buf_free(&o);
        if (rc < 0) {
            reply_error(rep, 502, err);
            return;
        }
    }
    if (!found) {
        reply_error(rep, 404, "no such key");
        return;
    }
    rep->ctype = "application/json";
    buf_appendz(&rep->body, "{\"deleted\":true}\n");
}
