/*
 * test_engine_meta.c - engine_meta.c's operations with a fake clock:
 * mget (bump, fetched, last access, touch, vivify/win/token-sent, recache
 * threshold), mset (modes, CAS, invalidate, explicit CAS), mdelete (CAS,
 * invalidate, x), marith (vivify, CAS, TTL), mdebug; engine_check after
 * each flow.
 */
#include <string.h>

#include "engine/ops.h"
#include "fixture.h"
#include "unit.h"

static struct fixture F;

static int setup(void)
{
    if (fixture_open(&F, 8, NULL) != 0)
        return -1;
    fx_lru(&F, 0);      /* last access as the flat LRU keeps it */
    return 0;
}
static int teardown(void) { fixture_close(&F); return 0; }

struct seen {
    struct engine_meta m;
    uint64_t cas;
    uint32_t exptime, nbytes;
    char val[64];
    int calls;
};

static void on_item(void *arg, const struct engine_item_info *it,
                    const struct engine_meta *m)
{
    struct seen *s = arg;
    s->m = *m;
    s->cas = it->cas;
    s->exptime = it->exptime;
    s->nbytes = it->nbytes;
    memset(s->val, 0, sizeof s->val);
    engine_value_copy(it, 0, it->nbytes < 63 ? it->nbytes : 63, s->val);
    s->calls++;
}

static enum engine_status mg(const char *key, const struct engine_mget_opts *o,
                             struct seen *s)
{
    struct engine_mget_opts none;
    memset(&none, 0, sizeof none);
    memset(s, 0, sizeof *s);
    return engine_mget(F.w, key, strlen(key), o ? o : &none, on_item, NULL,
                       s);
}

static void test_mget_basic(void)
{
    struct seen s;
    struct engine_mget_opts o;
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(mg("a", NULL, &s), ENGINE_NOT_FOUND);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "a", "val", 3, 0), ENGINE_STORED);
    F.now += 100;
    o.no_bump = 1;
    CU_ASSERT_EQUAL(mg("a", &o, &s), ENGINE_OK);
    CU_ASSERT_EQUAL(s.m.fetched, 0);
    CU_ASSERT_EQUAL(s.m.last_access, 100);
    CU_ASSERT_STRING_EQUAL(s.val, "val");
    CU_ASSERT_EQUAL(mg("a", NULL, &s), ENGINE_OK);
    CU_ASSERT_EQUAL(s.m.fetched, 0);
    CU_ASSERT_EQUAL(mg("a", NULL, &s), ENGINE_OK);
    CU_ASSERT_EQUAL(s.m.fetched, 1);
    CU_ASSERT_EQUAL(s.m.last_access, 0);
    CU_ASSERT_EQUAL(s.m.size, 56u + 1 + 1 + 3 + 2 + 4);
    memset(&o, 0, sizeof o);
    o.touch = 1;
    o.touch_exptime = (uint32_t)F.now + 5;
    CU_ASSERT_EQUAL(mg("a", &o, &s), ENGINE_OK);
    CU_ASSERT_EQUAL(s.m.exptime_before, 0);
    CU_ASSERT_EQUAL(s.exptime, (uint32_t)F.now + 5);
    F.now += 5;
    CU_ASSERT_EQUAL(mg("a", NULL, &s), ENGINE_NOT_FOUND);
    fx_check(&F);
}

