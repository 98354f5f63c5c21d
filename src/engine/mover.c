/*
 * mover.c - the slab mover (design and invariants in mover.h; the locks
 * and repairs in lock.h).
 *
 * Every step holds at most one class lock (the class the phase works on)
 * and, under it, the pages lock or one stripe taken with lock_try(); a
 * step examines at most HOLD_UNITS chunks before it lets the lock go. The
 * record's phase, page and the chunk states are the truth; cursor and busy
 * are hints (a mover that starts again scans the page again: every visit
 * is idempotent).
 */
#include "engine/mover.h"

#include <string.h>
#include <sys/mman.h>

#include "engine/hashtab.h"
#include "engine/item.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/slab.h"

#define HOLD_UNITS 64u      /* chunks examined per hold of a class lock */
#define COPY_UNIT 4096u     /* a rescue costs a unit per this many bytes */

enum visit { V_DONE = 0, V_BUSY = 1 };

static void count(uint64_t *c)
{
    __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static uint64_t load_state(const struct engine *e)
{
    return __atomic_load_n(&e->r->mover.state, __ATOMIC_ACQUIRE);
}

static void set_state(struct engine *e, uint64_t st)
{
    __atomic_store_n(&e->r->mover.state, st, __ATOMIC_RELEASE);
}

static struct item *chunk_of(const struct engine *e, uint64_t p, uint32_t i,
                             uint32_t size)
{
    return (struct item *)(e->base + e->r->off_pages + p * SLAB_PAGE_SIZE +
                           (size_t)i * size);
}

/* ---- behaviour --------------------------------------------------------- */

void mover_configure(struct engine *e, const struct engine_config *cfg)
{
    struct slab_mover *m = &e->r->mover;
    __atomic_store_n(&m->reassign, (uint32_t)(cfg->slab_reassign != 0),
                     __ATOMIC_RELEASE);
    __atomic_store_n(&m->automove, (uint32_t)cfg->slab_automove,
                     __ATOMIC_RELEASE);
    double ratio = cfg->slab_automove_ratio;
    __atomic_store(&m->ratio, &ratio, __ATOMIC_RELEASE);
    __atomic_store_n(&m->window, cfg->slab_automove_window, __ATOMIC_RELEASE);
}

enum engine_reassign engine_slabs_reassign(struct engine *e, int src, int dst)
{
    return slab_request_move(e, src, dst);
}

int engine_slab_reassign(const struct engine *e)
{
    return (int)__atomic_load_n(&e->r->mover.reassign, __ATOMIC_ACQUIRE);
}

int engine_set_automove(struct engine *e, int mode)
{
    if (mode < 0 || mode > 2)
        return -1;
    __atomic_store_n(&e->r->mover.automove, (uint32_t)mode,
                     __ATOMIC_RELEASE);
    return 0;
}

int engine_set_automove_ratio(struct engine *e, double ratio)
{
    if (!(ratio > 0.0) || ratio > 1.0)
        return -1;
    __atomic_store(&e->r->mover.ratio, &ratio, __ATOMIC_RELEASE);
    return 0;
}

int engine_automove(const struct engine *e)
{
    return (int)__atomic_load_n(&e->r->mover.automove, __ATOMIC_ACQUIRE);
}

double engine_automove_ratio(const struct engine *e)
{
    double ratio;
    __atomic_load(&e->r->mover.ratio, &ratio, __ATOMIC_ACQUIRE);
    return ratio;
}

unsigned engine_automove_window(const struct engine *e)
{
    return __atomic_load_n(&e->r->mover.window, __ATOMIC_ACQUIRE);
}

/* ---- starting a move --------------------------------------------------- */

/* The first page of class id (memcached moves a class's first page: the
 * one most likely to hold its oldest items). Class lock held. */
static uint64_t first_page(const struct engine *e, unsigned id)
{
    uint64_t used = __atomic_load_n(&e->r->pages_used, __ATOMIC_ACQUIRE);
    const uint8_t *q = memchr(e->page_class, (int)id, used);
    return q ? (uint64_t)(q - e->page_class) : UINT64_MAX;
}

/* REQUESTED -> CARVE: a page of the pool for dst. */
static int start_from_pool(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    if (lock_pages(w) < 0)
        return -1;
    uint64_t p = m->pool_pages >= 2 ? slab_pool_page(e) : UINT64_MAX;
    if (p == UINT64_MAX) {
        set_state(e, MV_IDLE);      /* memcached: no spare page, no move */
    } else {
        m->pool_pages--;
        m->page = p;
        set_state(e, mover_word(MV_CARVE, 0, mover_dst(st)));
    }
    unlock_pages(w);
    return 1;
}

/* REQUESTED -> DRAIN: the first page of src is the one to empty. */
static int start_move(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    int src = mover_src(st);
    if (src < 0 || src > (int)e->r->nclasses ||
        mover_dst(st) > e->r->nclasses) {
        if (lock_pages(w) < 0)
            return -1;
        set_state(e, MV_IDLE);
        unlock_pages(w);
        return 1;
    }
    if (src == 0)
        return start_from_pool(w, st);
    if (lock_class(w, (unsigned)src) < 0)
        return -1;
    uint64_t p = e->classes[src].pages >= 2 ? first_page(e, (unsigned)src)
                                            : UINT64_MAX;
    if (lock_pages(w) < 0) {
        unlock_class(w, (unsigned)src);
        return -1;
    }
    if (p == UINT64_MAX) {
        set_state(e, MV_IDLE);      /* no spare page any more */
    } else {
        m->page = p;
        m->cursor = m->busy = 0;
        set_state(e, mover_word(MV_DRAIN, src, mover_dst(st)));
    }
    unlock_pages(w);
    unlock_class(w, (unsigned)src);
    return 1;
}

/* ---- emptying the page ------------------------------------------------- */

/* Takes item r (LINKED, class c, its stripe s held, link pointing at it)
 * off its chain and frees it, journaled as an eviction is. */
static void drop_item(struct engine_worker *w, struct class *c, ref_t r,
                      uint32_t s, ref_t *link)
{
    struct engine *e = w->e;
    journal_set(&w->s->j_evict, s, 0, r);
    __atomic_store_n(link, ITEM(e, r)->hnext, __ATOMIC_RELEASE);
    slab_free_locked(e, c, r);
    journal_clear(&w->s->j_evict);
}

/* Hands the chain of a rescued head from old to nr: nr takes it, every
 * chunk names nr as its head, old lets it go. */
static void hand_chain(struct engine *e, struct item *old, ref_t nr)
{
    struct item *n = ITEM(e, nr);
    item_set_chain(e, n, item_chain(e, old));
    for (ref_t x = item_chain(e, n); x != 0; x = ITEM(e, x)->next)
        ITEM(e, x)->prev = nr;
    item_set_chain(e, old, 0);
}

/* nr (popped from r's class's free list) becomes a copy of item r, owned
 * by w's slot (ALLOC) until it is switched in (mover.h). */
void mover_copy_item(struct engine_worker *w, ref_t r, ref_t nr)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r), *ni = ITEM(e, nr);
    __atomic_add_fetch(&w->s->allocs, 1, __ATOMIC_RELEASE);
    slot_live_add(w->s, nr);
    ni->prev = (ref_t)w->slot;
    ni->next = ni->hnext = 0;
    item_set_chain(e, ni, 0);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    item_set_state(ni, ST_ALLOC);
    ni->exptime = it->exptime;
    ni->atime = it->atime;
    ni->stime = it->stime;
    ni->nbytes = it->nbytes;
    ni->cas = it->cas;
    ni->nkey = it->nkey;
    ni->iflags = it->iflags;
    /* flags, key and value: a chained head's whole room */
    size_t n = item_chain(e, it) ? item_head_room(e, it)
                                 : (size_t)it->nkey + it->nbytes;
    memcpy(ni + 1, it + 1, item_cflags_len(it) + n);
}

