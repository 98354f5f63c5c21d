/*
 * crashpoints.c - the engine's crash points (see crashpoints.h). Each
 * die() function does by hand, with the engine's internal functions and in
 * the engine's own order, the first half of an operation, and kills its
 * process at the worst instruction: holding the locks, lists or chains half
 * changed.
 */
#include "crashpoints.h"
#include "growrig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/mover.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "engine/item.h"

static void die(void)
{
    raise(SIGKILL);
}

static void expect_value(struct fixture *f, const char *key, const char *want)
{
    char buf[64];
    if (fx_get(f, key, buf, sizeof(buf), NULL, NULL) != ENGINE_OK)
        strcpy(buf, "<missing>");
    CU_ASSERT_STRING_EQUAL(buf, want);
}

static void expect_items(struct fixture *f, uint64_t n)
{
    struct engine_stats st;
    engine_stats(f->e, &st);
    CU_ASSERT_EQUAL(st.curr_items, n);
}

/* -- a set replaced the chain entry and died before linking the item -- */
static void switch_setup(struct fixture *f)
{
    fx_store(f, ENGINE_SET, "key", "old", 0, 0);
}

static void switch_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    enum engine_status st;
    ref_t nr = slab_alloc(w, 3, 3, 0, (uint32_t)f->now, &st);
    struct item *it = ITEM(e, nr);
    memcpy(item_key(it), "key", 3);
    memcpy(item_data(it), "new", 3);
    uint32_t b = hash_bucket(e, hash_key("key", 3));
    uint32_t s = hash_stripe(e, b);
    lock_stripe(w, s);
    lock_class(w, it->clsid);
    ref_t *link;
    ref_t old = hash_find(e, b, "key", 3, &link);
    journal_set(&w->s->j_op, s, nr, old);
    hash_replace(e, link, old, nr);
    die();
}

static void switch_verify(struct fixture *f)
{
    expect_value(f, "key", "new");
    expect_items(f, 1);
}

/* -- a delete took the item off its chain, died half way off the LRU -- */
static void delete_setup(struct fixture *f)
{
    fx_store(f, ENGINE_SET, "a", "1", 0, 0);
    fx_store(f, ENGINE_SET, "gone", "2", 0, 0);
    fx_store(f, ENGINE_SET, "b", "3", 0, 0);
}

static void delete_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    uint32_t b = hash_bucket(e, hash_key("gone", 4));
    uint32_t s = hash_stripe(e, b);
    lock_stripe(w, s);
    ref_t *link;
    ref_t r = hash_find(e, b, "gone", 4, &link);
    struct item *it = ITEM(e, r);
    lock_class(w, it->clsid);
    journal_set(&w->s->j_op, s, 0, r);
    *link = it->hnext;
    struct class *c = &e->classes[it->clsid];
    if (it->prev)
        ITEM(e, it->prev)->next = it->next;
    else
        c->lru[lru_seg(it)].head = it->next;
    die();
}

static void delete_verify(struct fixture *f)
{
    CU_ASSERT_FALSE(fx_has(f, "gone"));
    expect_value(f, "a", "1");
    expect_value(f, "b", "3");
    expect_items(f, 2);
}

/* -- values half received: allocated items never stored -- */
static void pending(struct engine_worker *w, int n)
{
    struct engine_alloc a;
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "pending%d", i);
        engine_alloc(w, key, strlen(key), 0, 0, 1000, &a);
        engine_alloc_write(w, &a, "partial", 7);
    }
    engine_alloc(w, "large", 5, 0, 0, 900 * 1024, &a);    /* chained */
}

static void alloc_die(struct fixture *f, struct engine_worker *w)
{
    (void)f;
    pending(w, 100);
    die();
}

/* more than a slot's live set holds: the reap must scan the pages */
static void alloc_many_die(struct fixture *f, struct engine_worker *w)
{
    (void)f;
    pending(w, (int)SLOT_LIVE_MAX + 100);
    die();
}

static void alloc_verify(struct fixture *f)
{
    struct engine_class_stats cs;
    for (unsigned id = 1; id <= engine_class_count(f->e); id++) {
        engine_class_stats(f->e, id, &cs);
        CU_ASSERT_EQUAL(cs.used_chunks, 0);
    }
    CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, "after", "alloc", 0, 0),
                    ENGINE_STORED);
}

