/*
 * mover.h - the slab mover: pages move between slab classes, as memcached's
 * "slabs reassign" and its rebalancer thread (engine internal; the API is
 * engine.h's engine_slabs_reassign / engine_slab_mover).
 *
 * A move takes one page of a source class (or of the global page pool,
 * class 0) to a destination class (or the pool). It is recorded in the
 * region (struct slab_mover, region.h), so that it outlives the process
 * doing it: any process calling engine_slab_mover() carries on from what
 * the record and the chunk states say, and a process killed at any
 * instruction leaves a state the next holder of the lock repairs.
 *
 *   IDLE --request (CAS, no lock)--> REQUESTED
 *   REQUESTED --start (src, pages)--> DRAIN (page chosen: the class's
 *                                     first) | CARVE (from the pool)
 *   DRAIN --release (src, pages)--> CARVE | IDLE (to the pool)
 *   CARVE --carve (dst, pages)--> IDLE
 *
 * DRAIN empties the page a few chunks per hold of the source class lock
 * (lock.h: never long, never two classes). Each chunk of the page:
 *   FREE on the free list  -> taken off it (the list is doubly linked) and
 *                             marked IF_MOVING: the mover holds it;
 *   LINKED item            -> rescued: copied into a free chunk of the
 *                             class on another page (the stripe taken with
 *                             lock_try, as eviction does; a busy stripe is
 *                             a busy chunk), switched on its hash chain
 *                             and LRU like keyop_switch_locked() does, with
 *                             the same journal, so the stripe repair
 *                             finishes a death halfway; expired or flushed
 *                             items are dropped, and an item with no room
 *                             in its class is evicted
 *                             (slab_reassign_evictions_nomem);
 *   CHAIN chunk            -> its head (item.prev) is locked the same way
 *                             and the chunk copied and relinked by one
 *                             store (slab_reassign_chunk_rescues);
 *   ALLOC chunk            -> busy: a worker is filling it; the pass goes
 *                             on and the page is scanned again later
 *                             (slab_reassign_busy_items).
 * While the page drains, every chunk of it that becomes free (a delete,
 * an eviction, a reap) is kept by the mover instead of going to the free
 * list, and a chunk of it popped from the free list is kept too
 * (slab_reassign_inline_reclaim): the page only empties. A pass that met
 * no busy chunk ends the drain: the page leaves the class (page_class 0)
 * and is carved for the destination, or joins the pool.
 *
 * A chained item's head (class `big`) is rescued with its chain handed
 * over: the record names old and new head (rescue_old/new) until the
 * chain belongs to the new one, and the class repair finishes the hand-over
 * (the new head is on the hash chain) or undoes it (it is not).
 *
 * The pool: pages in class 0 are taken first when a class needs a page
 * (whatever the memory limit, as memcached), and while more pages are
 * carved than the limit allows (cache_memlimit lowered), pool pages are
 * given back to the system (a memfd's memory is freed; a memory file
 * keeps its space).
 */
#ifndef SHMC_ENGINE_MOVER_H
#define SHMC_ENGINE_MOVER_H

#include "engine/region.h"

/* The mover's behaviour from cfg: slab_reassign, slab_automove, ratio,
 * window (a new region, and a memory file reopened). */
void mover_configure(struct engine *e, const struct engine_config *cfg);

/* One step of a rescue, exposed for the crash-point tests: nr (a free
 * chunk of r's class, off its free list) becomes an ALLOC copy of LINKED
 * item r owned by w's slot (header fields, flags, key, value; a chained
 * head's whole room, its chain not yet handed over). Class lock and r's
 * stripe held. */
void mover_copy_item(struct engine_worker *w, ref_t r, ref_t nr);

/* The class repair's part (slab_repair.c): a chained head's rescue that a
 * death interrupted is finished or undone. Holding class id's lock. */
void mover_repair_rescue(struct engine *e, unsigned id);
/* The pages repair's part: a release or carve whose page changed hands
 * before the record said so is finished; the pool and hole counts are
 * recounted from page_class. Holding the pages lock. */
void mover_repair_pages(struct engine *e);

#endif
