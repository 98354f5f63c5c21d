/*
 * stats.c - reading the engine's statistics.
 *
 * Counters are written without locks by the one process that owns each slot
 * (struct slot, cache-line aligned so two workers never share a line), and
 * by whoever holds a class lock for the per-class figures. Readers sum the
 * slots: a sum may miss an increment that is in flight, never tear a value
 * (aligned 64-bit loads). Slots of dead workers keep their counters, so
 * totals survive restarts. Walks over items (sizes, cachedump) take the
 * class lock.
 */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/region.h"
#include "engine/slab.h"

void engine_stats(struct engine *e, struct engine_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        const struct engine_counters *c = &e->slots[i].c;
#define X(name) st->c.name += c->name;
        ENGINE_COUNTERS(X)
#undef X
    }
    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        const struct class *c = &e->classes[id];
        st->curr_items += c->curr_items;
        st->total_items += c->total_items;
        st->bytes += c->requested;
        st->evictions += c->evicted;
        st->reclaimed += c->reclaimed;
        st->expired_unfetched += c->expired_unfetched;
        st->evicted_unfetched += c->evicted_unfetched;
        st->evicted_active += c->evicted_active;
        st->crawler_reclaimed += c->crawler_reclaimed;
        st->moves_to_cold += c->moves_to_cold;
        st->moves_to_warm += c->moves_to_warm;
        st->moves_within_lru += c->moves_within_lru;
        st->direct_reclaims += c->direct_reclaims;
        if (c->pages)
            st->active_slabs++;
    }
    const struct slab_mover *m = &e->r->mover;
    uint64_t carved = __atomic_load_n(&e->r->pages_used, __ATOMIC_ACQUIRE) -
                      __atomic_load_n(&m->holes, __ATOMIC_RELAXED);
    st->total_malloced = carved * SLAB_PAGE_SIZE;    /* classes and pool */
    st->slab_global_page_pool = __atomic_load_n(&m->pool_pages,
                                                __ATOMIC_RELAXED);
    st->slab_reassign_running = mover_phase(__atomic_load_n(
                                    &m->state, __ATOMIC_ACQUIRE)) != MV_IDLE;
    st->slabs_moved = __atomic_load_n(&m->moved, __ATOMIC_RELAXED);
    st->slab_reassign_rescues = __atomic_load_n(&m->rescues,
                                                __ATOMIC_RELAXED);
    st->slab_reassign_chunk_rescues = __atomic_load_n(&m->chunk_rescues,
                                                      __ATOMIC_RELAXED);
    st->slab_reassign_evictions_nomem = __atomic_load_n(&m->evictions_nomem,
                                                        __ATOMIC_RELAXED);
    st->slab_reassign_inline_reclaim = __atomic_load_n(&m->inline_reclaim,
                                                       __ATOMIC_RELAXED);
    st->slab_reassign_busy_items = __atomic_load_n(&m->busy_items,
                                                   __ATOMIC_RELAXED);
    st->slab_reassign_busy_deletes = __atomic_load_n(&m->busy_deletes,
                                                     __ATOMIC_RELAXED);
    st->lock_repairs = __atomic_load_n(&e->r->lock_repairs, __ATOMIC_RELAXED);
    st->slot_reaps = __atomic_load_n(&e->r->slot_reaps, __ATOMIC_RELAXED);
    st->lru_juggles = __atomic_load_n(&e->r->lru_juggles, __ATOMIC_RELAXED);
    st->limit_maxbytes = e->r->mem_limit;
    uint64_t hs = hash_state(e);
    st->hash_power_level = hs_power(hs);
    st->hash_bytes = (1ull << hs_power(hs)) * sizeof(ref_t);
    st->hash_is_expanding = hs_growing(hs);
    st->slab_classes = e->r->nclasses;
}

void engine_stats_reset(struct engine *e)
{
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        struct slot *s = &e->slots[i];
        memset(&s->c, 0, sizeof(s->c));
        memset(s->cls, 0, sizeof(s->cls));
    }
    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        c->total_items = c->evicted = c->evicted_nonzero = 0;
        c->evicted_time = c->outofmemory = c->reclaimed = 0;
        c->expired_unfetched = c->evicted_unfetched = 0;
        c->evicted_active = c->crawler_reclaimed = 0;
        c->moves_to_cold = c->moves_to_warm = c->moves_within_lru = 0;
        c->direct_reclaims = 0;
    }
    engine_detail_clear(e);
    struct slab_mover *m = &e->r->mover;    /* memcached resets these too */
    uint64_t *ctr[] = { &m->moved, &m->rescues, &m->chunk_rescues,
                        &m->evictions_nomem, &m->inline_reclaim,
                        &m->busy_items, &m->busy_deletes };
    for (size_t i = 0; i < sizeof ctr / sizeof ctr[0]; i++)
        __atomic_store_n(ctr[i], 0, __ATOMIC_RELAXED);
}

