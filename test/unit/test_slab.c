/*
 * test_slab.c - slab classes and accounting, LRU eviction order, -M, and
 * large items stored as chained chunks.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "engine/region.h"
#include "unit.h"

static void test_class_sizes(void)
{
    struct fixture f;
    struct engine_class_stats a, b;
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    unsigned n = engine_class_count(f.e);
    CU_ASSERT_TRUE(n > 30 && n < 64);
    engine_class_stats(f.e, 1, &a);
    /* header (48) + -n 48, as memcached's first class is 96 */
    CU_ASSERT_EQUAL(a.chunk_size, 96);
    CU_ASSERT_EQUAL(a.chunks_per_page, (1u << 20) / 96);
    for (unsigned id = 2; id <= n; id++) {
        engine_class_stats(f.e, id, &b);
        CU_ASSERT_TRUE(b.chunk_size > a.chunk_size);
        CU_ASSERT_EQUAL(b.chunk_size % 8, 0);
        if (id < n)   /* growth by the factor, 8-byte aligned */
            CU_ASSERT_TRUE(b.chunk_size <= (unsigned)(a.chunk_size * 1.25) + 8);
        a = b;
    }
    CU_ASSERT_EQUAL(a.chunk_size, 512 * 1024);   /* slab_chunk_max */
    fixture_close(&f);
}

static void factor2(struct engine_config *cfg)
{
    cfg->factor = 2.0;
    cfg->min_chunk = 100;
}

static void test_class_options(void)
{
    struct fixture f;
    struct engine_class_stats a, b;
    CU_ASSERT_FATAL(fixture_open(&f, 4, factor2) == 0);
    engine_class_stats(f.e, 1, &a);
    engine_class_stats(f.e, 2, &b);
    CU_ASSERT_EQUAL(a.chunk_size, 152);
    CU_ASSERT_EQUAL(b.chunk_size, 304);
    fixture_close(&f);
}

static void test_accounting(void)
{
    struct fixture f;
    struct engine_class_stats cs;
    struct engine_stats st;
    char key[32], val[100];
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    memset(val, 'v', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "key:%04d", i);
        CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, key, val, 0, 0), ENGINE_STORED);
    }
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 1000);
    CU_ASSERT_EQUAL(st.total_items, 1000);
    CU_ASSERT_EQUAL(st.bytes, 1000 * (ITEM_HDR + 8 + 99));
    unsigned used = 0;
    for (unsigned id = 1; id <= engine_class_count(f.e); id++) {
        if (!engine_class_stats(f.e, id, &cs))
            continue;
        used++;
        CU_ASSERT_EQUAL(cs.used_chunks, 1000);
        CU_ASSERT_EQUAL(cs.used_chunks + cs.free_chunks, cs.total_chunks);
        CU_ASSERT_EQUAL(cs.total_chunks, cs.total_pages * cs.chunks_per_page);
        CU_ASSERT_TRUE(cs.chunk_size >= ITEM_HDR + 8 + 99);
    }
    CU_ASSERT_EQUAL(used, 1);
    /* overwrite and delete keep the counts right */
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "key:%04d", i);
        fx_store(&f, ENGINE_SET, key, "short", 0, 0);
        snprintf(key, sizeof(key), "key:%04d", i + 500);
        engine_delete(f.w, key, strlen(key));
    }
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 500);
    fx_check(&f);
    fixture_close(&f);
}

static void test_lru_order(void)
{
    struct fixture f;
    char key[32], val[900];
    struct engine_stats st;
    CU_ASSERT_FATAL(fixture_open(&f, 2, NULL) == 0);
    fx_lru(&f, 0);                          /* the flat LRU's order */
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    /* fill well past 2 MB (about 1800 such items) in one class: older items
     * go first */
    int n = 0;
    for (; n < 2500; n++) {
        snprintf(key, sizeof(key), "k%05d", n);
        CU_ASSERT_EQUAL_FATAL(fx_store(&f, ENGINE_SET, key, val, 0, 0), ENGINE_STORED);
        if (n == 1000) {
            /* k00000 gets accessed a minute later: it moves to the head */
            f.now += 61;
            CU_ASSERT_TRUE(fx_has(&f, "k00000"));
        }
    }
    engine_stats(f.e, &st);
    CU_ASSERT_TRUE(st.evictions > 0);
    CU_ASSERT_TRUE(fx_has(&f, "k00000"));    /* bumped: survived */
    CU_ASSERT_FALSE(fx_has(&f, "k00001"));   /* least recently used: gone */
    snprintf(key, sizeof(key), "k%05d", n - 1);
    CU_ASSERT_TRUE(fx_has(&f, key));         /* newest: present */
    /* what survived is a suffix of the insertion order */
    int first = -1, holes = 0;
    for (int i = 1; i < n; i++) {
        snprintf(key, sizeof(key), "k%05d", i);
        int has = fx_has(&f, key);
        if (has && first < 0)
            first = i;
        if (!has && first >= 0)
            holes++;
    }
    CU_ASSERT_TRUE(first > 0);
    CU_ASSERT_EQUAL(holes, 0);
    CU_ASSERT_EQUAL(st.evictions, (uint64_t)(first - 1));
    fx_check(&f);
    fixture_close(&f);
}

