/*
 * recover.c - lock acquisition with crash repair, and the master's reap of a
 * dead worker's slot. The lock hierarchy and what every repair does are
 * written down in recover.h; this file is the only place that knows it.
 *
 * Repairs are idempotent: each one rebuilds or re-derives state from what
 * the chunks and chains say, so running it twice (a repairer dying half way
 * leaves the lock dirty) gives the same result.
 */
#include "engine/recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hashtab.h"
#include "engine/slab.h"

static void count_repair(struct engine *e)
{
    __atomic_add_fetch(&e->r->lock_repairs, 1, __ATOMIC_RELAXED);
}

/* ---- stripe ------------------------------------------------------------ */

/* A new item that reached the chain while its owner died: make it LINKED. */
static void adopt_new(struct engine_worker *w, ref_t r)
{
    struct item *it = ITEM(w->e, r);
    if (it->state == ST_ALLOC)
        slab_link(w, r, it->atime ? it->atime : it->stime);
}

static void finish_journal(struct engine_worker *w, uint32_t s,
                           struct journal *j)
{
    struct engine *e = w->e;
    if (__atomic_load_n(&j->stripe, __ATOMIC_ACQUIRE) != s + 1)
        return;
    ref_t old = j->old_item;
    if (old != 0 && slab_chunk_class(e, old) != 0) {
        struct item *it = ITEM(e, old);
        uint32_t b = hash_bucket(e, hash_key(item_key(it), it->nkey));
        if (it->state == ST_LINKED && !hash_contains(e, b, old)) {
            unsigned id = it->clsid;
            if (lock_class(w, id) == 0) {
                if (it->state == ST_LINKED)
                    chunk_free_locked(e, &e->classes[id], old);
                unlock_class(w, id);
            }
        }
    }
    journal_clear(j);
}

static void repair_stripe(struct engine_worker *w, uint32_t s, int dead)
{
    struct engine *e = w->e;
    uint64_t nb = 1ull << e->r->hashpower;
    uint64_t limit = e->r->npages * (SLAB_PAGE_SIZE / 96 + 1);

    for (uint64_t b = s; b < nb; b += e->r->nstripes) {
        ref_t *l = &e->buckets[b];
        uint64_t steps = 0;
        while (*l != 0) {
            ref_t r = *l;
            struct item *it = ITEM(e, r);
            if (slab_chunk_class(e, r) == 0 || ++steps > limit ||
                (it->state != ST_LINKED && it->state != ST_ALLOC) ||
                hash_bucket(e, hash_key(item_key(it), it->nkey)) != b) {
                fprintf(stderr, "shmcached: repair cut hash chain %llu\n",
                        (unsigned long long)b);
                __atomic_store_n(l, 0, __ATOMIC_RELEASE);
                break;
            }
            if (it->state == ST_ALLOC)
                adopt_new(w, r);
            l = &it->hnext;
        }
    }
    if (dead >= 0 && dead < ENGINE_MAX_SLOTS) {
        finish_journal(w, s, &e->slots[dead].j_op);
        finish_journal(w, s, &e->slots[dead].j_evict);
    }
}

int lock_stripe(struct engine_worker *w, uint32_t s)
{
    struct shlock *l = &w->e->stripes[s];
    int rc = shlock_acquire(l, w->slot);
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_ERROR)
        return -1;
    repair_stripe(w, s, l->owner);
    shlock_clean(l, w->slot);
    count_repair(w->e);
    return 0;
}

int try_stripe(struct engine_worker *w, uint32_t s)
{
    return shlock_try(&w->e->stripes[s], w->slot) == SHLOCK_OK ? 0 : 1;
}

void unlock_stripe(struct engine_worker *w, uint32_t s)
{
    shlock_release(&w->e->stripes[s]);
}

/* ---- class ------------------------------------------------------------- */

static int by_atime(const void *a, const void *b, void *arg)
{
    const struct engine *e = arg;
    uint32_t x = ITEM(e, *(const ref_t *)a)->atime;
    uint32_t y = ITEM(e, *(const ref_t *)b)->atime;
    return x < y ? -1 : x > y;
}

#define IF_REACH 0x80