/* Rescues item r (LINKED, its stripe s held, link pointing at it) into nr:
 * keyop_switch_locked()'s steps, journaled the same way; nr takes r's
 * place on the LRU, and r stays with the mover. */
static void switch_item(struct engine_worker *w, struct class *c, ref_t r,
                        ref_t nr, uint32_t s, ref_t *link)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    struct item *it = ITEM(e, r), *ni = ITEM(e, nr);
    mover_copy_item(w, r, nr);
    int chained = item_chain(e, it) != 0;
    if (chained) {
        m->rescue_old = r;
        m->rescue_new = nr;
    }
    journal_set(&w->s->j_evict, s, nr, r);
    hash_replace(e, link, r, nr);
    if (chained)
        hand_chain(e, it, nr);
    /* LINKED in r's LRU segment, ACTIVE as r was */
    ni->st = (uint8_t)((it->st & ~ST_MASK) | ST_LINKED);
    lru_replace_locked(e, c, r, nr);
    slot_live_del(w->s, nr);
    __atomic_sub_fetch(&w->s->allocs, 1, __ATOMIC_RELEASE);
    item_set_state(it, ST_FREE);
    it->iflags = IF_MOVING;             /* on the page: the mover's now */
    m->rescue_old = m->rescue_new = 0;
    journal_clear(&w->s->j_evict);
}