static void test_vivify_win_recache(void)
{
    struct seen s;
    struct engine_mget_opts o;
    memset(&o, 0, sizeof o);
    o.vivify = 1;
    o.viv_exptime = (uint32_t)F.now + 30;
    CU_ASSERT_EQUAL(mg("v", &o, &s), ENGINE_OK);
    CU_ASSERT(s.m.created && s.m.won && !s.m.token_sent);
    CU_ASSERT_EQUAL(s.nbytes, 0);
    CU_ASSERT_EQUAL(mg("v", &o, &s), ENGINE_OK);
    CU_ASSERT(!s.m.created && !s.m.won && s.m.token_sent);
    /* the winner stores: a new item, no token */
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "v", "new", 0, 100),
                    ENGINE_STORED);
    memset(&o, 0, sizeof o);
    o.recache = 1;
    o.recache_time = (uint32_t)F.now + 30;
    CU_ASSERT_EQUAL(mg("v", &o, &s), ENGINE_OK);
    CU_ASSERT(!s.m.won);
    F.now += 80;                   /* 20 s left: below the threshold */
    o.recache_time = (uint32_t)F.now + 30;
    CU_ASSERT_EQUAL(mg("v", &o, &s), ENGINE_OK);
    CU_ASSERT(s.m.won && !s.m.token_sent);
    CU_ASSERT_EQUAL(mg("v", &o, &s), ENGINE_OK);
    CU_ASSERT(!s.m.won && s.m.token_sent);
    fx_check(&F);
}

static void test_mdelete_invalidate_and_x(void)
{
    struct seen s;
    struct engine_mdel_opts d;
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "d", "data", 9, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(mg("d", NULL, &s), ENGINE_OK);
    uint64_t cas = s.cas;
    memset(&d, 0, sizeof d);
    d.has_cas = 1;
    d.cas = cas + 1;
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_EXISTS);
    d.cas = cas;
    d.invalidate = 1;
    d.touch = 1;
    d.exptime = (uint32_t)F.now + 30;
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_OK);
    CU_ASSERT_EQUAL(mg("d", NULL, &s), ENGINE_OK);
    CU_ASSERT(s.m.stale && s.m.won && s.cas > cas);
    CU_ASSERT_EQUAL(s.exptime, (uint32_t)F.now + 30);
    CU_ASSERT_EQUAL(mg("d", NULL, &s), ENGINE_OK);
    CU_ASSERT(s.m.stale && !s.m.won && s.m.token_sent);
    /* a second invalidation hands the win out again */
    memset(&d, 0, sizeof d);
    d.invalidate = 1;
    d.has_new_cas = 1;
    d.new_cas = 5000;
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_OK);
    CU_ASSERT_EQUAL(mg("d", NULL, &s), ENGINE_OK);
    CU_ASSERT(s.m.won && s.cas == 5000);
    memset(&d, 0, sizeof d);
    d.remove_value = 1;
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_OK);
    CU_ASSERT_EQUAL(mg("d", NULL, &s), ENGINE_OK);
    CU_ASSERT(s.nbytes == 0 && !s.m.stale);
    memset(&d, 0, sizeof d);
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_OK);
    CU_ASSERT_EQUAL(engine_mdelete(F.w, "d", 1, &d), ENGINE_NOT_FOUND);
    fx_check(&F);
}

static enum engine_status ms(const char *key, const char *val,
                             const struct engine_mset_opts *o, uint64_t *cas)
{
    struct engine_alloc a;
    enum engine_status st = engine_alloc(F.w, key, strlen(key), 0,
                                         (uint32_t)F.now + 100, strlen(val),
                                         &a);
    if (st != ENGINE_OK)
        return st;
    engine_alloc_write(F.w, &a, val, strlen(val));
    return engine_mset(F.w, &a, o, cas);
}

