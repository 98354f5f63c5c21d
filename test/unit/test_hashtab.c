/*
 * test_hashtab.c - the hash function's spread, the chain operations, and
 * the table's growth (hashgrow.c): it starts past 1.5 items per bucket and
 * not before, every operation is right at every point of a half-done
 * doubling, walks meet every item once across doublings, no_hashexpand
 * keeps the size, the region has room for the largest table its memory
 * can need, engine_check sees a table that is wrong, and a splitter killed
 * after any store of a split is repaired (growrig.h sets the stage).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "growrig.h"
#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/region.h"
#include "server/settings.h"
#include "unit.h"

static void test_spread(void)
{
    /* similar keys spread evenly over 1024 buckets: no bucket gets more
     * than twice its share, none stays empty */
    enum { NB = 1024, N = 64 * NB };
    static unsigned count[NB];
    char key[32];
    memset(count, 0, sizeof(count));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "user:%d", i);
        count[hash_key(key, strlen(key)) & (NB - 1)]++;
    }
    unsigned lo = N, hi = 0;
    for (int b = 0; b < NB; b++) {
        lo = count[b] < lo ? count[b] : lo;
        hi = count[b] > hi ? count[b] : hi;
    }
    CU_ASSERT_TRUE(lo > 32);
    CU_ASSERT_TRUE(hi < 128);
    /* every byte matters, in any position */
    CU_ASSERT_NOT_EQUAL(hash_key("abcdefghi", 9), hash_key("abcdefghj", 9));
    CU_ASSERT_NOT_EQUAL(hash_key("bbcdefghi", 9), hash_key("abcdefghi", 9));
    CU_ASSERT_NOT_EQUAL(hash_key("a", 1), hash_key("a\0", 2));
    CU_ASSERT_EQUAL(hash_key("same", 4), hash_key("same", 4));
}

static void test_chain_ops(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 2, NULL) == 0);
    /* many keys into one engine: every one findable, chains intact */
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "c%d", i);
        CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, key, "v", 0, 0), ENGINE_STORED);
    }
    struct engine *e = f.e;
    int found = 0, unlinked = 0;
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "c%d", i);
        uint32_t b = hash_bucket(e, hash_key(key, strlen(key)));
        ref_t *link;
        ref_t r = hash_find(e, b, key, strlen(key), &link);
        found += r != 0 && *link == r && hash_contains(e, b, r);
        if (i % 3 == 0 && r) {
            /* take it off and put it back: chain stays well formed */
            unlinked += hash_unlink(e, b, r);
            CU_ASSERT_FALSE(hash_contains(e, b, r));
            hash_insert(e, b, r);
        }
    }
    CU_ASSERT_EQUAL(found, 3000);
    CU_ASSERT_EQUAL(unlinked, 1000);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- growth ------------------------------------------------------------ */

static uint64_t state(struct fixture *f)
{
    return f->e->r->hash_state;
}

static void store_n(struct fixture *f, const char *prefix, int from, int to)
{
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, key, key, 0, 0),
                        ENGINE_STORED);
    }
}

static int missing_n(struct fixture *f, const char *prefix, int from, int to)
{
    char key[32], got[32];
    int missing = 0;
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof key, "%s%d", prefix, i);
        missing += fx_get(f, key, got, sizeof got, NULL, NULL) != ENGINE_OK ||
                   strcmp(got, key) != 0;
    }
    return missing;
}

/* memcached's rule: a doubling starts once items > 1.5 x buckets, not at
 * 1.5 x; stats show it (hash_power_level, hash_bytes, hash_is_expanding). */
