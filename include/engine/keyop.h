/*
 * keyop.h - the key primitives every operation is built from (engine
 * internal; the server sees engine.h and ops.h).
 *
 * Every key operation is: keyop_open() (validates the key, takes its
 * stripe lock, finds the live item), then reads or modifies the item while
 * the stripe is held, changing chain entries only through
 * keyop_switch_locked() / keyop_remove_locked(), which take the class locks
 * they need BEFORE the first change (so an unusable lock fails the
 * operation with nothing changed: lock.h) and journal the change in the
 * slot (so crash repair can finish it), then unlock_stripe().
 *
 * Layer: above slab/LRU and the hash chains; below the operations (ops.c,
 * store.c, classic.c). The stripe lock's repair lives here because it
 * finishes journal entries, which only this layer writes (besides the
 * eviction's, which has the same shape).
 */
#ifndef SHMC_ENGINE_KEYOP_H
#define SHMC_ENGINE_KEYOP_H

#include "engine/engine.h"
#include "engine/region.h"

struct lookup {
    uint32_t bucket;
    uint32_t stripe;
    uint32_t now;
    uint64_t hash;      /* the key's */
    int log;            /* a client's change: to the change log, if any
                           (keyop_lock sets it; a replicated change not) */
};

/* What a get callback receives: the public info, then what
 * engine_value_copy() needs to reach the value. */
struct info_box {
    struct engine_item_info info;   /* first: the callback's pointer */
    const struct engine *e;
};

static inline uint32_t now32(const struct engine *e)
{
    return (uint32_t)e->clock(e->clock_arg);
}

static inline int key_ok(size_t nkey)
{
    return nkey > 0 && nkey <= ENGINE_KEY_MAX;
}

/* Hashes key, takes its stripe, reads the clock into l. 0 or -1. */
int keyop_lock(struct engine_worker *w, const char *key, size_t nkey,
               struct lookup *l);
/* Validates the key, takes its stripe and finds the live item. On
 * ENGINE_OK the stripe is held and *r is the item or 0 (why: 1 expired,
 * 2 flushed); else ENGINE_BAD_KEY or ENGINE_ERROR and nothing is held. */
enum engine_status keyop_open(struct engine_worker *w, const char *key,
                              size_t nkey, struct lookup *l, ref_t *r,
                              ref_t **link, int *why);
/* The live item for key or 0; a dead one met is unlinked and freed (left
 * for later if its class lock is unusable). */
ref_t keyop_find_live(struct engine_worker *w, struct lookup *l,
                      const char *key, size_t nkey, ref_t **link, int *why);
/* Takes r off its chain (link points at it) and frees it, journaled; a
 * deletion (`deleted`, not an expiry) a client made is logged, with a new
 * version and a tombstone. 0, or -1 (class lock unusable: nothing
 * changed). */
int keyop_remove_locked(struct engine_worker *w, struct lookup *l,
                        ref_t *link, ref_t r, int deleted);
/* r changed in place (touch, arithmetic, invalidation): logged when the
 * change log is on, r then getting a new version if `bump`. */
void keyop_changed_locked(struct engine_worker *w, struct lookup *l,
                          ref_t r, int bump);
/* Gives nr (ALLOC, filled) a new CAS and store time and puts it on the
 * chain in place of old (or at the bucket head if old is 0), journaled;
 * frees old. 0, or -1 (a class lock unusable: nothing changed, nr is
 * still the caller's ALLOC item). */
int keyop_switch_locked(struct engine_worker *w, struct lookup *l,
                        ref_t *link, ref_t old, ref_t nr);
/* A new ALLOC item (slab_alloc) for key with room for nbytes of value,
 * flags and exptime set, CAS 0. 0 with *st = ENGINE_TOO_LARGE (past -I),
 * ENGINE_NO_MEMORY or ENGINE_ERROR. */
ref_t keyop_new_item(struct engine_worker *w, struct lookup *l,
                     const char *key, size_t nkey, size_t nbytes,
                     uint32_t flags, uint32_t exptime,
                     enum engine_status *st);
/* Fills the callback view of an item. */
void keyop_fill_info(const struct engine *e, struct item *it,
                     struct info_box *b);

/* The stripe lock's repair (lock.h). */
int keyop_repair_stripe(struct engine_worker *w, uint32_t s, int dead);

#endif