/* Rescues (or drops, or evicts) LINKED item r of class id; the caller
 * needs r's chunk (or, for a chained item, one of its chunks) emptied.
 * *units grows by the bytes copied. */
static enum visit move_item(struct engine_worker *w, unsigned id, ref_t r,
                            unsigned *units)
{
    struct engine *e = w->e;
    struct class *c = &e->classes[id];
    struct item *it = ITEM(e, r);
    uint64_t hv = hash_key(item_key(it), it->nkey);
    uint32_t s = hash_stripe(e, hv);
    ref_t *link;
    if (try_stripe(w, s) != 0)
        return V_BUSY;
    uint32_t b = hash_bucket(e, hv);    /* stable once the stripe is held */
    if (hash_find(e, b, item_key(it), it->nkey, &link) != r) {
        unlock_stripe(w, s);            /* not on its chain: never here */
        return V_BUSY;
    }
    if (item_dead(e, it, (uint32_t)e->clock(e->clock_arg))) {
        drop_item(w, c, r, s, link);
    } else {
        ref_t nr = slab_pop_free_locked(e, id);
        if (nr == 0) {
            drop_item(w, c, r, s, link);
            count(&e->r->mover.evictions_nomem);
        } else {
            switch_item(w, c, r, nr, s, link);
            count(&e->r->mover.rescues);
            *units += (item_chain(e, ITEM(e, nr)) ? c->size
                                                  : item_size(it)) / COPY_UNIT;
        }
    }
    unlock_stripe(w, s);
    return V_DONE;
}

/* The link that points at CHAIN chunk x from its head h, or NULL when h
 * does not reach x (a back reference a repair has not fixed yet). */
static ref_t *chain_link(struct engine *e, unsigned id, ref_t h, ref_t x)
{
    if (slab_chunk_class(e, h) != id)
        return NULL;
    struct item *hi = ITEM(e, h);
    if (item_state(hi) != ST_LINKED && item_state(hi) != ST_ALLOC)
        return NULL;
    uint64_t limit = e->r->npages * e->classes[id].perpage;
    ref_t *link = item_chainp(e, hi);
    if (link == NULL)
        return NULL;
    for (uint64_t n = 0; *link != 0 && n < limit; n++) {
        if (*link == x)
            return link;
        link = &ITEM(e, *link)->next;
    }
    return NULL;
}

/* Copies CHAIN chunk x into nr and puts nr in its place (one store). */
static void switch_chunk(struct engine *e, ref_t x, ref_t nr, ref_t *link)
{
    struct item *xi = ITEM(e, x), *ni = ITEM(e, nr);
    item_set_state(ni, ST_CHAIN);
    ni->prev = xi->prev;
    ni->next = xi->next;
    ni->nkey = 0;
    ni->iflags = 0;
    memcpy(ni + 1, xi + 1, item_chunk_room(e, xi));
    __atomic_store_n(link, nr, __ATOMIC_RELEASE);
    item_set_state(xi, ST_FREE);
    xi->prev = xi->next = 0;
    xi->iflags = IF_MOVING;
}

/* A CHAIN chunk x of class id on the page: its head is locked as an item
 * is; x is copied into a free chunk of the class, or its item dropped. */
static enum visit move_chunk(struct engine_worker *w, unsigned id, ref_t x,
                             unsigned *units)
{
    struct engine *e = w->e;
    struct class *c = &e->classes[id];
    ref_t h = ITEM(e, x)->prev;
    ref_t *link = chain_link(e, id, h, x);
    if (link == NULL) {
        /* only after a repair that has not run: run it (it rebuilds the
         * class from the chunk states and fixes every back reference) */
        slab_repair_class(w, id, -1);
        return V_BUSY;
    }
    struct item *hi = ITEM(e, h);
    if (item_state(hi) == ST_ALLOC)
        return V_BUSY;                  /* a worker is filling the value */
    uint64_t hv = hash_key(item_key(hi), hi->nkey);
    uint32_t s = hash_stripe(e, hv);
    ref_t *hlink;
    if (try_stripe(w, s) != 0)
        return V_BUSY;
    uint32_t b = hash_bucket(e, hv);
    if (hash_find(e, b, item_key(hi), hi->nkey, &hlink) != h) {
        unlock_stripe(w, s);
        return V_BUSY;
    }
    int dead = item_dead(e, hi, (uint32_t)e->clock(e->clock_arg));
    ref_t nr = dead ? 0 : slab_pop_free_locked(e, id);
    if (nr != 0) {
        switch_chunk(e, x, nr, link);
        count(&e->r->mover.chunk_rescues);
        *units += c->size / COPY_UNIT;
    } else {
        if (!dead)
            count(&e->r->mover.evictions_nomem);
        drop_item(w, c, h, s, hlink);
    }
    unlock_stripe(w, s);
    return V_DONE;
}

