/*
 * test_mover.c - the slab mover (mover.h) and the automove policy
 * (automove.h).
 *
 *  - "slabs reassign" answers memcached's way (OK, BUSY, BADCLASS,
 *    NOSPARE, SAME, disabled; -1 picks a class);
 *  - a move empties the first page of the source: free chunks are taken,
 *    items rescued into free chunks of the class (values intact, counted),
 *    evicted when the class has none (counted), chained items' heads and
 *    chunks moved; the page is carved for the destination or joins the
 *    global pool, which carving takes first; total_malloced follows the
 *    pages carved and drops when a lowered limit gives pool pages back;
 *  - a chunk a worker holds (ALLOC) makes the mover wait;
 *  - the automove policy's decisions on synthetic figures;
 *  - processes killed mid-move (the mover at random instants, workers
 *    racing it): every invariant holds and every value read is intact.
 * engine_check() runs after each.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "core/buf.h"
#include "proto/proto.h"
#include "engine/automove.h"
#include "engine/lock.h"
#include "engine/mover.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------ */

static void fill_value(char *v, size_t n, const char *key)
{
    unsigned h = 0;
    for (const char *p = key; *p; p++)
        h = h * 31u + (unsigned char)*p;
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + (h + i) % 26);
}

static enum engine_status put(struct fixture *f, const char *key, size_t n)
{
    char *v = malloc(n);
    fill_value(v, n, key);
    enum engine_status st = engine_store(f->w, ENGINE_SET, key, strlen(key),
                                         0, 0, v, n, 0, NULL);
    free(v);
    return st;
}

struct check_val {
    const char *key;
    size_t n;
    int bad;
};

static void check_cb(void *arg, const struct engine_item_info *info)
{
    struct check_val *cv = arg;
    char *got = malloc(info->nbytes + 1), *want = malloc(cv->n + 1);
    engine_value_copy(info, 0, info->nbytes, got);
    fill_value(want, cv->n, cv->key);
    cv->bad = info->nbytes != cv->n || memcmp(got, want, cv->n) != 0;
    free(got);
    free(want);
}

/* 1 present and intact, 0 missing, -1 present but wrong. */
static int probe(struct fixture *f, const char *key, size_t n)
{
    struct check_val cv = { key, n, 0 };
    if (engine_get(f->w, key, strlen(key), check_cb, &cv) != ENGINE_OK)
        return 0;
    return cv.bad ? -1 : 1;
}

/* Keys prefix0..prefix(count-1), n bytes each: how many present, and
 * *bad how many present and wrong. */
static unsigned survey(struct fixture *f, const char *prefix, unsigned count,
                       size_t n, unsigned *bad)
{
    char key[64];
    unsigned present = 0;
    *bad = 0;
    for (unsigned i = 0; i < count; i++) {
        snprintf(key, sizeof key, "%s%u", prefix, i);
        int rc = probe(f, key, n);
        present += rc != 0;
        *bad += rc < 0;
    }
    return present;
}

static unsigned fill(struct fixture *f, const char *prefix, unsigned count,
                     size_t n)
{
    char key[64];
    unsigned stored = 0;
    for (unsigned i = 0; i < count; i++) {
        snprintf(key, sizeof key, "%s%u", prefix, i);
        stored += put(f, key, n) == ENGINE_STORED;
    }
    return stored;
}

static unsigned class_of(struct fixture *f, const char *prefix, size_t n)
{
    return slab_class_for(f->e, ITEM_HDR + strlen(prefix) + 5 + n);
}

static uint64_t pages_of(struct fixture *f, unsigned id)
{
    struct engine_class_stats cs;
    engine_class_stats(f->e, id, &cs);
    return cs.total_pages;
}

/* Runs the mover until it is idle; returns the calls it took. */
static unsigned run_mover(struct fixture *f)
{
    unsigned calls = 0;
    while (engine_slab_mover(f->w, 200) != 0 && calls < 100000)
        calls++;
    return calls;
}

static struct engine_stats stats(struct fixture *f)
{
    struct engine_stats st;
    engine_stats(f->e, &st);
    return st;
}

/* ---- replies ------------------------------------------------------------ */

