/*
 * engine_cas.h - key operations the binary protocol needs beyond engine.h:
 * an uncounted look at an item, and delete with compare-and-swap.
 *
 * Built on the engine's key primitives (engine_int.h) like engine.c's own
 * operations; safe to call from many processes at once.
 */
#ifndef SHMC_ENGINE_CAS_H
#define SHMC_ENGINE_CAS_H

#include "engine.h"

/* Looks key up without counting anything and without touching its LRU
 * position: on a hit calls fn (may be NULL) under the bucket lock and
 * returns ENGINE_OK; ENGINE_NOT_FOUND on a miss; ENGINE_BAD_KEY or
 * ENGINE_ERROR. Used to read the CAS unique or flags an operation needs. */
enum engine_status engine_peek(struct engine_worker *w, const char *key,
                               size_t nkey, engine_get_fn fn, void *arg);

/* delete that only removes the item if its CAS unique is cas (0: any), in
 * one step under the bucket lock. ENGINE_OK, ENGINE_NOT_FOUND (counted as
 * delete_misses), ENGINE_EXISTS (CAS differs; not counted, as memcached),
 * ENGINE_BAD_KEY or ENGINE_ERROR. */
enum engine_status engine_delete_cas(struct engine_worker *w, const char *key,
                                     size_t nkey, uint64_t cas);

#endif
