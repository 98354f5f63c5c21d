/*
 * lru.h - the order in which a class's items are evicted (engine internal):
 * memcached's segmented LRU.
 *
 * Each class keeps its LINKED items on four doubly linked lists through
 * item.prev/next (struct class.lru[], newest at the head), all under the
 * class lock:
 *   HOT   new items: a probation queue, never reordered;
 *   WARM  items fetched twice (ACTIVE) while in HOT or COLD: protected from
 *         scans of one-time keys;
 *   COLD  everything else, evicted from its tail; an ACTIVE item there is
 *         rescued to WARM (at its fetch, or by the maintainer);
 *   TEMP  items stored with a TTL below temp_ttl (when temp_lru is on):
 *         never moved, never evicted, reclaimed once expired.
 * The master's maintenance (engine_lru_maintain) moves the tails: HOT to
 * WARM if ACTIVE, else to COLD once HOT holds more than hot_pct of the
 * class's bytes or its tail is older than hot_factor x COLD's tail; WARM
 * likewise (ACTIVE tails go back to WARM's head). In flat mode
 * (segmented = 0) every item lives in COLD and a fetch moves it to COLD's
 * head at most every LRU_BUMP_SECS, the classic LRU.
 *
 * Where an item is, and whether it is ACTIVE, is written in item.st (bits
 * beside the chunk state, region.h), which the class lock owns: the class
 * repair rebuilds every list from those bits and the chunk states, each
 * ordered by item.atime. ACTIVE: the second fetch of an item (its stripe
 * saw IF_FETCHED already) sets it under the class lock; a move clears it.
 *
 * Layer: above the locks (lock.h) and the region; below the slab allocator,
 * which evicts in this order, and the maintenance (maintain.c).
 */
#ifndef SHMC_ENGINE_LRU_H
#define SHMC_ENGINE_LRU_H

#include <stdint.h>

#include "engine/region.h"

/* The segment of a LINKED item. */
static inline unsigned lru_seg(const struct item *it)
{
    return (it->st & ST_SEG_MASK) >> ST_SEG_SHIFT;
}

/* The bytes an item counts for in its segment. */
static inline uint64_t lru_item_bytes(const struct item *it)
{
    return item_size(it);
}

/* A newly LINKED item r takes its place: TEMP, HOT or (flat) COLD, by the
 * policy and its TTL. Holding the class lock. */
void lru_link_new_locked(struct engine *e, struct class *c, ref_t r,
                         uint32_t now);
/* r becomes the newest item of segment seg, not ACTIVE. Class lock. */
void lru_link_locked(struct engine *e, struct class *c, ref_t r,
                     unsigned seg);
/* r leaves its segment. Holding the class lock. */
void lru_unlink_locked(struct engine *e, struct class *c, ref_t r);
/* nr takes old's place in old's segment (the slab mover's rescue: the
 * same item in another chunk; nr's st already names the segment, with its
 * ACTIVE bit). Holding the class lock. */
void lru_replace_locked(struct engine *e, struct class *c, ref_t old,
                        ref_t nr);
/* A fetch of LINKED item r, holding its stripe; `again` says the item had
 * been fetched before (IF_FETCHED was set): segmented, the second fetch
 * makes it ACTIVE and rescues it from COLD to WARM; flat, it moves to the
 * head at most every LRU_BUMP_SECS. Takes the class lock only then; an
 * unusable one skips the bump (an optimisation, not an outcome). */
void lru_bump(struct engine_worker *w, ref_t r, uint32_t now, int again);

/* Moves r (in HOT, WARM or COLD) to the head of segment `to`, counting the
 * move (moves_to_cold, moves_to_warm, moves_within_lru). Class lock. */
void lru_move_locked(struct engine *e, struct class *c, ref_t r,
                     unsigned to);
/* Segmented: makes an eviction candidate when COLD has none, by moving
 * HOT's tail (else WARM's) to COLD. 1 if it moved one. Class lock. */
int lru_pull_to_cold_locked(struct engine *e, struct class *c);

/* Walking a segment, holding the class lock. 0 ends. */
static inline ref_t lru_oldest(const struct class *c, unsigned seg)
{
    return c->lru[seg].tail;
}

static inline ref_t lru_newer(const struct engine *e, ref_t r)
{
    return ITEM(e, r)->prev;
}

static inline ref_t lru_newest(const struct class *c, unsigned seg)
{
    return c->lru[seg].head;
}

static inline ref_t lru_older(const struct engine *e, ref_t r)
{
    return ITEM(e, r)->next;
}

/* Items of class c in every segment. */
static inline uint64_t lru_count(const struct class *c)
{
    uint64_t n = 0;
    for (unsigned s = 0; s < LRU_SEGS; s++)
        n += c->lru[s].count;
    return n;
}

#endif