static void test_grow_threshold(void)
{
    struct fixture f;
    struct engine_stats st;
    CU_ASSERT_FATAL(fixture_open(&f, 8, grow_adjust) == 0);
    store_n(&f, "t", 0, 6144);                  /* 1.5 x 4096 */
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 1000), 0);
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.hash_power_level, 12);
    CU_ASSERT_EQUAL(st.hash_bytes, 4096 * 4);
    CU_ASSERT_EQUAL(st.hash_is_expanding, 0);
    store_n(&f, "t", 6144, 6145);
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 0), 1);   /* started, no split */
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.hash_power_level, 13);
    CU_ASSERT_EQUAL(st.hash_bytes, 8192 * 4);
    CU_ASSERT_EQUAL(st.hash_is_expanding, 1);
    CU_ASSERT_EQUAL(missing_n(&f, "t", 0, 6145), 0);
    grow_finish(&f);
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.hash_power_level, 13);
    CU_ASSERT_EQUAL(st.hash_is_expanding, 0);
    CU_ASSERT_EQUAL(missing_n(&f, "t", 0, 6145), 0);
    store_n(&f, "t", 6145, 12288);              /* 1.5 x 8192 */
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 1000), 0);
    store_n(&f, "t", 12288, 12289);
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 1000), 1);
    CU_ASSERT_EQUAL(hs_power(state(&f)), 14);
    grow_finish(&f);
    CU_ASSERT_EQUAL(missing_n(&f, "t", 0, 12289), 0);
    fx_check(&f);
    fixture_close(&f);
}

/* What the g<i> keys of growrig should hold: 0 v<i>, 1 w<i>, 2 gone. */
static unsigned char gstate[GROW_ITEMS];

static int g_wrong(struct fixture *f)
{
    char key[16], want[16], got[32];
    int wrong = 0;
    for (int i = 0; i < GROW_ITEMS; i++) {
        snprintf(key, sizeof key, "g%d", i);
        snprintf(want, sizeof want, "%c%d", gstate[i] ? 'w' : 'v', i);
        enum engine_status st = fx_get(f, key, got, sizeof got, NULL, NULL);
        wrong += gstate[i] == 2 ? st != ENGINE_NOT_FOUND
                                : st != ENGINE_OK || strcmp(got, want) != 0;
    }
    return wrong;
}

/* Changes a few keys (replace, delete, add) where the table is now. */
static void change_some(struct fixture *f, int round)
{
    char key[16], val[16];
    for (int n = 0; n < 3; n++) {
        int i = (round * 131 + n * 2311) % GROW_ITEMS;
        snprintf(key, sizeof key, "g%d", i);
        if (gstate[i] == 2)
            continue;
        if (n == 2) {
            CU_ASSERT_EQUAL(engine_delete(f->w, key, strlen(key)), ENGINE_OK);
            gstate[i] = 2;
        } else {
            snprintf(val, sizeof val, "w%d", i);
            CU_ASSERT_EQUAL(fx_store(f, ENGINE_REPLACE, key, val, 0, 0),
                            ENGINE_STORED);
            gstate[i] = 1;
        }
    }
    store_n(f, "new", round * 4, round * 4 + 4);
    CU_ASSERT_EQUAL(fx_store(f, ENGINE_ADD, "g0", "x", 0, 0),
                    gstate[0] == 2 ? ENGINE_STORED : ENGINE_NOT_STORED);
    if (gstate[0] == 2) {
        CU_ASSERT_EQUAL(engine_delete(f->w, "g0", 2), ENGINE_OK);
    }
}

/* At every point of a half-done doubling (after each single split at
 * first, then every few), gets, replaces, deletes and adds are right for
 * every key, whether its bucket was split yet or not, and every invariant
 * holds. */
static void test_grow_every_point(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 8, grow_adjust) == 0);
    memset(gstate, 0, sizeof gstate);
    grow_setup(&f);
    int round = 0, wrong = 0;
    while (hs_growing(state(&f)) && round < 1000) {
        engine_hash_grow(f.w, round < 64 ? 1 : 37);
        change_some(&f, round);
        wrong += g_wrong(&f) + missing_n(&f, "new", 0, round * 4 + 4);
        if (round % 16 == 0)
            fx_check(&f);
        round++;
    }
    CU_ASSERT(round > 64);
    CU_ASSERT_FALSE(hs_growing(state(&f)));
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(g_wrong(&f), 0);
    fx_check(&f);
    fixture_close(&f);
}

struct walk_count {
    unsigned char g[GROW_ITEMS];
    unsigned char n[40000];
    int bad;
};

