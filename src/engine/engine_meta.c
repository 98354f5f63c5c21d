/*
 * engine_meta.c - the meta protocol's operations (mg ms md ma me) on the
 * shared-memory engine, built from the key-operation primitives of
 * engine_int.h exactly as engine.c builds the classic ones: open the key
 * (stripe lock held), read and modify the item, switch chains only through
 * eng_switch_locked()/eng_remove_locked() (journaled for crash repair),
 * unlock. Every read-modify-write happens under the one stripe lock; an
 * operation that needs a new item (vivify, append, a growing number, md x)
 * allocates it under the stripe, which the lock order stripe -> class ->
 * pages allows.
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
 * the counter's (eng_switch_locked() draws one; it is overwritten before
 * the stripe is released, so nobody sees the drawn value).
 *
 * These are the general form of the engine's key operations: engine.c's
 * classic delete, incr/decr and storage commands are these without
 * options, and the binary protocol uses the CAS and vivify options.
 *
 * Counting follows memcached 1.6: mg counts as a get (or as a touch when it
 * touched a hit), ms as a set (and cas hits/misses/badval), md as a delete,
 * ma as incr/decr; me counts cmd_meta.
 */
#include "engine/engine_meta.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine_int.h"
#include "engine/recover.h"
#include "engine/region.h"
#include "engine/slab.h"

/* memcached's item header with CAS: its `size` figure in me. */
#define MC_ITEM_HDR 56u

static void meta_fill(const struct engine *e, struct item *it, uint32_t now,
                      struct engine_meta *m)
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
              (it->flags ? 4u : 0u);
    (void)e;
}

static uint64_t cas_of(const struct engine *e, const struct item *it)
{
    return e->r->cfg.use_cas ? it->cas : 0;
}

/* A new ALLOC item for key with nbytes of value, flags and exptime set. */
static ref_t new_item(struct engine_worker *w, struct lookup *l,
                      const char *key, size_t nkey, size_t nbytes,
                      uint32_t flags, uint32_t exptime,
                      enum engine_status *st)
{
    if (ITEM_HDR + nkey + nbytes > w->e->r->cfg.item_size_max) {
        *st = ENGINE_TOO_LARGE;
        return 0;
    }
    ref_t r = slab_alloc(w, nkey, nbytes, l->now, st);
    if (r == 0)
        return 0;
    struct item *it = ITEM(w->e, r);
    memcpy(item_key(it), key, nkey);
    it->flags = flags;
    it->exptime = exptime;
    it->cas = 0;
    return r;
}

/* ---- mg --------------------------------------------------------------- */

enum engine_status engine_mget(struct engine_worker *w, const char *key,
                               size_t nkey, const struct engine_mget_opts *o,
                               engine_meta_fn fn, void *arg)
{
    struct engine *e = w->e;
    struct engine_counters *c = &w->s->c;
    struct engine_meta m;
    struct lookup l;
    ref_t *link = NULL, r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    int created = 0;
    if (r == 0 && o->vivify) {
        enum engine_status ast;
        ref_t nr = new_item(w, &l, key, nkey, 0, 0, o->viv_exptime, &ast);
        if (nr != 0) {
            eng_switch_locked(w, &l, NULL, 0, nr);
            if (o->has_new_cas)
                ITEM(e, nr)->cas = o->new_cas;
            r = nr;
            created = 1;
        }
    }
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        c->cmd_get++;
        c->get_misses++;
        if (why == 1)
            c->get_expired++;
        else if (why == 2)
            c->get_flushed++;
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(e, r);
    meta_fill(e, it, l.now, &m);
    int won = created;
    if (created) {
        m.exptime_before = 0;
        m.created = 1;
    } else if (o->touch) {
        it->exptime = o->touch_exptime;
    }
    uint32_t rexp = o->touch && o->recache_after_touch ? o->touch_exptime
                                                        : m.exptime_before;
    if (o->recache && !m.token_sent && !created && rexp != 0 &&
        rexp < o->recache_time)
        won = 1;
    if (m.stale && !m.token_sent)
        won = 1;
    if (won)
        it->iflags |= IF_WON;
    m.won = (unsigned)won;
    if (fn) {
        struct info_box b;
        eng_fill_info(e, it, &b);
        fn(arg, &b.info, &m);
    }
    if (!o->no_bump) {
        it->iflags |= IF_FETCHED;
        slab_bump(w, r, l.now);
    }
    unsigned cls = it->clsid;
    unlock_stripe(w, l.stripe);
    if (o->touch) {
        c->cmd_touch++;
        c->touch_hits++;
        w->s->cls[cls].touch_hits++;
    } else {
        c->cmd_get++;
        c->get_hits++;
        w->s->cls[cls].get_hits++;
    }
    return ENGINE_OK;
}

/* ---- ms --------------------------------------------------------------- */

/* append/prepend: a new item holding both values, in place of old.
 * ENGINE_STORED or ENGINE_NOT_STORED (the result does not fit). */
