/*
 * walk.c - engine_walk(): visiting every live item without holding a lock
 * for long (the console's key browser, replication's full copy).
 *
 * The walk goes through the hash table in bucket order and takes the
 * bucket's stripe lock for that one bucket only, so a writer waits at most
 * for one chain to be read. The cursor is a bucket index: it needs no
 * state in the region and survives the walker's death. Expired and flushed
 * items met on the way are skipped, not reclaimed (a walk changes nothing).
 */
#include "engine/engine.h"

#include "engine/keyop.h"
#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/item.h"
#include "engine/slab.h"

long engine_walk(struct engine_worker *w, uint64_t *cursor,
                 uint64_t max_buckets, engine_walk_fn fn, void *arg)
{
    struct engine *e = w->e;
    uint64_t nb = 1ull << e->r->hashpower;
    uint64_t b = *cursor;
    long seen = 0;
    int stop = 0;

    for (uint64_t n = 0; b < nb && n < max_buckets && !stop; b++, n++) {
        if (e->buckets[b] == 0)
            continue;               /* racy peek: an empty chain is skipped */
        uint32_t s = hash_stripe(e, (uint32_t)b);
        if (lock_stripe(w, s) < 0)
            return -1;
        uint32_t now = now32(e);
        for (ref_t r = e->buckets[b]; r != 0; r = ITEM(e, r)->hnext) {
            struct item *it = ITEM(e, r);
            if (item_dead(e, it, now))
                continue;
            struct info_box box;
            keyop_fill_info(e, it, &box);
            seen++;
            if (fn != NULL && fn(arg, &box.info, now - it->atime) != 0)
                stop = 1;               /* after this bucket, whole */
        }
        unlock_stripe(w, s);
    }
    *cursor = b >= nb ? ENGINE_WALK_END : b;
    return seen;
}