static int count_fn(void *arg, const struct engine_item_info *info,
                    uint32_t last_access)
{
    struct walk_count *wc = arg;
    char key[32];
    int i;
    (void)last_access;
    if (info->nkey >= sizeof key) {
        wc->bad++;
        return 0;
    }
    memcpy(key, info->key, info->nkey);
    key[info->nkey] = '\0';
    if (sscanf(key, "g%d", &i) == 1 && i >= 0 && i < GROW_ITEMS)
        wc->g[i]++;
    else if (sscanf(key, "new%d", &i) == 1 && i >= 0 && i < 40000)
        wc->n[i]++;
    else if (key[0] != 'm')
        wc->bad++;
    return 0;
}

/* A walk in pieces while the table doubles twice under it and items are
 * added: every item there for the whole walk is seen exactly once, the
 * others at most once. */
static void test_grow_walk(void)
{
    struct fixture f;
    static struct walk_count wc;
    CU_ASSERT_FATAL(fixture_open(&f, 16, grow_adjust) == 0);
    memset(&wc, 0, sizeof wc);
    grow_setup(&f);
    uint64_t cursor = 0;
    int calls = 0, added = 0;
    unsigned powers = 0;
    while (cursor != ENGINE_WALK_END && calls < 100000) {
        CU_ASSERT_FATAL(engine_walk(f.w, &cursor, 7, count_fn, &wc) >= 0);
        calls++;
        engine_hash_grow(f.w, 61);
        if (added < 40000) {
            store_n(&f, "new", added, added + 40);
            added += 40;
        }
        powers |= 1u << hs_power(state(&f));
    }
    CU_ASSERT(powers & (1u << 15));            /* it grew twice under it */
    int twice = 0, never = 0;
    for (int i = 0; i < GROW_ITEMS; i++) {
        twice += wc.g[i] > 1;
        never += wc.g[i] == 0;
    }
    for (int i = 0; i < added; i++)
        twice += wc.n[i] > 1;
    CU_ASSERT_EQUAL(twice, 0);
    CU_ASSERT_EQUAL(never, 0);
    CU_ASSERT_EQUAL(wc.bad, 0);
    fx_check(&f);
    fixture_close(&f);
}

/* The full copy's sweep (engine_unmark, apply.c) walks the same way: an
 * item marked before is unmarked, however the table grows meanwhile. */
static int mark_fn(void *arg, const struct engine_item_info *info,
                   uint32_t last_access)
{
    (void)arg, (void)last_access;
    ((struct item *)(uintptr_t)info->value)->iflags |= IF_SYNCED;
    return 0;
}

static int marked_fn(void *arg, const struct engine_item_info *info,
                     uint32_t last_access)
{
    (void)last_access;
    *(int *)arg += (((const struct item *)info->value)->iflags &
                    IF_SYNCED) != 0;
    return 0;
}

static void test_grow_unmark(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 16, grow_adjust) == 0);
    grow_setup(&f);
    uint64_t cursor = 0;
    engine_walk(f.w, &cursor, UINT64_MAX, mark_fn, NULL);
    cursor = 0;
    int calls = 0, added = 0;
    while (cursor != ENGINE_WALK_END && calls++ < 100000) {
        CU_ASSERT_FATAL(engine_unmark(f.w, &cursor, 5) >= 0);
        engine_hash_grow(f.w, 61);
        if (added < 30000) {
            store_n(&f, "new", added, added + 40);
            added += 40;
        }
    }
    CU_ASSERT(hs_power(state(&f)) >= 15);
    int marked = 0;
    cursor = 0;
    engine_walk(f.w, &cursor, UINT64_MAX, marked_fn, &marked);
    CU_ASSERT_EQUAL(marked, 0);
    fx_check(&f);
    fixture_close(&f);
}

/* -o no_hashexpand reaches the engine and keeps the table's size; the
 * default grows. */