/* One chunk of the page, class lock held. */
static enum visit visit(struct engine_worker *w, unsigned id, ref_t r,
                        unsigned *units)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    switch (item_state(it)) {
    case ST_FREE:
        if (!(it->iflags & IF_MOVING)) {
            slab_unlink_free_locked(e, &e->classes[id], r);
            it->iflags = IF_MOVING;
        }
        return V_DONE;
    case ST_LINKED:
        return move_item(w, id, r, units);
    case ST_CHAIN:
        return move_chunk(w, id, r, units);
    default:
        return V_BUSY;                  /* ALLOC: a worker's, for now */
    }
}

/* Is every chunk of the page the mover's? Class lock held. */
static int page_empty(const struct engine *e, const struct class *c,
                      uint64_t p)
{
    for (uint32_t i = 0; i < c->perpage; i++) {
        const struct item *it = chunk_of(e, p, i, c->size);
        if (item_state(it) != ST_FREE || !(it->iflags & IF_MOVING))
            return 0;
    }
    return 1;
}

/* DRAIN -> CARVE (or IDLE, to the pool): the page leaves class src.
 * Holding src's lock. */
static int release_page(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    unsigned src = (unsigned)mover_src(st), dst = mover_dst(st);
    if (lock_pages(w) < 0)
        return -1;
    e->page_class[m->page] = 0;
    e->classes[src].pages--;
    if (dst == 0) {
        m->pool_pages++;
        count(&m->moved);
        set_state(e, MV_IDLE);
    } else {
        set_state(e, mover_word(MV_CARVE, (int)src, dst));
    }
    unlock_pages(w);
    return 1;
}

/* Ends a pass over the page: releases it when nothing was busy and every
 * chunk is the mover's, else starts another pass. Returns 1 released, 0
 * to come back later (busy chunks), -1. */
static int end_pass(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    const struct class *c = &e->classes[mover_src(st)];
    uint32_t busy = m->busy;
    m->cursor = m->busy = 0;
    if (busy == 0 && page_empty(e, c, m->page))
        return release_page(w, st);
    __atomic_add_fetch(&m->busy_items, busy, __ATOMIC_RELAXED);
    return 0;
}

/* One hold of the source class lock: up to HOLD_UNITS chunks of the page.
 * Returns 1 (progress), 0 (only busy chunks left for now), -1. */
static int drain(struct engine_worker *w, uint64_t st, unsigned *budget)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    unsigned src = (unsigned)mover_src(st);
    if (lock_class(w, src) < 0)
        return -1;
    if (load_state(e) != st) {          /* a repair moved it on */
        unlock_class(w, src);
        return 1;
    }
    const struct class *c = &e->classes[src];
    unsigned units = 0;
    int rc = 1;
    while (units < HOLD_UNITS && units < *budget) {
        if (m->cursor >= c->perpage) {
            rc = end_pass(w, st);
            break;
        }
        ref_t r = REF(e, chunk_of(e, m->page, m->cursor, c->size));
        m->busy += visit(w, src, r, &units) == V_BUSY;
        m->cursor++;
        units++;
    }
    unlock_class(w, src);
    *budget = *budget > units ? *budget - units : 0;
    return rc;
}

/* ---- the destination --------------------------------------------------- */

/* CARVE -> IDLE: the page is carved for dst. */
static int carve_dest(struct engine_worker *w, uint64_t st)
{
    struct engine *e = w->e;
    struct slab_mover *m = &e->r->mover;
    unsigned dst = mover_dst(st);
    if (lock_class(w, dst) < 0)
        return -1;
    if (lock_pages(w) < 0) {
        unlock_class(w, dst);
        return -1;
    }
    uint64_t p = m->page;
    int carve = load_state(e) == st && e->page_class[p] == 0;
    if (carve) {
        slab_page_init(e, dst, p);
        e->page_class[p] = (uint8_t)dst;
        count(&m->moved);
        set_state(e, MV_IDLE);
    }
    unlock_pages(w);
    if (carve)
        slab_page_free_all_locked(e, dst, p);
    unlock_class(w, dst);
    return 1;
}

/* While more pages are carved than the limit allows (cache_memlimit
 * lowered), pool pages go back to the system: memcached's
 * memory_release(). 0 or -1. */
