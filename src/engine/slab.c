/*
 * slab.c - slab classes, chunk allocation, eviction in LRU order.
 *
 * Design (see slab.h): fixed 1 MiB pages carved per class on demand; a free
 * list per class, singly linked through the chunk headers with refs, and
 * the eviction order kept by lru.c; item state in the header is what crash
 * repair trusts (slab_repair.c rebuilds the lists from it).
 *
 * Invariants kept under the class lock:
 *   - a FREE chunk is on the free list, a LINKED item on the LRU (being on
 *     the LRU is the state, not a flag: nothing here writes item.iflags of
 *     an item, which its stripe owns);
 *   - state changes happen before list changes on the way out (free: state
 *     FREE first, then push) and chain links are written after the chunk is
 *     marked CHAIN, so a crash leaves only chunks whose state says where they
 *     belong;
 *   - slot.allocs of the owner is raised before a chunk becomes ALLOC and
 *     lowered after it stops being ALLOC: it is an upper bound at all times.
 */
#include "engine/slab.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "engine/hashtab.h"
#include "engine/item.h"
#include "engine/lock.h"
#include "engine/lru.h"

static inline uint32_t align8(double v)
{
    uint32_t x = (uint32_t)v;
    return (x + 7u) & ~7u;
}

unsigned slab_classes_init(struct region *r, struct class *classes)
{
    const struct engine_config *cfg = &r->cfg;
    uint32_t max = (uint32_t)cfg->slab_chunk_max;
    const unsigned *list = cfg->slab_sizes[0] ? cfg->slab_sizes : NULL;
    uint32_t size = align8(ITEM_HDR_MC + cfg->min_chunk);
    unsigned id = 1;

    /* memcached's classes: the sizes listed (-o slab_sizes), or from the
     * first by the factor while below slab_chunk_max / factor; then
     * slab_chunk_max itself, the class of chained items */
    while (id < ENGINE_MAX_CLASSES - 1) {
        if (list != NULL) {
            if (list[id - 1] == 0)
                break;
            size = align8(list[id - 1]);
        } else if (size > max / cfg->factor) {
            break;
        }
        classes[id].size = size;
        classes[id].perpage = SLAB_PAGE_SIZE / size;
        id++;
        if (list == NULL) {
            uint32_t next = align8(size * cfg->factor);
            size = next > size ? next : size + 8;
        }
    }
    classes[id].size = max;
    classes[id].perpage = SLAB_PAGE_SIZE / max;
    r->nclasses = id;
    r->big = id;
    return id;
}

