/*
 * test_engine.c - the engine's operations and their memcached outcomes:
 * storage commands, get/gat/touch/delete, incr/decr, CAS, expiry and
 * flush_all (with the fake clock of fixture.c, never sleeps), statistics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "unit.h"

static struct fixture F;

static int setup(void)
{
    if (fixture_open(&F, 8, NULL) != 0)
        return -1;
    fx_lru(&F, 0);      /* these tests know the flat LRU (test_lru.c:
                           the segmented one) */
    return 0;
}

static int teardown(void)
{
    fixture_close(&F);
    return 0;
}

/* each test starts from an empty cache: flushed, and what the flush
 * killed reclaimed (a store would reclaim it from the tail otherwise) */
static void reset(void)
{
    engine_flush(F.w, 0);
    F.now += 10;
    engine_sweep(F.w, UINT32_MAX);
}

static void test_set_get(void)
{
    char buf[64];
    uint32_t flags;
    reset();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "k", "hello", 42, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "k", buf, sizeof(buf), &flags, NULL), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "hello");
    CU_ASSERT_EQUAL(flags, 42);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "k", "world!", 7, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "k", buf, sizeof(buf), &flags, NULL), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "world!");
    CU_ASSERT_EQUAL(flags, 7);
    CU_ASSERT_EQUAL(fx_get(&F, "missing", buf, sizeof(buf), NULL, NULL),
                    ENGINE_NOT_FOUND);
    /* empty value */
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "empty", "", 0, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "empty", buf, sizeof(buf), NULL, NULL), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "");
    fx_check(&F);
}

static void test_add_replace(void)
{
    char buf[64];
    reset();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_REPLACE, "a", "1", 0, 0), ENGINE_NOT_STORED);
    CU_ASSERT_FALSE(fx_has(&F, "a"));
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_ADD, "a", "1", 0, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_ADD, "a", "2", 0, 0), ENGINE_NOT_STORED);
    fx_get(&F, "a", buf, sizeof(buf), NULL, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "1");
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_REPLACE, "a", "3", 0, 0), ENGINE_STORED);
    fx_get(&F, "a", buf, sizeof(buf), NULL, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "3");
    /* add succeeds over an expired item */
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "x", "old", 0, 5), ENGINE_STORED);
    F.now += 6;
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_ADD, "x", "new", 0, 0), ENGINE_STORED);
    fx_get(&F, "x", buf, sizeof(buf), NULL, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "new");
    fx_check(&F);
}

static void test_append_prepend(void)
{
    char buf[64];
    uint32_t flags;
    reset();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_APPEND, "p", "x", 0, 0), ENGINE_NOT_STORED);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_PREPEND, "p", "x", 0, 0), ENGINE_NOT_STORED);
    CU_ASSERT_FALSE(fx_has(&F, "p"));
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "p", "mid", 9, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_APPEND, "p", "-end", 1, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_PREPEND, "p", "start-", 2, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "p", buf, sizeof(buf), &flags, NULL), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "start-mid-end");
    CU_ASSERT_EQUAL(flags, 9);   /* append keeps the original flags */
    fx_check(&F);
}

