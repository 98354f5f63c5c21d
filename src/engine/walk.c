/*
 * walk.c - engine_walk(): visiting every live item without holding a lock
 * for long (the LRU crawler's metadump, the console's key browser,
 * replication's full copy).
 *
 * The cursor names a residue of the key hash (hashtab.h, "a walk that
 * growth cannot fool"): a step takes that residue's stripe, visits its
 * bucket (and the bucket's split image while the table grows), and lets
 * go, so a writer waits at most for one or two chains to be read. The
 * residues are visited in bit-reversed order, which makes the walk keep its
 * promise while the table doubles under it: an item that exists for the
 * whole walk is met exactly once. The cursor needs no state in the region
 * and survives the walker's death. Expired and flushed items met on the
 * way are skipped, not reclaimed (a walk changes nothing).
 */
#include "engine/engine.h"

#include "engine/keyop.h"
#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/item.h"
#include "engine/slab.h"

/* Non-zero when cursor v's bucket is surely empty in a table of state st,
 * seen without the lock: only when the table is not growing and its state
 * word is still st after the look (so no split moved an item meanwhile). */
static int surely_empty(const struct engine *e, uint64_t st, uint64_t v)
{
    uint32_t b[2];
    if (hs_growing(st) || hash_walk_buckets(st, v, b) != 1)
        return 0;
    ref_t head = __atomic_load_n(&e->buckets[b[0]], __ATOMIC_ACQUIRE);
    return head == 0 && hash_state(e) == st;
}

/* Calls fn for every live item of bucket b (its stripe held); 1 when fn
 * asked to stop. */
static int walk_bucket(struct engine *e, uint32_t b, uint32_t now,
                       engine_walk_fn fn, void *arg, long *seen)
{
    int stop = 0;
    for (ref_t r = e->buckets[b]; r != 0; r = ITEM(e, r)->hnext) {
        struct item *it = ITEM(e, r);
        if (item_dead(e, it, now))
            continue;
        struct info_box box;
        keyop_fill_info(e, it, &box);
        (*seen)++;
        if (fn != NULL && fn(arg, &box.info, now - it->atime) != 0)
            stop = 1;               /* after this bucket, whole */
    }
    return stop;
}

long engine_walk(struct engine_worker *w, uint64_t *cursor,
                 uint64_t max_buckets, engine_walk_fn fn, void *arg)
{
    struct engine *e = w->e;
    uint64_t v = *cursor;
    long seen = 0;
    int stop = 0;

    if (v == ENGINE_WALK_END)
        return 0;
    for (uint64_t n = 0; n < max_buckets && !stop; n++) {
        uint64_t st = hash_state(e);
        if (!surely_empty(e, st, v)) {
            uint32_t s = hash_stripe(e, v), b[2];
            if (lock_stripe(w, s) < 0) {
                *cursor = v;
                return -1;
            }
            st = hash_state(e);         /* v's buckets: stable now */
            uint32_t now = now32(e);
            unsigned nb = hash_walk_buckets(st, v, b);
            for (unsigned i = 0; i < nb; i++)
                stop |= walk_bucket(e, b[i], now, fn, arg, &seen);
            unlock_stripe(w, s);
        }
        v = hash_walk_next(st, v);
        if (v == 0) {
            *cursor = ENGINE_WALK_END;
            return seen;
        }
    }
    *cursor = v;
    return seen;
}