unsigned engine_class_count(struct engine *e)
{
    return e->r->nclasses;
}

/* Seconds since the last access of a segment's oldest item (0: empty). */
static uint64_t tail_age(const struct engine *e, const struct class *c,
                         unsigned seg, uint32_t now)
{
    ref_t r = lru_oldest(c, seg);
    uint32_t at = r ? ITEM(e, r)->atime : now;
    return now > at ? now - at : 0;
}

int engine_class_stats(struct engine *e, unsigned id,
                       struct engine_class_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (id == 0 || id > e->r->nclasses)
        return 0;
    struct class *c = &e->classes[id];
    st->id = id;
    st->chunk_size = c->size;
    st->chunks_per_page = c->perpage;
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        const struct engine_class_counters *k = &e->slots[i].cls[id];
#define X(name) st->c.name += k->name;
        ENGINE_CLASS_COUNTERS(X)
#undef X
    }
    if (lock_class(e->master, id) < 0)
        return 0;
    st->total_pages = c->pages;
    st->total_chunks = c->pages * c->perpage;
    st->free_chunks = c->free_count;
    st->used_chunks = st->total_chunks - c->free_count;
    st->curr_items = c->curr_items;
    st->requested_bytes = c->requested;
    st->evicted = c->evicted;
    st->evicted_nonzero = c->evicted_nonzero;
    st->evicted_time = c->evicted_time;
    st->outofmemory = c->outofmemory;
    st->reclaimed = c->reclaimed;
    st->expired_unfetched = c->expired_unfetched;
    st->evicted_unfetched = c->evicted_unfetched;
    st->crawler_reclaimed = c->crawler_reclaimed;
    st->evicted_active = c->evicted_active;
    st->moves_to_cold = c->moves_to_cold;
    st->moves_to_warm = c->moves_to_warm;
    st->moves_within_lru = c->moves_within_lru;
    st->direct_reclaims = c->direct_reclaims;
    st->number_hot = c->lru[LRU_HOT].count;
    st->number_warm = c->lru[LRU_WARM].count;
    st->number_cold = c->lru[LRU_COLD].count;
    st->number_temp = c->lru[LRU_TEMP].count;
    uint32_t now = (uint32_t)engine_now(e);
    st->age_hot = tail_age(e, c, LRU_HOT, now);
    st->age_warm = tail_age(e, c, LRU_WARM, now);
    st->oldest_age = tail_age(e, c, LRU_COLD, now);
    unlock_class(e->master, id);
    return c->pages != 0;
}

void engine_sizes(struct engine *e,
                  void (*fn)(void *arg, unsigned size, uint64_t count),
                  void *arg)
{
    enum { BUCKET = 32, NB = (1 << 20) / BUCKET + 1 };
    uint64_t *hist = calloc(NB, sizeof(*hist));
    uint64_t big = 0;
    unsigned bigsize = 0;

    if (hist == NULL)
        return;
    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        if (c->curr_items == 0 || lock_class(e->master, id) < 0)
            continue;
        for (unsigned seg = 0; seg < LRU_SEGS; seg++)
            for (ref_t r = lru_newest(c, seg); r != 0; r = lru_older(e, r)) {
                struct item *it = ITEM(e, r);
                uint64_t size = item_size(it);
                uint64_t b = (size + BUCKET - 1) / BUCKET;
                if (b < NB) {
                    hist[b]++;
                } else {
                    big++;
                    if (b * BUCKET > bigsize)
                        bigsize = (unsigned)(b * BUCKET);
                }
            }
        unlock_class(e->master, id);
    }
    for (unsigned b = 0; b < NB; b++)
        if (hist[b])
            fn(arg, b * BUCKET, hist[b]);
    if (big)
        fn(arg, bigsize, big);
    free(hist);
}

void engine_cachedump(struct engine *e, unsigned id, unsigned limit,
                      void (*fn)(void *arg, const char *key, size_t nkey,
                                 uint32_t nbytes, uint32_t exptime),
                      void *arg)
{
    if (id == 0 || id > e->r->nclasses)
        return;
    if (lock_class(e->master, id) < 0)
        return;
    /* most recent first: HOT, WARM, COLD, then TEMP (memcached dumps
     * them in that order too) */
    static const unsigned order[] = { LRU_HOT, LRU_WARM, LRU_COLD, LRU_TEMP };
    unsigned n = 0;
    for (unsigned k = 0; k < LRU_SEGS; k++)
        for (ref_t r = lru_newest(&e->classes[id], order[k]);
             r != 0 && (limit == 0 || n < limit); r = lru_older(e, r), n++) {
            struct item *it = ITEM(e, r);
            fn(arg, item_key(it), it->nkey, it->nbytes, it->exptime);
        }
    unlock_class(e->master, id);
}
