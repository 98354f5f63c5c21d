/*
 * growrig.h - a cache in the middle of a hash table growth, for the suites
 * that split buckets and kill splitters (test_hashtab, crashpoints).
 *
 * grow_setup() makes a table of 2^12 buckets hold GROW_ITEMS items
 * "g<i>" = "v<i>" plus GROW_MIX items "m.." whose hashes all fall in
 * bucket GROW_BUCKET and whose chain there mixes the two halves of the
 * split (head first: stays, goes, goes, stays, goes, stays), then starts
 * the doubling and splits buckets 0 .. GROW_BUCKET-1: the next split is
 * GROW_BUCKET's, a chain with every case a split meets.
 */
#ifndef SHMC_TEST_GROWRIG_H
#define SHMC_TEST_GROWRIG_H

#include <stddef.h>
#include <stdint.h>

#include "fixture.h"

#define GROW_POWER 12
#define GROW_ITEMS 7000             /* past 1.5 x 2^12: a doubling is due */
#define GROW_MIX 6
#define GROW_BUCKET 100u

/* hashpower 12 (a fixture_open adjust callback). */
void grow_adjust(struct engine_config *cfg);
/* The items only: a doubling is due, none started. */
void grow_fill(struct fixture *f);
/* grow_fill, then the doubling started and GROW_BUCKET buckets split. */
void grow_setup(struct fixture *f);
/* Mixed key j (0..GROW_MIX-1), as stored. */
const char *grow_mix_key(int j);
/* How many items grow_setup stored are missing or have the wrong value. */
int grow_missing(struct fixture *f);
/* How many items the cache holds. */
uint64_t grow_items(struct fixture *f);
/* Runs the growth to its end (engine_hash_grow until it says done). */
void grow_finish(struct fixture *f);

/* Takes the next bucket's stripe with w and records the split in w's slot,
 * as the engine's splitter does; returns the state word it splits from. */
uint64_t grow_split_begin(struct fixture *f, struct engine_worker *w);
/* Does, by hand and in hash_split's order, the first k stores of the split
 * of the next bucket of a table in state st (its stripe held): returns 1
 * when it stopped before the split was whole, 0 when the whole split took
 * at most k stores. */
int grow_split_prefix(struct fixture *f, uint64_t st, unsigned k);

#endif
