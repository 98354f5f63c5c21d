/*
 * keyop.c - the key primitives (see keyop.h) and the stripe lock's repair.
 *
 * A chain change is journaled in the acting slot before its first store
 * and the journal is cleared after the last list change, all while the
 * stripe and the class locks involved are held. Class locks are taken
 * before anything is changed, so the only way out of a change half made is
 * death, and death leaves the journal for keyop_repair_stripe():
 *   new item on the chain, still ALLOC   -> made LINKED, put on its LRU;
 *   old item off the chain, still LINKED -> freed.
 * Every other combination is already consistent (the change had not begun,
 * or had ended). Chains themselves are never broken: every chain change is
 * one aligned store (hashtab.h). A bucket split the dead process left half
 * done (hash table growth) is finished before anything else
 * (hashgrow_repair), so that every item is on its bucket's chain again.
 *
 * A key's stripe depends on its hash alone; its bucket is read only once
 * the stripe is held (the table may be growing: hashtab.h).
 */
#include "engine/keyop.h"

#include <string.h>

#include "engine/changelog.h"
#include "engine/hashgrow.h"
#include "engine/hashtab.h"
#include "engine/item.h"
#include "engine/lock.h"
#include "engine/slab.h"

int keyop_lock(struct engine_worker *w, const char *key, size_t nkey,
               struct lookup *l)
{
    l->hash = hash_key(key, nkey);
    l->log = w->e->changelog != NULL;
    l->stripe = hash_stripe(w->e, l->hash);
    if (lock_stripe(w, l->stripe) < 0)
        return -1;
    l->bucket = hash_bucket(w->e, l->hash);     /* stable: stripe held */
    l->now = now32(w->e);
    return 0;
}

static uint64_t new_version(struct engine *e)
{
    return __atomic_add_fetch(&e->r->cas_counter, 1, __ATOMIC_ACQ_REL);
}

int keyop_remove_locked(struct engine_worker *w, struct lookup *l,
                        ref_t *link, ref_t r, int deleted)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    unsigned id = it->clsid;
    int log = deleted && l->log;
    if (lock_class(w, id) < 0)
        return -1;
    if (log)
        journal_set_logged(&w->s->j_op, l->stripe, 0, r, CL_DEL,
                           item_key(it), it->nkey);
    else
        journal_set(&w->s->j_op, l->stripe, 0, r);
    __atomic_store_n(link, it->hnext, __ATOMIC_RELEASE);
    if (log) {
        uint64_t v = new_version(e);
        tomb_put(e, l->stripe, l->hash, v, 0, w->s->j_op.key,
                 w->s->j_op.nkey);
        changelog_append(w, CL_DEL, w->s->j_op.key, w->s->j_op.nkey, v);
    }
    slab_free_locked(e, &e->classes[id], r);
    journal_clear(&w->s->j_op);
    unlock_class(w, id);
    return 0;
}

void keyop_changed_locked(struct engine_worker *w, struct lookup *l,
                          ref_t r, int bump)
{
    struct item *it = ITEM(w->e, r);
    if (!l->log)
        return;
    journal_set_logged(&w->s->j_op, l->stripe, r, 0, CL_SET, item_key(it),
                       it->nkey);
    if (bump)
        it->cas = new_version(w->e);
    changelog_append(w, CL_SET, item_key(it), it->nkey, it->cas);
    journal_clear(&w->s->j_op);
}

int keyop_switch_locked(struct engine_worker *w, struct lookup *l,
                        ref_t *link, ref_t old, ref_t nr)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, nr);
    unsigned cn = it->clsid, co = old ? ITEM(e, old)->clsid : 0;
    if (lock_classes(w, cn, co) < 0)
        return -1;
    it->cas = new_version(e);
    it->stime = l->now;
    if (l->log)
        journal_set_logged(&w->s->j_op, l->stripe, nr, old, CL_SET,
                           item_key(it), it->nkey);
    else
        journal_set(&w->s->j_op, l->stripe, nr, old);
    if (old)
        hash_replace(e, link, old, nr);
    else
        hash_insert(e, l->bucket, nr);
    slab_link_locked(e, nr, l->now);
    if (l->log)
        changelog_append(w, CL_SET, item_key(it), it->nkey, it->cas);
    if (old)
        slab_free_locked(e, &e->classes[co], old);
    journal_clear(&w->s->j_op);
    drop_classes(w, cn, co);
    return 0;
}

ref_t keyop_find_live(struct engine_worker *w, struct lookup *l,
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
        keyop_remove_locked(w, l, lk, r, 0);    /* if not now, then later */
        return 0;
    }
    if (link)
        *link = lk;
    return r;
}

enum engine_status keyop_open(struct engine_worker *w, const char *key,
                              size_t nkey, struct lookup *l, ref_t *r,
                              ref_t **link, int *why)
{
    if (!key_ok(nkey))
        return ENGINE_BAD_KEY;
    if (keyop_lock(w, key, nkey, l) < 0)
        return ENGINE_ERROR;
    *r = keyop_find_live(w, l, key, nkey, link, why);
    return ENGINE_OK;
}

