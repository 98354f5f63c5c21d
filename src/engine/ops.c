/*
 * ops.c - the general form of the key operations that do not store a new
 * value from the client: get (with touch, vivify, recache), delete (with
 * invalidate, remove-value), arithmetic (with create, CAS, touch), debug;
 * and flush_all. store.c has the storage operations. Each is built from
 * the key primitives (keyop.h) the same way: open the key (stripe lock
 * held), read or modify the item, change chains only through
 * keyop_switch_locked()/keyop_remove_locked() (which fail closed and are
 * journaled), unlock. An operation that needs a new item (vivify, a
 * growing number, md x) allocates it under the stripe, which the lock
 * order stripe -> class -> pages allows. engine.h's classic commands
 * (classic.c) are these with fixed options.
 *
 * Meta item state, in item.iflags under the stripe lock (region.h):
 *   IF_STALE   invalidated: md I, or ms I with a CAS older than the item's.
 *              Served with X; the first fetch of a stale item wins.
 *   IF_WON     a recache win (W) was handed out: on vivify (mg N), when the
 *              TTL is below an R threshold, or on the first fetch of a stale
 *              item. Later fetches report Z and cannot win; md I clears it
 *              so that the next fetch wins again.
 *   IF_KEYB    the item was stored with a base64 key (ms b): keys shown
 *              from the item are shown base64-encoded.
 * A new item (store, append, vivify) starts with none of them, except a
 * stale store (ms I), which keeps the old item's exptime and IF_WON.
 *
 * Explicit CAS (E): the item switched in gets the given value instead of
 * the counter's (keyop_switch_locked() draws one; it is overwritten before
 * the stripe is released, so nobody sees the drawn value).
 *
 * Counting follows memcached 1.6: get and gat count as gets (gat also as a
 * touch), touch as a touch, mg as a get (or as a touch when it touched a
 * hit), md as a delete, ma as incr/decr; me counts cmd_meta.
 */
#include "engine/ops.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engine/changelog.h"
#include "engine/item.h"
#include "engine/keyop.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/slab.h"

/* memcached's item header with CAS: its `size` figure in me. */
#define MC_ITEM_HDR 56u

static void meta_fill(struct item *it, uint32_t now, struct engine_meta *m)
{
    memset(m, 0, sizeof *m);
    m->now = now;
    m->exptime_before = it->exptime;
    m->last_access = now - it->atime;
    m->fetched = (it->iflags & IF_FETCHED) != 0;
    m->stale = (it->iflags & IF_STALE) != 0;
    m->token_sent = (it->iflags & IF_WON) != 0;
    m->key_binary = (it->iflags & IF_KEYB) != 0;
    m->clsid = it->clsid;
    m->size = MC_ITEM_HDR + it->nkey + 1 + it->nbytes + 2 +
              (item_flags(it) ? 4u : 0u);
}

static uint64_t cas_of(const struct engine *e, const struct item *it)
{
    return e->r->cfg.use_cas ? it->cas : 0;
}

/* ---- get ---------------------------------------------------------------- */

static void count_miss(struct engine_worker *w,
                       const struct engine_mget_opts *o, int why)
{
    struct engine_counters *c = &w->s->c;
    if (o->count == ENGINE_COUNT_GAT || o->count == ENGINE_COUNT_TOUCH) {
        c->cmd_get += o->count == ENGINE_COUNT_GAT;
        c->cmd_touch++;
        c->touch_misses++;
        return;
    }
    c->cmd_get++;
    c->get_misses++;
    if (why == 1)
        c->get_expired++;
    else if (why == 2)
        c->get_flushed++;
}

static void count_hit(struct engine_worker *w,
                      const struct engine_mget_opts *o, unsigned cls,
                      unsigned seg)
{
    struct engine_counters *c = &w->s->c;
    int touch = o->count == ENGINE_COUNT_GAT ||
                o->count == ENGINE_COUNT_TOUCH ||
                (o->count == ENGINE_COUNT_MG && o->touch);
    c->cmd_get += o->count != ENGINE_COUNT_TOUCH &&
                  (o->count != ENGINE_COUNT_MG || !o->touch);
    if (touch) {
        c->cmd_touch++;
        c->touch_hits++;
        w->s->cls[cls].touch_hits++;
    } else {
        c->get_hits++;
        struct engine_class_counters *k = &w->s->cls[cls];
        k->get_hits++;
        uint64_t *by_seg[LRU_SEGS] = { &k->hits_hot, &k->hits_warm,
                                       &k->hits_cold, &k->hits_temp };
        (*by_seg[seg])++;
    }
}

