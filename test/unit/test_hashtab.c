/*
 * test_hashtab.c - the hash function's spread and the chain operations.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "engine/hashtab.h"
#include "engine/region.h"
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

UNIT_SUITE(hashtab, NULL, NULL, UNIT_TEST(test_spread), UNIT_TEST(test_chain_ops))