static void test_reassign_replies(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    struct engine *e = f.e;
    int n = (int)engine_class_count(e);
    unsigned a = class_of(&f, "a", 880);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, (int)a),
                    ENGINE_REASSIGN_SAME);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, n + 1),
                    ENGINE_REASSIGN_BADCLASS);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, -2, 1),
                    ENGINE_REASSIGN_BADCLASS);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, -1, 1),   /* none to spare */
                    ENGINE_REASSIGN_BADCLASS);
    fill(&f, "a", 1500, 880);                           /* two pages */
    CU_ASSERT_EQUAL(pages_of(&f, a), 2);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, 1, 2), ENGINE_REASSIGN_NOSPARE);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, 0, 2),     /* empty pool */
                    ENGINE_REASSIGN_NOSPARE);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, -1, 1), ENGINE_REASSIGN_OK);
    CU_ASSERT_EQUAL(stats(&f).slab_reassign_running, 1);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, 1),
                    ENGINE_REASSIGN_RUNNING);
    run_mover(&f);
    CU_ASSERT_EQUAL(stats(&f).slab_reassign_running, 0);
    CU_ASSERT_EQUAL(stats(&f).slabs_moved, 1);
    CU_ASSERT_EQUAL(pages_of(&f, a), 1);                /* -1 picked a */
    CU_ASSERT_EQUAL(pages_of(&f, 1), 1);
    struct engine_config cfg = *engine_config(e);
    cfg.slab_reassign = 0;
    mover_configure(e, &cfg);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, 1),
                    ENGINE_REASSIGN_DISABLED);
    CU_ASSERT_EQUAL(engine_set_automove(e, 3), -1);
    CU_ASSERT_EQUAL(engine_set_automove(e, 2), 0);
    CU_ASSERT_EQUAL(engine_automove(e), 2);
    CU_ASSERT_EQUAL(engine_set_automove_ratio(e, 0.0), -1);
    CU_ASSERT_EQUAL(engine_set_automove_ratio(e, 0.5), 0);
    CU_ASSERT_DOUBLE_EQUAL(engine_automove_ratio(e), 0.5, 1e-9);
    fx_check(&f);
    fixture_close(&f);
}

static int kicks;

static void count_kick(void *arg)
{
    (void)arg;
    kicks++;
}

/* The text protocol's "slabs" commands, memcached 1.6's replies. */
static void test_slabs_commands(void)
{
    struct fixture f;
    char req[512];
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    unsigned a = class_of(&f, "a", 880);
    fill(&f, "a", 1500, 880);
    struct proto_config pc;
    proto_config_defaults(&pc);
    struct proto_env env = { .engine = f.e, .worker = f.w, .cfg = &pc,
                             .mover_kick = count_kick };
    struct buf out;
    buf_init(&out);
    snprintf(req, sizeof req,
             "slabs reassign 1 2\r\nslabs reassign a b\r\n"
             "slabs reassign 1 1\r\nslabs reassign 1 99\r\n"
             "slabs reassign 1\r\nslabs automove invalid\r\n"
             "slabs automove 3\r\nslabs automove 2\r\n"
             "slabs automove 0 noreply\r\nslabs automove ratio 0.5\r\n"
             "slabs automove ratio x\r\nslabs foo\r\n"
             "slabs reassign %u 0\r\nslabs reassign %u 0\r\n", a, a);
    kicks = 0;
    fx_feed_chunks(&env, req, strlen(req), NULL, 0, &out);
    static const char want[] =
        "NOSPARE source class has no spare pages\r\n"
        "CLIENT_ERROR bad command line format\r\n"
        "SAME src and dst class are identical\r\n"
        "BADCLASS invalid src or dst class id\r\n"
        "ERROR\r\n"
        "CLIENT_ERROR bad command line format\r\n"
        "ERROR\r\nOK\r\nOK\r\nERROR\r\nERROR\r\nOK\r\n"
        "BUSY currently processing reassign request\r\n";
    CU_ASSERT_EQUAL(out.len, sizeof want - 1);
    CU_ASSERT(out.len == sizeof want - 1 &&
              memcmp(out.data, want, out.len) == 0);
    CU_ASSERT_EQUAL(engine_automove(f.e), 0);
    CU_ASSERT_DOUBLE_EQUAL(engine_automove_ratio(f.e), 0.5, 1e-9);
    CU_ASSERT_EQUAL(kicks, 3);          /* automove 2, automove 0, OK */
    struct engine_config cfg = *engine_config(f.e);
    cfg.slab_reassign = 0;              /* -o no_slab_reassign */
    mover_configure(f.e, &cfg);
    buf_free(&out);
    buf_init(&out);
    static const char off[] = "slabs reassign 1 2\r\n";
    fx_feed_chunks(&env, off, sizeof off - 1, NULL, 0, &out);
    CU_ASSERT(out.len > 0 && strncmp(out.data, "CLIENT_ERROR slab "
                                     "reassignment disabled\r\n",
                                     out.len) == 0);
    buf_free(&out);
    fixture_close(&f);
}

