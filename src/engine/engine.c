/*
 * engine.c - cache operations: get, store, delete, touch, incr/decr, flush.
 *
 * Every operation on a key follows one pattern:
 *   1. hash the key, take the stripe lock of its bucket;
 *   2. find the live item (an expired or flushed item found on the way is
 *      unlinked and freed on the spot, like memcached's lazy expiry);
 *   3. read it (values are copied out to the caller's callback while the
 *      stripe lock is held, so nothing refers to the item afterwards), or
 *      switch the chain to a new item: the switch is journaled in the
 *      worker's slot first, so crash repair can finish it (recover.h);
 *   4. release the stripe lock.
 * New items are allocated and filled before step 1 (engine_alloc), except
 * append/prepend and a growing incr, which need the old value and allocate
 * under the stripe lock (the lock order stripe -> class allows it).
 *
 * Counters go to the calling worker's slot (single writer, no lock);
 * per-class counters that change under a class lock live in the class.
 */
#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

#include "engine/hashtab.h"
#include "engine/recover.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "engine/detail.h"
#include "engine/engine_int.h"
#include "engine/engine_meta.h"


int eng_lookup_lock(struct engine_worker *w, const char *key, size_t nkey,
                       struct lookup *l)
{
    l->bucket = hash_bucket(w->e, hash_key(key, nkey));
    l->stripe = hash_stripe(w->e, l->bucket);
    if (lock_stripe(w, l->stripe) < 0)
        return -1;
    l->now = now32(w->e);
    return 0;
}

/* Takes an item off its chain and frees it, journaled. Caller holds the
 * stripe; link is where the chain points at r. */
void eng_remove_locked(struct engine_worker *w, struct lookup *l,
                          ref_t *link, ref_t r)
{
    journal_set(&w->s->j_op, l->stripe, 0, r);
    __atomic_store_n(link, ITEM(w->e, r)->hnext, __ATOMIC_RELEASE);
    slab_unlink(w, r);
    journal_clear(&w->s->j_op);
}

/* Puts nr on the chain in place of old (or at the head if old is 0),
 * journaled, and frees old. */
void eng_switch_locked(struct engine_worker *w, struct lookup *l,
                          ref_t *link, ref_t old, ref_t nr)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, nr);
    it->cas = __atomic_add_fetch(&e->r->cas_counter, 1, __ATOMIC_ACQ_REL);
    it->stime = l->now;
    journal_set(&w->s->j_op, l->stripe, nr, old);
    if (old)
        hash_replace(e, link, old, nr);
    else
        hash_insert(e, l->bucket, nr);
    slab_link(w, nr, l->now);
    if (old)
        slab_unlink(w, old);
    journal_clear(&w->s->j_op);
}

/* The live item for key, or 0. why: 1 expired, 2 flushed, 0 absent. */
ref_t eng_find_live(struct engine_worker *w, struct lookup *l,
                       const char *key, size_t nkey, ref_t **link, int *why)
{
    ref_t *lk;
    ref_t r = hash_find(w->e, l->bucket, key, nkey, &lk);
    *why = 0;
    if (r == 0)
        return 0;
    struct item *it = ITEM(w->e, r);
    if (item_dead(w->e, it, l->now)) {
        *why = (it->exptime != 0 && it->exptime <= l->now) ? 1 : 2;
        eng_remove_locked(w, l, lk, r);
        return 0;
    }
    if (link)
        *link = lk;
    return r;
}

/* The common prologue: validates the key, takes its stripe and finds the
 * live item. On ENGINE_OK the stripe is held and *r is the item or 0. */
enum engine_status eng_open_key(struct engine_worker *w, const char *key,
                                   size_t nkey, struct lookup *l, ref_t *r,
                                   ref_t **link, int *why)
{
    if (nkey == 0 || nkey > ENGINE_KEY_MAX)
        return ENGINE_BAD_KEY;
    if (eng_lookup_lock(w, key, nkey, l) < 0)
        return ENGINE_ERROR;
    *r = eng_find_live(w, l, key, nkey, link, why);
    return ENGINE_OK;
}

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


void engine_value_copy(const struct engine_item_info *info, size_t off,
                       size_t len, void *dst)
{
    const struct info_box *b = (const struct info_box *)info;
    item_read(b->e, (struct item *)info->value, off, len, dst);
}

