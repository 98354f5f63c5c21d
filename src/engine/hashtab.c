/*
 * hashtab.c - hash function and chain operations (see hashtab.h).
 *
 * The hash mixes 8 bytes at a time with a multiply and rotate and finishes
 * with a 64-bit avalanche, so that the low bits (bucket) and the bits above
 * them are both well distributed for the short, similar keys caches see
 * ("user:1001", "user:1002", ...): growth takes one more low bit of the
 * same hash for each doubling.
 *
 * The chain operations, the split of a bucket (growth, hashgrow.c) and
 * the walk order over a table that may grow (hashtab.h).
 */
#include "engine/hashtab.h"

#include <string.h>

static inline uint64_t fmix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

uint64_t hash_key(const void *key, size_t n)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)n * 0x87c37b91114253d5ull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = rotl(h ^ (v * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    h ^= v * 0x87c37b91114253d5ull;
    return fmix(h);
}

ref_t hash_find(struct engine *e, uint32_t bucket, const char *key,
                size_t nkey, ref_t **link)
{
    ref_t *l = &e->buckets[bucket];
    for (ref_t r = *l; r != 0; r = *l) {
        struct item *it = ITEM(e, r);
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0) {
            if (link)
                *link = l;
            return r;
        }
        l = &it->hnext;
    }
    return 0;
}

void hash_insert(struct engine *e, uint32_t bucket, ref_t r)
{
    ITEM(e, r)->hnext = e->buckets[bucket];
    __atomic_store_n(&e->buckets[bucket], r, __ATOMIC_RELEASE);
}

void hash_replace(struct engine *e, ref_t *link, ref_t old, ref_t nr)
{
    ITEM(e, nr)->hnext = ITEM(e, old)->hnext;
    __atomic_store_n(link, nr, __ATOMIC_RELEASE);
}

int hash_unlink(struct engine *e, uint32_t bucket, ref_t r)
{
    ref_t *l = &e->buckets[bucket];
    for (ref_t c = *l; c != 0; c = *l) {
        if (c == r) {
            __atomic_store_n(l, ITEM(e, c)->hnext, __ATOMIC_RELEASE);
            return 1;
        }
        l = &ITEM(e, c)->hnext;
    }
    return 0;
}

int hash_contains(struct engine *e, uint32_t bucket, ref_t r)
{
    for (ref_t c = e->buckets[bucket]; c != 0; c = ITEM(e, c)->hnext)
        if (c == r)
            return 1;
    return 0;
}

void hash_split(struct engine *e, uint32_t lo, uint32_t hi, uint64_t bit)
{
    ref_t *h = &e->buckets[hi];
    while (*h != 0 && !hash_contains(e, lo, *h))
        h = &ITEM(e, *h)->hnext;
    if (*h != 0)                /* a restart: hi's tail is lo's, cut it */
        __atomic_store_n(h, 0, __ATOMIC_RELEASE);
    ref_t *l = &e->buckets[lo];
    for (ref_t x = *l; x != 0; x = *l) {
        struct item *it = ITEM(e, x);
        if ((hash_key(item_key(it), it->nkey) & bit) == 0) {
            l = &it->hnext;
            continue;
        }
        __atomic_store_n(h, x, __ATOMIC_RELEASE);   /* on both chains */
        __atomic_store_n(l, it->hnext, __ATOMIC_RELEASE);   /* off lo */
        h = &it->hnext;
    }
    __atomic_store_n(h, 0, __ATOMIC_RELEASE);   /* hi ends at its own */
}

/* The power whose buckets are whole in a table of state st. */
static unsigned walk_power(uint64_t st)
{
    return hs_growing(st) ? hs_power(st) - 1 : hs_power(st);
}

unsigned hash_walk_buckets(uint64_t st, uint64_t v, uint32_t b[2])
{
    unsigned q = walk_power(st);
    b[0] = (uint32_t)(v & ((1ull << q) - 1));
    if (q == hs_power(st) || b[0] + (1ull << q) >= hs_used(st))
        return 1;
    b[1] = b[0] + (1u << q);
    return 2;
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
    return __builtin_bswap64(v);
}

uint64_t hash_walk_next(uint64_t st, uint64_t v)
{
    uint64_t mask = (1ull << walk_power(st)) - 1;
    v |= ~mask;                 /* the carry runs through the high bits */
    return rev64(rev64(v) + 1);
}