/* -- carving a page, holding the class and pages locks -- */
static void carve_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = slab_class_for(e, 200);
    lock_class(w, id);
    lock_pages(w);
    uint64_t p = e->r->pages_used;
    char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
    memset(page, 0, 4096);
    e->page_class[p] = (uint8_t)id;   /* pages_used not yet advanced */
    die();
}

static void carve_verify(struct fixture *f)
{
    CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, "after", "carve", 0, 0),
                    ENGINE_STORED);
    expect_value(f, "after", "carve");
}

/* -- an eviction took its victim off the chain, died before freeing -- */
static void evict_setup(struct fixture *f)
{
    char key[16], val[901];
    memset(val, 'v', 900);
    val[900] = '\0';
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "e%05d", i);
        fx_store(f, ENGINE_SET, key, val, 0, 0);
    }
}

static void evict_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = slab_class_for(e, ITEM_HDR + 6 + 900);
    lock_class(w, id);
    ref_t r = e->classes[id].lru[LRU_HOT].tail;   /* new items: HOT */
    struct item *it = ITEM(e, r);
    uint32_t b = hash_bucket(e, hash_key(item_key(it), it->nkey));
    uint32_t s = hash_stripe(e, b);
    try_stripe(w, s);
    journal_set(&w->s->j_evict, s, 0, r);
    hash_unlink(e, b, r);
    item_set_state(it, ST_FREE);   /* first step of slab_free_locked */
    die();
}

static void evict_verify(struct fixture *f)
{
    CU_ASSERT_FALSE(fx_has(f, "e00000"));   /* the victim, oldest */
    CU_ASSERT_TRUE(fx_has(f, "e00001"));
    expect_items(f, 99);
}

/* -- a class repair, itself killed half way through its rebuild -- */
static void repair_setup(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "r%03d", i);
        fx_store(f, ENGINE_SET, key, "kept", 0, 0);
    }
}

static void repair_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = slab_class_for(e, ITEM_HDR + 8);
    struct class *c = &e->classes[id];
    lock_class(w, id);
    c->lock.dirty = 1;                  /* as an earlier death left it */
    c->free_head = 0;                   /* rebuild begun */
    memset(c->lru, 0, sizeof(c->lru));
    c->free_count = c->curr_items = c->requested = 0;
    die();
}

static void repair_verify(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "r%03d", i);
        expect_value(f, key, "kept");
    }
    expect_items(f, 50);
}

/* -- a bucket split of the hash table's growth (growrig.h) -- */

/* the doubling just started (the state word switched to the next power,
 * no bucket split yet): no lock was held, nothing is left to repair */
static void grow_start_die(struct fixture *f, struct engine_worker *w)
{
    (void)f;
    engine_hash_grow(w, 0);
    die();
}

/* the second item to go is on both chains */
static void split_die(struct fixture *f, struct engine_worker *w)
{
    grow_split_prefix(f, grow_split_begin(f, w), 3);
    die();
}

/* the split is whole, the state word not yet stepped past it */
static void split_unstepped_die(struct fixture *f, struct engine_worker *w)
{
    uint64_t st = grow_split_begin(f, w);
    uint64_t half = 1ull << (hs_power(st) - 1);
    hash_split(f->e, (uint32_t)(hs_used(st) - half), (uint32_t)hs_used(st),
               half);
    die();
}

/* stepped too; only the record is left */
static void split_stepped_die(struct fixture *f, struct engine_worker *w)
{
    uint64_t st = grow_split_begin(f, w);
    uint64_t half = 1ull << (hs_power(st) - 1);
    hash_split(f->e, (uint32_t)(hs_used(st) - half), (uint32_t)hs_used(st),
               half);
    f->e->r->hash_state = hash_state_make(hs_power(st), hs_used(st) + 1);
    die();
}

/* the repair of a dead splitter, itself killed after its first step (the
 * image's chain cut where it entered the old one) */
static void split_repair_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    uint64_t st = grow_split_begin(f, w);
    grow_split_prefix(f, st, 3);
    e->stripes[hash_stripe(e, hs_used(st))].dirty = 1;  /* a death before */
    ref_t first = e->buckets[hs_used(st)];
    ITEM(e, first)->hnext = 0;
    die();
}

