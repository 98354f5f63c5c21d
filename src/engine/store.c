/*
 * store.c - storing values: the three-step allocation API (engine_alloc,
 * fill, engine_mset / engine_alloc_store) and the general storage
 * operation with its options (set add replace append prepend cas, meta's
 * compare, invalidate and explicit CAS).
 *
 * A value is written into its ALLOC item before the key's stripe is taken
 * (values arrive from the network in pieces, maybe straight into the item:
 * engine_alloc_window); the store then takes the stripe, decides, and puts
 * the item on the chain with keyop_switch_locked(), or releases it. The
 * allocation is consumed either way, exactly once. Append and prepend
 * build a third item holding both values under the stripe (the lock order
 * stripe -> class -> pages allows the allocation there).
 */
#include "engine/ops.h"

#include <string.h>

#include "engine/detail.h"
#include "engine/item.h"
#include "engine/keyop.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/slab.h"

/* ---- the allocation --------------------------------------------------- */

enum engine_status engine_alloc(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                size_t nbytes, struct engine_alloc *a)
{
    struct lookup l = { .now = now32(w->e) };
    enum engine_status st;

    a->ref = 0;
    if (!key_ok(nkey))
        return ENGINE_BAD_KEY;
    detail_record(w, key, nkey, DETAIL_SET, 0);
    ref_t r = keyop_new_item(w, &l, key, nkey, nbytes, flags, exptime, &st);
    if (r == 0) {
        if (st == ENGINE_TOO_LARGE)
            w->s->c.store_too_large++;
        else if (st == ENGINE_NO_MEMORY)
            w->s->c.store_no_memory++;
        return st;
    }
    a->ref = r;
    a->nbytes = (uint32_t)nbytes;
    a->written = 0;
    return ENGINE_OK;
}

void engine_alloc_write(struct engine_worker *w, struct engine_alloc *a,
                        const void *data, size_t len)
{
    if (a->ref == 0 || len > a->nbytes - a->written)
        return;
    item_write(w->e, ITEM(w->e, a->ref), a->written, data, len);
    a->written += len;
}

size_t engine_alloc_window(struct engine_worker *w, struct engine_alloc *a,
                           void **p)
{
    char *q = NULL;
    if (a->ref == 0)
        return 0;
    size_t n = item_window(w->e, ITEM(w->e, a->ref), a->written, &q);
    *p = q;
    return n;
}

void engine_alloc_advance(struct engine_alloc *a, size_t n)
{
    if (a->ref != 0 && n <= a->nbytes - a->written)
        a->written += n;
}

void engine_alloc_release(struct engine_worker *w, struct engine_alloc *a)
{
    if (a->ref != 0)
        slab_release(w, a->ref);
    a->ref = 0;
}

/* ---- the store ------------------------------------------------------------ */

static uint64_t cas_of(const struct engine *e, const struct item *it)
{
    return e->r->cfg.use_cas ? it->cas : 0;
}

/* append/prepend: a new item holding both values, in place of old.
 * ENGINE_STORED, ENGINE_NOT_STORED (the result does not fit), or
 * ENGINE_ERROR (a lock unusable). */
static enum engine_status concat_locked(struct engine_worker *w,
                                        struct lookup *l, ref_t *link,
                                        ref_t old, ref_t add, int append,
                                        ref_t *out)
{
    struct engine *e = w->e;
    struct item *oi = ITEM(e, old), *ai = ITEM(e, add);
    enum engine_status st;
    ref_t nr = keyop_new_item(w, l, item_key(oi), oi->nkey,
                              (size_t)oi->nbytes + ai->nbytes, item_flags(oi),
                              oi->exptime, &st);
    if (nr == 0)
        return st == ENGINE_ERROR ? ENGINE_ERROR : ENGINE_NOT_STORED;
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
    if (keyop_switch_locked(w, l, link, old, nr) < 0) {
        slab_release(w, nr);
        return ENGINE_ERROR;
    }
    *out = nr;
    return ENGINE_STORED;
}

