/*
 * maintain.h - the engine's background work, run by the master between its
 * other duties (engine.h: engine_lru_maintain, engine_sweep).
 *
 * LRU maintenance, as memcached's maintainer thread: for each class, rounds
 * of a few items at the tails, each round under the class lock alone and
 * released before the next (a worker waiting for the lock waits for a round,
 * never for a class): expired or flushed tails are reclaimed (their stripe
 * taken with lock_try, like an eviction: a busy one is skipped), HOT and
 * WARM tails move on by the policy (lru.h), ACTIVE COLD tails go to WARM.
 * In flat mode HOT and WARM drain into COLD (a policy changed at runtime).
 *
 * The crawler's sweep (engine_sweep) walks every segment from its tail and
 * reclaims what is dead, counted as crawler_reclaimed.
 *
 * Layer: above the slab allocator (slab_drop_locked) and the LRU (lru.h).
 */
#ifndef SHMC_ENGINE_MAINTAIN_H
#define SHMC_ENGINE_MAINTAIN_H

#include "engine/region.h"

/* Rounds of maintenance per class and call, at most. */
#define MAINTAIN_ROUNDS 500
/* Items examined at a tail per step (memcached's tries). */
#define MAINTAIN_TRIES 5

#endif
