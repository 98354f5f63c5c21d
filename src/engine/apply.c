/*
 * apply.c - applying changes a replication peer made (see engine.h,
 * "applying a peer's changes"): its items and deletions, by version, and
 * the marking and purge of a full copy.
 *
 * A change is decided under the key's stripe, like any operation: the
 * local item (or, without one, the key's tombstone) is compared with the
 * remote version, and only a newer change is applied, through the same
 * journaled primitives as a client's, but not logged (l.log = 0): what
 * comes from the peer is not sent back. The version a change carries
 * becomes the item's CAS, its origin's store time its store time, so that
 * flush_all and CAS compare the same on both nodes. Every version seen
 * moves the CAS counter past it (a Lamport clock): a local change that
 * follows a remote one is newer on both sides.
 *
 * Ties (two origins, one version) are rare (two changes of one key in the
 * same tick on both nodes) and decided by peer_wins_ties, which the two
 * nodes set opposite ways (replication compares their tokens), so both
 * keep the same one. The same version from the same origin is the same
 * change arriving twice: nothing to do.
 */
#include "engine/engine.h"

#include <string.h>

#include "engine/changelog.h"
#include "engine/hashtab.h"
#include "engine/item.h"
#include "engine/keyop.h"
#include "engine/lock.h"
#include "engine/slab.h"

/* The CAS counter, past v (never backwards). */
static void observe(struct engine *e, uint64_t v)
{
    uint64_t cur = __atomic_load_n(&e->r->cas_counter, __ATOMIC_ACQUIRE);
    while (cur < v && !__atomic_compare_exchange_n(&e->r->cas_counter, &cur,
                                                   v, 0, __ATOMIC_ACQ_REL,
                                                   __ATOMIC_ACQUIRE))
        ;
}

/* Is the remote change newer than what is here (the item, or else the
 * key's tombstone)? A tie is decided by origin for both, so that a set on
 * one node and a deletion on the other at one version end the same way
 * on both. */
static int newer(const struct engine *e, const struct lookup *l,
                 const struct item *it, const struct engine_remote *c)
{
    uint64_t here;
    int here_peer;
    if (it == NULL) {
        here = tomb_get(e, l->stripe, l->hash, &here_peer);
    } else {
        here = it->cas;
        here_peer = (it->iflags & IF_PEER) != 0;
    }
    if (c->version != here || here == 0)
        return c->version > here;
    int there_peer = !c->ours;
    if (here_peer == there_peer)
        return 0;                       /* the same change, again */
    return there_peer ? c->peer_wins_ties : !c->peer_wins_ties;
}

static enum engine_status apply_del(struct engine_worker *w,
                                    const struct engine_remote *c)
{
    struct lookup l;
    ref_t *link = NULL, r;
    int why;
    enum engine_status st = keyop_open(w, c->key, c->nkey, &l, &r, &link,
                                       &why);
    if (st != ENGINE_OK)
        return st;
    l.log = 0;
    st = ENGINE_EXISTS;
    if (newer(w->e, &l, r ? ITEM(w->e, r) : NULL, c)) {
        st = ENGINE_STORED;
        if (r != 0 && keyop_remove_locked(w, &l, link, r, 0) < 0)
            st = ENGINE_ERROR;
        if (st == ENGINE_STORED)
            tomb_put(w->e, l.stripe, l.hash, c->version, !c->ours, c->key,
                     c->nkey);
    }
    unlock_stripe(w, l.stripe);
    observe(w->e, c->version);
    return st;
}

static enum engine_status apply_set(struct engine_worker *w,
                                    const struct engine_remote *c)
{
    struct engine *e = w->e;
    struct lookup l = { .now = now32(e) };
    ref_t *link = NULL, old;
    enum engine_status st;
    int why;

    ref_t nr = keyop_new_item(w, &l, c->key, c->nkey, c->nbytes, c->flags,
                              c->exptime, &st);
    if (nr == 0)
        return st;
    item_write(e, ITEM(e, nr), 0, c->value, c->nbytes);
    if (keyop_lock(w, c->key, c->nkey, &l) < 0) {
        slab_release(w, nr);
        return ENGINE_ERROR;
    }
    l.log = 0;
    old = keyop_find_live(w, &l, c->key, c->nkey, &link, &why);
    st = ENGINE_EXISTS;
    if (newer(e, &l, old ? ITEM(e, old) : NULL, c)) {
        st = keyop_switch_locked(w, &l, link, old, nr) < 0 ? ENGINE_ERROR
                                                          : ENGINE_STORED;
        if (st == ENGINE_STORED) {
            struct item *it = ITEM(e, nr);
            it->cas = c->version;
            it->stime = c->stime;
            it->iflags |= (uint8_t)((c->ours ? 0 : IF_PEER) |
                                    (c->mark ? IF_SYNCED : 0));
            nr = 0;
        }
    } else if (c->mark && old != 0) {
        ITEM(e, old)->iflags |= IF_SYNCED;  /* what is here is newer */
    }
    unlock_stripe(w, l.stripe);
    if (nr != 0)
        slab_release(w, nr);
    observe(e, c->version);
    return st;
}