static void test_cas(void)
{
    char buf[64];
    uint64_t c1, c2, out = 0;
    reset();
    /* cas on a missing key: NOT_FOUND */
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_CAS, "c", 1, 0, 0, "v", 1, 1, NULL),
                    ENGINE_NOT_FOUND);
    fx_store(&F, ENGINE_SET, "c", "v1", 0, 0);
    fx_get(&F, "c", buf, sizeof(buf), NULL, &c1);
    CU_ASSERT_NOT_EQUAL(c1, 0);
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_CAS, "c", 1, 0, 0, "v2", 2, c1 + 1,
                                 NULL), ENGINE_EXISTS);
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_CAS, "c", 1, 0, 0, "v2", 2, c1, &out),
                    ENGINE_STORED);
    fx_get(&F, "c", buf, sizeof(buf), NULL, &c2);
    CU_ASSERT_STRING_EQUAL(buf, "v2");
    CU_ASSERT_EQUAL(out, c2);
    CU_ASSERT_NOT_EQUAL(c1, c2);
    /* the old unique no longer works */
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_CAS, "c", 1, 0, 0, "v3", 2, c1, NULL),
                    ENGINE_EXISTS);
    /* every modification changes the unique */
    uint64_t r;
    fx_store(&F, ENGINE_SET, "n", "1", 0, 0);
    fx_get(&F, "n", buf, sizeof(buf), NULL, &c1);
    engine_delta(F.w, "n", 1, 1, 1, &r, NULL);
    fx_get(&F, "n", buf, sizeof(buf), NULL, &c2);
    CU_ASSERT_NOT_EQUAL(c1, c2);
    fx_check(&F);
}

static void disable_cas(struct engine_config *cfg)
{
    cfg->use_cas = 0;
}

static void test_cas_disabled(void)
{
    struct fixture g;
    char buf[16];
    uint64_t cas = 99;
    CU_ASSERT_FATAL(fixture_open(&g, 2, disable_cas) == 0);
    fx_store(&g, ENGINE_SET, "k", "v", 0, 0);
    CU_ASSERT_EQUAL(fx_get(&g, "k", buf, sizeof(buf), NULL, &cas), ENGINE_OK);
    CU_ASSERT_EQUAL(cas, 0);
    fixture_close(&g);
}

static void test_delete_touch_gat(void)
{
    reset();
    CU_ASSERT_EQUAL(engine_delete(F.w, "d", 1), ENGINE_NOT_FOUND);
    fx_store(&F, ENGINE_SET, "d", "v", 0, 0);
    CU_ASSERT_EQUAL(engine_delete(F.w, "d", 1), ENGINE_OK);
    CU_ASSERT_FALSE(fx_has(&F, "d"));
    CU_ASSERT_EQUAL(engine_delete(F.w, "d", 1), ENGINE_NOT_FOUND);

    CU_ASSERT_EQUAL(engine_touch(F.w, "t", 1, engine_exptime(F.e, 10)),
                    ENGINE_NOT_FOUND);
    fx_store(&F, ENGINE_SET, "t", "v", 0, 5);
    CU_ASSERT_EQUAL(engine_touch(F.w, "t", 1, engine_exptime(F.e, 100)), ENGINE_OK);
    F.now += 50;
    CU_ASSERT_TRUE(fx_has(&F, "t"));
    /* gat: returns the value and sets the new exptime */
    CU_ASSERT_EQUAL(engine_gat(F.w, "t", 1, engine_exptime(F.e, 1), NULL, NULL),
                    ENGINE_OK);
    F.now += 2;
    CU_ASSERT_FALSE(fx_has(&F, "t"));
    CU_ASSERT_EQUAL(engine_gat(F.w, "t", 1, 0, NULL, NULL), ENGINE_NOT_FOUND);
    fx_check(&F);
}

static void test_expiry_rules(void)
{
    reset();
    /* negative: already expired */
    fx_store(&F, ENGINE_SET, "neg", "v", 0, -1);
    CU_ASSERT_FALSE(fx_has(&F, "neg"));
    /* 0: never */
    fx_store(&F, ENGINE_SET, "zero", "v", 0, 0);
    /* relative up to 30 days */
    fx_store(&F, ENGINE_SET, "rel", "v", 0, 2592000);
    /* absolute beyond that */
    fx_store(&F, ENGINE_SET, "abs", "v", 0, F.now + 100);
    /* absolute in the past */
    fx_store(&F, ENGINE_SET, "past", "v", 0, 2592001);
    CU_ASSERT_FALSE(fx_has(&F, "past"));
    CU_ASSERT_TRUE(fx_has(&F, "rel"));
    CU_ASSERT_TRUE(fx_has(&F, "abs"));
    F.now += 99;
    CU_ASSERT_TRUE(fx_has(&F, "abs"));
    F.now += 1;
    CU_ASSERT_FALSE(fx_has(&F, "abs"));
    CU_ASSERT_TRUE(fx_has(&F, "rel"));
    F.now += 2592000;
    CU_ASSERT_FALSE(fx_has(&F, "rel"));
    CU_ASSERT_TRUE(fx_has(&F, "zero"));
    fx_check(&F);
}

