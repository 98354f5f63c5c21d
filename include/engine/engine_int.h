/*
 * engine_int.h - the engine's key-operation primitives, shared by the
 * modules that implement operations (engine.c: memcached's classic
 * commands; further operation modules, e.g. the meta protocol's, build on
 * the same steps). Engine internal: the server only sees engine.h.
 *
 * Every key operation is: eng_open_key() (validates the key, takes its
 * stripe lock, finds the live item), then reads or modifies the item while
 * the stripe is held, switching chain entries only through
 * eng_switch_locked()/eng_remove_locked() (which journal the switch for
 * crash repair), then unlock_stripe(). See recover.h for the lock order.
 */
#ifndef SHMC_ENGINE_INT_H
#define SHMC_ENGINE_INT_H

#include "engine/engine.h"
#include "engine/region.h"

struct lookup {
    uint32_t bucket;
    uint32_t stripe;
    uint32_t now;
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

/* Hashes key, takes its stripe, reads the clock into l. 0 or -1. */
int eng_lookup_lock(struct engine_worker *w, const char *key, size_t nkey,
                    struct lookup *l);
/* Validates the key, takes its stripe and finds the live item. On ENGINE_OK
 * the stripe is held and *r is the item or 0 (why: 1 expired, 2 flushed). */
enum engine_status eng_open_key(struct engine_worker *w, const char *key,
                                size_t nkey, struct lookup *l, ref_t *r,
                                ref_t **link, int *why);
/* The live item for key or 0; a dead one met is unlinked and freed. */
ref_t eng_find_live(struct engine_worker *w, struct lookup *l,
                    const char *key, size_t nkey, ref_t **link, int *why);
/* Takes r off its chain (link points at it) and frees it, journaled. */
void eng_remove_locked(struct engine_worker *w, struct lookup *l,
                       ref_t *link, ref_t r);
/* Gives nr (ALLOC, filled) a new CAS and store time and puts it on the
 * chain in place of old (or at the bucket head if old is 0), journaled;
 * frees old. */
void eng_switch_locked(struct engine_worker *w, struct lookup *l,
                       ref_t *link, ref_t old, ref_t nr);
/* Fills the callback view of an item. */
void eng_fill_info(const struct engine *e, struct item *it,
                   struct info_box *b);

#endif