int engine_value_iov(const struct engine_item_info *info, struct iovec *iov,
                     int max)
{
    const struct info_box *b = (const struct info_box *)info;
    return item_iov(b->e, (struct item *)info->value, iov, max);
}

void eng_fill_info(const struct engine *e, struct item *it,
                      struct info_box *b)
{
    b->info.key = item_key(it);
    b->info.nkey = it->nkey;
    b->info.flags = it->flags;
    b->info.nbytes = it->nbytes;
    b->info.cas = e->r->cfg.use_cas ? it->cas : 0;
    b->info.exptime = it->exptime;
    b->info.value = it;
    b->e = e;
}

static enum engine_status get_common(struct engine_worker *w, const char *key,
                                     size_t nkey, int touch, uint32_t exptime,
                                     engine_get_fn fn, void *arg)
{
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t r;
    int why;

    if (nkey == 0 || nkey > ENGINE_KEY_MAX)
        return ENGINE_BAD_KEY;
    c->cmd_get++;
    if (touch)
        c->cmd_touch++;
    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        if (touch) {
            c->touch_misses++;
        } else {
            c->get_misses++;
            if (why == 1)
                c->get_expired++;
            else if (why == 2)
                c->get_flushed++;
        }
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(w->e, r);
    if (touch) {
        it->exptime = exptime;
        c->touch_hits++;
        w->s->cls[it->clsid].touch_hits++;
    } else {
        c->get_hits++;
        w->s->cls[it->clsid].get_hits++;
    }
    it->iflags |= IF_FETCHED;
    if (fn) {
        struct info_box b;
        eng_fill_info(w->e, it, &b);
        fn(arg, &b.info);
    }
    slab_bump(w, r, l.now);
    unlock_stripe(w, l.stripe);
    return ENGINE_OK;
}

enum engine_status engine_get(struct engine_worker *w, const char *key,
                              size_t nkey, engine_get_fn fn, void *arg)
{
    enum engine_status st = get_common(w, key, nkey, 0, 0, fn, arg);
    if (st == ENGINE_OK || st == ENGINE_NOT_FOUND)
        detail_record(w, key, nkey, DETAIL_GET, st == ENGINE_OK);
    return st;
}

enum engine_status engine_gat(struct engine_worker *w, const char *key,
                              size_t nkey, uint32_t exptime,
                              engine_get_fn fn, void *arg)
{
    enum engine_status st = get_common(w, key, nkey, 1, exptime, fn, arg);
    if (st == ENGINE_OK || st == ENGINE_NOT_FOUND)
        detail_record(w, key, nkey, DETAIL_GET, st == ENGINE_OK);
    return st;
}

enum engine_status engine_touch(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t exptime)
{
    struct engine_counters *c = &w->s->c;
    struct lookup l;
    ref_t r;
    int why;

    if (nkey == 0 || nkey > ENGINE_KEY_MAX)
        return ENGINE_BAD_KEY;
    c->cmd_touch++;
    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        c->touch_misses++;
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(w->e, r);
    it->exptime = exptime;
    c->touch_hits++;
    w->s->cls[it->clsid].touch_hits++;
    slab_bump(w, r, l.now);
    unlock_stripe(w, l.stripe);
    return ENGINE_OK;
}

enum engine_status engine_delete(struct engine_worker *w, const char *key,
                                 size_t nkey)
{
    static const struct engine_mdel_opts plain;
    enum engine_status st = engine_mdelete(w, key, nkey, &plain);
    if (st == ENGINE_OK || st == ENGINE_NOT_FOUND)
        detail_record(w, key, nkey, DETAIL_DEL, st == ENGINE_OK);
    return st;
}

/* An uncounted look: no statistics, no LRU bump, not marked fetched. */
enum engine_status engine_peek(struct engine_worker *w, const char *key,
                               size_t nkey, engine_get_fn fn, void *arg)
{
    struct lookup l;
    ref_t r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r != 0 && fn) {
        struct info_box b;
        eng_fill_info(w->e, ITEM(w->e, r), &b);
        fn(arg, &b.info);
    }
    unlock_stripe(w, l.stripe);
    return r != 0 ? ENGINE_OK : ENGINE_NOT_FOUND;
}

