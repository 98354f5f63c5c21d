/*
 * hashtab.h - the hash table in the shared region (engine internal).
 *
 * Buckets are ref_t heads of singly linked chains through item.hnext.
 * The region has room for 2^hash_max of them; the table uses the first
 * `used` of them, with a power p such that 2^(p-1) <= used <= 2^p, both
 * held in one word (region.hash_state) so that a reader sees them together.
 * This is linear hashing: a key of hash hv is in bucket
 *     b = hv mod 2^p,  or b - 2^(p-1) when b >= used
 * so while used < 2^p (a growth under way, hashgrow.h) the buckets below
 * used - 2^(p-1) have been split into their image b + 2^(p-1), the others
 * not yet. Once used = 2^p the table is simply 2^p buckets.
 *
 * Locks. Bucket b is guarded by stripe lock b & (nstripes - 1). nstripes
 * is fixed when the region is made and never exceeds 2^hash_init, so a key
 * has one stripe for life (hv & (nstripes - 1)), a bucket and its split
 * image share it, and a split is done entirely under one stripe lock. The
 * state word changes only in ways that move no key to another bucket
 * except the keys of the bucket being split, under that bucket's stripe
 * (hashgrow.h); so a reader holding a key's stripe reads the word once and
 * the key's bucket cannot change while it holds the lock. All chain
 * functions here require the bucket's stripe to be held.
 *
 * Every change of a chain is one aligned 32-bit store (insert: new->hnext
 * is set first, then the head; replace: new->hnext = old->hnext, then the
 * link; remove: the link is overwritten), so a chain is well formed at
 * every instruction and a process dying inside these functions leaves
 * either the old or the new chain, never a broken one. hash_split() keeps
 * a weaker promise, which its repair relies on: at every instruction both
 * chains are well formed and every item is on one of them.
 */
#ifndef SHMC_HASHTAB_H
#define SHMC_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

#include "engine/region.h"

uint64_t hash_key(const void *key, size_t n);

/* The state word: power p (bits 0-7) and buckets in use (bits 8-63). */
static inline uint64_t hash_state_make(unsigned power, uint64_t used)
{
    return (used << 8) | power;
}
static inline unsigned hs_power(uint64_t st)
{
    return (unsigned)(st & 0xff);
}
static inline uint64_t hs_used(uint64_t st)
{
    return st >> 8;
}
/* A growth is under way: the table is between 2^(p-1) and 2^p buckets. */
static inline int hs_growing(uint64_t st)
{
    return hs_used(st) < (1ull << hs_power(st));
}
static inline uint64_t hash_state(const struct engine *e)
{
    return __atomic_load_n(&e->r->hash_state, __ATOMIC_ACQUIRE);
}

/* The bucket of hash hv in a table of state st. */
static inline uint32_t hash_bucket_in(uint64_t st, uint64_t hv)
{
    uint64_t b = hv & ((1ull << hs_power(st)) - 1);
    return (uint32_t)(b < hs_used(st) ? b : b - (1ull << (hs_power(st) - 1)));
}

/* The bucket of hv now: stable only while hv's stripe is held. */
static inline uint32_t hash_bucket(const struct engine *e, uint64_t hv)
{
    return hash_bucket_in(hash_state(e), hv);
}

/* The stripe of a bucket, or of a hash (the same low bits). */
static inline uint32_t hash_stripe(const struct engine *e, uint64_t bucket)
{
    return (uint32_t)(bucket & (e->r->nstripes - 1));
}

/* Returns the item with this key in bucket (0 if none); *link receives the
 * address of the ref that points at it (for hash_replace/hash_unlink). */
ref_t hash_find(struct engine *e, uint32_t bucket, const char *key,
                size_t nkey, ref_t **link);
/* Inserts r at the head of bucket's chain. */
void hash_insert(struct engine *e, uint32_t bucket, ref_t r);
/* Puts nr where old is (link from hash_find). */
void hash_replace(struct engine *e, ref_t *link, ref_t old, ref_t nr);
/* Removes r from bucket's chain. Returns 1 if it was there. */
int hash_unlink(struct engine *e, uint32_t bucket, ref_t r);
/* Is r on bucket's chain? */
int hash_contains(struct engine *e, uint32_t bucket, ref_t r);

/* Moves the items of bucket lo whose hash has `bit` set to bucket hi.
 * hi's chain grows at its tail: an item is first appended there (the two
 * chains then share lo's rest), then unlinked from lo; the shared tail is
 * cut at the end. Restartable from any state it leaves: it first cuts
 * hi's chain where it enters lo's (an item on both is then on lo only),
 * then goes on; for a fresh split (hi empty) that first step is nothing. */
void hash_split(struct engine *e, uint32_t lo, uint32_t hi, uint64_t bit);

/* A walk that growth cannot fool (engine_walk, the full copy's sweeps).
 * A cursor v names the items whose hash is v mod 2^q, where q is the power
 * whose buckets are whole now (p, or p - 1 while growing): they lie in
 * bucket v and, once it was split, in its image. Cursors go through the
 * residues in bit-reversed order (as Redis's SCAN), so when the table
 * grows between two steps the residues left are exactly the children of
 * those not visited yet: an item that stays is met exactly once. The
 * cursor's stripe is hash_stripe(e, v); with it held, hash_walk_buckets()
 * fills b[] with v's buckets (1 or 2) and returns how many; hash_walk_next()
 * is the cursor after v, 0 once every residue was visited. */
unsigned hash_walk_buckets(uint64_t st, uint64_t v, uint32_t b[2]);
uint64_t hash_walk_next(uint64_t st, uint64_t v);

#endif
