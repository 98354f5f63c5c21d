/*
 * hashgrow.h - growing the hash table (engine internal; the public call is
 * engine_hash_grow() in engine.h).
 *
 * The table doubles when the cache holds more than 1.5 items per bucket
 * (memcached's rule), up to the largest table the region has room for
 * (region.hash_max), unless growth is off (engine_config.hash_expand).
 * It grows in place, as linear hashing (hashtab.h): the state word names
 * the power p and the buckets in use; a doubling begins by going from
 * (p, 2^p) to (p + 1, 2^p), which moves no key, then splits old bucket
 * b = used - 2^p into its image used (hash_split) and sets used + 1, one
 * bucket at a time, each under its stripe lock and nothing else, so a
 * worker waits at most for one chain to be split. The last split leaves
 * (p + 1, 2^(p+1)): the doubling is over. engine_hash_grow() is called by
 * the master on its tick (and by tests); any process may call it, and two
 * callers are harmless (each split rechecks the word under the stripe).
 *
 * Who owns the state word (region.hash_state): it is only ever replaced
 * whole. Starting a doubling moves no key, so it needs no lock (a
 * compare-and-swap from the settled state); every other change is "used
 * + 1" after the bucket used - 2^(p-1) was split, made holding that
 * bucket's stripe: a process holding a key's stripe reads the word and
 * knows its key's bucket until it lets go (lock.h).
 *
 * Crash safety: before its first store a splitter writes the state word
 * it is splitting from in its slot (slot.j_split, under the stripe) and
 * clears it after the word moved on. A splitter that dies leaves its stripe
 * dirty; the stripe's repair (hashgrow_repair, first thing in
 * keyop_repair_stripe) finishes the split from whatever the chains hold
 * (hash_split restarts, and both chains are always well formed with every
 * item on one of them) and moves the word on, if the word is still the
 * one the dead splitter recorded; then clears the record. Nothing else is
 * ever half done: the start of a doubling is one store.
 */
#ifndef SHMC_ENGINE_HASHGROW_H
#define SHMC_ENGINE_HASHGROW_H

#include "engine/region.h"

/* Part of the stripe lock's repair (lock.h), holding stripe s: finishes
 * the split the dead slot recorded, if it is one of stripe s's buckets.
 * Always 0 (nothing it does needs another lock). */
int hashgrow_repair(struct engine_worker *w, uint32_t s, int dead);

#endif
