/*
 * check.c - engine_check(): verifies every structural invariant of the
 * region. Used by the tests after concurrent and crash runs; it takes every
 * lock (stripes in index order, then classes, then pages), so any repair
 * pending on a dead owner's lock runs first, and a lock that some process
 * kept forever would show up as a hang of the test rather than pass.
 *
 * Invariants checked (quiescent region: no operation in flight):
 *   0. the hash table's state word is one of its geometry (also in the
 *      middle of a growth), no slot records a split in flight, and every
 *      bucket past those in use, up to 2^power, is empty (those the
 *      growth under way will split into; the room above is never
 *      written before the power reaches it);
 *   1. every chain entry of a bucket in use is a LINKED item, hashed to
 *      that bucket by the state word (the new or the old numbering, as the
 *      growth has reached it), and on no other chain (being LINKED is being
 *      on the LRU: 2 counts them);
 *   2. every LRU entry is a LINKED item of that class that is hashed, the
 *      list is well linked both ways, and its length is curr_items;
 *   3. every free list entry is a FREE chunk of the class; length free_count;
 *   4. every chunk of every carved page is FREE, LINKED, ALLOC (counted by
 *      the owning slots) or CHAIN reachable from exactly one head, which
 *      it names (item.prev), and the class counts (pages, requested
 *      bytes) add up; a FREE chunk off the free list (IF_MOVING) lies on
 *      the page the slab mover is emptying, and only there;
 *   5. the pages: every page below pages_used belongs to a class, to the
 *      global pool (0) or to nobody (given back: PAGE_NONE); the pool and
 *      hole counts are right, the classes' pages and the pool add up to
 *      the pages carved, and the mover's record agrees with page_class
 *      (mover.h).
 */
#include "engine/engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/region.h"
#include "engine/slab.h"

struct checker {
    struct engine *e;
    uint8_t *hashed;     /* bitmap over refs */
    uint8_t *chained;
    char *buf;
    size_t buflen;
    int failed;
};

static int fail(struct checker *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct checker *k, const char *fmt, ...)
{
    if (!k->failed && k->buflen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(k->buf, k->buflen, fmt, ap);
        va_end(ap);
    }
    k->failed = 1;
    return -1;
}

static int bit(const uint8_t *m, ref_t r) { return (m[r >> 3] >> (r & 7)) & 1; }
static void setbit(uint8_t *m, ref_t r) { m[r >> 3] |= (uint8_t)(1u << (r & 7)); }

/* The table's state word and what lies past the buckets in use: a state
 * of this geometry, no split recorded in flight, and nothing on a chain
 * the growth under way has not reached yet. */
static int check_table(struct checker *k, uint64_t st)
{
    struct engine *e = k->e;
    unsigned p = hs_power(st);
    uint64_t used = hs_used(st);
    if (p < e->r->hash_init || p > e->r->hash_max ||
        (p == e->r->hash_init ? used != 1ull << p
                              : used < 1ull << (p - 1) || used > 1ull << p))
        return fail(k, "hash state power %u, %llu buckets used", p,
                    (unsigned long long)used);
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++)
        if (e->slots[i].j_split != 0)
            return fail(k, "slot %d records a split in flight", i);
    for (uint64_t b = used; b < 1ull << p; b++)
        if (e->buckets[b] != 0)
            return fail(k, "bucket %llu past the %llu in use holds %u",
                        (unsigned long long)b, (unsigned long long)used,
                        e->buckets[b]);
    return 0;
}

static int check_chains(struct checker *k)
{
    struct engine *e = k->e;
    uint64_t st = hash_state(e), nb = hs_used(st);
    if (check_table(k, st) < 0)
        return -1;
    for (uint64_t b = 0; b < nb; b++) {
        for (ref_t r = e->buckets[b]; r != 0; r = ITEM(e, r)->hnext) {
            struct item *it = ITEM(e, r);
            if (slab_chunk_class(e, r) == 0)
                return fail(k, "bucket %llu: ref %u is not a chunk",
                            (unsigned long long)b, r);
            if (bit(k->hashed, r))
                return fail(k, "item %u hashed twice", r);
            setbit(k->hashed, r);
            if (item_state(it) != ST_LINKED)
                return fail(k, "hashed item %u in state %d", r, it->st);
            if (hash_bucket_in(st, hash_key(item_key(it), it->nkey)) != b)
                return fail(k, "item %u in wrong bucket", r);
        }
    }
    return 0;
}

/* One LRU segment: links both ways, every item LINKED, hashed, of this
 * class and marked with this segment; count and bytes as kept. */
