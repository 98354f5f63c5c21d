/*
 * slab.h - slab classes, chunk allocation, LRU lists (engine internal).
 *
 * Memory is cut into 1 MiB pages, handed to a class on demand (carving cuts
 * the whole page into chunks of the class size and frees them all) until the
 * memory limit; pages never move between classes. Class i holds chunks of
 * size min_chunk + header growing by `factor`, up to slab_chunk_max; an item
 * larger than that is chained: a head chunk of the largest class ("big")
 * followed by CHAIN chunks of the same class, so a large item lives under one
 * class lock.
 *
 * When a class has no free chunk and no page can be carved, up to five items
 * from the LRU tail are examined: an expired or flushed one is reclaimed,
 * otherwise the tail is evicted (unless eviction is off: -M). Functions named
 * _locked require the class lock; the others take it themselves.
 */
#ifndef SHMC_SLAB_H
#define SHMC_SLAB_H

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

/* Is the item expired or invalidated by flush_all at time now? */
int item_dead(const struct engine *e, const struct item *it, uint32_t now);

/* Allocates an item with room for nkey + nbytes (chained if needed), in
 * state ALLOC owned by w. Returns its ref, or 0 with *st = ENGINE_NO_MEMORY
 * or ENGINE_ERROR. */
ref_t slab_alloc(struct engine_worker *w, size_t nkey, size_t nbytes,
                 uint32_t now, enum engine_status *st);
/* Frees an ALLOC item that will not be linked. */
void slab_release(struct engine_worker *w, ref_t r);
/* ALLOC -> LINKED, onto the LRU head. Caller holds the item's stripe and
 * has just put it on the chain. */
void slab_link(struct engine_worker *w, ref_t r, uint32_t now);
/* LINKED -> FREE for an item the caller has just taken off its chain. */
void slab_unlink(struct engine_worker *w, ref_t r);
/* Moves an item to the head of its LRU if its last move is older than
 * LRU_BUMP_SECS. Caller holds the item's stripe. */
void slab_bump(struct engine_worker *w, ref_t r, uint32_t now);

/* Value bytes of an item, wherever they are (head or chain chunks). */
void item_read(const struct engine *e, struct item *it, size_t off,
               size_t len, void *dst);
void item_write(const struct engine *e, struct item *it, size_t off,
                const void *src, size_t len);
/* Where value byte `off` lies: *p, and the bytes left in its piece. */
size_t item_window(const struct engine *e, struct item *it, size_t off,
                   char **p);
/* The value's pieces (head, then chained chunks) as iovecs; -1 if more
 * than max. */
struct iovec;
int item_iov(const struct engine *e, struct item *it, struct iovec *iov,
             int max);

/* Locked helpers, also used by crash repair. */
void lru_link_locked(struct engine *e, struct class *c, ref_t r);
void lru_unlink_locked(struct engine *e, struct class *c, ref_t r);
/* Frees a chunk (and a head's chain) onto the free list; adjusts counts for
 * a LINKED item. */
void chunk_free_locked(struct engine *e, struct class *c, ref_t r);
/* Carves one more page for class id. 0 or -1 (limit reached). */
int slab_carve_locked(struct engine_worker *w, unsigned id);

#endif