unsigned slab_class_for(const struct engine *e, size_t total)
{
    unsigned lo = 1, hi = e->r->big;
    if (total >= e->classes[hi].size)
        return hi;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (e->classes[mid].size >= total)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Is r the start of a chunk of a carved page? Returns its class or 0. */
unsigned slab_chunk_class(const struct engine *e, ref_t r)
{
    const struct region *rg = e->r;
    uint64_t off = (uint64_t)r << 3;
    if (r == 0 || off < rg->off_pages)
        return 0;
    uint64_t p = (off - rg->off_pages) / SLAB_PAGE_SIZE;
    uint64_t used = __atomic_load_n(&rg->pages_used, __ATOMIC_ACQUIRE);
    if (p >= used)
        return 0;
    unsigned id = e->page_class[p];
    if (id == PAGE_NONE || id == 0 || id > rg->nclasses)
        return 0;
    uint64_t in = (off - rg->off_pages) % SLAB_PAGE_SIZE;
    const struct class *c = &e->classes[id];
    if (in % c->size != 0 || in / c->size >= c->perpage)
        return 0;
    return id;
}

/* ---- lists ----------------------------------------------------------- */

/* The free list is doubly linked (prev, next), so the slab mover can take
 * any chunk of the page it empties off it at once. */
static void push_free(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    it->iflags = 0;
    it->prev = 0;
    it->next = c->free_head;
    if (c->free_head)
        ITEM(e, c->free_head)->prev = r;
    c->free_head = r;
    c->free_count++;
}

void slab_unlink_free_locked(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    if (it->prev)
        ITEM(e, it->prev)->next = it->next;
    else
        c->free_head = it->next;
    if (it->next)
        ITEM(e, it->next)->prev = it->prev;
    it->prev = it->next = 0;
    c->free_count--;
}

/* The mover holds r (a FREE chunk off every list, of the page it empties). */
static void claim(struct engine *e, ref_t r)
{
    ITEM(e, r)->iflags = IF_MOVING;
}

ref_t slab_pop_free_locked(struct engine *e, unsigned id)
{
    struct class *c = &e->classes[id];
    for (;;) {
        ref_t r = c->free_head;
        if (r == 0)
            return 0;
        slab_unlink_free_locked(e, c, r);
        if (!slab_draining(e, id, r))
            return r;
        claim(e, r);            /* of the page being emptied: kept there */
        __atomic_add_fetch(&e->r->mover.inline_reclaim, 1, __ATOMIC_RELAXED);
    }
}

/* A chunk whose state just became FREE: onto the free list, or kept by
 * the mover when it lies on the page being emptied. */
static void release_chunk(struct engine *e, struct class *c, unsigned id,
                          ref_t r)
{
    if (slab_draining(e, id, r))
        claim(e, r);
    else
        push_free(e, c, r);
}

void slab_free_locked(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    unsigned id = (unsigned)(c - e->classes);
    if (item_state(it) == ST_LINKED) {
        lru_unlink_locked(e, c, r);
        c->curr_items--;
        c->requested -= item_size(it);
    }
    ref_t ch = item_chain(e, it);
    item_set_state(it, ST_FREE);
    item_set_chain(e, it, 0);
    it->iflags = 0;
    release_chunk(e, c, id, r);
    while (ch) {
        struct item *x = ITEM(e, ch);
        ref_t nx = x->next;
        item_set_state(x, ST_FREE);
        release_chunk(e, c, id, ch);
        ch = nx;
    }
}

/* ---- carving and eviction -------------------------------------------- */

void slab_page_init(struct engine *e, unsigned id, uint64_t p)
{
    const struct class *c = &e->classes[id];
    char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
    for (uint32_t i = 0; i < c->perpage; i++) {
        struct item *it = (struct item *)(page + (size_t)i * c->size);
        memset(it, 0, ITEM_HDR);
        it->clsid = (uint8_t)id;
    }
}

void slab_page_free_all_locked(struct engine *e, unsigned id, uint64_t p)
{
    struct class *c = &e->classes[id];
    char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
    c->pages++;
    for (uint32_t i = c->perpage; i-- > 0;)
        push_free(e, c, REF(e, page + (size_t)i * c->size));
}

/* The first page equal to byte v below pages_used, other than `skip`;
 * UINT64_MAX if none. Holding the pages lock. */
static uint64_t find_page(const struct engine *e, uint8_t v, uint64_t skip)
{
    uint64_t used = e->r->pages_used;
    for (uint64_t from = 0; from < used;) {
        const uint8_t *q = memchr(e->page_class + from, v, used - from);
        if (q == NULL)
            return UINT64_MAX;
        uint64_t p = (uint64_t)(q - e->page_class);
        if (p != skip)
            return p;
        from = p + 1;
    }
    return UINT64_MAX;
}

uint64_t slab_pool_page(const struct engine *e)
{
    uint64_t st = __atomic_load_n(&e->r->mover.state, __ATOMIC_ACQUIRE);
    uint64_t skip = mover_phase(st) == MV_CARVE ? e->r->mover.page
                                                : UINT64_MAX;
    return e->r->mover.pool_pages ? find_page(e, 0, skip) : UINT64_MAX;
}

/* Which page class id may have now, holding the pages lock: a page of
 * the global pool first (memcached takes those whatever the limit), then,
 * within the memory limit (a class may always have its first page, as in
 * memcached), a page given back to the system earlier or a new one.
 * UINT64_MAX if none. */
static uint64_t page_for(const struct engine *e, const struct class *c)
{
    const struct region *r = e->r;
    uint64_t p = slab_pool_page(e);
    if (p != UINT64_MAX)
        return p;
    uint64_t limit = __atomic_load_n(&r->pages_limit, __ATOMIC_ACQUIRE);
    if (r->pages_used - r->mover.holes >= limit && c->pages != 0)
        return UINT64_MAX;
    if (r->mover.holes && (p = find_page(e, PAGE_NONE, UINT64_MAX)) !=
                          UINT64_MAX)
        return p;
    return r->pages_used < r->npages ? r->pages_used : UINT64_MAX;
}

int slab_carve_locked(struct engine_worker *w, unsigned id)
{
    struct engine *e = w->e;
    struct region *r = e->r;

    if (lock_pages(w) < 0)
        return -1;
    uint64_t p = page_for(e, &e->classes[id]);
    if (p != UINT64_MAX) {
        uint8_t was = e->page_class[p];
        slab_page_init(e, id, p);
        e->page_class[p] = (uint8_t)id;
        if (p == r->pages_used)
            __atomic_store_n(&r->pages_used, p + 1, __ATOMIC_RELEASE);
        else if (was == 0)
            r->mover.pool_pages--;
        else
            r->mover.holes--;
    }
    unlock_pages(w);
    if (p == UINT64_MAX)
        return -1;
    slab_page_free_all_locked(e, id, p);
    return 0;
}

/* Why an item leaves its LRU without being asked to: which counters. */
/* engine_on_evict's hook, before the victim's chunk is freed. */
static void tell_eviction(struct engine *e, struct item *it, uint32_t now)
{
    struct engine_evicted ev = {
        .key = item_key(it), .nkey = it->nkey,
        .fetched = (it->iflags & IF_FETCHED) != 0,
        .ttl = it->exptime ? (int64_t)it->exptime - (int64_t)now : -1,
        .last_access = now > it->atime ? now - it->atime : 0,
        .clsid = it->clsid, .nbytes = it->nbytes,
    };
    e->on_evict(e->on_evict_arg, &ev);
}

void engine_on_evict(struct engine *e,
                     void (*fn)(void *arg, const struct engine_evicted *ev),
                     void *arg)
{
    e->on_evict_arg = arg;
    e->on_evict = fn;
}

int slab_drop_locked(struct engine_worker *w, struct class *c, ref_t r,
                     uint32_t now, enum slab_victim why)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    uint64_t hv = hash_key(item_key(it), it->nkey);
    uint32_t s = hash_stripe(e, hv);
    if (try_stripe(w, s) != 0)
        return -1;
    uint32_t b = hash_bucket(e, hv);    /* stable once the stripe is held */
    journal_set(&w->s->j_evict, s, 0, r);
    hash_unlink(e, b, r);
    int unfetched = !(it->iflags & IF_FETCHED);
    if (why == V_EVICT) {
        c->evicted++;
        if (it->exptime != 0)
            c->evicted_nonzero++;
        c->evicted_time = now - it->atime;
        c->evicted_unfetched += (uint64_t)unfetched;
        c->evicted_active += (it->st & ST_ACTIVE) != 0;
        if (e->on_evict)
            tell_eviction(e, it, now);
    } else {
        c->expired_unfetched += (uint64_t)unfetched;
        if (why == V_RECLAIM)
            c->reclaimed++;
        else
            c->crawler_reclaimed++;
    }
    slab_free_locked(e, c, r);
    journal_clear(&w->s->j_evict);
    unlock_stripe(w, s);
    return 0;
}