/* mg N: a new empty item in place of the miss. 0 or the item. */
static ref_t vivify(struct engine_worker *w, struct lookup *l,
                    const char *key, size_t nkey,
                    const struct engine_mget_opts *o)
{
    enum engine_status st;
    ref_t nr = keyop_new_item(w, l, key, nkey, 0, 0, o->viv_exptime, &st);
    if (nr == 0)
        return 0;
    if (keyop_switch_locked(w, l, NULL, 0, nr) < 0) {
        slab_release(w, nr);
        return 0;
    }
    if (o->has_new_cas)
        ITEM(w->e, nr)->cas = o->new_cas;
    return nr;
}

/* Whether this fetch wins the right to recache (W), per mg's rules. */
static int wins(const struct engine_mget_opts *o, const struct engine_meta *m,
                int created)
{
    if (created)
        return 1;
    uint32_t rexp = o->touch && o->recache_after_touch ? o->touch_exptime
                                                        : m->exptime_before;
    if (o->recache && !m->token_sent && rexp != 0 && rexp < o->recache_time)
        return 1;
    return m->stale && !m->token_sent;
}

enum engine_status engine_mget(struct engine_worker *w, const char *key,
                               size_t nkey, const struct engine_mget_opts *o,
                               engine_meta_fn fn, engine_get_fn plain,
                               void *arg)
{
    struct engine *e = w->e;
    struct lookup l;
    ref_t r;
    int why, created = 0;

    enum engine_status st = keyop_open(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0 && o->vivify)
        created = (r = vivify(w, &l, key, nkey, o)) != 0;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        count_miss(w, o, why);
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(e, r);
    struct engine_meta m;
    if (fn || o->count == ENGINE_COUNT_MG) {   /* meta state: mg only */
        meta_fill(it, l.now, &m);
        if (created) {
            m.exptime_before = 0;
            m.created = 1;
        }
        m.won = (unsigned)wins(o, &m, created);
        if (m.won)
            it->iflags |= IF_WON;
    }
    if (o->touch && !created) {
        it->exptime = o->touch_exptime;
        keyop_changed_locked(w, &l, r, 1);  /* replicated: a new version */
    }
    struct info_box b;
    if (fn || plain)
        keyop_fill_info(e, it, &b);
    if (fn)
        fn(arg, &b.info, &m);
    else if (plain)
        plain(arg, &b.info);
    unsigned cls = it->clsid, seg = lru_seg(it);
    if (!o->no_bump) {
        int again = (it->iflags & IF_FETCHED) != 0;
        if (!o->no_fetched)
            it->iflags |= IF_FETCHED;
        lru_bump(w, r, l.now, again);
    }
    unlock_stripe(w, l.stripe);
    count_hit(w, o, cls, seg);
    return ENGINE_OK;
}

/* ---- md --------------------------------------------------------------- */

/* md x: the item is replaced by an empty one with the same key and flags. */
static enum engine_status remove_value(struct engine_worker *w,
                                       struct lookup *l, ref_t *link,
                                       ref_t r, const struct engine_mdel_opts *o)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    enum engine_status st;
    ref_t nr = keyop_new_item(w, l, item_key(it), it->nkey, 0, item_flags(it),
                              it->exptime, &st);
    if (nr == 0)
        return st == ENGINE_NO_MEMORY ? ENGINE_NO_MEMORY : ENGINE_ERROR;
    ITEM(e, nr)->iflags |= it->iflags & IF_KEYB;
    if (keyop_switch_locked(w, l, link, r, nr) < 0) {
        slab_release(w, nr);
        return ENGINE_ERROR;
    }
    if (o->has_new_cas)
        ITEM(e, nr)->cas = o->new_cas;
    return ENGINE_OK;
}