enum engine_status engine_apply(struct engine_worker *w,
                                const struct engine_remote *c)
{
    if (!key_ok(c->nkey))
        return ENGINE_BAD_KEY;
    return c->del ? apply_del(w, c) : apply_set(w, c);
}

void engine_apply_flush(struct engine_worker *w, int64_t oldest_live,
                        uint64_t oldest_cas)
{
    struct region *r = w->e->r;
    int64_t ol = __atomic_load_n(&r->oldest_live, __ATOMIC_ACQUIRE);
    if (oldest_live > ol) {
        __atomic_store_n(&r->oldest_cas, oldest_cas, __ATOMIC_RELEASE);
        __atomic_store_n(&r->oldest_live, oldest_live, __ATOMIC_RELEASE);
    }
    observe(w->e, oldest_cas);
}

/* ---- a full copy: unmark, then purge ------------------------------------ */

/* For each item of bucket b (its stripe l->stripe held), fn decides
 * whether it goes. Returns the items changed. */
static long sweep_chain(struct engine_worker *w, struct lookup *l,
                        uint32_t b, int (*fn)(struct item *it, uint64_t arg),
                        uint64_t arg)
{
    struct engine *e = w->e;
    long changed = 0;
    ref_t *link = &e->buckets[b];
    l->bucket = b;
    while (*link != 0) {
        ref_t r = *link;
        int gone = fn(ITEM(e, r), arg);
        if (gone > 0 && keyop_remove_locked(w, l, link, r, 0) == 0) {
            changed++;
            continue;                   /* *link now names the next */
        }
        changed += gone < 0;            /* only marks changed */
        link = &ITEM(e, r)->hnext;
    }
    return changed;
}

/* Visits the table from *cursor in engine_walk's order (hashtab.h: every
 * item that stays is met once, also while the table grows), one stripe
 * lock at a time; for each item, fn decides (under the lock) whether it
 * goes. */
static long sweep_buckets(struct engine_worker *w, uint64_t *cursor,
                          uint64_t max_buckets,
                          int (*fn)(struct item *it, uint64_t arg),
                          uint64_t arg)
{
    struct engine *e = w->e;
    uint64_t v = *cursor;
    long changed = 0;
    if (v == ENGINE_WALK_END)
        return 0;
    for (uint64_t n = 0; n < max_buckets; n++) {
        uint32_t b[2];
        struct lookup l = { .stripe = hash_stripe(e, v), .now = now32(e),
                            .log = 0 };
        if (lock_stripe(w, l.stripe) < 0) {
            *cursor = v;
            return -1;
        }
        uint64_t st = hash_state(e);
        unsigned nb = hash_walk_buckets(st, v, b);
        for (unsigned i = 0; i < nb; i++)
            changed += sweep_chain(w, &l, b[i], fn, arg);
        unlock_stripe(w, l.stripe);
        if ((v = hash_walk_next(st, v)) == 0) {
            *cursor = ENGINE_WALK_END;
            return changed;
        }
    }
    *cursor = v;
    return changed;
}

static int unmark_one(struct item *it, uint64_t arg)
{
    (void)arg;
    if (!(it->iflags & IF_SYNCED))
        return 0;
    it->iflags &= (uint8_t)~IF_SYNCED;
    return -1;                          /* changed, stays */
}

static int unconfirmed(struct item *it, uint64_t horizon)
{
    if (it->iflags & IF_SYNCED)
        return 0;
    return (it->iflags & IF_PEER) || it->cas < horizon;
}

long engine_unmark(struct engine_worker *w, uint64_t *cursor,
                   uint64_t max_buckets)
{
    return sweep_buckets(w, cursor, max_buckets, unmark_one, 0);
}

long engine_purge(struct engine_worker *w, uint64_t horizon,
                  uint64_t *cursor, uint64_t max_buckets)
{
    return sweep_buckets(w, cursor, max_buckets, unconfirmed, horizon);
}