static void test_no_hashexpand(void)
{
    struct settings s;
    struct engine_config cfg;
    char err[256];
    char *argv[] = { "shmcached", "-o", "no_hashexpand,hashpower=12", NULL };
    settings_defaults(&s);
    settings_engine_config(&s, &cfg);
    CU_ASSERT_EQUAL(cfg.hash_expand, 1);
    CU_ASSERT_EQUAL_FATAL(settings_load(&s, 3, argv, NULL, err, sizeof err),
                          0);
    settings_engine_config(&s, &cfg);
    CU_ASSERT_EQUAL(cfg.hash_expand, 0);
    cfg.mem_limit = 8 << 20;
    cfg.mem_reserve = cfg.mem_limit;
    const char *why = NULL;
    struct fixture f = { .now = 1700000000 };
    f.e = engine_create(&cfg, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f.e);
    f.w = engine_worker_attach(f.e, getpid());
    store_n(&f, "t", 0, 10000);
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 100000), 0);
    struct engine_stats st;
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.hash_power_level, 12);
    CU_ASSERT_EQUAL(st.hash_is_expanding, 0);
    CU_ASSERT_EQUAL(missing_n(&f, "t", 0, 10000), 0);
    fx_check(&f);
    fixture_close(&f);
}

/* The region has room for the largest table its memory can need: filled
 * with the smallest items until it evicts, the cache holds no more than
 * 1.5 items per bucket of the largest table, which the growth reaches and
 * does not pass; the room below the page table holds it. */
static void test_grow_room(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 2, grow_adjust) == 0);
    struct region *r = f.e->r;
    char key[16];
    struct engine_stats st;
    int i = 0;
    do {
        snprintf(key, sizeof key, "%d", i++);
        fx_store(&f, ENGINE_SET, key, "", 0, 0);
        engine_stats(f.e, &st);
    } while (st.evictions == 0 && i < 1000000);
    CU_ASSERT(st.evictions > 0);
    CU_ASSERT(r->hash_max > 12);
    CU_ASSERT(st.curr_items <= (3ull << r->hash_max) / 2);
    CU_ASSERT(st.curr_items > (3ull << (r->hash_max - 1)) / 2);
    CU_ASSERT((1ull << r->hash_max) * sizeof(ref_t) <=
              r->off_page_class - r->off_buckets);
    for (int round = 0; round < 10; round++)
        grow_finish(&f);
    CU_ASSERT_EQUAL(hs_power(state(&f)), r->hash_max);
    CU_ASSERT_EQUAL(engine_hash_grow(f.w, 1000), 0);
    fx_check(&f);
    fixture_close(&f);
}

static int check_says(struct fixture *f, const char *part)
{
    char msg[256] = "";
    return engine_check(f->e, msg, sizeof msg) < 0 &&
           strstr(msg, part) != NULL;
}

/* engine_check verifies the table in the middle of a doubling: an item on
 * a bucket the growth has not reached, a split recorded as in flight, a
 * state word out of the geometry, an item left in the old bucket of a
 * split one. */
static void test_check_sees_bad_table(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 8, grow_adjust) == 0);
    grow_setup(&f);
    struct engine *e = f.e;
    uint64_t st = state(&f), used = hs_used(st);
    fx_check(&f);
    ref_t some = e->buckets[used - 4096 + 1];
    CU_ASSERT_FATAL(some != 0);
    e->buckets[used + 3] = some;
    CU_ASSERT(check_says(&f, "past"));
    e->buckets[used + 3] = 0;
    f.w->s->j_split = st;
    CU_ASSERT(check_says(&f, "in flight"));
    f.w->s->j_split = 0;
    e->r->hash_state = hash_state_make(e->r->hash_max + 1, used);
    CU_ASSERT(check_says(&f, "hash state"));
    e->r->hash_state = st;
    /* a split bucket: an item that went to the image, put back at the old
     * bucket's head */
    for (uint32_t b = 0; b < used - 4096; b++) {
        ref_t x = e->buckets[b + 4096];
        if (x == 0)
            continue;
        e->buckets[b + 4096] = ITEM(e, x)->hnext;
        ITEM(e, x)->hnext = e->buckets[b];
        e->buckets[b] = x;
        CU_ASSERT(check_says(&f, "wrong bucket"));
        e->buckets[b] = ITEM(e, x)->hnext;
        ITEM(e, x)->hnext = e->buckets[b + 4096];
        e->buckets[b + 4096] = x;
        break;
    }
    fx_check(&f);
    fixture_close(&f);
}

/* The stores a whole split of the next bucket takes (grow_split_prefix):
 * two per item that goes, one to end the image's chain. */