ref_t keyop_new_item(struct engine_worker *w, struct lookup *l,
                     const char *key, size_t nkey, size_t nbytes,
                     uint32_t flags, uint32_t exptime,
                     enum engine_status *st)
{
    if (ITEM_HDR_MC + nkey + nbytes > w->e->r->cfg.item_size_max) {
        *st = ENGINE_TOO_LARGE;
        return 0;
    }
    ref_t r = slab_alloc(w, nkey, nbytes, flags, l->now, st);
    if (r == 0)
        return 0;
    struct item *it = ITEM(w->e, r);
    memcpy(item_key(it), key, nkey);
    it->exptime = exptime;
    it->cas = 0;
    return r;
}

void keyop_fill_info(const struct engine *e, struct item *it,
                     struct info_box *b)
{
    b->info.key = item_key(it);
    b->info.nkey = it->nkey;
    b->info.flags = item_flags(it);
    b->info.nbytes = it->nbytes;
    b->info.cas = e->r->cfg.use_cas ? it->cas : 0;
    b->info.version = it->cas;
    b->info.exptime = it->exptime;
    b->info.atime = it->atime;
    b->info.clsid = it->clsid;
    b->info.fetched = (it->iflags & IF_FETCHED) != 0;
    b->info.from_peer = (it->iflags & IF_PEER) != 0;
    b->info.stime = it->stime;
    b->info.value = it;
    b->e = e;
}

/* ---- the stripe lock's repair ------------------------------------------ */

/* Walks the stripe's chains: cuts a chain at a link that is not an item of
 * its bucket; adopts new items that reached a chain (ALLOC -> LINKED). */
static int walk_chains(struct engine_worker *w, uint32_t s)
{
    struct engine *e = w->e;
    uint64_t st = hash_state(e), nb = hs_used(st);
    uint64_t limit = e->r->npages * (SLAB_PAGE_SIZE / 8);   /* > any chain */

    for (uint64_t b = s; b < nb; b += e->r->nstripes) {
        ref_t *l = &e->buckets[b];
        uint64_t steps = 0;
        while (*l != 0) {
            ref_t r = *l;
            struct item *it = ITEM(e, r);
            if (slab_chunk_class(e, r) == 0 || ++steps > limit ||
                (item_state(it) != ST_LINKED && item_state(it) != ST_ALLOC) ||
                hash_bucket_in(st, hash_key(item_key(it), it->nkey)) != b) {
                log_error(&e->log, "engine: repair cut hash chain %llu",
                          (unsigned long long)b);
                __atomic_store_n(l, 0, __ATOMIC_RELEASE);
                break;
            }
            if (item_state(it) == ST_ALLOC) {
                if (lock_class(w, it->clsid) < 0)
                    return -1;
                if (item_state(it) == ST_ALLOC)
                    slab_link_locked(e, r, it->atime ? it->atime : it->stime);
                unlock_class(w, it->clsid);
            }
            l = &it->hnext;
        }
    }
    return 0;
}

/* An old item that left its chain but is still LINKED: free it. */
static int finish_journal(struct engine_worker *w, uint32_t s,
                          struct journal *j)
{
    struct engine *e = w->e;
    if (__atomic_load_n(&j->stripe, __ATOMIC_ACQUIRE) != s + 1)
        return 0;
    ref_t old = j->old_item;
    if (old != 0 && slab_chunk_class(e, old) != 0) {
        struct item *it = ITEM(e, old);
        uint32_t b = hash_bucket(e, hash_key(item_key(it), it->nkey));
        if (item_state(it) == ST_LINKED && !hash_contains(e, b, old)) {
            unsigned id = it->clsid;
            if (lock_class(w, id) < 0)
                return -1;
            if (item_state(it) == ST_LINKED)
                slab_free_locked(e, &e->classes[id], old);
            unlock_class(w, id);
        }
    }
    if (j->log_op != 0) {       /* the change, logged again */
        uint64_t v = new_version(e);
        if (j->log_op == CL_DEL)
            tomb_put(e, s, hash_key(j->key, j->nkey), v, 0, j->key,
                     j->nkey);
        changelog_append(w, j->log_op, j->key, j->nkey, v);
    }
    journal_clear(j);
    return 0;
}

int keyop_repair_stripe(struct engine_worker *w, uint32_t s, int dead)
{
    struct engine *e = w->e;
    hashgrow_repair(w, s, dead);        /* first: the chains whole again */
    if (walk_chains(w, s) < 0)
        return -1;
    if (dead >= 0 && dead < ENGINE_MAX_SLOTS &&
        (finish_journal(w, s, &e->slots[dead].j_op) < 0 ||
         finish_journal(w, s, &e->slots[dead].j_evict) < 0))
        return -1;
    return 0;
}
