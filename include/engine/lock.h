/*
 * lock.h - the engine's locks: what each protects, the order they are taken
 * in, what a dead holder leaves and how it is repaired. This is the one
 * place where the lock hierarchy is written down; region.h names the owner
 * of every field of an item, and the code that repairs each kind of lock
 * lives with the data it repairs (the table at the end says where).
 *
 * LOCKS AND WHAT EACH PROTECTS
 *
 *   stripe[s]   (nstripes, bucket b -> stripe b & (nstripes-1); a key's
 *               stripe is its hash & (nstripes-1), for life: hashtab.h)
 *               the hash chains of its buckets (bucket heads, item.hnext);
 *               the contents of every item on those chains (value, flags,
 *               exptime, cas, nbytes, stime, iflags); a worker's journal
 *               entries naming stripe s; the split of a bucket of s into
 *               its image (growth, hashgrow.h: both share s) with the
 *               splitter's slot.j_split, and the step of the hash state
 *               word past that bucket.
 *   (no lock)   region.hash_state, the table's power and buckets in use,
 *               is only ever replaced whole: starting a doubling moves no
 *               key (a compare-and-swap from the settled state, by
 *               anyone); every other change is the step past the bucket
 *               just split, made holding that bucket's stripe. So a
 *               process holding a key's stripe reads the word once and the
 *               key's bucket holds still until it lets go.
 *   class[c]    (one per slab class)
 *               the free list and the LRU segments of class c
 *               (item.prev/next), item.st (state, segment, ACTIVE) and
 *               item.chain of class-c chunks, the class's
 *               counts (free_count, curr_items, requested, allocated,
 *               evicted, ...), every chunk of class c that is FREE, ALLOC or
 *               CHAIN, slot.allocs.
 *   stripe+class  item.atime is written only holding both the item's stripe
 *               and its class, so it may be read under either.
 *   pages       pages_used and page_class[] (carving a page for a class,
 *               the global page pool: page_class 0, pages given back to
 *               the system: PAGE_NONE below pages_used), the slab mover's
 *               pool_pages and holes, and, with a class lock, its record
 *               (below).
 *               The LRU maintenance (maintain.c) takes one class lock at a
 *               time, for a few items, and a reclaimed item's stripe with
 *               lock_try (as eviction does).
 *   mover       not a lock: the slab mover's record (region.h, mover.h).
 *               Its state word goes IDLE -> REQUESTED by a compare-and-swap
 *               (no lock: "slabs reassign", an eviction with automove=2);
 *               every other change is made holding the pages lock AND the
 *               class lock of the class its phase works on (the source to
 *               start and leave DRAIN, the destination to leave CARVE), so
 *               a holder of class c's lock reads a stable "is c draining,
 *               which page" (slab_draining()). The page drained, and its
 *               free chunks the mover holds (IF_MOVING), are class c's;
 *               rescue_old/new (a chained head being rescued) are the
 *               source class's.
 *   detail      the stats detail prefix table. A leaf: taken alone, never
 *               while holding another lock, and nothing is taken under it.
 *   log         the change log's head and the ring past it (changelog.h).
 *               A leaf: taken under any other lock, nothing under it.
 *
 * LOCK ORDER
 *
 *   stripe  ->  class (at most two, ascending class id)  ->  pages
 *
 *   A process holds at most one stripe. It holds two class locks only to
 *   switch a hash chain entry between items of two classes, and then takes
 *   the lower id first. The one exception to the order is eviction (and the
 *   background sweep, and the slab mover): holding class[c], it may take
 *   the victim's stripe with lock_try(), which never blocks and so cannot
 *   deadlock; a busy or dirty stripe means "skip this victim" (the mover:
 *   "a busy chunk, come back to it").
 *
 *   The slab mover holds one class lock at a time, for at most a few
 *   dozen chunks (HOLD_UNITS, mover.c): the source's while it empties the
 *   page (with lock_try() stripes, then the pages lock to release it), the
 *   destination's to carve it (then the pages lock). It never holds two
 *   classes, so a move from a higher to a lower class id is two steps.
 *
 * WHAT A DEAD PROCESS LEAVES, AND THE REPAIR
 *
 *   Nothing but locks, journal entries and ALLOC chunks: values are copied
 *   out under the stripe lock, so no process holds item references between
 *   calls. Every lock is taken through lock_take(). An acquirer that finds
 *   the lock dirty (its holder died inside) runs that kind's repair from
 *   the engine's repair table, then marks the lock clean; a repair that
 *   cannot finish leaves the lock dirty and released, and the acquirer fails
 *   closed (ENGINE_ERROR to its caller, logged once per lock) without
 *   changing anything; the next acquirer tries the repair again.
 *
 *   kind     repair (where)                    what it does
 *   stripe   keyop_repair_stripe (keyop.c)     first, if the dead slot
 *            recorded a split of a bucket of this stripe (slot.j_split)
 *            and the state word is still the one it recorded, finishes
 *            the split (hash_split restarts from any state it leaves:
 *            both chains well formed, every item on one of them) and
 *            steps the word past the bucket (hashgrow_repair,
 *            hashgrow.c); a word already moved on means the split was
 *            whole; the record is cleared either way. Then walks every
 *            chain of the stripe's buckets in use, cutting one at a link
 *            that is not an item of this bucket (never expected: chain
 *            changes are single stores); then
 *            finishes the dead holder's journal entries for the stripe: a
 *            new item that reached the chain is made LINKED and put on its
 *            LRU; an old item that left the chain but is still LINKED is
 *            taken off its LRU and freed.
 *   class    slab_repair_class (slab_repair.c) rebuilds the class from the
 *            chunk states: finishes or undoes a chained head's rescue by
 *            the mover (mover_repair_rescue: the new head has the chain iff
 *            it is on its hash chain), scans every page the class owns,
 *            points every CHAIN chunk a live head reaches back at it, puts
 *            FREE chunks on a new (doubly linked) free list, except those
 *            of the page the mover drains (IF_MOVING: the mover's), LINKED
 *            chunks on the LRU segment their item.st names (lru.h: bits
 *            that change only while the item is off every list), each
 *            ordered by last access, frees CHAIN chunks no live head
 *            reaches, and recounts.
 *   pages    slab_repair_pages (slab_repair.c) forgets a page that was
 *            being carved (page_class set past pages_used); finishes a
 *            move whose page changed hands before the record said so
 *            (mover_repair_pages: released -> CARVE or IDLE, carved ->
 *            IDLE); recounts the pool and the holes from page_class.
 *   detail   detail_repair (detail.c)          clears the prefix table:
 *            statistics, not data.
 *   log      changelog_repair (changelog.c)    nothing: the head moves
 *            only past whole records.
 *
 *   The mover's steps are journaled where they touch hash chains (a rescue
 *   is keyop_switch_locked()'s switch in slot.j_evict: the stripe repair
 *   links the copy and frees the original, which the mover then holds);
 *   a CHAIN chunk's rescue is one store of the link; everything else is
 *   derived from the chunk states and page_class by the repairs above. A
 *   move whose mover died carries on at the next engine_slab_mover() call
 *   of any process: every visit of a chunk is idempotent.
 *
 *   engine_worker_reap(slot) (engine.c; the master, after waitpid) takes
 *   every lock whose recorded holder is the slot (running any pending
 *   repair), then frees the chunks still ALLOC by the slot, clears its
 *   journal (and split record) and frees the slot.
 *
 *   The start of a doubling is one compare-and-swap and leaves nothing to
 *   repair; a doubling that a death (or a stop) interrupts stays half done,
 *   correct for every lookup, and the next engine_hash_grow() goes on
 *   where it is (also in a memory file reopened by the next server).
 */
