/*
 * slab.h - slab classes, chunk allocation, eviction (engine internal).
 *
 * Memory is cut into 1 MiB pages, handed to a class on demand (carving cuts
 * the whole page into chunks of the class size and frees them all) until the
 * memory limit. Pages move between classes through the slab mover (mover.h):
 * a page it empties goes to another class or to the global page pool
 * (page_class 0), where carving takes pages first. Class i holds chunks of
 * size min_chunk + header growing by `factor`, up to slab_chunk_max; an item
 * larger than that is chained: a head chunk of the largest class ("big")
 * followed by CHAIN chunks of the same class, so a large item lives under one
 * class lock.
 *
 * When a class has no free chunk and no page can be carved, up to five items
 * from the LRU tail are examined: an expired or flushed one is reclaimed,
 * otherwise the tail is evicted (unless eviction is off: -M). Functions named
 * _locked require the class lock; the others take it themselves and report
 * an unusable lock to the caller (lock.h: fail closed).
 *
 * Layer: above the locks (lock.h), the eviction order (lru.h) and the hash
 * chains (hashtab.h), which eviction needs to take a victim off its chain;
 * below the key primitives.
 */
#ifndef SHMC_ENGINE_SLAB_H
#define SHMC_ENGINE_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "engine/region.h"

/* Fills size/perpage of classes 1..n into the region. Returns n, or 0 if the
 * configuration cannot make a single class. */
unsigned slab_classes_init(struct region *r, struct class *classes);

/* Class for an item of `total` bytes (header + key + value); r->big when
 * it must be chained. */
unsigned slab_class_for(const struct engine *e, size_t total);

/* Is r the first byte of a chunk of a carved page? Its class, or 0. */
unsigned slab_chunk_class(const struct engine *e, ref_t r);

/* Allocates an item with room for nkey + nbytes (chained if needed) and
 * the client flags stored (item_flags()), in state ALLOC owned by w. Returns its ref, or 0 with *st = ENGINE_NO_MEMORY
 * or ENGINE_ERROR (class lock unusable). */
ref_t slab_alloc(struct engine_worker *w, size_t nkey, size_t nbytes,
                 uint32_t flags, uint32_t now, enum engine_status *st);
/* Frees an ALLOC item that will not be linked. 0, or -1 when its class
 * lock is unusable (the chunk then stays ALLOC, counted by its slot, and
 * is freed when the slot is reaped or the lock repaired and released). */
int slab_release(struct engine_worker *w, ref_t r);
/* ALLOC -> LINKED at the head of its LRU. Caller holds the item's stripe
 * (it has just put the item on its chain) and its class. */
void slab_link_locked(struct engine *e, ref_t r, uint32_t now);
/* Frees a chunk (and a head's chain) onto the free list; an item LINKED
 * leaves its LRU and the counts. Caller holds the class lock and, for a
 * LINKED item, has taken it off its chain. */
void slab_free_locked(struct engine *e, struct class *c, ref_t r);

/* Why an item is dropped (and which counter says so): evicted to make
 * room; reclaimed expired or flushed at a tail (reclaimed); found expired
 * by the crawler (crawler_reclaimed). */
enum slab_victim { V_EVICT, V_RECLAIM, V_SWEEP };
/* Takes LINKED item r of class c (whose lock is held) off its hash chain
 * and frees it, if its stripe can be had without waiting (lock.h: the one
 * exception to the lock order). Journaled in the slot's j_evict, so a
 * death here is finished by the stripe's repair. 0, or -1 (busy). */
int slab_drop_locked(struct engine_worker *w, struct class *c, ref_t r,
                     uint32_t now, enum slab_victim why);

/* Carves one more page for class id: a page of the global pool, else one
 * within the memory limit (given back to the system earlier, or new).
 * Holding the class lock. 0 or -1. */
int slab_carve_locked(struct engine_worker *w, unsigned id);
/* Writes the chunk headers of page p for class id (FREE, clsid): the
 * first step of carving (pages lock held). */
void slab_page_init(struct engine *e, unsigned id, uint64_t p);
/* Counts page p (carved for id) in the class and puts its every chunk on
 * the free list: the last step (class lock held). */
void slab_page_free_all_locked(struct engine *e, unsigned id, uint64_t p);
/* A page of the global pool that may be taken (not the one a move is
 * carving), or UINT64_MAX. Holding the pages lock. */
uint64_t slab_pool_page(const struct engine *e);

/* The free list (doubly linked), holding the class lock: takes r off it;
 * pops a chunk that is not on the page the mover empties (those met are
 * kept for the mover: memcached's slab_reassign_inline_reclaim). */
void slab_unlink_free_locked(struct engine *e, struct class *c, ref_t r);
ref_t slab_pop_free_locked(struct engine *e, unsigned id);
/* One step of slab_alloc, exposed for the crash-point tests: the chunk r
 * (off its free list) becomes an ALLOC item of w's slot, its layout fixed
 * (flags stored when not 0, key and value lengths), no chain yet. Class
 * lock held. */
void slab_alloc_init_locked(struct engine_worker *w, ref_t r, size_t nkey,
                            size_t nbytes, uint32_t flags);

/* memcached's slabs_reassign(): checks, and records the request for the
 * mover (engine_slabs_reassign, and slab_automove=2 on an eviction). */
enum engine_reassign slab_request_move(struct engine *e, int src, int dst);

/* The page chunk r lies on. */
static inline uint64_t slab_page_of(const struct engine *e, ref_t r)
{
    return (((uint64_t)r << 3) - e->r->off_pages) / SLAB_PAGE_SIZE;
}

/* Is r a chunk of class id on the page the mover is emptying? Stable
 * while the class lock of id is held (the move's phase and page change
 * only with it). */
static inline int slab_draining(const struct engine *e, unsigned id, ref_t r)
{
    uint64_t st = __atomic_load_n(&e->r->mover.state, __ATOMIC_ACQUIRE);
    return mover_phase(st) == MV_DRAIN && (unsigned)mover_src(st) == id &&
           slab_page_of(e, r) == e->r->mover.page;
}


/* The repairs of the class and pages locks (slab_repair.c, lock.h). */
int slab_repair_class(struct engine_worker *w, uint32_t id, int dead);
int slab_repair_pages(struct engine_worker *w, uint32_t idx, int dead);

#endif