static int check_segment(struct checker *k, unsigned id, unsigned seg,
                         uint64_t limit, uint64_t *count)
{
    struct engine *e = k->e;
    const struct lru_seg *l = &e->classes[id].lru[seg];
    uint64_t n = 0, bytes = 0;
    ref_t prev = 0;
    for (ref_t r = l->head; r != 0; prev = r, r = ITEM(e, r)->next) {
        struct item *it = ITEM(e, r);
        if (++n > limit)
            return fail(k, "class %u: LRU %u loops", id, seg);
        if (it->prev != prev)
            return fail(k, "class %u: LRU %u back link broken at %u", id,
                        seg, r);
        if (item_state(it) != ST_LINKED || it->clsid != id ||
            !bit(k->hashed, r) || lru_seg(it) != seg)
            return fail(k, "class %u: LRU %u item %u st 0x%x hashed %d", id,
                        seg, r, it->st, bit(k->hashed, r));
        bytes += lru_item_bytes(it);
    }
    if (l->tail != prev)
        return fail(k, "class %u: LRU %u tail wrong", id, seg);
    if (n != l->count || bytes != l->bytes)
        return fail(k, "class %u: LRU %u holds %llu items / %llu bytes, "
                    "counted %llu / %llu", id, seg, (unsigned long long)n,
                    (unsigned long long)bytes, (unsigned long long)l->count,
                    (unsigned long long)l->bytes);
    *count = n;
    return 0;
}

static int check_class(struct checker *k, unsigned id, uint64_t *alloc_total)
{
    struct engine *e = k->e;
    struct class *c = &e->classes[id];
    uint64_t n = 0, limit = e->r->npages * c->perpage + 1;
    for (unsigned seg = 0; seg < LRU_SEGS; seg++) {
        uint64_t got = 0;
        if (check_segment(k, id, seg, limit, &got) < 0)
            return -1;
        n += got;
    }
    if (n != c->curr_items)
        return fail(k, "class %u: LRU has %llu items, curr_items %llu", id,
                    (unsigned long long)n, (unsigned long long)c->curr_items);
    n = 0;
    ref_t prev = 0;
    for (ref_t r = c->free_head; r != 0; prev = r, r = ITEM(e, r)->next) {
        if (++n > limit)
            return fail(k, "class %u: free list loops", id);
        if (item_state(ITEM(e, r)) != ST_FREE || ITEM(e, r)->clsid != id ||
            (ITEM(e, r)->iflags & IF_MOVING))
            return fail(k, "class %u: free list holds %u in state %d", id, r,
                        ITEM(e, r)->st);
        if (ITEM(e, r)->prev != prev)
            return fail(k, "class %u: free list back link broken at %u", id,
                        r);
    }
    if (n != c->free_count)
        return fail(k, "class %u: free list %llu, free_count %llu", id,
                    (unsigned long long)n, (unsigned long long)c->free_count);

    uint64_t st[4] = {0}, pages = 0, requested = 0, reach = 0, held = 0;
    for (uint64_t p = 0; p < e->r->pages_used; p++) {
        if (e->page_class[p] != id)
            continue;
        pages++;
        char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
        for (uint32_t i = 0; i < c->perpage; i++) {
            struct item *it = (struct item *)(page + (size_t)i * c->size);
            unsigned state = item_state(it);
            if (state != ST_LINKED && (it->st & ~ST_MASK) != 0)
                return fail(k, "class %u: chunk %u st 0x%x: LRU bits but "
                            "not LINKED", id, REF(e, it), it->st);
            st[state]++;
            if (state == ST_FREE && (it->iflags & IF_MOVING)) {
                if (!slab_draining(e, id, REF(e, it)))
                    return fail(k, "class %u: chunk %u held by the mover "
                                "off its page", id, REF(e, it));
                held++;
            }
            if (state == ST_LINKED)
                requested += item_size(it);
            if (state != ST_LINKED && state != ST_ALLOC)
                continue;
            for (ref_t x = item_chain(e, it); x != 0; x = ITEM(e, x)->next) {
                if (item_state(ITEM(e, x)) != ST_CHAIN || bit(k->chained, x) ||
                    ITEM(e, x)->prev != REF(e, it))
                    return fail(k, "class %u: bad chain chunk %u", id, x);
                setbit(k->chained, x);
                reach++;
            }
        }
    }
    if (pages != c->pages)
        return fail(k, "class %u: %llu pages counted %llu", id,
                    (unsigned long long)pages, (unsigned long long)c->pages);
    if (st[ST_FREE] != c->free_count + held || st[ST_LINKED] != c->curr_items)
        return fail(k, "class %u: states free %llu linked %llu vs lists", id,
                    (unsigned long long)st[ST_FREE],
                    (unsigned long long)st[ST_LINKED]);
    if (st[ST_CHAIN] != reach)
        return fail(k, "class %u: %llu chain chunks, %llu reachable", id,
                    (unsigned long long)st[ST_CHAIN], (unsigned long long)reach);
    if (requested != c->requested)
        return fail(k, "class %u: requested bytes %llu, counted %llu", id,
                    (unsigned long long)c->requested,
                    (unsigned long long)requested);
    *alloc_total += st[ST_ALLOC];
    return 0;
}