/* Frees one item from COLD's tail of class id (the only order in flat
 * mode): an expired or flushed one is reclaimed, else the tail is evicted
 * (not with -M). When COLD has nothing to give, segmented, HOT's tail (else
 * WARM's) is pulled into COLD and COLD tried again, as memcached's direct
 * reclaim; TEMP is never evicted. 0 if a chunk was freed. */
static int evict_locked(struct engine_worker *w, unsigned id, uint32_t now)
{
    struct engine *e = w->e;
    struct class *c = &e->classes[id];
    for (int round = 0; round < 10; round++) {
        int tries = 5;
        for (ref_t r = lru_oldest(c, LRU_COLD); r != 0 && tries-- > 0;
             r = lru_newer(e, r)) {
            int dead = item_dead(e, ITEM(e, r), now);
            if (!dead && !e->r->cfg.evict)
                continue;
            if (slab_drop_locked(w, c, r, now,
                                 dead ? V_RECLAIM : V_EVICT) != 0)
                continue;
            c->direct_reclaims += (uint64_t)round;
            /* memcached's slab_automove=2: a page for every eviction */
            if (!dead && __atomic_load_n(&e->r->mover.automove,
                                         __ATOMIC_RELAXED) == 2)
                slab_request_move(e, -1, id);
            return 0;
        }
        if (!lru_pull_to_cold_locked(e, c))
            break;
    }
    return -1;
}