static int give_back(struct engine_worker *w)
{
    struct engine *e = w->e;
    struct region *r = e->r;
    uint64_t limit = __atomic_load_n(&r->pages_limit, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&r->mover.pool_pages, __ATOMIC_RELAXED) == 0 ||
        __atomic_load_n(&r->pages_used, __ATOMIC_RELAXED) -
        __atomic_load_n(&r->mover.holes, __ATOMIC_RELAXED) <= limit)
        return 0;
    if (lock_pages(w) < 0)
        return -1;
    uint64_t p;
    while (r->pages_used - r->mover.holes > limit &&
           (p = slab_pool_page(e)) != UINT64_MAX) {
        e->page_class[p] = PAGE_NONE;
        r->mover.pool_pages--;
        r->mover.holes++;
        if (!e->file)           /* a memory file keeps its reserved space */
            madvise(e->base + r->off_pages + p * SLAB_PAGE_SIZE,
                    SLAB_PAGE_SIZE, MADV_REMOVE);
    }
    unlock_pages(w);
    return 0;
}

int engine_slab_mover(struct engine_worker *w, unsigned budget)
{
    struct engine *e = w->e;
    if (give_back(w) < 0)
        return -1;
    for (;;) {
        uint64_t st = load_state(e);
        int rc;
        switch (mover_phase(st)) {
        case MV_IDLE:
            return give_back(w) < 0 ? -1 : 0;
        case MV_REQUESTED:
            rc = start_move(w, st);
            break;
        case MV_DRAIN:
            rc = drain(w, st, &budget);
            break;
        default:
            rc = carve_dest(w, st);
            break;
        }
        if (rc <= 0)
            return rc < 0 ? -1 : 2;     /* busy chunks: come back later */
        if (budget == 0)
            return mover_phase(load_state(e)) != MV_IDLE;
    }
}

/* ---- repairs ----------------------------------------------------------- */

/* Is r on the hash chain of hash hv? Holding r's class lock only: r's
 * place on a chain changes only with it held, but a growth may be
 * splitting hv's bucket meanwhile (under its stripe), so r may be in the
 * bucket of either numbering (hashtab.h); both chains are well formed. */
static int on_a_chain(struct engine *e, uint64_t hv, ref_t r)
{
    uint64_t st = hash_state(e);
    unsigned p = hs_power(st);
    uint32_t hi = (uint32_t)(hv & ((1ull << p) - 1));
    uint32_t lo = p > 0 ? (uint32_t)(hv & ((1ull << (p - 1)) - 1)) : hi;
    return hash_contains(e, lo, r) || (hi != lo && hash_contains(e, hi, r));
}

void mover_repair_rescue(struct engine *e, unsigned id)
{
    struct slab_mover *m = &e->r->mover;
    ref_t old = m->rescue_old, nr = m->rescue_new;
    if (old == 0 || nr == 0 || slab_chunk_class(e, old) != id ||
        slab_chunk_class(e, nr) != id) {
        m->rescue_old = m->rescue_new = 0;
        return;
    }
    struct item *o = ITEM(e, old), *n = ITEM(e, nr);
    if (on_a_chain(e, hash_key(item_key(n), n->nkey), nr)) {
        if (item_chain(e, n) == 0)      /* switched: the chain is nr's */
            item_set_chain(e, n, item_chain(e, o));
        item_set_chain(e, o, 0);
    } else {
        item_set_chain(e, n, 0);        /* not switched: it stays old's */
    }
    m->rescue_old = m->rescue_new = 0;
}

void mover_repair_pages(struct engine *e)
{
    struct region *r = e->r;
    struct slab_mover *m = &r->mover;
    uint64_t st = load_state(e);
    unsigned phase = mover_phase(st);
    if (phase == MV_DRAIN && e->page_class[m->page] == 0)
        set_state(e, mover_dst(st) ? mover_word(MV_CARVE, mover_src(st),
                                                 mover_dst(st))
                                   : MV_IDLE);      /* it was released */
    else if (phase == MV_CARVE &&
             e->page_class[m->page] == (uint8_t)mover_dst(st))
        set_state(e, MV_IDLE);                      /* it was carved */
    st = load_state(e);
    uint64_t pool = 0, holes = 0;
    for (uint64_t p = 0; p < r->pages_used; p++) {
        pool += e->page_class[p] == 0;
        holes += e->page_class[p] == PAGE_NONE;
    }
    if (mover_phase(st) == MV_CARVE && pool > 0)
        pool--;                                     /* the one in transit */
    m->pool_pages = pool;
    m->holes = holes;
}