/* The master's handle on a new region is its own slot 0 (it pointed at
 * the region's header once: the master's journal and counters wrote into
 * the header and the pages lock). The mover runs on it in the server. */
static void test_master_slot(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    struct engine_worker *m = engine_master(f.e);
    engine_worker_counters(m)->cmd_touch += 7;
    CU_ASSERT_EQUAL(stats(&f).c.cmd_touch, 7);
    unsigned a = class_of(&f, "s", 880);
    fill(&f, "s", 3300, 880);
    for (unsigned i = 0; i < 3300; i += 2) {
        snprintf(key, sizeof key, "s%u", i);
        engine_delete(f.w, key, strlen(key));
    }
    uint32_t version = f.e->r->version, hdr = f.e->r->hdr_size;
    CU_ASSERT_EQUAL(engine_slabs_reassign(f.e, (int)a, 1),
                    ENGINE_REASSIGN_OK);
    unsigned calls = 0;
    while (engine_slab_mover(m, 7) != 0 && calls++ < 100000) {
        CU_ASSERT_EQUAL_FATAL(f.e->r->version, version);
        CU_ASSERT_EQUAL_FATAL(f.e->r->hdr_size, hdr);
    }
    CU_ASSERT(stats(&f).slab_reassign_rescues > 0);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- moving pages ------------------------------------------------------- */

/* A page of a class with room elsewhere: its items are rescued, intact. */
static void test_rescue(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    unsigned a = class_of(&f, "r", 880);
    CU_ASSERT_EQUAL(fill(&f, "r", 3300, 880), 3300);
    CU_ASSERT_EQUAL(pages_of(&f, a), 3);
    for (unsigned i = 1; i < 3300; i += 2) {
        snprintf(key, sizeof key, "r%u", i);
        CU_ASSERT_EQUAL(engine_delete(f.w, key, strlen(key)), ENGINE_OK);
    }
    uint64_t malloced = stats(&f).total_malloced;
    CU_ASSERT_EQUAL(engine_slabs_reassign(f.e, (int)a, 1), ENGINE_REASSIGN_OK);
    run_mover(&f);
    struct engine_stats st = stats(&f);
    CU_ASSERT_EQUAL(pages_of(&f, a), 2);
    CU_ASSERT_EQUAL(pages_of(&f, 1), 1);
    CU_ASSERT_EQUAL(st.slabs_moved, 1);
    /* the first page held every other one of its items */
    unsigned perpage = SLAB_PAGE_SIZE / f.e->classes[a].size;
    CU_ASSERT_EQUAL(st.slab_reassign_rescues, (perpage + 1) / 2);
    CU_ASSERT_EQUAL(st.slab_reassign_evictions_nomem, 0);
    CU_ASSERT_EQUAL(st.total_malloced, malloced);
    CU_ASSERT_EQUAL(st.curr_items, 1650);
    unsigned bad, present = 0;
    for (unsigned i = 0; i < 3300; i += 2) {
        snprintf(key, sizeof key, "r%u", i);
        int rc = probe(&f, key, 880);
        present += rc == 1;
        CU_ASSERT(rc == 1);
    }
    CU_ASSERT_EQUAL(present, 1650);
    survey(&f, "r", 3300, 880, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    /* the new page is class 1's: it stores there */
    CU_ASSERT_EQUAL(put(&f, "k", 10), ENGINE_STORED);
    fx_check(&f);
    fixture_close(&f);
}

/* A full class: the items of the page are evicted, the others stay. */
static void test_evict_nomem(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    unsigned a = class_of(&f, "n", 880);
    fill(&f, "n", 6000, 880);
    CU_ASSERT_EQUAL(pages_of(&f, a), 4);
    uint64_t before = stats(&f).curr_items;
    unsigned bad;
    CU_ASSERT_EQUAL(engine_slabs_reassign(f.e, (int)a, 1), ENGINE_REASSIGN_OK);
    run_mover(&f);
    struct engine_stats st = stats(&f);
    unsigned perpage = SLAB_PAGE_SIZE / f.e->classes[a].size;
    CU_ASSERT_EQUAL(pages_of(&f, a), 3);
    CU_ASSERT_EQUAL(pages_of(&f, 1), 1);
    CU_ASSERT_EQUAL(st.slab_reassign_evictions_nomem, perpage);
    CU_ASSERT_EQUAL(st.slab_reassign_rescues, 0);
    CU_ASSERT_EQUAL(st.curr_items, before - perpage);
    CU_ASSERT_EQUAL(survey(&f, "n", 6000, 880, &bad), before - perpage);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(st.total_malloced, 4u << 20);
    fx_check(&f);
    fixture_close(&f);
}

/* A chunk of the page a worker has allocated (a value arriving): the mover
 * waits for it, then rescues the item it became. */
static void test_busy_alloc(void)
{
    struct fixture f;
    char key[32], v[880];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    struct engine *e = f.e;
    unsigned a = class_of(&f, "b", 880);
    fill(&f, "b", 1200, 880);               /* page 0: b0..b1109 */
    for (unsigned i = 1; i < 400; i += 2) {
        snprintf(key, sizeof key, "b%u", i);
        CU_ASSERT_EQUAL(engine_delete(f.w, key, strlen(key)), ENGINE_OK);
    }
    struct engine_alloc al;
    CU_ASSERT_EQUAL(engine_alloc(f.w, "late", 4, 0, 0, 880, &al), ENGINE_OK);
    uint64_t first = (uint64_t)((const uint8_t *)memchr(
        e->page_class, (int)a, e->r->pages_used) - e->page_class);
    CU_ASSERT_EQUAL(slab_page_of(e, al.ref), first);     /* the freed chunk */
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, 1), ENGINE_REASSIGN_OK);
    int waits = 0;
    for (int i = 0; i < 50; i++) {
        int rc = engine_slab_mover(f.w, 500);
        CU_ASSERT(rc == 1 || rc == 2);      /* in progress, or waiting */
        waits += rc == 2;
    }
    CU_ASSERT(waits >= 10);
    struct engine_stats st = stats(&f);
    CU_ASSERT(st.slab_reassign_busy_items >= 10);
    CU_ASSERT_EQUAL(st.slab_reassign_running, 1);
    CU_ASSERT_EQUAL(pages_of(&f, a), 2);
    fx_check(&f);
    fill_value(v, 880, "late");
    engine_alloc_write(f.w, &al, v, 880);
    CU_ASSERT_EQUAL(engine_alloc_store(f.w, &al, ENGINE_SET, 0, NULL),
                    ENGINE_STORED);
    run_mover(&f);
    CU_ASSERT_EQUAL(stats(&f).slab_reassign_running, 0);
    CU_ASSERT_EQUAL(pages_of(&f, a), 1);
    CU_ASSERT_EQUAL(probe(&f, "late", 880), 1);
    unsigned bad;
    CU_ASSERT_EQUAL(survey(&f, "b", 1200, 880, &bad), 1000);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(stats(&f).slab_reassign_evictions_nomem, 0);
    fx_check(&f);
    fixture_close(&f);
}