enum engine_status engine_mdelete(struct engine_worker *w, const char *key,
                                  size_t nkey,
                                  const struct engine_mdel_opts *o)
{
    struct engine *e = w->e;
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t *link = NULL, r;
    int why;

    enum engine_status st = keyop_open(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        c->delete_misses++;
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(e, r);
    if (o->has_cas && cas_of(e, it) != o->cas) {
        unlock_stripe(w, l.stripe);
        if (!o->exists_uncounted)
            c->delete_misses++;
        return ENGINE_EXISTS;
    }
    st = ENGINE_OK;
    if (o->invalidate) {
        if (o->touch)
            it->exptime = o->exptime;
        it->iflags = (uint8_t)((it->iflags | IF_STALE) & ~IF_WON);
        it->cas = o->has_new_cas ? o->new_cas
                  : __atomic_add_fetch(&e->r->cas_counter, 1,
                                       __ATOMIC_ACQ_REL);
        keyop_changed_locked(w, &l, r, 0);
    } else if (o->remove_value) {
        st = remove_value(w, &l, link, r, o);
    } else {
        unsigned cls = it->clsid;
        if (keyop_remove_locked(w, &l, link, r, 1) < 0) {
            st = ENGINE_ERROR;
        } else {
            w->s->cls[cls].delete_hits++;
            c->delete_hits++;
        }
    }
    unlock_stripe(w, l.stripe);
    return st;
}

/* An uncounted removal (a failed store drops the old value): OK or
 * NOT_FOUND, BAD_KEY, ERROR. */
enum engine_status engine_unlink(struct engine_worker *w, const char *key,
                                 size_t nkey)
{
    struct lookup l;
    ref_t *link, r;
    int why;

    enum engine_status st = keyop_open(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    st = r == 0 ? ENGINE_NOT_FOUND
         : keyop_remove_locked(w, &l, link, r, 1) < 0 ? ENGINE_ERROR
         : ENGINE_OK;
    unlock_stripe(w, l.stripe);
    return st;
}

/* ---- ma --------------------------------------------------------------- */

/* memcached's rule for a number stored as a value (strtoull): optional
 * leading whitespace and '+', digits, then the end or whitespace; no sign,
 * no overflow. 0 or -1. */
static int value_u64(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i < n && s[i] == '+')
        i++;
    size_t start = i;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (i == start || (i < n && !isspace((unsigned char)s[i])))
        return -1;
    *out = v;
    return 0;
}

/* ma N on a miss: a new item holding the initial value. */
static enum engine_status arith_create(struct engine_worker *w,
                                       struct lookup *l, const char *key,
                                       size_t nkey,
                                       const struct engine_marith_opts *o,
                                       struct engine_marith_result *res)
{
    struct engine *e = w->e;
    enum engine_status st;
    char num[24];
    int len = snprintf(num, sizeof num, "%llu",
                       (unsigned long long)o->initial);
    ref_t nr = keyop_new_item(w, l, key, nkey, (size_t)len, 0,
                              o->viv_exptime, &st);
    if (nr == 0)
        return st == ENGINE_ERROR ? ENGINE_ERROR : ENGINE_NO_MEMORY;
    item_write(e, ITEM(e, nr), 0, num, (size_t)len);
    if (keyop_switch_locked(w, l, NULL, 0, nr) < 0) {
        slab_release(w, nr);
        return ENGINE_ERROR;
    }
    struct item *ni = ITEM(e, nr);
    if (o->has_new_cas)
        ni->cas = o->new_cas;
    res->value = o->initial;
    res->cas = cas_of(e, ni);
    res->exptime = ni->exptime;
    res->created = 1;
    return ENGINE_OK;
}

/* Writes the number v as r's value: in place, padded with spaces, when it
 * fits (as memcached does), else in a new item. *out: the item that holds
 * it. */
static enum engine_status arith_store(struct engine_worker *w,
                                      struct lookup *l, ref_t *link, ref_t r,
                                      uint64_t v, ref_t *out)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    enum engine_status st;
    char num[24];
    int len = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    *out = r;
    if ((uint32_t)len <= it->nbytes) {
        memset(item_data(it) + len, ' ', it->nbytes - (uint32_t)len);
        memcpy(item_data(it), num, (size_t)len);
        it->cas = __atomic_add_fetch(&e->r->cas_counter, 1,
                                     __ATOMIC_ACQ_REL);
        keyop_changed_locked(w, l, r, 0);
        return ENGINE_OK;
    }
    ref_t nr = keyop_new_item(w, l, item_key(it), it->nkey, (size_t)len,
                              item_flags(it), it->exptime, &st);
    if (nr == 0)
        return st == ENGINE_ERROR ? ENGINE_ERROR : ENGINE_NO_MEMORY;
    struct item *ni = ITEM(e, nr);
    item_write(e, ni, 0, num, (size_t)len);
    ni->iflags |= it->iflags & (IF_KEYB | IF_STALE | IF_WON);
    if (keyop_switch_locked(w, l, link, r, nr) < 0) {
        slab_release(w, nr);
        return ENGINE_ERROR;
    }
    *out = nr;
    return ENGINE_OK;
}

/* The item's value as a number, memcached's way; -1 if it is not one. */
static int item_u64(const struct engine *e, struct item *it, uint64_t *v)
{
    char num[24];
    if (item_chain(e, it) || it->nbytes == 0 || it->nbytes >= sizeof num)
        return -1;
    item_read(e, it, 0, it->nbytes, num);
    return value_u64(num, it->nbytes, v);
}