static void split_verify(struct fixture *f)
{
    CU_ASSERT_EQUAL(grow_missing(f), 0);
    CU_ASSERT_EQUAL(grow_items(f), GROW_ITEMS + GROW_MIX);
    grow_finish(f);
    fx_check(f);
    CU_ASSERT_EQUAL(hs_power(f->e->r->hash_state), GROW_POWER + 1);
    CU_ASSERT_FALSE(hs_growing(f->e->r->hash_state));
    CU_ASSERT_EQUAL(grow_missing(f), 0);
    CU_ASSERT_EQUAL(grow_items(f), GROW_ITEMS + GROW_MIX);
}

/* -- the LRU maintenance moving HOT's tail to COLD, killed between the
 * unlink and the link (the item's bits already say COLD) -- */
static void lru_move_setup(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "m%03d", i);
        fx_store(f, ENGINE_SET, key, "moving", 0, 0);
    }
}

static void lru_move_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = slab_class_for(e, ITEM_HDR + 4 + 6);
    struct class *c = &e->classes[id];
    lock_class(w, id);
    ref_t r = c->lru[LRU_HOT].tail;             /* m000, the oldest */
    lru_unlink_locked(e, c, r);                 /* first half of a move */
    struct item *it = ITEM(e, r);
    it->st = (uint8_t)((it->st & ST_MASK) | (LRU_COLD << ST_SEG_SHIFT));
    die();
}

static void lru_move_verify(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "m%03d", i);
        expect_value(f, key, "moving");
    }
    unsigned id = slab_class_for(f->e, ITEM_HDR + 4 + 6);
    struct engine_class_stats cs;
    engine_class_stats(f->e, id, &cs);
    CU_ASSERT_EQUAL(cs.number_cold, 1);         /* where its bits said */
    CU_ASSERT_EQUAL(cs.number_hot, 19);
}

/* ---- the slab mover (mover.h) ---------------------------------------- */

/* Values that say which key they belong to, at any length. */
static void mv_value(char *v, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        v[i] = i < kl ? key[i] : (char)('a' + (i * 7 + kl) % 26);
}

static void mv_put(struct fixture *f, const char *key, size_t n)
{
    char *v = malloc(n);
    mv_value(v, n, key);
    engine_store(f->w, ENGINE_SET, key, strlen(key), 0, 0, v, n, 0, NULL);
    free(v);
}

struct mv_check {
    const char *key;
    size_t n;
    int ok;
};

static void mv_cb(void *arg, const struct engine_item_info *info)
{
    struct mv_check *c = arg;
    char *got = malloc(c->n), *want = malloc(c->n);
    mv_value(want, c->n, c->key);
    if (info->nbytes == c->n) {
        engine_value_copy(info, 0, c->n, got);
        c->ok = memcmp(got, want, c->n) == 0;
    }
    free(got);
    free(want);
}

static void expect_intact(struct fixture *f, const char *key, size_t n)
{
    struct mv_check c = { key, n, 0 };
    CU_ASSERT_EQUAL(engine_get(f->w, key, strlen(key), mv_cb, &c), ENGINE_OK);
    CU_ASSERT_TRUE(c.ok);
}

/* Runs the mover until it is idle; asserts it got there. */
static void mv_finish(struct fixture *f)
{
    int n = 0;
    while (engine_slab_mover(f->w, 1000) != 0 && n < 100000)
        n++;
    struct engine_stats st;
    engine_stats(f->e, &st);
    CU_ASSERT_EQUAL(st.slab_reassign_running, 0);
    CU_ASSERT(st.slabs_moved >= 1);
}

static unsigned mv_class(struct fixture *f)
{
    return slab_class_for(f->e, ITEM_HDR + 5 + 880);
}

static struct item *mv_chunk(struct fixture *f, unsigned id, uint32_t i)
{
    const struct class *c = &f->e->classes[id];
    return (struct item *)(f->e->base + f->e->r->off_pages +
                           f->e->r->mover.page * SLAB_PAGE_SIZE +
                           (size_t)i * c->size);
}

/* Locks r's stripe; *link points at it on its chain. */
static uint32_t mv_stripe(struct engine *e, struct engine_worker *w, ref_t r,
                          ref_t **link)
{
    struct item *it = ITEM(e, r);
    uint64_t hv = hash_key(item_key(it), it->nkey);
    uint32_t s = hash_stripe(e, hv);
    lock_stripe(w, s);
    hash_find(e, hash_bucket(e, hv), item_key(it), it->nkey, link);
    return s;
}