static void test_flush(void)
{
    reset();
    fx_store(&F, ENGINE_SET, "a", "1", 0, 0);
    fx_store(&F, ENGINE_SET, "b", "2", 0, 0);
    engine_flush(F.w, 0);
    CU_ASSERT_FALSE(fx_has(&F, "a"));
    CU_ASSERT_FALSE(fx_has(&F, "b"));
    /* stored in the same second after the flush: kept */
    fx_store(&F, ENGINE_SET, "c", "3", 0, 0);
    CU_ASSERT_TRUE(fx_has(&F, "c"));

    /* delayed: everything stored before now+10 goes at now+10 */
    F.now += 1;
    fx_store(&F, ENGINE_SET, "d", "4", 0, 0);
    engine_flush(F.w, 10);
    F.now += 5;
    fx_store(&F, ENGINE_SET, "e", "5", 0, 0);
    CU_ASSERT_TRUE(fx_has(&F, "c"));
    CU_ASSERT_TRUE(fx_has(&F, "d"));
    CU_ASSERT_TRUE(fx_has(&F, "e"));
    F.now += 5;
    CU_ASSERT_FALSE(fx_has(&F, "c"));
    CU_ASSERT_FALSE(fx_has(&F, "d"));
    CU_ASSERT_FALSE(fx_has(&F, "e"));
    fx_store(&F, ENGINE_SET, "f", "6", 0, 0);
    CU_ASSERT_TRUE(fx_has(&F, "f"));
    fx_check(&F);
}

static void test_incr_decr(void)
{
    char buf[64];
    uint64_t r = 0;
    reset();
    CU_ASSERT_EQUAL(engine_delta(F.w, "n", 1, 1, 1, &r, NULL), ENGINE_NOT_FOUND);
    fx_store(&F, ENGINE_SET, "n", "10", 3, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "n", 1, 1, 5, &r, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(r, 15);
    /* decr stops at 0 */
    CU_ASSERT_EQUAL(engine_delta(F.w, "n", 1, 0, 100, &r, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(r, 0);
    /* length shrinks in place: memcached pads with spaces */
    fx_get(&F, "n", buf, sizeof(buf), NULL, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "0 ");
    /* length grows: 99 -> 100 */
    fx_store(&F, ENGINE_SET, "g", "99", 5, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "g", 1, 1, 1, &r, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(r, 100);
    uint32_t flags;
    fx_get(&F, "g", buf, sizeof(buf), &flags, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "100");
    CU_ASSERT_EQUAL(flags, 5);
    /* incr wraps at 2^64 */
    fx_store(&F, ENGINE_SET, "w", "18446744073709551615", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "w", 1, 1, 2, &r, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(r, 1);
    /* non-numeric values */
    fx_store(&F, ENGINE_SET, "s", "abc", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "s", 1, 1, 1, &r, NULL), ENGINE_NON_NUMERIC);
    fx_store(&F, ENGINE_SET, "s", "12abc", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "s", 1, 1, 1, &r, NULL), ENGINE_NON_NUMERIC);
    fx_store(&F, ENGINE_SET, "s", "-5", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "s", 1, 0, 1, &r, NULL), ENGINE_NON_NUMERIC);
    fx_store(&F, ENGINE_SET, "s", "", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "s", 1, 1, 1, &r, NULL), ENGINE_NON_NUMERIC);
    /* a value above 2^64-1 is not a number either */
    fx_store(&F, ENGINE_SET, "s", "18446744073709551616", 0, 0);
    CU_ASSERT_EQUAL(engine_delta(F.w, "s", 1, 1, 1, &r, NULL), ENGINE_NON_NUMERIC);
    /* trailing space from an earlier decr is still a number */
    CU_ASSERT_EQUAL(engine_delta(F.w, "n", 1, 1, 7, &r, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(r, 7);
    fx_check(&F);
}

static void test_keys(void)
{
    char key[300];
    memset(key, 'k', sizeof(key));
    key[250] = '\0';
    reset();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, key, "v", 0, 0), ENGINE_STORED);
    CU_ASSERT_TRUE(fx_has(&F, key));
    key[250] = 'k';
    key[251] = '\0';
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, key, "v", 0, 0), ENGINE_BAD_KEY);
    CU_ASSERT_EQUAL(engine_get(F.w, "", 0, NULL, NULL), ENGINE_BAD_KEY);
}

