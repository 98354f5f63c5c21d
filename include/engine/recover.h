/*
 * recover.h - the engine's locks, their order, and crash repair.
 *
 * LOCKS AND WHAT EACH PROTECTS
 *
 *   stripe[s]   (nstripes, bucket b -> stripe b & (nstripes-1))
 *               the hash chains of its buckets (bucket heads, item.hnext);
 *               the contents of every item on those chains (value, flags,
 *               exptime, cas, nbytes, IF_FETCHED); a worker's journals
 *               naming stripe s.
 *   class[c]    (one per slab class)
 *               the free list and LRU list of class c (item.prev/next),
 *               item.state and IF_LRU of class-c chunks, the class's counts
 *               (free_count, curr_items, requested, allocated, evicted...),
 *               the ALLOC/CHAIN chunks of class c, slot.allocs.
 *   pages       pages_used and page_class[] (carving a new page for a class).
 *   detail      the stats detail prefix table. A leaf: taken alone, never
 *               while holding another lock, and nothing is taken under it.
 *
 * LOCK ORDER
 *
 *   stripe  ->  class  ->  pages
 *
 *   A process holds at most one lock of each kind taken in this order. The
 *   one exception is eviction: holding class[c], it may take the victim's
 *   stripe with shlock_try(), which never blocks and so cannot deadlock; a
 *   busy or dirty stripe means "skip this victim".
 *
 * WHAT A DEAD PROCESS LEAVES, AND THE REPAIR
 *
 *   Nothing but locks, journals and ALLOC chunks: values are copied out under
 *   the stripe lock, so no process holds item references between calls.
 *   Every lock is acquired through the functions below. An acquirer that
 *   finds the lock dirty (its owner died inside) repairs before proceeding:
 *
 *   stripe[s]   walks every chain of the stripe, cutting a chain at a link
 *               that is out of range or names a chunk that is not an item
 *               (never expected: chain changes are single stores); then
 *               finishes the dead owner's journal entries for stripe s:
 *               a new item that reached the chain is made LINKED and put on
 *               its LRU; an old item that left the chain but is still LINKED
 *               is taken off its LRU and freed. An item in either role that
 *               did not make the switch stays as it was (the new one is
 *               still ALLOC and is freed by engine_worker_reap()).
 *   class[c]    rebuilds the class from chunk states: scans every page the
 *               class owns, puts FREE chunks on a new free list, LINKED
 *               chunks on a new LRU ordered by last access, frees CHAIN
 *               chunks no live head reaches, and recounts.
 *   pages       forgets a page that was being carved (page_class set past
 *               pages_used).
 *   detail      clears the prefix table: counts are statistics, not data,
 *               and a half-inserted prefix is not worth reasoning about.
 *
 *   engine_worker_reap(slot) (master, after waitpid) acquires every lock
 *   whose recorded owner is the slot (running any pending repair), then frees
 *   the chunks still ALLOC by the slot, zeroes its connection gauge and frees
 *   the slot.
 */
#ifndef SHMC_RECOVER_H
#define SHMC_RECOVER_H

#include <stdint.h>

#include "engine/region.h"

/* Each returns 0, or -1 when the lock is unusable (ENGINE_ERROR). */
int lock_stripe(struct engine_worker *w, uint32_t s);
int lock_class(struct engine_worker *w, unsigned c);
int lock_pages(struct engine_worker *w);
/* 0 = acquired, 1 = busy or needing repair (skip). */
int try_stripe(struct engine_worker *w, uint32_t s);

void unlock_stripe(struct engine_worker *w, uint32_t s);
void unlock_class(struct engine_worker *w, unsigned c);
void unlock_pages(struct engine_worker *w);
int lock_detail(struct engine_worker *w);
void unlock_detail(struct engine_worker *w);

/* Journal helpers: record before the first chain store, clear before the
 * stripe lock is released. */
static inline void journal_set(struct journal *j, uint32_t s, ref_t nr,
                               ref_t old)
{
    j->new_item = nr;
    j->old_item = old;
    __atomic_store_n(&j->stripe, s + 1, __ATOMIC_RELEASE);
}

static inline void journal_clear(struct journal *j)
{
    __atomic_store_n(&j->stripe, 0, __ATOMIC_RELEASE);
    j->new_item = j->old_item = 0;
}

#endif