static enum engine_status concat_locked(struct engine_worker *w,
                                        struct lookup *l, ref_t *link,
                                        ref_t old, ref_t add, int append,
                                        ref_t *out)
{
    struct engine *e = w->e;
    struct item *oi = ITEM(e, old), *ai = ITEM(e, add);
    enum engine_status st;
    ref_t nr = new_item(w, l, item_key(oi), oi->nkey,
                        (size_t)oi->nbytes + ai->nbytes, oi->flags,
                        oi->exptime, &st);
    if (nr == 0)
        return ENGINE_NOT_STORED;
    struct item *ni = ITEM(e, nr);
    ni->iflags |= oi->iflags & IF_KEYB;
    struct item *part[2] = { append ? oi : ai, append ? ai : oi };
    char tmp[4096];
    size_t off = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t done = 0; done < part[k]->nbytes;) {
            size_t n = part[k]->nbytes - done;
            if (n > sizeof tmp)
                n = sizeof tmp;
            item_read(e, part[k], done, n, tmp);
            item_write(e, ni, off, tmp, n);
            done += n;
            off += n;
        }
    }
    eng_switch_locked(w, l, link, old, nr);
    *out = nr;
    return ENGINE_STORED;
}

enum engine_status engine_mset(struct engine_worker *w, struct engine_alloc *a,
                               const struct engine_mset_opts *o,
                               uint64_t *cas_out)
{
    struct engine *e = w->e;
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t *link = NULL;
    int why;

    if (cas_out)
        *cas_out = 0;
    if (a->ref == 0)
        return ENGINE_ERROR;
    ref_t r = a->ref;
    struct item *it = ITEM(e, r);
    if (o->key_binary)
        it->iflags |= IF_KEYB;
    c->cmd_set++;
    w->s->cls[it->clsid].cmd_set++;
    if (eng_lookup_lock(w, item_key(it), it->nkey, &l) < 0) {
        engine_alloc_release(w, a);
        return ENGINE_ERROR;
    }
    ref_t old = eng_find_live(w, &l, item_key(it), it->nkey, &link, &why);
    enum engine_op_mode { M_SET, M_ADD, M_CAS, M_CONCAT } mode;
    switch (o->mode) {
    case ENGINE_ADD:
        mode = M_ADD;
        break;
    case ENGINE_APPEND:
    case ENGINE_PREPEND:
        mode = M_CONCAT;
        break;
    case ENGINE_CAS:
        mode = M_CAS;
        break;
    default:
        mode = o->has_cas ? M_CAS : M_SET;
        break;
    }
    enum engine_status st = ENGINE_STORED;
    ref_t stored = r;
    if (old == 0) {
        if (mode == M_CAS) {
            c->cas_misses++;
            st = ENGINE_NOT_FOUND;
        } else if (o->mode != ENGINE_SET && o->mode != ENGINE_ADD) {
            st = ENGINE_NOT_STORED;
        }
        if (st == ENGINE_STORED)
            eng_switch_locked(w, &l, NULL, 0, r);
    } else {
        struct item *oi = ITEM(e, old);
        uint64_t have = cas_of(e, oi);
        switch (mode) {
        case M_ADD:
            slab_bump(w, old, l.now);
            st = ENGINE_NOT_STORED;
            break;
        case M_CAS:
            /* the cas command compares exactly (0 == 0 with -C); meta's
             * C0 matches nothing */
            if (o->cas == have && (o->cas != 0 || o->mode == ENGINE_CAS)) {
                c->cas_hits++;
                w->s->cls[oi->clsid].cas_hits++;
            } else if (o->invalidate && o->cas != 0 && o->cas < have) {
                /* stale store: keeps the TTL and a win handed out */
                it->exptime = oi->exptime;
                it->iflags |= IF_STALE | (oi->iflags & IF_WON);
                c->cas_hits++;
                w->s->cls[oi->clsid].cas_hits++;
            } else {
                c->cas_badval++;
                w->s->cls[oi->clsid].cas_badval++;
                st = ENGINE_EXISTS;
            }
            break;
        case M_CONCAT:
            if (o->has_cas && o->cas != 0 && o->cas != have) {
                st = ENGINE_EXISTS;
                break;
            }
            st = concat_locked(w, &l, link, old, r,
                               o->mode == ENGINE_APPEND, &stored);
            break;
        case M_SET:
            break;
        }
        if (st == ENGINE_STORED && mode != M_CONCAT)
            eng_switch_locked(w, &l, link, old, r);
    }
    if (st == ENGINE_STORED) {
        /* the allocation, or the concatenation now in old's place */
        struct item *si = ITEM(e, stored);
        if (stored == r)
            a->ref = 0;
        if (o->has_new_cas)
            si->cas = o->new_cas;
        if (cas_out)
            *cas_out = cas_of(e, si);
    }
    unlock_stripe(w, l.stripe);
    engine_alloc_release(w, a);
    return st;
}

/* ---- md --------------------------------------------------------------- */