/* Flat LRU (memcached's, without the maintainer): an allocation first
 * reclaims the expired or flushed items at COLD's tail, up to a few. */
static void reclaim_tail_locked(struct engine_worker *w, struct class *c,
                                uint32_t now)
{
    struct engine *e = w->e;
    for (int tries = 5; tries > 0; tries--) {
        ref_t r = lru_oldest(c, LRU_COLD);
        if (r == 0 || !item_dead(e, ITEM(e, r), now) ||
            slab_drop_locked(w, c, r, now, V_RECLAIM) < 0)
            return;
    }
}

static ref_t alloc_chunk_locked(struct engine_worker *w, unsigned id,
                                uint32_t now)
{
    struct class *c = &w->e->classes[id];
    if (!__atomic_load_n(&w->e->r->lru.segmented, __ATOMIC_ACQUIRE))
        reclaim_tail_locked(w, c, now);
    for (;;) {
        ref_t r = slab_pop_free_locked(w->e, id);
        if (r)
            return r;
        if (slab_carve_locked(w, id) == 0)
            continue;
        if (evict_locked(w, id, now) == 0)
            continue;
        c->outofmemory++;
        return 0;
    }
}

/* When class c is about to need a new page, faults the next page of the
 * region in with one call, before any lock is taken: shared memory faulted
 * 4 KiB at a time as values land costs about a third more, and would be
 * paid under the class lock during carving. Racy reads are fine: at worst
 * a page is populated that another class carves, or one too early. */
static void prefault_next(struct engine *e, const struct class *c)
{
    const struct region *r = e->r;
    if (__atomic_load_n(&c->free_head, __ATOMIC_RELAXED) != 0)
        return;
    uint64_t p = __atomic_load_n(&r->pages_used, __ATOMIC_RELAXED);
    if (p >= r->npages || p >= __atomic_load_n(&r->pages_limit,
                                               __ATOMIC_RELAXED))
        return;
    madvise(e->base + r->off_pages + p * SLAB_PAGE_SIZE, SLAB_PAGE_SIZE,
            MADV_POPULATE_WRITE);
}

/* (slab.h) The chain link is zeroed before the state says ALLOC: a repair
 * walks the chains of ALLOC heads, and a chunk's last bytes may hold
 * anything its last use left there. */
void slab_alloc_init_locked(struct engine_worker *w, ref_t r, size_t nkey,
                            size_t nbytes, uint32_t flags)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    __atomic_add_fetch(&w->s->allocs, 1, __ATOMIC_RELEASE);
    slot_live_add(w->s, r);
    it->prev = (ref_t)w->slot;
    it->next = it->hnext = 0;
    item_set_chain(e, it, 0);
    it->iflags = flags ? IF_CFLAGS : 0;
    if (flags)
        memcpy(it + 1, &flags, sizeof flags);
    it->nkey = (uint8_t)nkey;
    it->nbytes = (uint32_t)nbytes;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    item_set_state(it, ST_ALLOC);
}

/* Chains CHAIN chunks to ALLOC head r until its value fits; -1 when the
 * class runs out (the chunks taken so far stay on r's chain). */
static int alloc_chain_locked(struct engine_worker *w, ref_t r,
                              uint32_t now)
{
    struct engine *e = w->e;
    struct item *it = ITEM(e, r);
    size_t have = item_head_room(e, it) - it->nkey;
    ref_t *tailp = item_chainp(e, it);
    while (have < it->nbytes) {
        ref_t x = alloc_chunk_locked(w, it->clsid, now);
        if (x == 0)
            return -1;
        struct item *xi = ITEM(e, x);
        xi->next = 0;
        xi->prev = r;                   /* the head */
        xi->nkey = 0;
        xi->iflags = 0;
        item_set_state(xi, ST_CHAIN);
        __atomic_store_n(tailp, x, __ATOMIC_RELEASE);
        tailp = &xi->next;
        have += item_chunk_room(e, xi);
    }
    return 0;
}