/* page 0 of the class: m0..m1109, every other one of m1..m399 deleted;
 * page 1: m1110..m1199 and room */
static void rescue_setup(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 1200; i++) {
        snprintf(key, sizeof key, "m%d", i);
        mv_put(f, key, 880);
    }
    for (int i = 1; i < 400; i += 2) {
        snprintf(key, sizeof key, "m%d", i);
        engine_delete(f->w, key, strlen(key));
    }
}

/* -- the mover copied m2 into a free chunk, switched the chain entry, and
 * died holding the class and the stripe -- */
static void rescue_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = mv_class(f);
    engine_slabs_reassign(e, (int)id, 1);
    engine_slab_mover(w, 1);                /* started, m0 rescued */
    lock_class(w, id);
    ref_t x = REF(e, mv_chunk(f, id, 2)), *link;
    uint32_t s = mv_stripe(e, w, x, &link);
    ref_t nr = slab_pop_free_locked(e, id);
    mover_copy_item(w, x, nr);
    journal_set(&w->s->j_evict, s, nr, x);
    hash_replace(e, link, x, nr);
    die();
}

static void rescue_verify(struct fixture *f)
{
    char key[16];
    expect_intact(f, "m2", 880);
    mv_finish(f);
    for (int i = 0; i < 1200; i++) {
        snprintf(key, sizeof key, "m%d", i);
        if (i >= 400 || i % 2 == 0)
            expect_intact(f, key, 880);
        else
            CU_ASSERT_FALSE(fx_has(f, key));
    }
    expect_items(f, 1000);
    struct engine_class_stats cs;
    engine_class_stats(f->e, mv_class(f), &cs);
    CU_ASSERT_EQUAL(cs.total_pages, 1);
}

#define BIGV (700u << 10)    /* a head and a chained chunk of 512 KiB */

/* three chained items, a page each; the third deleted: room for two */
static void chained_setup(struct fixture *f)
{
    mv_put(f, "h0", BIGV);
    mv_put(f, "h1", BIGV);
    mv_put(f, "h2", BIGV);
    engine_delete(f->w, "h2", 2);
}

static void chained_verify(struct fixture *f)
{
    expect_intact(f, "h0", BIGV);
    expect_intact(f, "h1", BIGV);
    mv_finish(f);
    expect_intact(f, "h0", BIGV);
    expect_intact(f, "h1", BIGV);
    expect_items(f, 2);
    struct engine_stats st;
    engine_stats(f->e, &st);
    CU_ASSERT_EQUAL(st.slab_global_page_pool, 1);
}

/* -- h0's head copied and switched on its chain; handed: its value's
 * chain handed to the copy halfway (both heads point at it); not handed:
 * not yet, and the copy's chunk (h2's head before) had h1's chain link
 * in its last bytes, which the copy must not keep -- */
static void head_rescue(struct fixture *f, struct engine_worker *w,
                        int handed)
{
    struct engine *e = f->e;
    unsigned big = e->r->big;
    engine_slabs_reassign(e, (int)big, 0);
    engine_slab_mover(w, 0);                /* started: DRAIN */
    lock_class(w, big);
    ref_t x = REF(e, mv_chunk(f, big, 0)), *link;
    uint32_t s = mv_stripe(e, w, x, &link);
    ref_t nr = slab_pop_free_locked(e, big);
    if (!handed) {
        ref_t *l1;
        ref_t h1 = hash_find(e, hash_bucket(e, hash_key("h1", 2)), "h1", 2,
                             &l1);
        CU_ASSERT_FATAL(h1 != 0 && item_chain(e, ITEM(e, h1)) != 0);
        memcpy(item_chainp(e, ITEM(e, nr)), item_chainp(e, ITEM(e, h1)),
               sizeof(ref_t));
    }
    mover_copy_item(w, x, nr);
    e->r->mover.rescue_old = x;
    e->r->mover.rescue_new = nr;
    journal_set(&w->s->j_evict, s, nr, x);
    hash_replace(e, link, x, nr);
    if (handed)
        item_set_chain(e, ITEM(e, nr), item_chain(e, ITEM(e, x)));
    die();
}

static void head_rescue_die(struct fixture *f, struct engine_worker *w)
{
    head_rescue(f, w, 1);
}

static void head_copy_die(struct fixture *f, struct engine_worker *w)
{
    head_rescue(f, w, 0);
}

