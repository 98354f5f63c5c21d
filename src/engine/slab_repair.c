/*
 * slab_repair.c - the repairs of the class and pages locks (lock.h).
 *
 * A class whose lock holder died may have a half-changed free list or LRU,
 * half-updated counts, a chain of CHAIN chunks half built or half freed.
 * The chunk states (item.state) are the truth, written before any list
 * change on the way in and first on the way out (slab.c), so the repair
 * rebuilds everything else from them:
 *   0. a chained head's rescue by the slab mover that a death interrupted
 *      is finished or undone first (mover.h), so one head owns the chain;
 *   1. chains: every CHAIN chunk a live head (LINKED or ALLOC) reaches is
 *      marked IF_REACH and names that head (item.prev); a head whose chain
 *      runs into something that is not a CHAIN chunk of this class, or
 *      loops, is cut there and made expired (its value is incomplete: it
 *      must never be served);
 *   2. lists: the free list and the LRU are rebuilt from scratch: FREE
 *      chunks and unreached CHAIN chunks go on the free list, LINKED items
 *      on the LRU ordered by last access (newest at the head); counts are
 *      recomputed. On the page the slab mover is emptying, free chunks are
 *      the mover's (IF_MOVING, on no list), whatever step it died at.
 * Both steps write only class-owned fields (state, prev, next, chain, the
 * class's counts) and IF_REACH of CHAIN chunks, never a field an item's
 * stripe owns (region.h), so gets that run meanwhile under their stripes
 * lose nothing. The repair is idempotent: a repairer that dies half way
 * leaves the lock dirty and the next one starts again from the states.
 */
#include "engine/lru.h"
#include "engine/mover.h"
#include "engine/slab.h"

#include <stdlib.h>
#include <string.h>

/* The chunks of carved page p, for a class of chunk size `size`. */
static inline struct item *chunk_at(const struct engine *e, uint64_t p,
                                    uint32_t i, uint32_t size)
{
    return (struct item *)(e->base + e->r->off_pages + p * SLAB_PAGE_SIZE +
                           (size_t)i * size);
}

/* Step 1: marks the CHAIN chunks that live heads reach; cuts bad chains. */
static void mark_chains(struct engine *e, unsigned id, uint64_t used)
{
    const struct class *c = &e->classes[id];
    for (uint64_t p = 0; p < used; p++) {
        if (e->page_class[p] != id)
            continue;
        for (uint32_t i = 0; i < c->perpage; i++) {
            struct item *it = chunk_at(e, p, i, c->size);
            if (item_state(it) != ST_ALLOC && item_state(it) != ST_LINKED)
                continue;
            ref_t *link = item_chainp(e, it);
            if (link == NULL)
                continue;
            uint64_t n = 0;
            while (*link != 0) {
                ref_t x = *link;
                struct item *xi = ITEM(e, x);
                if (slab_chunk_class(e, x) != id || item_state(xi) != ST_CHAIN ||
                    (xi->iflags & IF_REACH) || ++n > used * c->perpage) {
                    *link = 0;
                    it->exptime = 1;    /* value incomplete: never serve */
                    break;
                }
                xi->iflags |= IF_REACH;
                xi->prev = REF(e, it);          /* its head */
                link = &xi->next;
            }
        }
    }
}

static int by_atime(const void *a, const void *b, void *arg)
{
    const struct engine *e = arg;
    uint32_t x = ITEM(e, *(const ref_t *)a)->atime;
    uint32_t y = ITEM(e, *(const ref_t *)b)->atime;
    return x < y ? -1 : x > y;
}

/* The LINKED items found by step 2, per segment, to be sorted by last
 * access. */
struct lru_build {
    ref_t *v;
    uint64_t n, cap;
};

/* A segment's bits are trusted as written (they change only while the
 * item is off every list); LINKED items always carry valid ones. */
static void put_linked(struct engine *e, struct class *c,
                       struct lru_build *lb, ref_t r)
{
    struct item *it = ITEM(e, r);
    struct lru_build *b = &lb[lru_seg(it)];
    c->curr_items++;
    c->requested += item_size(it);
    if (b->n == b->cap) {
        uint64_t cap = b->cap ? b->cap * 2 : 1024;
        ref_t *v = realloc(b->v, cap * sizeof(ref_t));
        if (v == NULL) {
            lru_link_locked(e, c, r, lru_seg(it)); /* no memory: unsorted */
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = r;
}

static void put_free(struct engine *e, struct class *c, unsigned id,
                     ref_t r)
{
    struct item *it = ITEM(e, r);
    item_set_state(it, ST_FREE);
    if (slab_draining(e, id, r)) {
        it->prev = it->next = 0;
        it->iflags = IF_MOVING;         /* the mover's */
        return;
    }
    it->iflags = 0;
    it->prev = 0;
    it->next = c->free_head;
    if (c->free_head)
        ITEM(e, c->free_head)->prev = r;
    c->free_head = r;
    c->free_count++;
}

/* Step 2: rebuilds the free list, the LRU segments and the counts from
 * the chunk states (and, for LINKED items, their segment bits). */
static void rebuild_lists(struct engine *e, unsigned id, uint64_t used)
{
    struct class *c = &e->classes[id];
    struct lru_build lb[LRU_SEGS];

    memset(lb, 0, sizeof(lb));
    memset(c->lru, 0, sizeof(c->lru));
    c->free_head = 0;
    c->free_count = c->curr_items = c->requested = c->pages = 0;
    for (uint64_t p = 0; p < used; p++) {
        if (e->page_class[p] != id)
            continue;
        c->pages++;
        for (uint32_t i = 0; i < c->perpage; i++) {
            struct item *it = chunk_at(e, p, i, c->size);
            ref_t r = REF(e, it);
            unsigned st = item_state(it);
            if (st == ST_LINKED)
                put_linked(e, c, lb, r);
            else if (st == ST_CHAIN && (it->iflags & IF_REACH))
                it->iflags &= (uint8_t)~IF_REACH;
            else if (st != ST_ALLOC)
                put_free(e, c, id, r);  /* FREE, or CHAIN no head reaches */
        }
    }
    for (unsigned seg = 0; seg < LRU_SEGS; seg++) {
        struct lru_build *b = &lb[seg];
        if (b->n > 1)
            qsort_r(b->v, b->n, sizeof(ref_t), by_atime, e);
        for (uint64_t i = 0; i < b->n; i++)
            lru_link_locked(e, c, b->v[i], seg);    /* newest at the head */
        free(b->v);
    }
}

int slab_repair_class(struct engine_worker *w, uint32_t id, int dead)
{
    struct engine *e = w->e;
    uint64_t used = __atomic_load_n(&e->r->pages_used, __ATOMIC_ACQUIRE);
    (void)dead;     /* the states say it all: no journal to finish */
    if (id == 0 || id > e->r->nclasses)
        return -1;
    if (id == e->r->big) {
        mover_repair_rescue(e, id);
        mark_chains(e, id, used);
    }
    rebuild_lists(e, id, used);
    return 0;
}

int slab_repair_pages(struct engine_worker *w, uint32_t idx, int dead)
{
    struct engine *e = w->e;
    (void)idx, (void)dead;
    for (uint64_t p = e->r->pages_used; p < e->r->npages; p++)
        e->page_class[p] = PAGE_NONE;
    mover_repair_pages(e);
    return 0;
}