static void chunk4k(struct engine_config *cfg)
{
    cfg->slab_chunk_max = 4096;         /* memcached's slab_chunk_max=4 */
}

/* Chained items (heads and chunks in the largest class) on the page:
 * heads rescued with their chain handed over, chunks rescued one by one,
 * whole items evicted when the class has no room. */
static void test_chained(void)
{
    struct fixture f;
    char key[32];
    unsigned bad;
    CU_ASSERT_FATAL(fixture_open(&f, 16, chunk4k) == 0);
    unsigned big = f.e->r->big;
    CU_ASSERT_EQUAL(class_of(&f, "c", 11000), big);
    CU_ASSERT_EQUAL(fill(&f, "c", 600, 11000), 600);    /* 3 chunks each */
    for (unsigned i = 0; i < 600; i += 3) {
        snprintf(key, sizeof key, "c%u", i);
        engine_delete(f.w, key, strlen(key));
    }
    uint64_t pages = pages_of(&f, big);
    CU_ASSERT_EQUAL(engine_slabs_reassign(f.e, (int)big, 0),
                    ENGINE_REASSIGN_OK);
    run_mover(&f);
    struct engine_stats st = stats(&f);
    CU_ASSERT_EQUAL(pages_of(&f, big), pages - 1);
    CU_ASSERT_EQUAL(st.slab_global_page_pool, 1);
    CU_ASSERT(st.slab_reassign_rescues > 0);
    CU_ASSERT(st.slab_reassign_chunk_rescues > 0);
    CU_ASSERT_EQUAL(st.slab_reassign_evictions_nomem, 0);
    CU_ASSERT_EQUAL(survey(&f, "c", 600, 11000, &bad), 400);
    CU_ASSERT_EQUAL(bad, 0);
    fx_check(&f);
    /* now full: the next page's items are evicted, the rest intact */
    fill(&f, "d", 2000, 11000);
    CU_ASSERT(stats(&f).evictions > 0);
    CU_ASSERT_EQUAL(engine_slabs_reassign(f.e, (int)big, 0),
                    ENGINE_REASSIGN_OK);
    run_mover(&f);
    st = stats(&f);
    CU_ASSERT(st.slab_reassign_evictions_nomem > 0);
    survey(&f, "c", 600, 11000, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(survey(&f, "d", 2000, 11000, &bad) > 0);
    CU_ASSERT_EQUAL(bad, 0);
    fx_check(&f);
    fixture_close(&f);
}

/* The global pool: pages given to it are taken first by any class that
 * needs one; it gives pages to a class; pages over a lowered limit go back
 * to the system (total_malloced drops) and are carved again later. */
static void test_pool_and_limit(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    struct engine *e = f.e;
    unsigned a = class_of(&f, "p", 880), b = class_of(&f, "q", 3000);
    fill(&f, "p", 5500, 880);                       /* 5 pages */
    CU_ASSERT_EQUAL(pages_of(&f, a), 5);
    for (unsigned i = 0; i < 5500; i++) {
        snprintf(key, sizeof key, "p%u", i);
        engine_delete(f.w, key, strlen(key));
    }
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, 0),
                        ENGINE_REASSIGN_OK);
        run_mover(&f);
    }
    struct engine_stats st = stats(&f);
    CU_ASSERT_EQUAL(st.slab_global_page_pool, 3);
    CU_ASSERT_EQUAL(st.slabs_moved, 3);
    CU_ASSERT_EQUAL(st.total_malloced, 5u << 20);
    CU_ASSERT_EQUAL(put(&f, "q0", 3000), ENGINE_STORED);    /* class b */
    CU_ASSERT_EQUAL(pages_of(&f, b), 1);
    CU_ASSERT_EQUAL(stats(&f).slab_global_page_pool, 2);
    CU_ASSERT_EQUAL(stats(&f).total_malloced, 5u << 20);   /* no new page */
    /* from the pool to a class */
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, 0, (int)b), ENGINE_REASSIGN_OK);
    run_mover(&f);
    CU_ASSERT_EQUAL(pages_of(&f, b), 2);
    CU_ASSERT_EQUAL(stats(&f).slab_global_page_pool, 1);
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, 0, (int)b),
                    ENGINE_REASSIGN_NOSPARE);
    fx_check(&f);
    /* a lower limit: pool pages go back to the system */
    CU_ASSERT_EQUAL(engine_slabs_reassign(e, (int)a, 0), ENGINE_REASSIGN_OK);
    run_mover(&f);
    CU_ASSERT_EQUAL(stats(&f).slab_global_page_pool, 2);
    CU_ASSERT_EQUAL(engine_set_mem_limit(e, 3u << 20), 0);
    run_mover(&f);
    st = stats(&f);
    CU_ASSERT_EQUAL(st.slab_global_page_pool, 0);
    CU_ASSERT_EQUAL(st.total_malloced, 3u << 20);
    fx_check(&f);
    /* and carved again once the limit allows */
    CU_ASSERT_EQUAL(engine_set_mem_limit(e, 16u << 20), 0);
    uint64_t used = e->r->pages_used;
    fill(&f, "p", 3000, 880);
    CU_ASSERT_EQUAL(e->r->pages_used, used);        /* the holes, first */
    CU_ASSERT(stats(&f).total_malloced > 3u << 20);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- the automove policy on synthetic figures --------------------------- */