static void repair_class(struct engine *e, unsigned id)
{
    struct region *rg = e->r;
    struct class *c = &e->classes[id];
    uint64_t used = __atomic_load_n(&rg->pages_used, __ATOMIC_ACQUIRE);
    uint64_t nlinked = 0, cap = 0;
    ref_t *lru = NULL;

    /* chains first: mark what live heads reach, cut what is not a chain */
    for (uint64_t p = 0; p < used && id == rg->big; p++) {
        if (e->page_class[p] != id)
            continue;
        char *page = e->base + rg->off_pages + p * SLAB_PAGE_SIZE;
        for (uint32_t i = 0; i < c->perpage; i++) {
            struct item *it = (struct item *)(page + (size_t)i * c->size);
            if (it->state != ST_ALLOC && it->state != ST_LINKED)
                continue;
            ref_t *link = &it->chain;
            uint64_t n = 0;
            while (*link != 0) {
                ref_t x = *link;
                struct item *xi = ITEM(e, x);
                if (slab_chunk_class(e, x) != id || xi->state != ST_CHAIN ||
                    (xi->iflags & IF_REACH) || ++n > used * c->perpage) {
                    *link = 0;
                    it->exptime = 1;   /* value incomplete: never serve it */
                    break;
                }
                xi->iflags |= IF_REACH;
                link = &xi->next;
            }
        }
    }

    c->free_head = c->lru_head = c->lru_tail = 0;
    c->free_count = c->curr_items = c->requested = c->pages = 0;
    for (uint64_t p = 0; p < used; p++) {
        if (e->page_class[p] != id)
            continue;
        c->pages++;
        char *page = e->base + rg->off_pages + p * SLAB_PAGE_SIZE;
        for (uint32_t i = 0; i < c->perpage; i++) {
            struct item *it = (struct item *)(page + (size_t)i * c->size);
            ref_t r = REF(e, it);
            switch (it->state) {
            case ST_LINKED:
                if (nlinked == cap) {
                    cap = cap ? cap * 2 : 1024;
                    ref_t *n = realloc(lru, cap * sizeof(ref_t));
                    if (n == NULL) {
                        cap = nlinked;
                        lru_link_locked(e, c, r);   /* unsorted fallback */
                        c->curr_items++;
                        c->requested += ITEM_HDR + it->nkey + it->nbytes;
                        continue;
                    }
                    lru = n;
                }
                lru[nlinked++] = r;
                break;
            case ST_ALLOC:
                break;
            case ST_CHAIN:
                if (it->iflags & IF_REACH) {
                    it->iflags &= (uint8_t)~IF_REACH;
                    break;
                }
                /* unreachable continuation: free it */
                __attribute__((fallthrough));
            default:
                it->state = ST_FREE;
                it->chain = 0;
                it->iflags = 0;
                it->next = c->free_head;
                c->free_head = r;
                c->free_count++;
                break;
            }
        }
    }
    if (nlinked > 1)
        qsort_r(lru, nlinked, sizeof(ref_t), by_atime, e);
    for (uint64_t i = 0; i < nlinked; i++) {
        struct item *it = ITEM(e, lru[i]);
        lru_link_locked(e, c, lru[i]);   /* newest ends up at the head */
        c->curr_items++;
        c->requested += ITEM_HDR + it->nkey + it->nbytes;
    }
    free(lru);
}

int lock_class(struct engine_worker *w, unsigned c)
{
    struct shlock *l = &w->e->classes[c].lock;
    int rc = shlock_acquire(l, w->slot);
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_ERROR)
        return -1;
    repair_class(w->e, c);
    shlock_clean(l, w->slot);
    count_repair(w->e);
    return 0;
}

void unlock_class(struct engine_worker *w, unsigned c)
{
    shlock_release(&w->e->classes[c].lock);
}

/* ---- pages ------------------------------------------------------------- */

static void repair_pages(struct engine *e)
{
    for (uint64_t p = e->r->pages_used; p < e->r->npages; p++)
        e->page_class[p] = PAGE_NONE;
}

int lock_pages(struct engine_worker *w)
{
    struct shlock *l = &w->e->r->pages_lock;
    int rc = shlock_acquire(l, w->slot);
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_ERROR)
        return -1;
    repair_pages(w->e);
    shlock_clean(l, w->slot);
    count_repair(w->e);
    return 0;
}

void unlock_pages(struct engine_worker *w)
{
    shlock_release(&w->e->r->pages_lock);
}

/* ---- detail ------------------------------------------------------------ */

int lock_detail(struct engine_worker *w)
{
    struct detail *d = w->e->detail;
    int rc = shlock_acquire(&d->lock, w->slot);
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_ERROR)
        return -1;
    memset(d->e, 0, sizeof(d->e));
    d->used = 0;
    shlock_clean(&d->lock, w->slot);
    count_repair(w->e);
    return 0;
}

void unlock_detail(struct engine_worker *w)
{
    shlock_release(&w->e->detail->lock);
}

/* ---- reap -------------------------------------------------------------- */

static int touches(const struct shlock *l, int slot)
{
    return __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) == slot ||
           __atomic_load_n(&l->dirty, __ATOMIC_ACQUIRE);
}

int engine_worker_reap(struct engine *e, int slot)
{
    struct engine_worker *m = e->master;
    uint64_t before = __atomic_load_n(&e->r->lock_repairs, __ATOMIC_RELAXED);
    int freed = 0;

    if (slot <= 0 || slot >= ENGINE_MAX_SLOTS)
        return -1;
    struct slot *s = &e->slots[slot];
    for (uint32_t i = 0; i < e->r->nstripes; i++) {
        if (touches(&e->stripes[i], slot) && lock_stripe(m, i) == 0)
            unlock_stripe(m, i);
    }
    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        if (touches(&e->classes[id].lock, slot) && lock_class(m, id) == 0)
            unlock_class(m, id);
    }
    if (touches(&e->r->pages_lock, slot) && lock_pages(m) == 0)
        unlock_pages(m);
    if (touches(&e->detail->lock, slot) && lock_detail(m) == 0)
        unlock_detail(m);

    /* items it had allocated but not stored */
    for (unsigned id = 1; __atomic_load_n(&s->allocs, __ATOMIC_ACQUIRE) &&
                          id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        if (lock_class(m, id) < 0)
            continue;
        uint64_t used = e->r->pages_used;
        for (uint64_t p = 0; p < used; p++) {
            if (e->page_class[p] != id)
                continue;
            char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
            for (uint32_t i = 0; i < c->perpage; i++) {
                struct item *it = (struct item *)(page + (size_t)i * c->size);
                if (it->state == ST_ALLOC && it->prev == (ref_t)slot) {
                    chunk_free_locked(e, c, REF(e, it));
                    freed++;
                }
            }
        }
        unlock_class(m, id);
    }
    s->allocs = 0;
    journal_clear(&s->j_op);
    journal_clear(&s->j_evict);
    s->pid = 0;
    __atomic_add_fetch(&e->r->slot_reaps, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->in_use, 0, __ATOMIC_RELEASE);
    uint64_t after = __atomic_load_n(&e->r->lock_repairs, __ATOMIC_RELAXED);
    return (int)(after - before) + freed;
}