static void test_expired_reclaimed_first(void)
{
    struct fixture f;
    char key[32], val[900];
    struct engine_stats st;
    CU_ASSERT_FATAL(fixture_open(&f, 2, NULL) == 0);
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    int cap = 0;
    /* fill exactly to capacity with short-lived items */
    for (;; cap++) {
        snprintf(key, sizeof(key), "e%05d", cap);
        fx_store(&f, ENGINE_SET, key, val, 0, 5);
        engine_stats(f.e, &st);
        if (st.evictions > 0 || cap > 10000)
            break;
    }
    CU_ASSERT_TRUE(cap > 100);
    f.now += 10;
    uint64_t before = st.evictions;
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "n%05d", i);
        fx_store(&f, ENGINE_SET, key, val, 0, 0);
    }
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.evictions, before);   /* expired memory was reused */
    CU_ASSERT_TRUE(st.reclaimed >= 50);
    /* the background sweep reclaims the rest */
    unsigned swept = engine_sweep(f.w, 100000);
    CU_ASSERT_TRUE(swept > 0);
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 50);
    fx_check(&f);
    fixture_close(&f);
}

static void no_evict(struct engine_config *cfg)
{
    cfg->evict = 0;
}

static void test_no_evict(void)
{
    struct fixture f;
    char key[32], val[900];
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    CU_ASSERT_FATAL(fixture_open(&f, 2, no_evict) == 0);
    int i = 0;
    enum engine_status st = ENGINE_STORED;
    for (; i < 10000 && st == ENGINE_STORED; i++) {
        snprintf(key, sizeof(key), "m%05d", i);
        st = fx_store(&f, ENGINE_SET, key, val, 0, i < 100 ? 30 : 0);
    }
    CU_ASSERT_EQUAL(st, ENGINE_NO_MEMORY);
    CU_ASSERT_TRUE(fx_has(&f, "m00000"));     /* nothing was evicted */
    /* once items expire, -M reuses their memory */
    f.now += 31;
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "after", val, 0, 0), ENGINE_STORED);
    struct engine_stats s;
    engine_stats(f.e, &s);
    CU_ASSERT_EQUAL(s.evictions, 0);
    CU_ASSERT_TRUE(s.c.store_no_memory >= 1);
    fx_check(&f);
    fixture_close(&f);
}

static void big_items(struct engine_config *cfg)
{
    cfg->item_size_max = 8u << 20;
}

struct bigcheck {
    unsigned char *buf;
    size_t n;
};

static void big_cb(void *arg, const struct engine_item_info *info)
{
    struct bigcheck *b = arg;
    b->n = info->nbytes;
    b->buf = malloc(info->nbytes);
    /* copy in uneven pieces across chunk boundaries */
    size_t off = 0, step = 77777;
    while (off < info->nbytes) {
        size_t n = info->nbytes - off < step ? info->nbytes - off : step;
        engine_value_copy(info, off, n, b->buf + off);
        off += n;
    }
}