static void fig_set(struct automove_fig *f, uint64_t pages, uint64_t free_c,
                    uint64_t age)
{
    f->pages = pages;
    f->free_chunks = free_c;
    f->perpage = 10;
    f->age = age;
}

/* A class with more than 2.5 pages of free chunks gives a page back to the
 * pool, but only once its window is clean (no eviction, no new page);
 * giving pages away does not make it dirty. */
static void test_policy_reclaim(void)
{
    struct automove_fig fig[4];
    int src, dst;
    memset(fig, 0, sizeof fig);
    fig_set(&fig[1], 5, 3, 100);
    fig_set(&fig[2], 5, 26, 100);       /* 2.6 pages free */
    struct automove *a = automove_new(3, 3, 0.8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    automove_prime(a, fig);
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, 2);
    CU_ASSERT_EQUAL(dst, 0);
    fig[2].pages = 4;                   /* it gave one: still clean */
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, 2);
    CU_ASSERT_EQUAL(dst, 0);
    fig[2].pages = 5;                   /* it took one: dirty 3 rounds */
    fig[2].free_chunks = 30;
    for (int round = 0; round < 3; round++) {
        automove_decide(a, fig, &src, &dst);
        CU_ASSERT_EQUAL(src, -1);
        CU_ASSERT_EQUAL(dst, -1);
    }
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, 2);
    CU_ASSERT_EQUAL(dst, 0);
    fig[2].evicted = 1;                 /* an eviction: dirty again */
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, -1);
    fig[2].evicted = 0;                 /* counters reset: not dirty */
    for (int round = 0; round < 3; round++)
        automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, 2);
    fig[2].free_chunks = 25;            /* 2.5 pages: not more */
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, -1);
    automove_free(a);
}