#ifndef SHMC_ENGINE_LOCK_H
#define SHMC_ENGINE_LOCK_H

#include <stdint.h>

#include "engine/region.h"

enum lock_kind { LOCK_STRIPE = 0, LOCK_CLASS, LOCK_PAGES, LOCK_DETAIL,
                 LOCK_LOG, LOCK_KINDS };

/* A repair (lock_repair_fn_t, region.h; installed per kind in the
 * engine handle by engine.c): called holding the dirty lock `idx` of its
 * kind; dead is the slot recorded as the last holder. Returns 0 when what
 * the lock protects is consistent again, -1 when it could not be made so
 * (then nothing may be left half changed: repairs are idempotent and are
 * run again by the next acquirer). */

/* Takes lock idx of kind k, repairing it first if its holder died.
 * Returns 0 (held), or -1 when the lock is unusable or its repair failed
 * (not held; logged once per lock until it is repaired). */
int lock_take(struct engine_worker *w, enum lock_kind k, uint32_t idx);
/* Never blocks: 0 when taken clean; 1 when busy, or dirty (a try-lock
 * holder is in no position to repair; the lock is left as it was). */
int lock_try(struct engine_worker *w, enum lock_kind k, uint32_t idx);
void lock_drop(struct engine_worker *w, enum lock_kind k, uint32_t idx);

/* Reopening a region nobody else has open (engine_open_file): makes lock
 * idx usable whatever its last holder left, and runs its repair if that
 * holder died inside. 0 (was clean), 1 (repaired), -1 (repair failed). */
int lock_recover(struct engine_worker *w, enum lock_kind k, uint32_t idx);

/* The lock's shared state, and whether slot is recorded as its holder or
 * it is dirty (what the reap of a dead slot must take). */
struct shlock *lock_addr(const struct engine *e, enum lock_kind k,
                         uint32_t idx);
int lock_touched_by(const struct engine *e, enum lock_kind k, uint32_t idx,
                    int slot);

/* Takes the class locks of two items in the lock order (one if a == b,
 * none for 0). 0, or -1 with neither held. */
int lock_classes(struct engine_worker *w, unsigned a, unsigned b);
void drop_classes(struct engine_worker *w, unsigned a, unsigned b);

static inline int lock_stripe(struct engine_worker *w, uint32_t s)
{
    return lock_take(w, LOCK_STRIPE, s);
}
static inline void unlock_stripe(struct engine_worker *w, uint32_t s)
{
    lock_drop(w, LOCK_STRIPE, s);
}
static inline int try_stripe(struct engine_worker *w, uint32_t s)
{
    return lock_try(w, LOCK_STRIPE, s);
}
static inline int lock_class(struct engine_worker *w, unsigned c)
{
    return lock_take(w, LOCK_CLASS, c);
}
static inline void unlock_class(struct engine_worker *w, unsigned c)
{
    lock_drop(w, LOCK_CLASS, c);
}
static inline int lock_pages(struct engine_worker *w)
{
    return lock_take(w, LOCK_PAGES, 0);
}
static inline void unlock_pages(struct engine_worker *w)
{
    lock_drop(w, LOCK_PAGES, 0);
}

#endif