/* -- a chained value being allocated: its head ALLOC, over a chunk whose
 * last bytes (where a head keeps its chain) still name h1's chained chunk,
 * as a chunk that held a value before may; the next chunk made CHAIN but
 * not yet on the head's chain. h0, deleted, left the class's first chunks
 * free: the repair meets the new head before h1, so a chain link not
 * cleared before the head turned ALLOC would take h1's chunk from it. The
 * reap must free the two chunks and no more. -- */
static void chain_alloc_setup(struct fixture *f)
{
    mv_put(f, "h0", BIGV);
    mv_put(f, "h1", BIGV);
    mv_put(f, "h2", BIGV);
    engine_delete(f->w, "h0", 2);
}

static void chain_alloc_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned big = e->r->big;
    ref_t *link;
    ref_t h1 = hash_find(e, hash_bucket(e, hash_key("h1", 2)), "h1", 2,
                         &link);
    lock_class(w, big);
    ref_t r = slab_pop_free_locked(e, big);
    CU_ASSERT_FATAL(r != 0 && r < h1 && item_chain(e, ITEM(e, h1)) != 0);
    memcpy((char *)ITEM(e, r) + e->classes[big].size - sizeof(ref_t),
           item_chainp(e, ITEM(e, h1)), sizeof(ref_t));
    slab_alloc_init_locked(w, r, 5, BIGV, 9);
    memcpy(item_key(ITEM(e, r)), "large", 5);
    ref_t x = slab_pop_free_locked(e, big);
    struct item *xi = ITEM(e, x);
    xi->next = 0;
    xi->prev = r;
    xi->nkey = 0;
    xi->iflags = 0;
    item_set_state(xi, ST_CHAIN);
    die();
}

static void chain_alloc_verify(struct fixture *f)
{
    expect_intact(f, "h1", BIGV);
    expect_intact(f, "h2", BIGV);
    expect_items(f, 2);
    CU_ASSERT_FALSE(fx_has(f, "large"));
    mv_put(f, "h3", BIGV);                  /* its two chunks are free */
    expect_intact(f, "h3", BIGV);
    expect_intact(f, "h1", BIGV);
    expect_items(f, 3);
}

/* -- the head left in place, its chained chunk copied and relinked, the
 * old chunk not yet the mover's -- */
static void chunk_rescue_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned big = e->r->big;
    engine_slabs_reassign(e, (int)big, 0);
    engine_slab_mover(w, 0);
    lock_class(w, big);
    struct item *xi = mv_chunk(f, big, 1);
    ref_t x = REF(e, xi), h = xi->prev, *link;
    CU_ASSERT_EQUAL(item_chain(e, ITEM(e, h)), x);
    mv_stripe(e, w, h, &link);
    ref_t nr = slab_pop_free_locked(e, big);
    struct item *ni = ITEM(e, nr);
    item_set_state(ni, ST_CHAIN);
    ni->prev = h;
    ni->next = xi->next;
    memcpy(ni + 1, xi + 1, e->classes[big].size - ITEM_HDR);
    item_set_chain(e, ITEM(e, h), nr);
    die();
}

/* class of m: two pages, every item deleted */
static void empty_setup(struct fixture *f)
{
    rescue_setup(f);
    char key[16];
    for (int i = 0; i < 1200; i++) {
        snprintf(key, sizeof key, "m%d", i);
        engine_delete(f->w, key, strlen(key));
    }
}

/* Drains class m's first page for class 1 up to its release. */
static void drain_all(struct fixture *f, struct engine_worker *w)
{
    unsigned id = mv_class(f);
    engine_slabs_reassign(f->e, (int)id, 1);
    engine_slab_mover(w, f->e->classes[id].perpage);
}

/* -- the page emptied, leaving its class: page_class changed, nothing
 * else yet -- */
static void release_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    unsigned id = mv_class(f);
    drain_all(f, w);
    lock_class(w, id);
    lock_pages(w);
    e->page_class[e->r->mover.page] = 0;
    die();
}

/* -- the page being carved for class 1: headers written, page_class set,
 * the record not yet told, no chunk on the free list -- */
static void carve_dest_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    drain_all(f, w);
    engine_slab_mover(w, 64);           /* released: CARVE */
    lock_class(w, 1);
    lock_pages(w);
    uint64_t p = e->r->mover.page;
    slab_page_init(e, 1, p);
    e->page_class[p] = 1;
    die();
}

