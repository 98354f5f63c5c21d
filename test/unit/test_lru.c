/*
 * test_lru.c - the segmented LRU (engine/lru.c, maintain.c): where new
 * items go (HOT; TEMP for short TTLs; COLD in flat mode), the second fetch
 * (ACTIVE, COLD rescued to WARM), the maintenance (HOT over its share to
 * COLD, active tails to WARM, WARM's active tails kept, expired tails
 * reclaimed and counted as "reclaimed"), eviction from COLD with HOT pulled
 * in when COLD is empty, scan resistance (an item fetched twice survives a
 * flood of one-time keys that evicts it in flat mode), TEMP never evicted,
 * a switch to flat mode draining HOT and WARM, and the statistics.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "engine/lru.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "unit.h"

#define VAL 900

static char val[VAL + 1];

static void set_n(struct fixture *f, const char *prefix, int from, int to,
                  int64_t exptime)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof(key), "%s%05d", prefix, i);
        fx_store(f, ENGINE_SET, key, val, 0, exptime);
    }
}

static struct engine_class_stats cls(struct fixture *f)
{
    struct engine_class_stats cs;
    unsigned id = slab_class_for(f->e, ITEM_HDR + 6 + VAL);
    memset(&cs, 0, sizeof(cs));
    engine_class_stats(f->e, id, &cs);
    return cs;
}

static void open_lru(struct fixture *f, size_t mb, int segmented,
                     int temp)
{
    struct engine_lru_config lc;
    memset(val, 'v', VAL);
    CU_ASSERT_FATAL(fixture_open(f, mb, NULL) == 0);
    engine_lru_defaults(&lc);
    lc.segmented = (uint32_t)segmented;
    lc.temp_lru = (uint32_t)temp;
    engine_set_lru(f->e, &lc);
}

static void test_where_new_items_go(void)
{
    struct fixture f;
    open_lru(&f, 8, 1, 1);
    set_n(&f, "h", 0, 10, 0);
    set_n(&f, "t", 0, 3, 30);               /* TTL 30 < temp_ttl 61 */
    set_n(&f, "l", 0, 2, 3600);             /* long TTL: HOT */
    struct engine_class_stats cs = cls(&f);
    CU_ASSERT_EQUAL(cs.number_hot, 12);
    CU_ASSERT_EQUAL(cs.number_temp, 3);
    CU_ASSERT_EQUAL(cs.number_warm + cs.number_cold, 0);
    fx_check(&f);
    fixture_close(&f);
    open_lru(&f, 8, 0, 0);                  /* flat: all in COLD */
    set_n(&f, "h", 0, 10, 30);
    cs = cls(&f);
    CU_ASSERT_EQUAL(cs.number_cold, 10);
    CU_ASSERT_EQUAL(cs.number_hot + cs.number_temp, 0);
    fixture_close(&f);
}

static void test_second_fetch(void)
{
    struct fixture f;
    open_lru(&f, 8, 1, 0);
    set_n(&f, "k", 0, 10, 0);
    /* HOT's share of the class is 20 %: the maintenance sends the rest of
     * the never-fetched items to COLD */
    f.now += 2;
    engine_lru_maintain(f.w, UINT32_MAX);
    struct engine_class_stats cs = cls(&f);
    CU_ASSERT(cs.number_cold >= 7);
    CU_ASSERT_EQUAL(cs.moves_to_cold, cs.number_cold);
    /* k00000 is in COLD: one fetch marks it fetched, the second rescues
     * it to WARM at once */
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));
    CU_ASSERT_EQUAL(cls(&f).number_warm, 0);
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));
    cs = cls(&f);
    CU_ASSERT_EQUAL(cs.number_warm, 1);
    CU_ASSERT_EQUAL(cs.moves_to_warm, 1);
    CU_ASSERT_EQUAL(cs.c.hits_cold, 2);
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));
    CU_ASSERT_EQUAL(cls(&f).c.hits_warm, 1);
    fx_check(&f);
    fixture_close(&f);
}

static void test_active_hot_tail_goes_warm(void)
{
    struct fixture f;
    open_lru(&f, 8, 1, 0);
    /* COLD needs an old tail for the ages to mean something (an empty
     * COLD drains HOT and WARM into it, as memcached's) */
    set_n(&f, "o", 0, 10, 0);
    f.now += 5;
    engine_lru_maintain(f.w, UINT32_MAX);
    CU_ASSERT_EQUAL(cls(&f).number_cold, 10);
    f.now += 100;
    set_n(&f, "k", 0, 10, 0);
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));   /* the oldest, fetched twice: */
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));   /* ACTIVE in HOT */
    f.now += 2;
    engine_lru_maintain(f.w, UINT32_MAX);
    struct engine_class_stats cs = cls(&f);
    CU_ASSERT_EQUAL(cs.number_warm, 1);     /* it went to WARM, not COLD */
    CU_ASSERT_EQUAL(cs.moves_to_warm, 1);
    CU_ASSERT(cs.number_hot >= 3 && cs.number_hot <= 4);   /* 20 % */
    /* ACTIVE again at WARM's tail: it stays in WARM (moves_within_lru) */
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));
    f.now += 10;
    engine_lru_maintain(f.w, UINT32_MAX);
    cs = cls(&f);
    CU_ASSERT_EQUAL(cs.moves_within_lru, 1);
    CU_ASSERT_EQUAL(cs.number_warm, 1);
    fx_check(&f);
    fixture_close(&f);
}