static void test_large_chained(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 32, big_items) == 0);
    size_t sizes[] = { 512 * 1024 - 100, 600 * 1024, 3u << 20, (8u << 20) - 100 };
    for (unsigned k = 0; k < 4; k++) {
        size_t n = sizes[k];
        unsigned char *v = malloc(n);
        for (size_t i = 0; i < n; i++)
            v[i] = (unsigned char)(i * 31 + k);
        /* written in pieces, as the network delivers it */
        struct engine_alloc a;
        CU_ASSERT_EQUAL_FATAL(engine_alloc(f.w, "big", 3, k, 0, n, &a), ENGINE_OK);
        for (size_t off = 0; off < n; off += 10000)
            engine_alloc_write(f.w, &a, v + off, n - off < 10000 ? n - off : 10000);
        CU_ASSERT_EQUAL(engine_alloc_store(f.w, &a, ENGINE_SET, 0, NULL), ENGINE_STORED);
        struct bigcheck b = { NULL, 0 };
        CU_ASSERT_EQUAL(engine_get(f.w, "big", 3, big_cb, &b), ENGINE_OK);
        CU_ASSERT_EQUAL(b.n, n);
        CU_ASSERT_TRUE(b.buf && memcmp(b.buf, v, n) == 0);
        free(b.buf);
        free(v);
        fx_check(&f);
    }
    /* append to a chained item */
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "big", "x", 0, 0), ENGINE_STORED);
    char *half = malloc(700 * 1024 + 1);
    memset(half, 'h', 700 * 1024);
    half[700 * 1024] = '\0';
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_APPEND, "big", half, 0, 0), ENGINE_STORED);
    struct bigcheck b = { NULL, 0 };
    engine_get(f.w, "big", 3, big_cb, &b);
    CU_ASSERT_EQUAL(b.n, 700 * 1024 + 1);
    CU_ASSERT_TRUE(b.buf && b.buf[0] == 'x' && b.buf[700 * 1024] == 'h');
    free(b.buf);
    free(half);
    /* too large for -I 8m */
    struct engine_alloc a;
    CU_ASSERT_EQUAL(engine_alloc(f.w, "huge", 4, 0, 0, 8u << 20, &a), ENGINE_TOO_LARGE);
    CU_ASSERT_EQUAL(engine_delete(f.w, "big", 3), ENGINE_OK);
    fx_check(&f);
    fixture_close(&f);
}

static void test_mem_limit(void)
{
    struct fixture f;
    char key[32], val[900];
    struct engine_stats st;
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "l%05d", i);
        fx_store(&f, ENGINE_SET, key, val, 0, 0);
    }
    engine_stats(f.e, &st);
    CU_ASSERT_TRUE(st.total_malloced <= (4u << 20) + (1u << 20));
    CU_ASSERT_TRUE(st.limit_maxbytes == (4u << 20));
    /* growing beyond the reserve is refused */
    CU_ASSERT_EQUAL(engine_set_mem_limit(f.e, 1ull << 40), -1);
    fixture_close(&f);
}

static void reserve16(struct engine_config *cfg)
{
    cfg->mem_reserve = 16u << 20;
}

static void test_mem_limit_grow(void)
{
    struct fixture f;
    char key[32], val[900];
    struct engine_stats st;
    memset(val, 'x', sizeof(val) - 1);
    val[sizeof(val) - 1] = '\0';
    CU_ASSERT_FATAL(fixture_open(&f, 4, reserve16) == 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "g%05d", i);
        fx_store(&f, ENGINE_SET, key, val, 0, 0);
    }
    engine_stats(f.e, &st);
    uint64_t small = st.curr_items;
    /* cache_memlimit 12: more pages may be carved, more items stay */
    CU_ASSERT_EQUAL(engine_set_mem_limit(f.e, 12u << 20), 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "h%05d", i);
        fx_store(&f, ENGINE_SET, key, val, 0, 0);
    }
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.limit_maxbytes, 12u << 20);
    CU_ASSERT_TRUE(st.curr_items > 2 * small);
    CU_ASSERT_EQUAL(engine_set_mem_limit(f.e, 17u << 20), -1);
    fx_check(&f);
    fixture_close(&f);
}

/* The class that holds one item of key/value, found by storing it alone. */
static unsigned chunk_of_one(const char *key, size_t nval, uint32_t flags,
                             uint64_t *bytes)
{
    struct fixture f;
    struct engine_class_stats cs;
    struct engine_stats st;
    char *val = malloc(nval + 1);
    unsigned size = 0;
    memset(val, 'v', nval);
    val[nval] = '\0';
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, key, val, flags, 0),
                    ENGINE_STORED);
    for (unsigned id = 1; id <= engine_class_count(f.e); id++)
        if (engine_class_stats(f.e, id, &cs) && cs.used_chunks == 1)
            size = cs.chunk_size;
    engine_stats(f.e, &st);
    *bytes = st.bytes;
    char buf[256];
    uint32_t got = 0;
    CU_ASSERT_EQUAL(fx_get(&f, key, buf, sizeof buf, &got, NULL), ENGINE_OK);
    CU_ASSERT_EQUAL(got, flags);
    CU_ASSERT_EQUAL(strlen(buf), nval < sizeof buf ? nval : sizeof buf - 1);
    fx_check(&f);
    fixture_close(&f);
    free(val);
    return size;
}