/* The cas command compares exactly (0 == 0 with -C); meta's C0 matches
 * nothing; ms I stores an older CAS as stale (keeping the TTL and a win
 * handed out). Counts cas hits / badval. STORED or EXISTS. */
static enum engine_status compare_cas(struct engine_worker *w,
                                      const struct engine_mset_opts *o,
                                      struct item *oi, struct item *it)
{
    uint64_t have = cas_of(w->e, oi);
    struct engine_class_counters *cc = &w->s->cls[oi->clsid];
    if (o->cas == have && (o->cas != 0 || o->mode == ENGINE_CAS)) {
        w->s->c.cas_hits++;
        cc->cas_hits++;
        return ENGINE_STORED;
    }
    if (o->invalidate && o->cas != 0 && o->cas < have) {
        it->exptime = oi->exptime;
        it->iflags |= IF_STALE | (oi->iflags & IF_WON);
        w->s->c.cas_hits++;
        cc->cas_hits++;
        return ENGINE_STORED;
    }
    w->s->c.cas_badval++;
    cc->cas_badval++;
    return ENGINE_EXISTS;
}

/* The decision and the switch, holding the stripe; old is the live item or
 * 0. *stored receives the item that now holds the value. */
static enum engine_status store_locked(struct engine_worker *w,
                                       struct lookup *l, ref_t *link,
                                       ref_t old, ref_t r,
                                       const struct engine_mset_opts *o,
                                       ref_t *stored)
{
    struct engine *e = w->e;
    int cas = o->mode == ENGINE_CAS ||
              (o->has_cas && (o->mode == ENGINE_SET ||
                              o->mode == ENGINE_REPLACE));
    int concat = o->mode == ENGINE_APPEND || o->mode == ENGINE_PREPEND;
    enum engine_status st = ENGINE_STORED;

    *stored = r;
    if (old == 0) {
        if (cas) {
            w->s->c.cas_misses++;
            return ENGINE_NOT_FOUND;
        }
        if (o->mode != ENGINE_SET && o->mode != ENGINE_ADD)
            return ENGINE_NOT_STORED;
    } else if (o->mode == ENGINE_ADD) {
        lru_bump(w, old, l->now, 0);   /* memcached: an update */
        return ENGINE_NOT_STORED;
    } else if (cas) {
        st = compare_cas(w, o, ITEM(e, old), ITEM(e, r));
    } else if (concat) {
        if (o->has_cas && o->cas != 0 && o->cas != cas_of(e, ITEM(e, old)))
            return ENGINE_EXISTS;
        return concat_locked(w, l, link, old, r,
                             o->mode == ENGINE_APPEND, stored);
    }
    if (st == ENGINE_STORED && keyop_switch_locked(w, l, link, old, r) < 0)
        st = ENGINE_ERROR;
    return st;
}

enum engine_status engine_mset(struct engine_worker *w, struct engine_alloc *a,
                               const struct engine_mset_opts *o,
                               uint64_t *cas_out)
{
    struct engine *e = w->e;
    struct lookup l;
    ref_t *link = NULL, stored;
    int why;

    if (cas_out)
        *cas_out = 0;
    if (a->ref == 0)
        return ENGINE_ERROR;
    ref_t r = a->ref;
    struct item *it = ITEM(e, r);
    if (o->key_binary)
        it->iflags |= IF_KEYB;
    w->s->c.cmd_set++;
    w->s->cls[it->clsid].cmd_set++;
    if (keyop_lock(w, item_key(it), it->nkey, &l) < 0) {
        engine_alloc_release(w, a);
        return ENGINE_ERROR;
    }
    ref_t old = keyop_find_live(w, &l, item_key(it), it->nkey, &link, &why);
    enum engine_status st = store_locked(w, &l, link, old, r, o, &stored);
    if (st == ENGINE_STORED) {
        struct item *si = ITEM(e, stored);
        if (stored == r)
            a->ref = 0;         /* linked: no longer the caller's */
        if (o->has_new_cas)
            si->cas = o->new_cas;
        if (cas_out)
            *cas_out = cas_of(e, si);
    }
    unlock_stripe(w, l.stripe);
    engine_alloc_release(w, a);
    return st;
}