enum engine_status engine_mdelete(struct engine_worker *w, const char *key,
                                  size_t nkey,
                                  const struct engine_mdel_opts *o)
{
    struct engine *e = w->e;
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t *link = NULL, r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, &link, &why);
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
    } else if (o->remove_value) {
        ref_t nr = new_item(w, &l, item_key(it), it->nkey, 0, it->flags,
                            it->exptime, &st);
        if (nr == 0) {
            st = st == ENGINE_NO_MEMORY ? ENGINE_NO_MEMORY : ENGINE_ERROR;
        } else {
            ITEM(e, nr)->iflags |= it->iflags & IF_KEYB;
            eng_switch_locked(w, &l, link, r, nr);
            if (o->has_new_cas)
                ITEM(e, nr)->cas = o->new_cas;
            st = ENGINE_OK;
        }
    } else {
        w->s->cls[it->clsid].delete_hits++;
        c->delete_hits++;
        eng_remove_locked(w, &l, link, r);
    }
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

enum engine_status engine_marith(struct engine_worker *w, const char *key,
                                 size_t nkey,
                                 const struct engine_marith_opts *o,
                                 struct engine_marith_result *res)
{
    struct engine *e = w->e;
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t *link = NULL, r;
    int why;
    char num[24];

    memset(res, 0, sizeof *res);
    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    res->now = l.now;
    if (r == 0) {
        if (!o->vivify) {
            unlock_stripe(w, l.stripe);
            if (o->incr)
                c->incr_misses++;
            else
                c->decr_misses++;
            return ENGINE_NOT_FOUND;
        }
        int len = snprintf(num, sizeof num, "%llu",
                           (unsigned long long)o->initial);
        ref_t nr = new_item(w, &l, key, nkey, (size_t)len, 0,
                            o->viv_exptime, &st);
        if (nr == 0) {
            unlock_stripe(w, l.stripe);
            return st == ENGINE_ERROR ? ENGINE_ERROR : ENGINE_NO_MEMORY;
        }
        item_write(e, ITEM(e, nr), 0, num, (size_t)len);
        eng_switch_locked(w, &l, NULL, 0, nr);
        struct item *ni = ITEM(e, nr);
        if (o->has_new_cas)
            ni->cas = o->new_cas;
        res->value = o->initial;
        res->cas = cas_of(e, ni);
        res->exptime = ni->exptime;
        res->created = 1;
        unlock_stripe(w, l.stripe);
        return ENGINE_OK;
    }
    struct item *it = ITEM(e, r);
    if (o->has_cas && o->cas != 0 && cas_of(e, it) != o->cas) {
        unlock_stripe(w, l.stripe);
        return ENGINE_EXISTS;
    }
    uint64_t v;
    if (it->chain || it->nbytes == 0 || it->nbytes >= sizeof num ||
        (item_read(e, it, 0, it->nbytes, num),
         value_u64(num, it->nbytes, &v)) < 0) {
        unlock_stripe(w, l.stripe);
        return ENGINE_NON_NUMERIC;
    }
    if (o->incr)
        v += o->delta;
    else
        v = o->delta > v ? 0 : v - o->delta;
    int len = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    res->exptime_before = it->exptime;
    if ((uint32_t)len <= it->nbytes) {
        /* in place, padded with spaces, as memcached does */
        memset(item_data(it) + len, ' ', it->nbytes - (uint32_t)len);
        memcpy(item_data(it), num, (size_t)len);
        it->cas = __atomic_add_fetch(&e->r->cas_counter, 1,
                                     __ATOMIC_ACQ_REL);
    } else {
        ref_t nr = new_item(w, &l, item_key(it), it->nkey, (size_t)len,
                            it->flags, it->exptime, &st);
        if (nr == 0) {
            unlock_stripe(w, l.stripe);
            return st == ENGINE_ERROR ? ENGINE_ERROR : ENGINE_NO_MEMORY;
        }
        struct item *ni = ITEM(e, nr);
        item_write(e, ni, 0, num, (size_t)len);
        ni->iflags |= it->iflags & (IF_KEYB | IF_STALE | IF_WON);
        eng_switch_locked(w, &l, link, r, nr);
        it = ni;
    }
    if (o->has_new_cas)
        it->cas = o->new_cas;
    if (o->touch)
        it->exptime = o->touch_exptime;
    if (o->incr) {
        c->incr_hits++;
        w->s->cls[it->clsid].incr_hits++;
    } else {
        c->decr_hits++;
        w->s->cls[it->clsid].decr_hits++;
    }
    res->value = v;
    res->cas = cas_of(e, it);
    res->exptime = it->exptime;
    unlock_stripe(w, l.stripe);
    return ENGINE_OK;
}

/* ---- me --------------------------------------------------------------- */

enum engine_status engine_mdebug(struct engine_worker *w, const char *key,
                                 size_t nkey, engine_meta_fn fn, void *arg)
{
    struct engine_meta m;
    struct lookup l;
    ref_t r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    w->s->c.cmd_meta++;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(w->e, r);
    meta_fill(w->e, it, l.now, &m);
    if (fn) {
        struct info_box b;
        eng_fill_info(w->e, it, &b);
        fn(arg, &b.info, &m);
    }
    unlock_stripe(w, l.stripe);
    return ENGINE_OK;
}
