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
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/region.h"
#include "engine/slab.h"

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
    ref_t nr = slab_alloc(w, 3, 3, (uint32_t)f->now, &st);
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
};
const size_t ncrashpoints = sizeof(crashpoints) / sizeof(crashpoints[0]);