static void test_maintenance_reclaims(void)
{
    struct fixture f;
    open_lru(&f, 8, 1, 1);
    set_n(&f, "e", 0, 10, 1);               /* TTL 1: TEMP */
    set_n(&f, "h", 0, 10, 2);               /* TEMP too (2 < 61) */
    set_n(&f, "x", 0, 5, 3600);             /* HOT, long-lived */
    f.now += 3;
    unsigned n = engine_lru_maintain(f.w, UINT32_MAX);
    CU_ASSERT(n >= 20);
    struct engine_stats st;
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.reclaimed, 20);       /* memcached: "reclaimed" */
    CU_ASSERT_EQUAL(st.crawler_reclaimed, 0);
    CU_ASSERT_EQUAL(st.curr_items, 5);
    CU_ASSERT(st.lru_juggles >= 1);
    fx_check(&f);
    fixture_close(&f);
}

/* One-time keys flood a small cache; one item fetched twice. */
static int canary_survives(int segmented)
{
    struct fixture f;
    open_lru(&f, 2, segmented, 0);
    set_n(&f, "c", 0, 1, 0);                /* the canary */
    set_n(&f, "s", 0, 300, 0);
    f.now += 1;
    engine_lru_maintain(f.w, UINT32_MAX);
    CU_ASSERT_TRUE(fx_has(&f, "c00000"));
    CU_ASSERT_TRUE(fx_has(&f, "c00000"));
    /* the flood comes within the second (the clock stands still): 6000
     * one-time items, more than 2 MB holds */
    for (int round = 0; round < 20; round++) {
        set_n(&f, "s", 300 + round * 300, 600 + round * 300, 0);
        engine_lru_maintain(f.w, UINT32_MAX);
    }
    struct engine_stats st;
    engine_stats(f.e, &st);
    CU_ASSERT(st.evictions > 3000);
    int alive = fx_has(&f, "c00000");
    fx_check(&f);
    fixture_close(&f);
    return alive;
}

static void test_scan_resistance(void)
{
    CU_ASSERT_TRUE(canary_survives(1));
    CU_ASSERT_FALSE(canary_survives(0));    /* the flat LRU loses it */
}

static void test_evicts_cold_then_hot(void)
{
    struct fixture f;
    open_lru(&f, 2, 1, 1);
    set_n(&f, "t", 0, 1, 30);               /* TEMP: never evicted */
    /* no maintenance at all: every item stays in HOT, so allocation must
     * pull HOT's tail into COLD itself to evict */
    set_n(&f, "h", 0, 4000, 3600);
    struct engine_class_stats cs = cls(&f);
    CU_ASSERT(cs.evicted > 1000);
    CU_ASSERT(cs.direct_reclaims > 0);
    CU_ASSERT_EQUAL(cs.number_temp, 1);
    CU_ASSERT_TRUE(fx_has(&f, "t00000"));
    CU_ASSERT_FALSE(fx_has(&f, "h00000"));  /* the oldest went first */
    CU_ASSERT_TRUE(fx_has(&f, "h03999"));
    fx_check(&f);
    fixture_close(&f);
}

static void test_switch_to_flat_drains(void)
{
    struct fixture f;
    open_lru(&f, 8, 1, 0);
    set_n(&f, "k", 0, 50, 0);
    CU_ASSERT_EQUAL(cls(&f).number_hot, 50);
    struct engine_lru_config lc;
    engine_get_lru(f.e, &lc);
    lc.segmented = 0;
    engine_set_lru(f.e, &lc);
    engine_lru_maintain(f.w, UINT32_MAX);
    struct engine_class_stats cs = cls(&f);
    CU_ASSERT_EQUAL(cs.number_cold, 50);
    CU_ASSERT_EQUAL(cs.number_hot + cs.number_warm, 0);
    fx_check(&f);
    fixture_close(&f);
}

UNIT_SUITE(lru, NULL, NULL,
           UNIT_TEST(test_where_new_items_go),
           UNIT_TEST(test_second_fetch),
           UNIT_TEST(test_active_hot_tail_goes_warm),
           UNIT_TEST(test_maintenance_reclaims),
           UNIT_TEST(test_scan_resistance),
           UNIT_TEST(test_evicts_cold_then_hot),
           UNIT_TEST(test_switch_to_flat_drains))