static void count_arith(struct engine_worker *w, int incr, int hit,
                        unsigned cls)
{
    struct engine_counters *c = &w->s->c;
    if (incr && hit) {
        c->incr_hits++;
        w->s->cls[cls].incr_hits++;
    } else if (hit) {
        c->decr_hits++;
        w->s->cls[cls].decr_hits++;
    } else if (incr) {
        c->incr_misses++;
    } else {
        c->decr_misses++;
    }
}

enum engine_status engine_marith(struct engine_worker *w, const char *key,
                                 size_t nkey,
                                 const struct engine_marith_opts *o,
                                 struct engine_marith_result *res)
{
    struct engine *e = w->e;
    struct lookup l;
    ref_t *link = NULL, r;
    uint64_t v;
    int why;

    memset(res, 0, sizeof *res);
    enum engine_status st = keyop_open(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    res->now = l.now;
    if (r == 0) {
        st = o->vivify ? arith_create(w, &l, key, nkey, o, res)
                       : ENGINE_NOT_FOUND;
        if (st == ENGINE_NOT_FOUND)
            count_arith(w, o->incr, 0, 0);
        unlock_stripe(w, l.stripe);
        return st;
    }
    struct item *it = ITEM(e, r);
    if (o->has_cas && o->cas != 0 && cas_of(e, it) != o->cas)
        st = ENGINE_EXISTS;
    else if (item_u64(e, it, &v) < 0)
        st = ENGINE_NON_NUMERIC;
    if (st != ENGINE_OK) {
        unlock_stripe(w, l.stripe);
        return st;
    }
    v = o->incr ? v + o->delta : o->delta > v ? 0 : v - o->delta;
    res->exptime_before = it->exptime;
    st = arith_store(w, &l, link, r, v, &r);
    if (st == ENGINE_OK) {
        it = ITEM(e, r);
        if (o->has_new_cas)
            it->cas = o->new_cas;
        if (o->touch)
            it->exptime = o->touch_exptime;
        count_arith(w, o->incr, 1, it->clsid);
        res->value = v;
        res->cas = cas_of(e, it);
        res->exptime = it->exptime;
    }
    unlock_stripe(w, l.stripe);
    return st;
}

/* ---- me, peek ----------------------------------------------------------- */

enum engine_status engine_mdebug(struct engine_worker *w, const char *key,
                                 size_t nkey, engine_meta_fn fn, void *arg)
{
    struct engine_meta m;
    struct lookup l;
    ref_t r;
    int why;

    enum engine_status st = keyop_open(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    w->s->c.cmd_meta++;
    if (r != 0 && fn) {
        struct item *it = ITEM(w->e, r);
        struct info_box b;
        meta_fill(it, l.now, &m);
        keyop_fill_info(w->e, it, &b);
        fn(arg, &b.info, &m);
    }
    unlock_stripe(w, l.stripe);
    return r != 0 ? ENGINE_OK : ENGINE_NOT_FOUND;
}

/* An uncounted look: no statistics, no LRU bump, not marked fetched. */
enum engine_status engine_peek(struct engine_worker *w, const char *key,
                               size_t nkey, engine_get_fn fn, void *arg)
{
    struct lookup l;
    ref_t r;
    int why;

    enum engine_status st = keyop_open(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r != 0 && fn) {
        struct info_box b;
        keyop_fill_info(w->e, ITEM(w->e, r), &b);
        fn(arg, &b.info);
    }
    unlock_stripe(w, l.stripe);
    return r != 0 ? ENGINE_OK : ENGINE_NOT_FOUND;
}

/* ---- time, flush --------------------------------------------------------- */

uint32_t engine_exptime(const struct engine *e, int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1;                      /* long past: already expired */
    if (exptime > ENGINE_RELTIME_MAX)
        return exptime > UINT32_MAX ? UINT32_MAX : (uint32_t)exptime;
    return now32(e) + (uint32_t)exptime;
}


void engine_flush(struct engine_worker *w, int64_t when)
{
    struct engine *e = w->e;
    struct region *r = e->r;
    w->s->c.cmd_flush++;
    if (when <= 0) {
        uint64_t cas = __atomic_load_n(&r->cas_counter, __ATOMIC_ACQUIRE);
        __atomic_store_n(&r->oldest_cas, cas, __ATOMIC_RELEASE);
        __atomic_store_n(&r->oldest_live, (int64_t)now32(e), __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&r->oldest_cas, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&r->oldest_live, (int64_t)engine_exptime(e, when),
                         __ATOMIC_RELEASE);
    }
    changelog_flush(w, r->oldest_live, r->oldest_cas);
}