/* issue 14's memory target: an item of 100 bytes with an 11-byte key
 * (make bench's fill) takes a 152-byte chunk, where memcached's 56-byte
 * header puts it in 192 (the same classes: 96, 120, 152, 192); flags are
 * stored only when not 0, so they cost 4 bytes then and none otherwise. */
static void test_compact_items(void)
{
    uint64_t b0, b1;
    CU_ASSERT_EQUAL(chunk_of_one("key:0000001", 100, 0, &b0), 152);
    CU_ASSERT_EQUAL(chunk_of_one("key:0000001", 100, 0xdeadbeef, &b1), 192);
    CU_ASSERT_EQUAL(b1, b0 + 4);
    CU_ASSERT_EQUAL(chunk_of_one("key:0000001", 96, 1, &b1), 152);
}

/* Chained values keep their flags, and a big value that just fits its
 * chunk but for the chain link is chained (the link never overlaps it). */
static void test_chained_flags(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 32, big_items) == 0);
    unsigned big = f.e->r->big;
    size_t room = f.e->classes[big].size - ITEM_HDR;
    size_t sizes[] = { room - 3, room - 3 - 4, room - 3 - 4 - 4, room * 3 };
    for (unsigned k = 0; k < 4; k++) {
        for (uint32_t flags = 0; flags < 2; flags++) {
            size_t n = sizes[k];
            char *v = malloc(n + 1);
            for (size_t i = 0; i < n; i++)
                v[i] = (char)('a' + (i * 7 + k) % 26);
            v[n] = '\0';
            CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "big", v, flags * 77, 0),
                            ENGINE_STORED);
            struct bigcheck b = { NULL, 0 };
            uint32_t got = 9;
            CU_ASSERT_EQUAL(engine_get(f.w, "big", 3, big_cb, &b), ENGINE_OK);
            CU_ASSERT_TRUE(b.n == n && b.buf && memcmp(b.buf, v, n) == 0);
            char small[4];
            fx_get(&f, "big", small, sizeof small, &got, NULL);
            CU_ASSERT_EQUAL(got, flags * 77);
            free(b.buf);
            free(v);
            fx_check(&f);
        }
    }
    fixture_close(&f);
}

static void listed_sizes(struct engine_config *cfg)
{
    static const unsigned list[] = { 100, 1080, 2000, 0 };
    memcpy(cfg->slab_sizes, list, sizeof list);
}

/* -o slab_sizes: the classes are the sizes listed (8-byte aligned, as
 * memcached), then slab_chunk_max; items go to the first that fits. */
static void test_listed_sizes(void)
{
    struct fixture f;
    struct engine_class_stats cs;
    CU_ASSERT_FATAL(fixture_open(&f, 8, listed_sizes) == 0);
    CU_ASSERT_EQUAL(engine_class_count(f.e), 4);
    static const unsigned want[] = { 104, 1080, 2000 };
    for (unsigned id = 1; id <= 3; id++) {
        engine_class_stats(f.e, id, &cs);
        CU_ASSERT_EQUAL(cs.chunk_size, want[id - 1]);
    }
    engine_class_stats(f.e, 4, &cs);
    CU_ASSERT_EQUAL(cs.chunk_size, f.e->r->cfg.slab_chunk_max);
    /* a 1 KB value with an 11-byte key: 1,075 bytes, the 1,080 class */
    char val[1025];
    memset(val, 'v', 1024);
    val[1024] = '\0';
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "key:0000001", val, 0, 0),
                    ENGINE_STORED);
    engine_class_stats(f.e, 2, &cs);
    CU_ASSERT_EQUAL(cs.used_chunks, 1);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- killed while chaining ---------------------------------------------- */

#define KC_KEYS 40
#define KC_LEN (40 * 1024)      /* ten 4 KB chunks: a chain takes a while */

