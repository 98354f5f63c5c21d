/*
 * lru.h - the order in which a class's items are evicted (engine internal).
 *
 * Each class keeps its LINKED items on one doubly linked list through
 * item.prev/next, newest at the head, under the class lock: an item goes
 * to the head when it is linked and when it is bumped by an access (at most
 * every LRU_BUMP_SECS, so that hot keys do not take the class lock on every
 * hit); eviction and the sweep walk from the oldest end. Being on the list
 * is the item's state (ST_LINKED), not a flag; the class repair rebuilds
 * the list from the chunk states, ordered by item.atime.
 *
 * The other modules walk the order only through lru_oldest/lru_newer and
 * lru_newest/lru_older, so the policy can change here alone.
 *
 * Layer: above the locks (lock.h) and the region; below the slab allocator,
 * which evicts in this order.
 */
#ifndef SHMC_ENGINE_LRU_H
#define SHMC_ENGINE_LRU_H

#include <stdint.h>

#include "engine/region.h"

/* r becomes the newest item of class c. Holding the class lock. */
void lru_link_locked(struct engine *e, struct class *c, ref_t r);
/* r leaves the order. Holding the class lock. */
void lru_unlink_locked(struct engine *e, struct class *c, ref_t r);
/* An access to LINKED item r (holding its stripe): it becomes the newest
 * if its last move is older than LRU_BUMP_SECS. An unusable class lock
 * skips the bump (an optimisation, not an outcome). */
void lru_bump(struct engine_worker *w, ref_t r, uint32_t now);

/* Walking the order, holding the class lock. 0 ends. */
static inline ref_t lru_oldest(const struct class *c)
{
    return c->lru_tail;
}

static inline ref_t lru_newer(const struct engine *e, ref_t r)
{
    return ITEM(e, r)->prev;
}

static inline ref_t lru_newest(const struct class *c)
{
    return c->lru_head;
}

static inline ref_t lru_older(const struct engine *e, ref_t r)
{
    return ITEM(e, r)->next;
}

#endif
