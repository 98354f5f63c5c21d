/*
 * growrig.c - see growrig.h.
 */
#include "growrig.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/region.h"

static char mix_keys[GROW_MIX][16];

void grow_adjust(struct engine_config *cfg)
{
    cfg->hashpower = GROW_POWER;
}

/* Finds the mixed keys once: bucket GROW_BUCKET of 2^12, the bit that
 * decides the split as the insertion order needs (the chain is the
 * reverse of it: stays, goes, goes, stays, goes, stays from the head). */
static void find_mix_keys(void)
{
    static const int goes[GROW_MIX] = { 0, 1, 0, 1, 1, 0 };
    if (mix_keys[0][0] != '\0')
        return;
    int j = 0;
    for (unsigned i = 0; j < GROW_MIX; i++) {
        char key[16];
        snprintf(key, sizeof key, "m%u", i);
        uint64_t hv = hash_key(key, strlen(key));
        if ((hv & ((1u << GROW_POWER) - 1)) == GROW_BUCKET &&
            ((hv >> GROW_POWER) & 1) == (uint64_t)goes[j])
            strcpy(mix_keys[j++], key);
    }
}

const char *grow_mix_key(int j)
{
    find_mix_keys();
    return mix_keys[j];
}

void grow_fill(struct fixture *f)
{
    char key[16], val[16];
    for (int i = 0; i < GROW_ITEMS; i++) {
        snprintf(key, sizeof key, "g%d", i);
        snprintf(val, sizeof val, "v%d", i);
        CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, key, val, 0, 0),
                        ENGINE_STORED);
    }
    for (int j = 0; j < GROW_MIX; j++)
        CU_ASSERT_EQUAL(fx_store(f, ENGINE_SET, grow_mix_key(j),
                                 grow_mix_key(j), 0, 0), ENGINE_STORED);
}

void grow_setup(struct fixture *f)
{
    grow_fill(f);
    CU_ASSERT_EQUAL(engine_hash_grow(f->w, GROW_BUCKET), 1);
    uint64_t st = f->e->r->hash_state;
    CU_ASSERT_EQUAL(hs_power(st), GROW_POWER + 1);
    CU_ASSERT_EQUAL(hs_used(st), (1u << GROW_POWER) + GROW_BUCKET);
}

int grow_missing(struct fixture *f)
{
    char key[16], want[16], got[32];
    int missing = 0;
    for (int i = 0; i < GROW_ITEMS; i++) {
        snprintf(key, sizeof key, "g%d", i);
        snprintf(want, sizeof want, "v%d", i);
        missing += fx_get(f, key, got, sizeof got, NULL, NULL) != ENGINE_OK ||
                   strcmp(got, want) != 0;
    }
    for (int j = 0; j < GROW_MIX; j++)
        missing += fx_get(f, grow_mix_key(j), got, sizeof got, NULL,
                          NULL) != ENGINE_OK ||
                   strcmp(got, grow_mix_key(j)) != 0;
    return missing;
}

uint64_t grow_items(struct fixture *f)
{
    struct engine_stats st;
    engine_stats(f->e, &st);
    return st.curr_items;
}

void grow_finish(struct fixture *f)
{
    for (int guard = 0; guard < 100000; guard++)
        if (engine_hash_grow(f->w, 4096) <= 0)
            return;
    CU_FAIL("the growth does not end");
}

uint64_t grow_split_begin(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    uint64_t st = e->r->hash_state;
    uint64_t lo = hs_used(st) - (1ull << (hs_power(st) - 1));
    lock_stripe(w, hash_stripe(e, lo));
    w->s->j_split = st;
    return st;
}

int grow_split_prefix(struct fixture *f, uint64_t st, unsigned k)
{
    struct engine *e = f->e;
    uint64_t half = 1ull << (hs_power(st) - 1), used = hs_used(st);
    ref_t *h = &e->buckets[used], *l = &e->buckets[used - half];
    unsigned n = 0;
    for (ref_t x = *l; x != 0; x = *l) {
        struct item *it = ITEM(e, x);
        if ((hash_key(item_key(it), it->nkey) & half) == 0) {
            l = &it->hnext;
            continue;
        }
        if (n++ == k)
            return 1;
        *h = x;                     /* on both chains */
        if (n++ == k)
            return 1;
        *l = it->hnext;             /* off the old one */
        h = &it->hnext;
    }
    if (n++ == k)
        return 1;
    *h = 0;
    return 0;
}