/* Invariant 5: the page table, the pool and the mover's record. */
static int check_pages(struct checker *k)
{
    struct engine *e = k->e;
    const struct region *r = e->r;
    const struct slab_mover *m = &r->mover;
    uint64_t pool = 0, holes = 0, inclass = 0;
    for (uint64_t p = 0; p < r->pages_used; p++) {
        unsigned id = e->page_class[p];
        if (id == 0)
            pool++;
        else if (id == PAGE_NONE)
            holes++;
        else if (id > r->nclasses)
            return fail(k, "page %llu: class %u", (unsigned long long)p, id);
    }
    for (unsigned id = 1; id <= r->nclasses; id++)
        inclass += e->classes[id].pages;
    uint64_t st = m->state;
    unsigned phase = mover_phase(st);
    uint64_t transit = phase == MV_CARVE;
    if ((phase == MV_DRAIN &&
         e->page_class[m->page] != (unsigned)mover_src(st)) ||
        (phase == MV_CARVE && e->page_class[m->page] != 0))
        return fail(k, "mover in phase %u, page %llu in class %u", phase,
                    (unsigned long long)m->page, e->page_class[m->page]);
    if (pool != m->pool_pages + transit || holes != m->holes)
        return fail(k, "pool %llu (counted %llu), holes %llu (counted %llu)",
                    (unsigned long long)pool,
                    (unsigned long long)m->pool_pages,
                    (unsigned long long)holes, (unsigned long long)m->holes);
    if (inclass + pool + holes != r->pages_used)
        return fail(k, "%llu pages in classes, %llu in the pool, %llu given "
                    "back, %llu carved", (unsigned long long)inclass,
                    (unsigned long long)pool, (unsigned long long)holes,
                    (unsigned long long)r->pages_used);
    if (m->rescue_old || m->rescue_new)
        return fail(k, "a rescue left in the mover's record");
    return 0;
}

int engine_check(struct engine *e, char *buf, size_t buflen)
{
    struct engine_worker *m = engine_master(e);
    struct checker k = { e, NULL, NULL, buf, buflen, 0 };
    uint64_t nrefs = e->r->region_size / 8 + 8;
    uint32_t s = 0;
    unsigned id = 1;
    int locked_pages = 0;

    k.hashed = calloc(nrefs / 8 + 1, 1);
    k.chained = calloc(nrefs / 8 + 1, 1);
    if (!k.hashed || !k.chained) {
        fail(&k, "out of memory");
        goto out;
    }
    for (; s < e->r->nstripes; s++)
        if (lock_stripe(m, s) < 0) {
            fail(&k, "stripe %u unusable", s);
            goto out;
        }
    for (; id <= e->r->nclasses; id++)
        if (lock_class(m, id) < 0) {
            fail(&k, "class lock %u unusable", id);
            goto out;
        }
    if (lock_pages(m) < 0) {
        fail(&k, "pages lock unusable");
        goto out;
    }
    locked_pages = 1;

    uint64_t allocs = 0, alloc_chunks = 0;
    if (check_chains(&k) == 0 && check_pages(&k) == 0)
        for (unsigned c = 1; c <= e->r->nclasses; c++)
            if (check_class(&k, c, &alloc_chunks) < 0)
                break;
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++)
        allocs += e->slots[i].in_use ? e->slots[i].allocs : 0;
    if (!k.failed && alloc_chunks != allocs)
        fail(&k, "%llu chunks ALLOC but slots account for %llu",
             (unsigned long long)alloc_chunks, (unsigned long long)allocs);
out:
    if (locked_pages)
        unlock_pages(m);
    while (id-- > 1)
        unlock_class(m, id);
    while (s-- > 0)
        unlock_stripe(m, s);
    free(k.hashed);
    free(k.chained);
    return k.failed ? -1 : 0;
}
