/*
 * automove.c - memcached's slab automover policy (see automove.h), and
 * engine_automove_run(), which feeds it the region's figures.
 */
#include "engine/automove.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/lock.h"
#include "engine/lru.h"
#include "engine/region.h"

#define MIN_PAGES_FOR_SOURCE 2
#define MIN_PAGES_FOR_RECLAIM 2.5

/* One round of one class. */
struct round {
    uint64_t age;
    uint32_t dirty;
    uint32_t evicted_seen;
    double evicted_ratio;
};

struct automove {
    unsigned n, size, cur;
    double ratio;
    struct round *rounds;               /* [class][size] */
    struct automove_fig before[ENGINE_MAX_CLASSES];
};

struct automove *automove_new(unsigned nclasses, unsigned window,
                              double ratio)
{
    if (nclasses >= ENGINE_MAX_CLASSES || window < 3)
        return NULL;
    struct automove *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->rounds = calloc((size_t)(nclasses + 1) * window, sizeof(*a->rounds));
    if (a->rounds == NULL) {
        free(a);
        return NULL;
    }
    a->n = nclasses;
    a->size = window;
    a->ratio = ratio;
    return a;
}

void automove_free(struct automove *a)
{
    if (a == NULL)
        return;
    free(a->rounds);
    free(a);
}

double automove_ratio(const struct automove *a)
{
    return a->ratio;
}

void automove_prime(struct automove *a, const struct automove_fig *fig)
{
    memcpy(a->before, fig, (a->n + 1) * sizeof(*fig));
}

/* The sum of class id's window. */
static struct round window_sum(const struct automove *a, unsigned id)
{
    struct round s = { 0, 0, 0, 0.0 };
    const struct round *w = &a->rounds[(size_t)id * a->size];
    for (unsigned i = 0; i < a->size; i++) {
        s.age += w[i].age;
        s.dirty += w[i].dirty;
        s.evicted_seen += w[i].evicted_seen;
        s.evicted_ratio += w[i].evicted_ratio;
    }
    return s;
}

/* Records this round of class id in its window; returns the round. */
static struct round *record(struct automove *a, unsigned id,
                            const struct automove_fig *f,
                            uint64_t evicted_total)
{
    const struct automove_fig *b = &a->before[id];
    struct round *r = &a->rounds[(size_t)id * a->size + a->cur % a->size];
    memset(r, 0, sizeof(*r));
    /* growth only (memcached's signed deltas): a class giving pages away,
     * or counters reset, is not dirty */
    if (f->evicted > b->evicted) {
        r->evicted_ratio = (double)(f->evicted - b->evicted) /
                           (double)evicted_total;
        r->evicted_seen = 1;
        r->dirty = 1;
    }
    if (f->outofmemory > b->outofmemory || f->pages > b->pages)
        r->dirty = 1;
    r->age = f->age;
    return r;
}

void automove_decide(struct automove *a, const struct automove_fig *fig,
                     int *src, int *dst)
{
    uint64_t evicted_total = 0, oldest_age = 0, youngest_age = UINT64_MAX;
    int oldest = -1, youngest = -1, youngest_evicting = 0;
    *src = *dst = -1;
    for (unsigned id = 1; id <= a->n; id++)
        if (fig[id].evicted > a->before[id].evicted)
            evicted_total += fig[id].evicted - a->before[id].evicted;
    a->cur++;
    for (unsigned id = 1; id <= a->n; id++) {
        const struct automove_fig *f = &fig[id];
        struct round *now = record(a, id, f, evicted_total);
        struct round sum = window_sum(a, id);
        uint64_t age = sum.age / a->size;
        if ((double)f->free_chunks > (double)f->perpage *
                                     MIN_PAGES_FOR_RECLAIM && sum.dirty == 0) {
            *src = (int)id;             /* free memory back to the pool */
            *dst = 0;
            oldest = youngest = -1;
            break;
        }
        if (age > oldest_age && f->pages > MIN_PAGES_FOR_SOURCE) {
            oldest = (int)id;
            oldest_age = age;
        }
        if (age < youngest_age && (sum.evicted_seen > a->size / 2 ||
                                   sum.evicted_ratio / a->size > 0.25)) {
            youngest = (int)id;
            youngest_age = age;
            youngest_evicting = now->evicted_seen != 0;
        }
    }
    memcpy(a->before, fig, (a->n + 1) * sizeof(*fig));
    if (youngest != -1 && oldest != -1 && a->cur > a->size &&
        (double)youngest_age < (double)oldest_age * a->ratio &&
        youngest_evicting) {
        *src = oldest;
        *dst = youngest;
    }
}

/* ---- the engine's figures ---------------------------------------------- */

struct engine_automove {
    struct engine *e;
    struct automove *a;
    struct automove_fig fig[ENGINE_MAX_CLASSES];
};

/* Every class's figures now; the tail's age under the class lock. */
static void figures(struct engine *e, struct automove_fig *fig)
{
    struct engine_worker *m = engine_master(e);
    uint32_t now = (uint32_t)engine_now(e);
    memset(fig, 0, ENGINE_MAX_CLASSES * sizeof(*fig));
    for (unsigned id = 1; id <= e->r->nclasses; id++) {
        struct class *c = &e->classes[id];
        struct automove_fig *f = &fig[id];
        if (lock_class(m, id) < 0)
            continue;
        f->evicted = c->evicted;
        f->outofmemory = c->outofmemory;
        f->pages = c->pages;
        f->free_chunks = c->free_count;
        f->perpage = c->perpage;
        ref_t t = lru_oldest(c, LRU_COLD);      /* memcached: COLD's */
        if (t && now > ITEM(e, t)->atime)
            f->age = now - ITEM(e, t)->atime;
        unlock_class(m, id);
    }
}

static struct automove *policy_new(struct engine_automove *am)
{
    struct engine *e = am->e;
    struct automove *a = automove_new(e->r->nclasses,
                                      engine_automove_window(e),
                                      engine_automove_ratio(e));
    if (a != NULL) {
        figures(e, am->fig);
        automove_prime(a, am->fig);
    }
    return a;
}

struct engine_automove *engine_automove_new(struct engine *e)
{
    struct engine_automove *am = calloc(1, sizeof(*am));
    if (am == NULL)
        return NULL;
    am->e = e;
    if ((am->a = policy_new(am)) == NULL) {
        free(am);
        return NULL;
    }
    return am;
}

void engine_automove_free(struct engine_automove *am)
{
    if (am == NULL)
        return;
    automove_free(am->a);
    free(am);
}

int engine_automove_run(struct engine_automove *am)
{
    if (automove_ratio(am->a) != engine_automove_ratio(am->e)) {
        struct automove *a = policy_new(am);    /* as memcached: anew */
        if (a == NULL)
            return -1;
        automove_free(am->a);
        am->a = a;
    }
    int src, dst;
    figures(am->e, am->fig);
    automove_decide(am->a, am->fig, &src, &dst);
    if (src < 0 || dst < 0)
        return -1;
    engine_slabs_reassign(am->e, src, dst);
    return dst;
}