static void chunk4k_flags(struct engine_config *cfg)
{
    cfg->slab_chunk_max = 4096;
    cfg->item_size_max = 1u << 20;
}

static unsigned char kc_byte(unsigned key, size_t j)
{
    return (unsigned char)((key * 7 + j) % 251);
}

/* Every third key's value fits one 4 KB chunk unchained: a chunk that was
 * a CHAIN chunk (value bytes to its last byte) becomes a head whose chain
 * link must read 0. */
static size_t kc_len(unsigned key)
{
    return key % 3 == 0 ? 3500 : KC_LEN;
}

/* A worker that stores chained values, flags on every other key, forever. */
static void kc_worker(struct engine_worker *w, unsigned seed)
{
    static unsigned char v[KC_LEN];
    char key[16];
    for (;;) {
        unsigned k = (unsigned)rand_r(&seed) % KC_KEYS;
        size_t n = kc_len(k);
        for (size_t j = 0; j < n; j++)
            v[j] = kc_byte(k, j);
        snprintf(key, sizeof key, "kc%u", k);
        struct engine_alloc a;
        if (engine_alloc(w, key, strlen(key), k % 2 ? k : 0, 0, n, &a)
            != ENGINE_OK)
            continue;
        engine_alloc_write(w, &a, v, n);
        engine_alloc_store(w, &a, ENGINE_SET, 0, NULL);
    }
}

/* Workers SIGKILLed at random instants while they build chains (the class
 * lock held, a head ALLOC with part of its chain) and while they free old
 * values: each death is repaired or reaped, engine_check() holds after
 * every one, and every value left is whole, with its flags. */
static void test_kill_chaining(void)
{
    struct fixture f;
    unsigned seed = 4242, kills = 0, failures = 0;
    CU_ASSERT_FATAL(fixture_open(&f, 16, chunk4k_flags) == 0);
    struct engine_stats st0;
    engine_stats(f.e, &st0);
    for (unsigned round = 0; round < 150; round++) {
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(w);
        pid_t pid = fork();
        if (pid == 0)
            kc_worker(w, round);
        usleep((useconds_t)(rand_r(&seed) % 3000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        kills++;
        if (fx_reap_check(&f, w, round) != 0) {
            failures++;
            break;
        }
    }
    CU_ASSERT_EQUAL(failures, 0);
    unsigned found = 0, bad = 0;
    for (unsigned k = 0; k < KC_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "kc%u", k);
        struct bigcheck b = { NULL, 0 };
        if (engine_get(f.w, key, strlen(key), big_cb, &b) != ENGINE_OK ||
            b.buf == NULL)
            continue;
        found++;
        int whole = b.n == kc_len(k);
        for (size_t j = 0; whole && j < b.n; j++)
            whole = b.buf[j] == kc_byte(k, j);
        uint32_t flags = 99;
        char small[4];
        fx_get(&f, key, small, sizeof small, &flags, NULL);
        bad += !whole || flags != (k % 2 ? k : 0);
        free(b.buf);
    }
    struct engine_stats st;
    engine_stats(f.e, &st);
    printf("\n    %u kills, %u of %u keys stored, %llu lock repairs ", kills,
           found, KC_KEYS,
           (unsigned long long)(st.lock_repairs - st0.lock_repairs));
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(found > KC_KEYS / 2);
    CU_ASSERT(st.lock_repairs > st0.lock_repairs);  /* deaths under a lock */
    /* what the dead left allocated was reclaimed: a fresh fill fits */
    for (unsigned k = 0; k < KC_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "kc%u", k);
        engine_delete(f.w, key, strlen(key));
    }
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 0);
    fx_check(&f);
    fixture_close(&f);
}

UNIT_SUITE(slab, NULL, NULL,
           UNIT_TEST(test_class_sizes), UNIT_TEST(test_class_options),
           UNIT_TEST(test_accounting), UNIT_TEST(test_lru_order),
           UNIT_TEST(test_expired_reclaimed_first), UNIT_TEST(test_no_evict),
           UNIT_TEST(test_large_chained), UNIT_TEST(test_mem_limit),
           UNIT_TEST(test_mem_limit_grow), UNIT_TEST(test_compact_items),
           UNIT_TEST(test_chained_flags), UNIT_TEST(test_listed_sizes),
           UNIT_TEST(test_kill_chaining))
