/*
 * hashgrow.c - the hash table's growth, one bucket split at a time, and
 * the part of the stripe repair that finishes a split (see hashgrow.h).
 */
#include "engine/hashgrow.h"

#include <stdint.h>
#include <sys/mman.h>

#include "engine/engine.h"
#include "engine/hashtab.h"
#include "engine/lock.h"

/* Is a doubling due: more than 1.5 items per bucket, growth on, room? */
static int due(const struct engine *e, uint64_t st)
{
    const struct region *r = e->r;
    unsigned p = hs_power(st);
    uint64_t items = 0;
    if (!r->cfg.hash_expand || p >= r->hash_max || hs_growing(st))
        return 0;
    for (unsigned id = 1; id <= r->nclasses; id++)
        items += __atomic_load_n(&e->classes[id].curr_items,
                                 __ATOMIC_RELAXED);
    return items > (3ull << p) / 2;
}

/* Splits the next bucket of a table in state st (growing), and moves the
 * word on; holding that bucket's stripe. The slot's record makes a death
 * anywhere in here the stripe repair's to finish. */
static void split_locked(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    unsigned p = hs_power(st);
    uint64_t used = hs_used(st), half = 1ull << (p - 1);
    __atomic_store_n(&w->s->j_split, st, __ATOMIC_RELEASE);
    hash_split(e, (uint32_t)(used - half), (uint32_t)used, half);
    __atomic_store_n(&e->r->hash_state, hash_state_make(p, used + 1),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&w->s->j_split, 0, __ATOMIC_RELEASE);
}

/* One split, if the word is still st once the bucket's stripe is held.
 * 0, or -1 (the stripe is unusable). */
static int split_one(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    uint64_t lo = hs_used(st) - (1ull << (hs_power(st) - 1));
    uint32_t s = hash_stripe(e, lo);
    if (lock_stripe(w, s) < 0)
        return -1;
    if (hash_state(e) == st)        /* else someone else split it */
        split_locked(w, st);
    unlock_stripe(w, s);
    return 0;
}

/* Faults in the bucket heads the next n splits of a table in state st
 * write, before any lock is taken: a page of new heads first touched under
 * a stripe lock would be paid by the workers waiting on it. */
static void prefault_images(struct engine *e, uint64_t st, unsigned n)
{
    uint64_t from = hs_used(st), to = from + n, end = 1ull << hs_power(st);
    if (!hs_growing(st) || n == 0)
        return;
    if (to > end)
        to = end;
    uintptr_t a = (uintptr_t)&e->buckets[from] & ~(uintptr_t)4095;
    uintptr_t z = ((uintptr_t)&e->buckets[to] + 4095) & ~(uintptr_t)4095;
    madvise((void *)a, z - a, MADV_POPULATE_WRITE);
}

int engine_hash_grow(struct engine_worker *w, unsigned max_buckets)
{
    struct engine *e = w->e;
    uint64_t st = hash_state(e);
    if (due(e, st)) {
        unsigned p = hs_power(st);
        uint64_t next = hash_state_make(p + 1, 1ull << p);
        if (__atomic_compare_exchange_n(&e->r->hash_state, &st, next, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            log_info(&e->log, "engine: hash table growing to 2^%u buckets",
                     p + 1);
        st = hash_state(e);
    }
    prefault_images(e, st, max_buckets);
    for (unsigned n = 0; n < max_buckets && hs_growing(st); n++) {
        if (split_one(w, st) < 0)
            return -1;
        st = hash_state(e);
        if (!hs_growing(st))
            log_info(&e->log, "engine: hash table now 2^%u buckets",
                     hs_power(st));
    }
    return hs_growing(st) || due(e, st);
}

int hashgrow_repair(struct engine_worker *w, uint32_t s, int dead)
{
    struct engine *e = w->e;
    if (dead < 0 || dead >= ENGINE_MAX_SLOTS)
        return 0;
    struct slot *ds = &e->slots[dead];
    uint64_t st = __atomic_load_n(&ds->j_split, __ATOMIC_ACQUIRE);
    if (st == 0)
        return 0;
    unsigned p = hs_power(st);
    uint64_t used = hs_used(st);
    if (p <= e->r->hash_init || p > e->r->hash_max ||
        used < (1ull << (p - 1)) || used >= (1ull << p)) {
        __atomic_store_n(&ds->j_split, 0, __ATOMIC_RELEASE);
        return 0;                   /* not a split: nothing to finish */
    }
    uint64_t half = 1ull << (p - 1);
    if (hash_stripe(e, used - half) != s)
        return 0;                   /* another stripe's: its repair's */
    if (hash_state(e) == st) {      /* the word had not moved on */
        hash_split(e, (uint32_t)(used - half), (uint32_t)used, half);
        __atomic_store_n(&e->r->hash_state, hash_state_make(p, used + 1),
                         __ATOMIC_RELEASE);
        log_info(&e->log, "engine: repair finished the split of hash "
                 "bucket %llu", (unsigned long long)(used - half));
    }
    __atomic_store_n(&ds->j_split, 0, __ATOMIC_RELEASE);
    return 0;
}