static void test_unlink_uncounted(void)
{
    struct engine_stats a, b;
    reset();
    fx_store(&F, ENGINE_SET, "u", "v", 0, 0);
    engine_stats(F.e, &a);
    CU_ASSERT_EQUAL(engine_unlink(F.w, "u", 1), ENGINE_OK);
    CU_ASSERT_EQUAL(engine_unlink(F.w, "u", 1), ENGINE_NOT_FOUND);
    engine_stats(F.e, &b);
    CU_ASSERT_FALSE(fx_has(&F, "u"));
    CU_ASSERT_EQUAL(b.c.delete_hits, a.c.delete_hits);
    CU_ASSERT_EQUAL(b.c.delete_misses, a.c.delete_misses);
    fx_check(&F);
}

static void test_too_large(void)
{
    struct engine_alloc a;
    reset();
    CU_ASSERT_EQUAL(engine_alloc(F.w, "big", 3, 0, 0, 1u << 20, &a), ENGINE_TOO_LARGE);
    CU_ASSERT_EQUAL(engine_alloc(F.w, "big", 3, 0, 0, (1u << 20) - 200, &a), ENGINE_OK);
    engine_alloc_release(F.w, &a);
    fx_check(&F);
}

static void test_stats_counters(void)
{
    struct engine_stats a, b;
    char buf[8];
    reset();
    engine_stats(F.e, &a);
    fx_store(&F, ENGINE_SET, "s1", "v", 0, 0);
    fx_get(&F, "s1", buf, sizeof(buf), NULL, NULL);
    fx_get(&F, "nope", buf, sizeof(buf), NULL, NULL);
    engine_delete(F.w, "nope", 4);
    engine_stats(F.e, &b);
    CU_ASSERT_EQUAL(b.c.cmd_set - a.c.cmd_set, 1);
    CU_ASSERT_EQUAL(b.c.cmd_get - a.c.cmd_get, 2);
    CU_ASSERT_EQUAL(b.c.get_hits - a.c.get_hits, 1);
    CU_ASSERT_EQUAL(b.c.get_misses - a.c.get_misses, 1);
    CU_ASSERT_EQUAL(b.c.delete_misses - a.c.delete_misses, 1);
    CU_ASSERT_EQUAL(b.curr_items - a.curr_items, 1);
    engine_stats_reset(F.e);
    engine_stats(F.e, &a);
    CU_ASSERT_EQUAL(a.c.cmd_get, 0);
    CU_ASSERT_EQUAL(a.curr_items, b.curr_items);   /* reset keeps items */
}

struct dump {
    char text[512];
    size_t len;
};

static void dump_cb(void *arg, const char *prefix, size_t len, uint64_t gets,
                    uint64_t hits, uint64_t sets, uint64_t dels)
{
    struct dump *d = arg;
    d->len += (size_t)snprintf(d->text + d->len, sizeof(d->text) - d->len,
                               "%.*s %llu %llu %llu %llu;", (int)len, prefix,
                               (unsigned long long)gets,
                               (unsigned long long)hits,
                               (unsigned long long)sets,
                               (unsigned long long)dels);
}

