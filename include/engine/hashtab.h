/*
 * hashtab.h - the hash table in the shared region (engine internal).
 *
 * 2^hashpower buckets, each a ref_t to the first item of a singly linked
 * chain through item.hnext. Bucket b is guarded by stripe lock
 * b & (nstripes - 1); all functions here require that lock to be held.
 * Every change of a chain is one aligned 32-bit store (insert: new->hnext is
 * set first, then the head; replace: new->hnext = old->hnext, then the link;
 * remove: the link is overwritten), so a chain is well formed at every
 * instruction and a process dying inside these functions leaves either the
 * old or the new chain, never a broken one.
 */
#ifndef SHMC_HASHTAB_H
#define SHMC_HASHTAB_H

#include <stddef.h>
#include <stdint.h>

#include "engine/region.h"

uint64_t hash_key(const void *key, size_t n);

static inline uint32_t hash_bucket(const struct engine *e, uint64_t hv)
{
    return (uint32_t)(hv & ((1ull << e->r->hashpower) - 1));
}

static inline uint32_t hash_stripe(const struct engine *e, uint32_t bucket)
{
    return bucket & (e->r->nstripes - 1);
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

#endif