enum engine_status engine_unlink(struct engine_worker *w, const char *key,
                                 size_t nkey)
{
    struct lookup l;
    ref_t *link, r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    if (r != 0)
        eng_remove_locked(w, &l, link, r);
    unlock_stripe(w, l.stripe);
    return r != 0 ? ENGINE_OK : ENGINE_NOT_FOUND;
}

/* ---- storing ---------------------------------------------------------- */

enum engine_status engine_alloc(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                size_t nbytes, struct engine_alloc *a)
{
    struct engine *e = w->e;
    enum engine_status st;

    a->ref = 0;
    if (nkey == 0 || nkey > ENGINE_KEY_MAX)
        return ENGINE_BAD_KEY;
    detail_record(w, key, nkey, DETAIL_SET, 0);
    if (ITEM_HDR + nkey + nbytes > e->r->cfg.item_size_max) {
        w->s->c.store_too_large++;
        return ENGINE_TOO_LARGE;
    }
    ref_t r = slab_alloc(w, nkey, nbytes, now32(e), &st);
    if (r == 0) {
        if (st == ENGINE_NO_MEMORY)
            w->s->c.store_no_memory++;
        return st;
    }
    struct item *it = ITEM(e, r);
    memcpy(item_key(it), key, nkey);
    it->flags = flags;
    it->exptime = exptime;
    it->cas = 0;
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

/* The classic storage commands are engine_mset() without meta options:
 * cas compares exactly (with -C every unique is 0), an append or prepend
 * whose result does not fit is not stored (as memcached answers). */
enum engine_status engine_alloc_store(struct engine_worker *w,
                                      struct engine_alloc *a,
                                      enum engine_store_op op,
                                      uint64_t cas_in, uint64_t *cas_out)
{
    struct engine_mset_opts o = { .mode = op, .cas = cas_in,
                                  .has_cas = op == ENGINE_CAS };
    return engine_mset(w, a, &o, cas_out);
}

enum engine_status engine_store(struct engine_worker *w,
                                enum engine_store_op op, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                const void *value, size_t nbytes,
                                uint64_t cas_in, uint64_t *cas_out)
{
    struct engine_alloc a;
    enum engine_status st = engine_alloc(w, key, nkey, flags, exptime,
                                         nbytes, &a);
    if (st != ENGINE_OK)
        return st;
    engine_alloc_write(w, &a, value, nbytes);
    return engine_alloc_store(w, &a, op, cas_in, cas_out);
}

/* ---- incr / decr ------------------------------------------------------ */

enum engine_status engine_delta(struct engine_worker *w, const char *key,
                                size_t nkey, int incr, uint64_t delta,
                                uint64_t *result, uint64_t *cas_out)
{
    struct engine_marith_opts o = { .incr = incr != 0, .delta = delta };
    struct engine_marith_result res;
    enum engine_status st = engine_marith(w, key, nkey, &o, &res);
    if (st == ENGINE_OK) {
        *result = res.value;
        if (cas_out)
            *cas_out = res.cas;
    }
    return st;
}

/* ---- flush ------------------------------------------------------------ */

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
}

/* ---- background sweep -------------------------------------------------- */

unsigned engine_sweep(struct engine_worker *w, unsigned budget)
{
    struct engine *e = w->e;
    unsigned reclaimed = 0;
    uint32_t now = now32(e);

    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        if (c->lru_tail == 0)
            continue;
        if (lock_class(w, id) < 0)
            continue;
        unsigned seen = 0;
        ref_t r = c->lru_tail;
        while (r != 0 && seen++ < budget) {
            struct item *it = ITEM(e, r);
            ref_t prev = it->prev;
            if (item_dead(e, it, now)) {
                uint32_t b = hash_bucket(e, hash_key(item_key(it), it->nkey));
                uint32_t s = hash_stripe(e, b);
                if (try_stripe(w, s) == 0) {
                    journal_set(&w->s->j_evict, s, 0, r);
                    hash_unlink(e, b, r);
                    if (!(it->iflags & IF_FETCHED))
                        c->expired_unfetched++;
                    c->crawler_reclaimed++;
                    chunk_free_locked(e, c, r);
                    journal_clear(&w->s->j_evict);
                    unlock_stripe(w, s);
                    reclaimed++;
                }
            }
            r = prev;
        }
        unlock_class(w, id);
    }
    return reclaimed;
}