static unsigned split_stores(struct fixture *f)
{
    struct engine *e = f->e;
    uint64_t st = state(f), half = 1ull << (hs_power(st) - 1);
    unsigned n = 1;
    for (ref_t x = e->buckets[hs_used(st) - half]; x != 0;
         x = ITEM(e, x)->hnext)
        n += (hash_key(item_key(ITEM(e, x)), ITEM(e, x)->nkey) & half) ? 2
                                                                        : 0;
    return n;
}

/* A splitter killed after each store of a split (every state a split can
 * leave, the whole split with the state word not stepped included), with
 * the engine going on: the reap's stripe repair finishes the split,
 * nothing is lost, and the doubling goes on to its end. */
static void test_grow_crash_every_store(void)
{
    unsigned total = 1, runs = 0;
    for (unsigned k = 0; k <= total; k++) {
        struct fixture f;
        CU_ASSERT_FATAL(fixture_open(&f, 4, grow_adjust) == 0);
        grow_setup(&f);
        total = split_stores(&f);
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        pid_t pid = fork();
        if (pid == 0) {
            grow_split_prefix(&f, grow_split_begin(&f, w), k);
            raise(SIGKILL);
            _exit(3);
        }
        int status;
        struct engine_reap rp;
        waitpid(pid, &status, 0);
        CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        CU_ASSERT_EQUAL(engine_worker_reap(f.e, engine_worker_slot(w), &rp),
                        0);
        CU_ASSERT_EQUAL(rp.repairs, 1);
        free(w);
        fx_check(&f);
        CU_ASSERT_EQUAL(grow_missing(&f), 0);
        CU_ASSERT_EQUAL(grow_items(&f), GROW_ITEMS + GROW_MIX);
        CU_ASSERT_EQUAL(hs_used(state(&f)), 4096 + GROW_BUCKET + 1);
        grow_finish(&f);
        CU_ASSERT_EQUAL(grow_missing(&f), 0);
        fx_check(&f);
        fixture_close(&f);
        runs++;
    }
    CU_ASSERT(total >= 2 * 3 + 1);      /* three mixed keys go, at least */
    CU_ASSERT_EQUAL(runs, total + 1);
}

/* ---- growth under load, splitters killed ------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define LOADERS 3
#define LOAD_KEYS 40000

/* One process's load: it alone writes its keys, so it knows what each
 * must hold. */
struct own_load {
    struct fixture f;
    int id;
    unsigned seed;
    uint32_t *ver;                  /* per key, 0: absent */
    int wrong;
};

/* Checks key i's answer against what was written. */
static void own_check(struct own_load *o, const char *key, int i)
{
    char val[32], got[32];
    snprintf(val, sizeof val, "%d:%u", i, o->ver[i]);
    enum engine_status st = fx_get(&o->f, key, got, sizeof got, NULL, NULL);
    o->wrong += o->ver[i] ? st != ENGINE_OK || strcmp(got, val) != 0
                          : st != ENGINE_NOT_FOUND;
}

/* what: 0 delete, 1 set, else get (checked). */
static void own_op(struct own_load *o, int i, int what)
{
    char key[32], val[32];
    struct engine_worker *w = o->f.w;
    snprintf(key, sizeof key, "p%d:%d", o->id, i);
    if (what == 0) {
        o->wrong += engine_delete(w, key, strlen(key)) !=
                    (o->ver[i] ? ENGINE_OK : ENGINE_NOT_FOUND);
        o->ver[i] = 0;
    } else if (what == 1) {
        snprintf(val, sizeof val, "%d:%u", i, ++o->ver[i]);
        o->wrong += fx_store(&o->f, ENGINE_SET, key, val, 0, 0) !=
                    ENGINE_STORED;
    } else {
        own_check(o, key, i);
    }
}

/* Has the table caught up with the items (grown to at least 2^15, no
 * doubling under way or due)? */
static int caught_up(struct engine *e)
{
    struct engine_stats st;
    engine_stats(e, &st);
    return !st.hash_is_expanding && st.hash_power_level >= 15 &&
           st.curr_items <= (3ull << st.hash_power_level) / 2;
}

/* Inserts new keys (the table grows) mixed with gets, updates and
 * deletes of earlier ones; goes on with the mix until the growth has
 * caught up (so it all happens under load, however the CPUs are shared;
 * at most a minute), then reads every key back. Returns the number of
 * wrong answers (a minute without catching up is one). */
