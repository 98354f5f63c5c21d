/*
 * maintain.c - LRU maintenance and the crawler's sweep (see maintain.h).
 */
#include "engine/maintain.h"

#include "engine/item.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/slab.h"

/* The part of a class's item bytes a segment may hold. */
static uint64_t share(uint64_t total, uint32_t pct)
{
    return total / 100 * pct + total % 100 * pct / 100;
}

static uint32_t age_of(const struct engine *e, ref_t r, uint32_t now)
{
    uint32_t at = r ? ITEM(e, r)->atime : now;
    return now > at ? now - at : 0;
}

/* One step at the tail of HOT or WARM: dead tails are reclaimed (and the
 * step goes on), then the first live one moves if it must. Returns what
 * moved or went. */
static unsigned step(struct engine_worker *w, struct class *c, unsigned seg,
                     uint64_t limit, uint32_t max_age, uint32_t now)
{
    struct engine *e = w->e;
    unsigned done = 0;
    ref_t r = lru_oldest(c, seg);
    for (int tries = MAINTAIN_TRIES; r != 0 && tries > 0; tries--) {
        ref_t newer = lru_newer(e, r);
        struct item *it = ITEM(e, r);
        if (item_dead(e, it, now)) {
            done += slab_drop_locked(w, c, r, now, V_RECLAIM) == 0;
            r = newer;
            continue;
        }
        if (it->st & ST_ACTIVE) {
            lru_move_locked(e, c, r, LRU_WARM);     /* clears ACTIVE */
            return done + 1;
        }
        if (seg != LRU_COLD && (c->lru[seg].bytes > limit ||
                                age_of(e, r, now) > max_age)) {
            lru_move_locked(e, c, r, LRU_COLD);
            return done + 1;
        }
        return done;
    }
    return done;
}

/* TEMP: only reclaims. */
static unsigned step_temp(struct engine_worker *w, struct class *c,
                          uint32_t now)
{
    unsigned done = 0;
    ref_t r = lru_oldest(c, LRU_TEMP);
    for (int tries = MAINTAIN_TRIES; r != 0 && tries > 0; tries--) {
        ref_t newer = lru_newer(w->e, r);
        if (!item_dead(w->e, ITEM(w->e, r), now))
            break;
        done += slab_drop_locked(w, c, r, now, V_RECLAIM) == 0;
        r = newer;
    }
    return done;
}

/* One round on a class, holding its lock. */
static unsigned round_locked(struct engine_worker *w, struct class *c,
                             const struct engine_lru_config *lc,
                             uint32_t now)
{
    unsigned done = step_temp(w, c, now);
    if (!lc->segmented) {           /* drain what segmented mode left */
        done += lru_pull_to_cold_locked(w->e, c);
        return done + step(w, c, LRU_COLD, 0, 0, now);
    }
    uint64_t total = c->lru[LRU_HOT].bytes + c->lru[LRU_WARM].bytes +
                     c->lru[LRU_COLD].bytes;
    uint32_t cold_age = c->lru[LRU_COLD].tail
                        ? age_of(w->e, c->lru[LRU_COLD].tail, now) : 0;
    done += step(w, c, LRU_HOT, share(total, lc->hot_pct),
                 (uint32_t)(cold_age * lc->hot_factor), now);
    done += step(w, c, LRU_WARM, share(total, lc->warm_pct),
                 (uint32_t)(cold_age * lc->warm_factor), now);
    done += step(w, c, LRU_COLD, 0, 0, now);
    return done;
}

unsigned engine_lru_maintain(struct engine_worker *w, unsigned budget)
{
    struct engine *e = w->e;
    struct engine_lru_config lc;
    uint32_t now = (uint32_t)e->clock(e->clock_arg);
    unsigned total = 0;
    engine_get_lru(e, &lc);
    for (unsigned id = 1; id <= e->r->nclasses && total < budget; id++) {
        struct class *c = &e->classes[id];
        for (int round = 0; round < MAINTAIN_ROUNDS && total < budget;
             round++) {
            if (lru_count(c) == 0 || lock_class(w, id) < 0)
                break;
            unsigned n = round_locked(w, c, &lc, now);
            unlock_class(w, id);
            total += n;
            if (n == 0)
                break;
        }
    }
    __atomic_add_fetch(&e->r->lru_juggles, 1, __ATOMIC_RELAXED);
    return total;
}

/* ---- the crawler's sweep ------------------------------------------------- */

unsigned engine_sweep(struct engine_worker *w, unsigned budget)
{
    struct engine *e = w->e;
    unsigned reclaimed = 0;
    uint32_t now = (uint32_t)e->clock(e->clock_arg);

    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        if (lru_count(c) == 0 || lock_class(w, id) < 0)
            continue;
        for (unsigned seg = 0; seg < LRU_SEGS; seg++) {
            unsigned seen = 0;
            ref_t r = lru_oldest(c, seg);
            while (r != 0 && seen++ < budget) {
                ref_t newer = lru_newer(e, r);
                if (item_dead(e, ITEM(e, r), now) &&
                    slab_drop_locked(w, c, r, now, V_SWEEP) == 0)
                    reclaimed++;
                r = newer;
            }
        }
        unlock_class(w, id);
    }
    return reclaimed;
}