static void test_detail(void)
{
    struct dump d = { "", 0 };
    reset();
    fx_store(&F, ENGINE_SET, "foo:off", "v", 0, 0);     /* not counted yet */
    CU_ASSERT_FALSE(engine_detail_enabled(F.e));
    engine_detail_enable(F.e, 1, ':');
    CU_ASSERT_TRUE(engine_detail_enabled(F.e));
    fx_store(&F, ENGINE_SET, "foo:1", "v", 0, 0);
    fx_has(&F, "foo:1");
    fx_has(&F, "foo:2");
    engine_delete(F.w, "foo:1", 5);
    fx_store(&F, ENGINE_ADD, "bar:x", "v", 0, 0);
    fx_has(&F, "noprefix");                                /* not counted */
    engine_detail_enable(F.e, 0, ':');
    fx_has(&F, "bar:x");                                   /* off again */
    engine_detail_dump(F.e, dump_cb, &d);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "foo 2 1 1 1;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(d.text, "bar 0 0 1 0;"));
    CU_ASSERT_EQUAL(strlen(d.text), strlen("foo 2 1 1 1;bar 0 0 1 0;"));
}

static void info_cb(void *arg, const struct engine_item_info *info)
{
    *(struct engine_item_info *)arg = *info;
}

/* The item view a callback gets: class, last access, fetched. */
static void test_item_info(void)
{
    struct engine_item_info in;
    reset();
    fx_store(&F, ENGINE_SET, "info", "v", 0, 0);
    CU_ASSERT_EQUAL(engine_peek(F.w, "info", 4, info_cb, &in), ENGINE_OK);
    CU_ASSERT_EQUAL(in.fetched, 0);
    CU_ASSERT_EQUAL(in.atime, (uint32_t)F.now);
    CU_ASSERT(in.clsid >= 1 && in.clsid <= engine_class_count(F.e));
    F.now += 100;
    CU_ASSERT_EQUAL(engine_get(F.w, "info", 4, NULL, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(engine_peek(F.w, "info", 4, info_cb, &in), ENGINE_OK);
    CU_ASSERT_EQUAL(in.fetched, 1);
    CU_ASSERT_EQUAL(in.atime, (uint32_t)F.now);     /* bumped: 100 s > 60 */
}

/* engine_walk: every live item once, in pieces; nothing counted. */
struct walk_seen {
    unsigned char seen[1000];
    int stop_after;         /* > 0: stop the walk after that many items */
    int calls;
    int bad;
};

static int walk_fn(void *arg, const struct engine_item_info *info,
                   uint32_t last_access)
{
    struct walk_seen *ws = arg;
    char key[32], val[32];
    ws->calls++;
    if (info->nkey >= sizeof key || info->nbytes >= sizeof val ||
        last_access > 1000) {
        ws->bad++;
        return 0;
    }
    memcpy(key, info->key, info->nkey);
    key[info->nkey] = '\0';
    engine_value_copy(info, 0, info->nbytes, val);
    val[info->nbytes] = '\0';
    int i = -1;
    if (sscanf(key, "walk:%d", &i) != 1 || i < 0 || i >= 1000 ||
        atoi(val) != i * 7 || info->clsid == 0 || info->fetched) {
        ws->bad++;
        return 0;
    }
    ws->seen[i]++;
    return ws->stop_after > 0 && ws->calls >= ws->stop_after;
}

static void test_walk(void)
{
    reset();
    char key[32], val[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "walk:%d", i);
        snprintf(val, sizeof val, "%d", i * 7);
        CU_ASSERT_EQUAL_FATAL(fx_store(&F, ENGINE_SET, key, val, 0,
                                       i % 10 == 9 ? 5 : 0), ENGINE_STORED);
    }
    F.now += 6;                     /* every tenth item has expired */
    struct engine_stats before, after;
    engine_stats(F.e, &before);

    struct walk_seen ws;
    memset(&ws, 0, sizeof ws);
    uint64_t cursor = 0;
    int rounds = 0;
    long total = 0;
    while (cursor != ENGINE_WALK_END && rounds < 100000) {
        long n = engine_walk(F.w, &cursor, 97, walk_fn, &ws);
        CU_ASSERT_FATAL(n >= 0);
        total += n;
        rounds++;
    }
    CU_ASSERT(rounds > 1);          /* it did go in pieces */
    CU_ASSERT_EQUAL(total, 900);
    CU_ASSERT_EQUAL(ws.bad, 0);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(ws.seen[i], i % 10 == 9 ? 0 : 1);
    engine_stats(F.e, &after);
    CU_ASSERT_EQUAL(after.c.cmd_get, before.c.cmd_get);
    CU_ASSERT_EQUAL(after.c.get_hits, before.c.get_hits);

    /* fn stops it: the cursor says where to go on */
    memset(&ws, 0, sizeof ws);
    ws.stop_after = 5;
    cursor = 0;
    long n = engine_walk(F.w, &cursor, UINT64_MAX, walk_fn, &ws);
    CU_ASSERT(n >= 5 && n < 900);
    CU_ASSERT(cursor != ENGINE_WALK_END);
    ws.stop_after = 0;
    n += engine_walk(F.w, &cursor, UINT64_MAX, walk_fn, &ws);
    CU_ASSERT_EQUAL(n, 900);
    CU_ASSERT_EQUAL(cursor, ENGINE_WALK_END);
    fx_check(&F);
}

static void small_table(struct engine_config *cfg)
{
    cfg->hashpower = 12;            /* many buckets hold several items */
}

/* A walk stopped by its callback goes on after the whole bucket: stopping
 * every few items, each item is still seen exactly once. */
static void test_walk_stop(void)
{
    struct fixture f;
    char key[32], val[32];
    CU_ASSERT_FATAL(fixture_open(&f, 8, small_table) == 0);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "walk:%d", i);
        snprintf(val, sizeof val, "%d", i * 7);
        fx_store(&f, ENGINE_SET, key, val, 0, 0);
    }
    struct walk_seen ws;
    memset(&ws, 0, sizeof ws);
    uint64_t cursor = 0;
    long total = 0;
    for (int rounds = 0; cursor != ENGINE_WALK_END && rounds < 10000;
         rounds++) {
        ws.calls = 0;
        ws.stop_after = 3;
        total += engine_walk(f.w, &cursor, UINT64_MAX, walk_fn, &ws);
    }
    CU_ASSERT_EQUAL(total, 1000);
    CU_ASSERT_EQUAL(ws.bad, 0);
    int once = 0;
    for (int i = 0; i < 1000; i++)
        once += ws.seen[i] == 1;
    CU_ASSERT_EQUAL(once, 1000);
    fixture_close(&f);
}

UNIT_SUITE(engine, setup, teardown,
           UNIT_TEST(test_set_get), UNIT_TEST(test_add_replace),
           UNIT_TEST(test_append_prepend), UNIT_TEST(test_cas),
           UNIT_TEST(test_cas_disabled), UNIT_TEST(test_delete_touch_gat),
           UNIT_TEST(test_expiry_rules), UNIT_TEST(test_flush),
           UNIT_TEST(test_incr_decr), UNIT_TEST(test_keys),
           UNIT_TEST(test_too_large), UNIT_TEST(test_stats_counters),
           UNIT_TEST(test_detail), UNIT_TEST(test_unlink_uncounted),
           UNIT_TEST(test_walk), UNIT_TEST(test_walk_stop),
           UNIT_TEST(test_item_info))