ref_t slab_alloc(struct engine_worker *w, size_t nkey, size_t nbytes,
                 uint32_t flags, uint32_t now, enum engine_status *st)
{
    struct engine *e = w->e;
    size_t total = ITEM_HDR + (flags ? sizeof flags : 0) + nkey + nbytes;
    unsigned id = slab_class_for(e, total);
    struct class *c = &e->classes[id];

    prefault_next(e, c);

    if (lock_class(w, id) < 0) {
        *st = ENGINE_ERROR;
        return 0;
    }
    ref_t r = alloc_chunk_locked(w, id, now);
    if (r == 0) {
        unlock_class(w, id);
        *st = ENGINE_NO_MEMORY;
        return 0;
    }
    slab_alloc_init_locked(w, r, nkey, nbytes, flags);
    if (id == e->r->big && alloc_chain_locked(w, r, now) < 0) {
        slab_free_locked(e, c, r);
        slot_live_del(w->s, r);
        __atomic_sub_fetch(&w->s->allocs, 1, __ATOMIC_RELEASE);
        unlock_class(w, id);
        *st = ENGINE_NO_MEMORY;
        return 0;
    }
    unlock_class(w, id);
    *st = ENGINE_OK;
    return r;
}

int slab_release(struct engine_worker *w, ref_t r)
{
    struct item *it = ITEM(w->e, r);
    unsigned id = it->clsid;
    int owner = (int)it->prev;
    if (lock_class(w, id) < 0)
        return -1;
    slab_free_locked(w->e, &w->e->classes[id], r);
    slot_live_del(&w->e->slots[owner], r);
    __atomic_sub_fetch(&w->e->slots[owner].allocs, 1, __ATOMIC_RELEASE);
    unlock_class(w, id);
    return 0;
}

void slab_link_locked(struct engine *e, ref_t r, uint32_t now)
{
    struct item *it = ITEM(e, r);
    struct class *c = &e->classes[it->clsid];
    int owner = (int)it->prev;
    it->atime = now;
    item_set_state(it, ST_LINKED);
    lru_link_new_locked(e, c, r, now);
    c->curr_items++;
    c->total_items++;
    c->requested += item_size(it);
    slot_live_del(&e->slots[owner], r);
    __atomic_sub_fetch(&e->slots[owner].allocs, 1, __ATOMIC_RELEASE);
}

/* ---- requests to the slab mover (mover.h) ---------------------------- */

/* memcached's "any class": the next class after the last one picked with
 * a page to spare, other than dst; -1 if none. */
static int pick_any(struct engine *e, int dst)
{
    int n = (int)e->r->nclasses;
    for (int tries = 0; tries < n; tries++) {
        int cur = (int)(__atomic_fetch_add(&e->r->mover.pick, 1,
                                           __ATOMIC_RELAXED) % (unsigned)n) + 1;
        if (cur != dst &&
            __atomic_load_n(&e->classes[cur].pages, __ATOMIC_RELAXED) > 1)
            return cur;
    }
    return -1;
}

enum engine_reassign slab_request_move(struct engine *e, int src, int dst)
{
    struct slab_mover *m = &e->r->mover;
    int n = (int)e->r->nclasses;
    if (!__atomic_load_n(&m->reassign, __ATOMIC_ACQUIRE))
        return ENGINE_REASSIGN_DISABLED;
    if (mover_phase(__atomic_load_n(&m->state, __ATOMIC_ACQUIRE)) != MV_IDLE)
        return ENGINE_REASSIGN_RUNNING;
    if (src == dst)
        return ENGINE_REASSIGN_SAME;
    if (src == -1)
        src = pick_any(e, dst);
    if (src < 0 || src > n || dst < 0 || dst > n)
        return ENGINE_REASSIGN_BADCLASS;
    uint64_t pages = src == 0
        ? __atomic_load_n(&m->pool_pages, __ATOMIC_RELAXED)
        : __atomic_load_n(&e->classes[src].pages, __ATOMIC_RELAXED);
    if (pages < 2)
        return ENGINE_REASSIGN_NOSPARE;
    uint64_t idle = MV_IDLE;
    if (!__atomic_compare_exchange_n(&m->state, &idle,
                                     mover_word(MV_REQUESTED, src,
                                                (unsigned)dst), 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return ENGINE_REASSIGN_RUNNING;
    return ENGINE_REASSIGN_OK;
}