/* The oldest class gives a page to the youngest one that keeps evicting,
 * once the window has filled and when the ages differ by the ratio. */
static void test_policy_young_old(void)
{
    struct automove_fig fig[4];
    int src, dst;
    memset(fig, 0, sizeof fig);
    fig_set(&fig[1], 10, 0, 5000);      /* old, full */
    fig_set(&fig[2], 3, 0, 10);         /* young, evicting */
    fig_set(&fig[3], 2, 0, 20000);      /* oldest, but too small to give */
    struct automove *a = automove_new(3, 3, 0.8);
    automove_prime(a, fig);
    for (int round = 0; round < 3; round++) {
        fig[2].evicted += 100;
        automove_decide(a, fig, &src, &dst);
        CU_ASSERT_EQUAL(src, -1);       /* window not full yet */
    }
    fig[2].evicted += 100;
    automove_decide(a, fig, &src, &dst);
    CU_ASSERT_EQUAL(src, 1);
    CU_ASSERT_EQUAL(dst, 2);
    automove_decide(a, fig, &src, &dst);  /* no eviction this round */
    CU_ASSERT_EQUAL(src, -1);
    automove_free(a);

    /* ages within the ratio: nothing moves */
    fig_set(&fig[2], 3, 0, 4500);
    a = automove_new(3, 3, 0.8);
    automove_prime(a, fig);
    for (int round = 0; round < 6; round++) {
        fig[2].evicted += 100;
        automove_decide(a, fig, &src, &dst);
        CU_ASSERT_EQUAL(src, -1);
    }
    automove_free(a);
}

static void automove2(struct engine_config *cfg)
{
    cfg->slab_automove = 2;
}