static void test_mset(void)
{
    struct engine_mset_opts o;
    struct seen s;
    uint64_t cas, c2;
    memset(&o, 0, sizeof o);
    o.mode = ENGINE_APPEND;
    CU_ASSERT_EQUAL(ms("m", "x", &o, &cas), ENGINE_NOT_STORED);
    o.mode = ENGINE_SET;
    o.has_cas = 1;
    o.cas = 1;
    CU_ASSERT_EQUAL(ms("m", "x", &o, &cas), ENGINE_NOT_FOUND);
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(ms("m", "one", &o, &cas), ENGINE_STORED);
    o.mode = ENGINE_APPEND;
    o.has_cas = 1;
    o.cas = cas;
    CU_ASSERT_EQUAL(ms("m", "+", &o, &c2), ENGINE_STORED);
    CU_ASSERT(c2 > cas);
    CU_ASSERT_EQUAL(ms("m", "+", &o, &c2), ENGINE_EXISTS);
    /* an older CAS with I stores, stale, with the old TTL */
    F.now += 10;
    memset(&o, 0, sizeof o);
    o.has_cas = 1;
    o.cas = cas;
    o.invalidate = 1;
    CU_ASSERT_EQUAL(ms("m", "old", &o, &c2), ENGINE_STORED);
    CU_ASSERT_EQUAL(mg("m", NULL, &s), ENGINE_OK);
    CU_ASSERT(s.m.stale && s.m.won);
    CU_ASSERT_EQUAL(s.exptime, (uint32_t)F.now + 90);
    CU_ASSERT_STRING_EQUAL(s.val, "old");
    memset(&o, 0, sizeof o);
    o.has_new_cas = 1;
    o.new_cas = 99999;
    CU_ASSERT_EQUAL(ms("m", "e", &o, &c2), ENGINE_STORED);
    CU_ASSERT_EQUAL(c2, 99999);
    o.mode = ENGINE_ADD;
    CU_ASSERT_EQUAL(ms("m", "e", &o, &c2), ENGINE_NOT_STORED);
    CU_ASSERT_EQUAL(c2, 0);
    fx_check(&F);
}

static void test_marith_and_mdebug(void)
{
    struct engine_marith_opts o;
    struct engine_marith_result r;
    struct seen s;
    memset(&o, 0, sizeof o);
    o.incr = 1;
    o.delta = 1;
    CU_ASSERT_EQUAL(engine_marith(F.w, "n", 1, &o, &r), ENGINE_NOT_FOUND);
    o.vivify = 1;
    o.initial = 99;
    o.viv_exptime = (uint32_t)F.now + 50;
    CU_ASSERT_EQUAL(engine_marith(F.w, "n", 1, &o, &r), ENGINE_OK);
    CU_ASSERT(r.created && r.value == 99 && r.exptime == (uint32_t)F.now + 50);
    CU_ASSERT_EQUAL(engine_marith(F.w, "n", 1, &o, &r), ENGINE_OK);
    CU_ASSERT(!r.created && r.value == 100);
    o.has_cas = 1;
    o.cas = r.cas + 7;
    CU_ASSERT_EQUAL(engine_marith(F.w, "n", 1, &o, &r), ENGINE_EXISTS);
    memset(&o, 0, sizeof o);
    o.delta = 200;
    o.touch = 1;
    o.touch_exptime = 0;
    o.has_new_cas = 1;
    o.new_cas = 4242;
    CU_ASSERT_EQUAL(engine_marith(F.w, "n", 1, &o, &r), ENGINE_OK);
    CU_ASSERT(r.value == 0 && r.cas == 4242 && r.exptime == 0);
    CU_ASSERT_EQUAL(r.exptime_before, (uint32_t)F.now + 50);
    memset(&s, 0, sizeof s);
    CU_ASSERT_EQUAL(engine_mdebug(F.w, "n", 1, on_item, &s), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(s.val, "0  ");
    CU_ASSERT_EQUAL(engine_mdebug(F.w, "zz", 2, on_item, &s),
                    ENGINE_NOT_FOUND);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "t", "text", 0, 0),
                    ENGINE_STORED);
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(engine_marith(F.w, "t", 1, &o, &r), ENGINE_NON_NUMERIC);
    fx_check(&F);
}

UNIT_SUITE(engine_meta, setup, teardown,
           UNIT_TEST(test_mget_basic), UNIT_TEST(test_vivify_win_recache),
           UNIT_TEST(test_mdelete_invalidate_and_x), UNIT_TEST(test_mset),
           UNIT_TEST(test_marith_and_mdebug))