static int own_keys_load(struct engine_worker *w, int id)
{
    static uint32_t ver[LOAD_KEYS];
    struct own_load o = { { w->e, w, 1700000000 }, id,
                          (unsigned)id * 7919u + 1, ver, 0 };
    char key[32];
    for (int k = 0; k < LOAD_KEYS; k++) {
        own_op(&o, k, 1);
        for (int op = 0; op < 2; op++)
            own_op(&o, (int)(rand_r(&o.seed) % (unsigned)(k + 1)),
                   (int)(rand_r(&o.seed) % 4));
    }
    double end = now_s() + 60;
    while (!caught_up(w->e) && now_s() < end)
        for (int n = 0; n < 1000; n++)
            own_op(&o, (int)(rand_r(&o.seed) % LOAD_KEYS),
                   (int)(rand_r(&o.seed) % 4));
    o.wrong += !caught_up(w->e);
    for (int i = 0; i < LOAD_KEYS; i++) {
        snprintf(key, sizeof key, "p%d:%d", id, i);
        own_check(&o, key, i);
    }
    return o.wrong;
}

/* A process that grows the table, until killed. */
static pid_t splitter(struct fixture *f, struct engine_worker **w)
{
    *w = engine_worker_attach(f->e, 0);
    pid_t pid = fork();
    if (pid == 0)
        for (;;)
            if (engine_hash_grow(*w, 4) == 0)
                usleep(100);
    return pid;
}

/* Three processes load the cache while a fourth grows the table from
 * 2^12 buckets to 2^15 or more and is SIGKILLed every few milliseconds
 * (often in the middle of a split) and replaced: every answer is right,
 * and afterwards every invariant holds. */
static void test_grow_under_load(void)
{
    struct fixture f;
    pid_t load[LOADERS];
    CU_ASSERT_FATAL(fixture_open(&f, 32, grow_adjust) == 0);
    for (int i = 0; i < LOADERS; i++) {
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        load[i] = fork();
        if (load[i] == 0)
            _exit(own_keys_load(w, i) == 0 ? 0 : 1);
        free(w);
    }
    struct engine_worker *sw;
    pid_t sp = splitter(&f, &sw);
    unsigned kills = 0, seed = 3;
    int running = LOADERS, clean = 0;
    while (running > 0) {
        usleep(1000 + rand_r(&seed) % 4000);
        kill(sp, SIGKILL);
        waitpid(sp, NULL, 0);
        struct engine_reap rp;
        CU_ASSERT_EQUAL(engine_worker_reap(f.e, engine_worker_slot(sw), &rp),
                        0);
        free(sw);
        kills++;
        sp = splitter(&f, &sw);
        for (int i = 0; i < LOADERS; i++) {
            int status;
            if (load[i] > 0 && waitpid(load[i], &status, WNOHANG) > 0) {
                load[i] = 0;
                running--;
                clean += WIFEXITED(status) && WEXITSTATUS(status) == 0;
            }
        }
    }
    kill(sp, SIGKILL);
    waitpid(sp, NULL, 0);
    struct engine_reap rp;
    engine_worker_reap(f.e, engine_worker_slot(sw), &rp);
    free(sw);
    CU_ASSERT_EQUAL(clean, LOADERS);
    struct engine_stats st;
    engine_stats(f.e, &st);
    printf("\n    grow under load: %u splitters killed, %llu lock repairs, "
           "table 2^%u ", kills, (unsigned long long)st.lock_repairs,
           st.hash_power_level);
    fx_check(&f);
    grow_finish(&f);
    fx_check(&f);
    fixture_close(&f);
}

UNIT_SUITE(hashtab, NULL, NULL, UNIT_TEST(test_spread),
           UNIT_TEST(test_chain_ops), UNIT_TEST(test_grow_threshold),
           UNIT_TEST(test_grow_every_point), UNIT_TEST(test_grow_walk),
           UNIT_TEST(test_grow_unmark), UNIT_TEST(test_no_hashexpand),
           UNIT_TEST(test_grow_room), UNIT_TEST(test_check_sees_bad_table),
           UNIT_TEST(test_grow_crash_every_store),
           UNIT_TEST(test_grow_under_load))