/* slab_automove=2: every eviction asks for a page from any class. */
static void test_automove_evictions(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 4, automove2) == 0);
    unsigned a = class_of(&f, "v", 880), b = class_of(&f, "w", 3000);
    fill(&f, "w", 500, 3000);           /* b: 2 pages */
    CU_ASSERT_EQUAL(pages_of(&f, b), 2);
    CU_ASSERT_EQUAL(stats(&f).slab_reassign_running, 0);
    fill(&f, "v", 3000, 880);           /* a: 2 pages, then evicts */
    struct engine_stats st = stats(&f);
    CU_ASSERT(st.evictions > 0);
    CU_ASSERT_EQUAL(st.slab_reassign_running, 1);
    run_mover(&f);
    CU_ASSERT_EQUAL(pages_of(&f, b), 1);
    CU_ASSERT_EQUAL(pages_of(&f, a), 3);
    fx_check(&f);
    fixture_close(&f);
}

/* The engine's figures feed the policy: a class whose items were deleted
 * gives its pages back to the pool, one a round, down to 2.5 pages free. */
static void test_automove_engine(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    unsigned a = class_of(&f, "m", 880);
    fill(&f, "m", 5500, 880);
    struct engine_automove *am = engine_automove_new(f.e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(am);
    for (unsigned i = 0; i < 5500; i++) {
        snprintf(key, sizeof key, "m%u", i);
        engine_delete(f.w, key, strlen(key));
    }
    int moves = 0;
    for (int round = 0; round < 200; round++) {
        moves += engine_automove_run(am) == 0;
        run_mover(&f);
    }
    CU_ASSERT_EQUAL(moves, 3);          /* 5 pages -> 2, on the rounds */
    CU_ASSERT_EQUAL(pages_of(&f, a), 2);
    CU_ASSERT_EQUAL(stats(&f).slab_global_page_pool, 3);
    engine_automove_free(am);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- processes killed ---------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Asks for a move among the classes of the test: a page of class a, of
 * the largest class, of class 1 or of the pool to another of them (round
 * picks the pair, so pages go round). */
static void ask_move(struct fixture *f, unsigned a, unsigned round)
{
    int ids[4] = { 0, 1, (int)a, (int)f->e->r->big };
    int src = ids[round % 4], dst = ids[(round / 4 + 1 + round) % 4];
    engine_slabs_reassign(f->e, src, dst);
}

/* The mover SIGKILLed at random instants until 100 deaths fell inside a
 * move (at most 1500), each death repaired
 * by the reap of its slot: every invariant holds after each, no value
 * read is ever wrong, and the moves still complete. */
static void test_kill_mover(void)
{
    struct fixture f;
    char key[32];
    unsigned bad, seed = 12345;
    CU_ASSERT_FATAL(fixture_open(&f, 16, chunk4k) == 0);
    unsigned a = class_of(&f, "k", 880);
    fill(&f, "k", 5000, 880);
    fill(&f, "K", 300, 11000);
    for (unsigned i = 0; i < 5000; i += 4) {
        snprintf(key, sizeof key, "k%u", i);
        engine_delete(f.w, key, strlen(key));
    }
    unsigned kills = 0, failures = 0, mid_move = 0;
    for (unsigned round = 0, ask = 0; mid_move < 100 && round < 1500;
         round++) {
        for (int t = 0; t < 12 && !stats(&f).slab_reassign_running; t++)
            ask_move(&f, a, ask++);
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        pid_t pid = fork();
        if (pid == 0) {
            for (;;)
                engine_slab_mover(w, 1 + (unsigned)(random() % 16));
        }
        usleep((useconds_t)(rand_r(&seed) % 600));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        mid_move += mover_phase(f.e->r->mover.state) >= MV_DRAIN;
        kills++;
        if (fx_reap_check(&f, w, round) != 0) {
            failures++;
            break;
        }
    }
    CU_ASSERT_EQUAL(failures, 0);
    run_mover(&f);
    fx_check(&f);
    struct engine_stats st = stats(&f);
    printf("\n    %u kills (%u mid-move), %llu pages moved, %llu rescues, "
           "%llu chunk rescues, %llu lock repairs ", kills, mid_move,
           (unsigned long long)st.slabs_moved,
           (unsigned long long)st.slab_reassign_rescues,
           (unsigned long long)st.slab_reassign_chunk_rescues,
           (unsigned long long)st.lock_repairs);
    CU_ASSERT(mid_move >= 100);         /* deaths inside moves */
    CU_ASSERT(st.slabs_moved >= 5);     /* which still complete */
    survey(&f, "k", 5000, 880, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    survey(&f, "K", 300, 11000, &bad);
    CU_ASSERT_EQUAL(bad, 0);
    fixture_close(&f);
}

/* A worker's load: random sets (values that name their key), gets that
 * check every byte, deletes; exits 1 at the first wrong value. */
static int load(struct engine *e, struct engine_worker *w, unsigned seed,
                double deadline)
{
    struct fixture f = { e, w, 0 };
    char key[32];
    srandom(seed);
    while (now_s() < deadline) {
        long k = random() % 3000;
        size_t n = k % 3 == 0 ? 11000 : 500;
        snprintf(key, sizeof key, "L%ld", k);
        switch (random() % 4) {
        case 0:
            put(&f, key, n);
            break;
        case 1:
            engine_delete(w, key, strlen(key));
            break;
        default:
            if (probe(&f, key, n) < 0)
                return 1;
        }
    }
    return 0;
}

/* Workers racing the mover (moves requested without pause), one of them
 * SIGKILLed every 50-150 ms and replaced: no worker reads a wrong value,
 * the invariants hold, pages moved. */
static void test_workers_race_mover(void)
{
    struct fixture f;
    enum { NPROC = 3 };
    pid_t pids[NPROC];
    struct engine_worker *ws[NPROC];
    unsigned seed = 99, kills = 0, clean = 0;
    CU_ASSERT_FATAL(fixture_open(&f, 12, chunk4k) == 0);
    engine_set_clock(f.e, NULL, NULL);
    unsigned a = class_of(&f, "L", 500);
    double end = now_s() + 4.0;
    for (int i = 0; i < NPROC; i++) {
        ws[i] = engine_worker_attach(f.e, 0);
        if ((pids[i] = fork()) == 0)
            _exit(load(f.e, ws[i], (unsigned)i + 1, end + 30));
    }
    double next_kill = now_s() + 0.1;
    for (unsigned round = 0; now_s() < end; round++) {
        ask_move(&f, a, round);
        engine_slab_mover(f.w, 64);
        if (now_s() < next_kill)
            continue;
        int k = (int)(rand_r(&seed) % NPROC);
        kill(pids[k], SIGKILL);
        waitpid(pids[k], NULL, 0);
        struct engine_reap rp;
        engine_worker_reap(f.e, engine_worker_slot(ws[k]), &rp);
        free(ws[k]);
        kills++;
        ws[k] = engine_worker_attach(f.e, 0);
        if ((pids[k] = fork()) == 0)
            _exit(load(f.e, ws[k], 100 + kills, end + 30));
        next_kill = now_s() + 0.05 + (rand_r(&seed) % 100) / 1000.0;
    }
    for (int i = 0; i < NPROC; i++) {
        kill(pids[i], SIGTERM);
        int status;
        waitpid(pids[i], &status, 0);
        clean += WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
        struct engine_reap rp;
        engine_worker_reap(f.e, engine_worker_slot(ws[i]), &rp);
        free(ws[i]);
    }
    CU_ASSERT_EQUAL(clean, NPROC);      /* none exited on a wrong value */
    run_mover(&f);
    fx_check(&f);
    struct engine_stats st = stats(&f);
    printf("\n    %u worker kills, %llu pages moved, %llu rescues, %llu "
           "chunk rescues, %llu busy ", kills,
           (unsigned long long)st.slabs_moved,
           (unsigned long long)st.slab_reassign_rescues,
           (unsigned long long)st.slab_reassign_chunk_rescues,
           (unsigned long long)st.slab_reassign_busy_items);
    CU_ASSERT(st.slabs_moved > 10);
    CU_ASSERT(kills >= 10);
    fixture_close(&f);
}

UNIT_SUITE(mover, NULL, NULL, UNIT_TEST(test_reassign_replies),
           UNIT_TEST(test_slabs_commands), UNIT_TEST(test_master_slot),
           UNIT_TEST(test_rescue), UNIT_TEST(test_evict_nomem),
           UNIT_TEST(test_busy_alloc), UNIT_TEST(test_chained),
           UNIT_TEST(test_pool_and_limit), UNIT_TEST(test_policy_reclaim),
           UNIT_TEST(test_policy_young_old),
           UNIT_TEST(test_automove_evictions),
           UNIT_TEST(test_automove_engine), UNIT_TEST(test_kill_mover),
           UNIT_TEST(test_workers_race_mover))