static void moved_verify(struct fixture *f)
{
    mv_finish(f);
    struct engine_class_stats cs;
    engine_class_stats(f->e, mv_class(f), &cs);
    CU_ASSERT_EQUAL(cs.total_pages, 1);
    engine_class_stats(f->e, 1, &cs);
    CU_ASSERT_EQUAL(cs.total_pages, 1);
    CU_ASSERT_EQUAL(cs.free_chunks, cs.total_chunks);
    CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, "k", "1", 0, 0), ENGINE_STORED);
    expect_value(f, "k", "1");
    expect_items(f, 1);
}

/* class m: four pages, emptied, two of them moved to the pool */
static void pool_setup(struct fixture *f)
{
    char key[16];
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "m%d", i);
        mv_put(f, key, 880);
    }
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "m%d", i);
        engine_delete(f->w, key, strlen(key));
    }
    for (int i = 0; i < 2; i++) {
        engine_slabs_reassign(f->e, (int)mv_class(f), 0);
        while (engine_slab_mover(f->w, 1000) != 0)
            ;
    }
}

/* -- the limit lowered; a pool page given back to the system, the counts
 * not yet -- */
static void give_back_die(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    engine_set_mem_limit(e, 2u << 20);
    lock_pages(w);
    e->page_class[slab_pool_page(e)] = PAGE_NONE;
    die();
}

static void give_back_verify(struct fixture *f)
{
    struct engine_stats st;
    /* a reopened file takes -m as asked: the lowered limit again */
    CU_ASSERT_EQUAL(engine_set_mem_limit(f->e, 2u << 20), 0);
    mv_finish(f);
    engine_stats(f->e, &st);
    CU_ASSERT_EQUAL(st.slab_global_page_pool, 0);
    CU_ASSERT_EQUAL(st.total_malloced, 2u << 20);
}

const struct crashpoint crashpoints[] = {
    { "mid-switch", 4, switch_setup, switch_die, switch_verify, 2, NULL },
    { "mid-delete", 4, delete_setup, delete_die, delete_verify, 2, NULL },
    { "with-allocations", 8, NULL, alloc_die, alloc_verify, 0, NULL },
    { "with-allocations-overflow", 8, NULL, alloc_many_die, alloc_verify, 0,
      NULL },
    { "mid-carve", 4, NULL, carve_die, carve_verify, 2, NULL },
    { "mid-evict", 4, evict_setup, evict_die, evict_verify, 2, NULL },
    { "mid-class-repair", 4, repair_setup, repair_die, repair_verify, 1, NULL },
    { "growth-started", 4, grow_fill, grow_start_die, split_verify, 0,
      grow_adjust },
    { "mid-split", 4, grow_setup, split_die, split_verify, 1, grow_adjust },
    { "split-unstepped", 4, grow_setup, split_unstepped_die, split_verify,
      1, grow_adjust },
    { "split-stepped", 4, grow_setup, split_stepped_die, split_verify, 1,
      grow_adjust },
    { "mid-split-repair", 4, grow_setup, split_repair_die, split_verify, 1,
      grow_adjust },
    { "mid-lru-move", 4, lru_move_setup, lru_move_die, lru_move_verify, 1,
      NULL },
    { "mover-mid-rescue", 8, rescue_setup, rescue_die, rescue_verify, 2,
      NULL },
    { "mover-mid-head-rescue", 8, chained_setup, head_rescue_die,
      chained_verify, 2, NULL },
    { "mover-mid-head-copy", 8, chained_setup, head_copy_die,
      chained_verify, 2, NULL },
    { "mover-mid-chunk-rescue", 8, chained_setup, chunk_rescue_die,
      chained_verify, 2, NULL },
    { "mid-chain-alloc", 8, chain_alloc_setup, chain_alloc_die,
      chain_alloc_verify, 1, NULL },
    { "mover-mid-release", 8, empty_setup, release_die, moved_verify, 2,
      NULL },
    { "mover-mid-carve", 8, empty_setup, carve_dest_die, moved_verify, 2,
      NULL },
    { "mover-mid-give-back", 8, pool_setup, give_back_die, give_back_verify,
      1, NULL },
};
const size_t ncrashpoints = sizeof(crashpoints) / sizeof(crashpoints[0]);
