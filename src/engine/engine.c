/*
 * engine.c - the engine's life: creating and attaching a region, the
 * handle every process keeps, worker slots, and the reap of a dead
 * worker's slot. This is the top of the engine: it wires the layers
 * together (the repair table of lock.h gets the repairs of the layers that
 * own the data) and nothing below calls it.
 *
 * engine_create() lays the region out (region.c), initializes every lock
 * and class, and writes the magic last: a region whose magic is missing was
 * never finished and is refused on attach (region_check). The region is a
 * memfd, so it lives exactly as long as some process maps it or holds the
 * fd.
 *
 * Slots: slot 0 belongs to the master (engine_master()); workers claim slots
 * 1..ENGINE_MAX_SLOTS-1 with an atomic compare-and-swap on slot.in_use, and
 * give them back with engine_worker_detach() or, when they die, through the
 * master's engine_worker_reap().
 */
#include "engine/engine.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/changelog.h"
#include "engine/detail.h"
#include "engine/hashtab.h"
#include "engine/keyop.h"
#include "engine/life.h"
#include "engine/lock.h"
#include "engine/mover.h"
#include "engine/region.h"
#include "engine/slab.h"

static time_t default_clock(void *arg)
{
    (void)arg;
    return time(NULL);
}

void engine_config_defaults(struct engine_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mem_limit = (size_t)SHMC_DEFAULT_MEM_MB << 20;
    cfg->mem_reserve = 0;
    cfg->factor = SHMC_DEFAULT_FACTOR;
    cfg->min_chunk = SHMC_DEFAULT_MIN_CHUNK;
    cfg->item_size_max = SHMC_DEFAULT_ITEM_MAX;
    cfg->slab_chunk_max = SLAB_PAGE_SIZE / 2;
    cfg->hashpower = 0;
    cfg->hash_expand = 1;
    cfg->use_cas = 1;
    cfg->evict = 1;
    cfg->slab_reassign = 1;
    cfg->slab_automove = 1;
    cfg->slab_automove_ratio = 0.8;
    cfg->slab_automove_window = 30;
}

const char *engine_config_check(const struct engine_config *c)
{
    size_t chunk_hi = c->item_size_max / 2 < SLAB_PAGE_SIZE / 4
                      ? c->item_size_max / 2 : SLAB_PAGE_SIZE / 4;
    if (c->mem_limit < SLAB_PAGE_SIZE)
        return "memory limit must be at least 1 MB";
    if (!(c->factor > 1.0) || c->factor > 100.0)
        return "growth factor must be greater than 1.0 and at most 100";
    if (c->min_chunk < 8 || c->min_chunk > chunk_hi)
        return "minimum chunk size (-n) must be between 8 and the smaller "
               "of -I/2 and 256k";
    if (c->item_size_max < 1024 || c->item_size_max > (1024ull << 20))
        return "item size max must be between 1k and 1024m";
    if (c->slab_chunk_max != 0 &&     /* 0: the default, page / 2 */
        (c->slab_chunk_max < 1024 || c->slab_chunk_max > SLAB_PAGE_SIZE ||
         c->slab_chunk_max % 8 != 0))
        return "slab_chunk_max must be a multiple of 8 between 1024 and "
               "1048576 bytes";
    if (c->slab_automove < 0 || c->slab_automove > 2)
        return "slab_automove must be between 0 and 2";
    if (!(c->slab_automove_ratio > 0.0) || c->slab_automove_ratio > 1.0)
        return "slab_automove_ratio must be > 0 and < 1";
    if (c->slab_automove_window < 3)
        return "slab_automove_window must be > 2";
    if (c->hashpower != 0 && (c->hashpower < 12 || c->hashpower > 31))
        return "hashpower must be between 12 and 31";
    return NULL;
}

struct engine *engine_handle_new(char *base, int fd)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    region_bind(e, base, fd);
    e->clock = default_clock;
    log_init(&e->log, 0);
    e->repair[LOCK_STRIPE] = keyop_repair_stripe;
    e->repair[LOCK_CLASS] = slab_repair_class;
    e->repair[LOCK_PAGES] = slab_repair_pages;
    e->repair[LOCK_DETAIL] = detail_repair;
    e->repair[LOCK_LOG] = changelog_repair;
    e->master = calloc(1, sizeof(*e->master));
    if (e->master == NULL) {
        free(e);
        return NULL;
    }
    e->master->e = e;
    e->master->slot = 0;
    e->master->s = &e->slots[0];
    return e;
}

/* Every lock of a new region, or an error message. */
static const char *init_locks(struct engine *e)
{
    struct region *r = e->r;
    int rc = shlock_init(&r->pages_lock);
    if (rc == 0)
        rc = shlock_init(&e->detail->lock);
    for (unsigned i = 0; rc == 0 && i < r->nstripes; i++)
        rc = shlock_init(&e->stripes[i]);
    for (unsigned i = 0; rc == 0 && i < ENGINE_MAX_CLASSES; i++)
        rc = shlock_init(&e->classes[i].lock);
    if (rc == 0 && e->changelog != NULL) {
        rc = shlock_init(&e->changelog->lock);
        e->changelog->size = (r->cfg.changelog_size + 7) & ~(uint64_t)7;
    }
    return rc ? "cannot initialize process-shared robust mutexes" : NULL;
}

uint64_t engine_plan(const struct engine_config *cfg, struct region *tmp,
                     const char **err)
{
    memset(tmp, 0, sizeof(*tmp));
    tmp->cfg = *cfg;
    if (tmp->cfg.slab_chunk_max == 0)
        tmp->cfg.slab_chunk_max = SLAB_PAGE_SIZE / 2;
    if (tmp->cfg.mem_reserve < tmp->cfg.mem_limit)
        tmp->cfg.mem_reserve = tmp->cfg.mem_limit;
    if ((*err = engine_config_check(&tmp->cfg)) != NULL)
        return 0;
    uint64_t size = region_layout(tmp);
    if (size == 0)
        *err = "memory limit too large for one region (32 GB at most)";
    return size;
}

const char *engine_format(struct engine *e, const struct engine_config *cfg,
                          uint64_t size)
{
    struct region *r = e->r;
    const char *err;
    engine_plan(cfg, r, &err);
    r->magic = 0;
    r->version = REGION_VERSION;
    r->hdr_size = sizeof(struct region);
    r->region_size = size;
    r->pages_limit = (cfg->mem_limit + SLAB_PAGE_SIZE - 1) / SLAB_PAGE_SIZE;
    r->mem_limit = cfg->mem_limit;
    engine_lru_defaults(&r->lru);
    region_bind(e, e->base, e->fd);
    e->master->s = &e->slots[0];    /* the slots were not laid out before */
    if (slab_classes_init(r, e->classes) == 0)
        return "no slab class fits the configuration";
    if ((err = init_locks(e)) != NULL)
        return err;
    e->detail->delimiter = ':';
    r->hash_state = hash_state_make(r->hash_init, 1ull << r->hash_init);
    memset(e->page_class, PAGE_NONE, r->npages);
    mover_configure(e, cfg);
    e->slots[0].in_use = 1;
    e->slots[0].pid = (int32_t)getpid();
    __atomic_store_n(&r->magic, REGION_MAGIC, __ATOMIC_RELEASE);
    return NULL;
}

struct engine *engine_create(const struct engine_config *cfg, const char **err)
{
    struct region tmp;
    int fd;
    uint64_t size = engine_plan(cfg, &tmp, err);
    if (size == 0)
        return NULL;
    char *base = region_map_new(size, &fd, err);
    if (base == NULL)
        return NULL;
    struct engine *e = engine_handle_new(base, fd);
    if (e == NULL) {
        *err = "out of memory";
        munmap(base, size);
        close(fd);
        return NULL;
    }
    ((struct region *)base)->region_size = size;
    if ((*err = engine_format(e, cfg, size)) != NULL) {
        engine_close(e);
        return NULL;
    }
    return e;
}

struct engine *engine_attach_fd(int fd, const char **err)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct region)) {
        *err = "not a shmcached region (too small)";
        return NULL;
    }
    char *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        *err = "cannot map the shared memory region";
        return NULL;
    }
    *err = region_check((struct region *)base, (uint64_t)st.st_size);
    if (*err != NULL) {
        munmap(base, (size_t)st.st_size);
        return NULL;
    }
    struct engine *e = engine_handle_new(base, fd);
    if (e == NULL) {
        *err = "out of memory";
        munmap(base, (size_t)st.st_size);
        return NULL;
    }
    e->file = S_ISREG(st.st_mode);      /* a memory file (-e) */
    return e;
}

int engine_fd(const struct engine *e)
{
    return e->fd;
}

void engine_set_clock(struct engine *e, engine_clock_fn fn, void *arg)
{
    e->clock = fn ? fn : default_clock;
    e->clock_arg = arg;
}

time_t engine_now(const struct engine *e)
{
    return e->clock(e->clock_arg);
}

void engine_set_logger(struct engine *e, const struct logger *lg)
{
    e->log = *lg;
}

void engine_close(struct engine *e)
{
    if (e == NULL)
        return;
    munmap(e->base, e->r->region_size);
    if (e->fd >= 0)
        close(e->fd);
    free(e->master);
    free(e);
}

void *engine_app(struct engine *e)
{
    return e->r->app;
}

const struct engine_config *engine_config(const struct engine *e)
{
    return &e->r->cfg;
}

int engine_set_mem_limit(struct engine *e, size_t bytes)
{
    uint64_t pages = (bytes + SLAB_PAGE_SIZE - 1) / SLAB_PAGE_SIZE;
    uint64_t had = __atomic_load_n(&e->r->pages_limit, __ATOMIC_ACQUIRE);
    if (pages == 0 || pages > e->r->npages - ENGINE_MAX_CLASSES)
        return -1;
    /* a file: the new pages' space first, or a full filesystem would
     * become a SIGBUS when they are touched */
    if (e->file && pages > had &&
        posix_fallocate(e->fd, (off_t)(e->r->off_pages + had * SLAB_PAGE_SIZE),
                        (off_t)((pages - had) * SLAB_PAGE_SIZE)) != 0)
        return -1;
    __atomic_store_n(&e->r->pages_limit, pages, __ATOMIC_RELEASE);
    __atomic_store_n(&e->r->mem_limit, bytes, __ATOMIC_RELEASE);
    return 0;
}

size_t engine_mem_limit(const struct engine *e)
{
    return __atomic_load_n(&e->r->mem_limit, __ATOMIC_ACQUIRE);
}

/* ---- slots -------------------------------------------------------------- */

struct engine_worker *engine_worker_attach(struct engine *e, int pid)
{
    for (int i = 1; i < ENGINE_MAX_SLOTS; i++) {
        uint32_t expect = 0;
        struct slot *s = &e->slots[i];
        if (!__atomic_compare_exchange_n(&s->in_use, &expect, 1, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        struct engine_worker *w = calloc(1, sizeof(*w));
        if (w == NULL) {
            __atomic_store_n(&s->in_use, 0, __ATOMIC_RELEASE);
            return NULL;
        }
        s->pid = pid;
        s->allocs = 0;
        s->live_overflow = 0;
        memset(s->live, 0, sizeof(s->live));
        memset(&s->j_op, 0, sizeof(s->j_op));
        memset(&s->j_evict, 0, sizeof(s->j_evict));
        s->j_split = 0;
        w->e = e;
        w->s = s;
        w->slot = i;
        return w;
    }
    return NULL;
}

struct engine_counters *engine_worker_counters(struct engine_worker *w)
{
    return &w->s->c;
}

struct engine_worker *engine_master(struct engine *e)
{
    return e->master;
}

int engine_worker_slot(const struct engine_worker *w)
{
    return w->slot;
}

void engine_worker_free(struct engine_worker *w)
{
    free(w);
}

void engine_worker_detach(struct engine_worker *w)
{
    if (w == NULL || w->slot == 0)
        return;
    w->s->pid = 0;
    __atomic_store_n(&w->s->in_use, 0, __ATOMIC_RELEASE);
    free(w);
}

/* ---- the reap of a dead slot ------------------------------------------- */

/* Takes (and so repairs) every lock of kind k the slot may have held.
 * Returns the number of locks that could not be taken. */
static int take_touched(struct engine *e, enum lock_kind k, uint32_t n,
                        int slot)
{
    int unusable = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!lock_touched_by(e, k, i, slot))
            continue;
        if (lock_take(e->master, k, i) == 0)
            lock_drop(e->master, k, i);
        else
            unusable++;
    }
    return unusable;
}

/* Frees the chunk r if it is still ALLOC by slot (class lock held). */
static int free_if_owned(struct engine *e, struct class *c, ref_t r, int slot)
{
    struct item *it = ITEM(e, r);
    if (item_state(it) != ST_ALLOC || it->prev != (ref_t)slot)
        return 0;
    slab_free_locked(e, c, r);
    return 1;
}

/* Scans every page of class id for chunks ALLOC by slot (the live set
 * overflowed). Returns how many were freed. */
static int scan_allocs(struct engine *e, unsigned id, int slot)
{
    struct class *c = &e->classes[id];
    int freed = 0;
    for (uint64_t p = 0; p < e->r->pages_used; p++) {
        if (e->page_class[p] != id)
            continue;
        char *page = e->base + e->r->off_pages + p * SLAB_PAGE_SIZE;
        for (uint32_t i = 0; i < c->perpage; i++)
            freed += free_if_owned(e, c, REF(e, page + (size_t)i * c->size),
                                   slot);
    }
    return freed;
}

/* Frees what slot still holds in state ALLOC: the chunks of its live set
 * (region.h), or every page's when the set overflowed. Returns how many,
 * and counts the class locks that could not be taken in *unusable. */
static int free_allocs(struct engine *e, int slot, int *unusable)
{
    struct engine_worker *m = e->master;
    struct slot *s = &e->slots[slot];
    int freed = 0;
    int scan = __atomic_load_n(&s->live_overflow, __ATOMIC_ACQUIRE);
    for (unsigned id = 1; scan && id <= e->r->nclasses; id++) {
        if (lock_class(m, id) < 0) {
            (*unusable)++;
            continue;
        }
        freed += scan_allocs(e, id, slot);
        unlock_class(m, id);
    }
    for (uint32_t i = 0; !scan && i < SLOT_LIVE_MAX; i++) {
        ref_t r = __atomic_load_n(&s->live[i], __ATOMIC_ACQUIRE);
        unsigned id = r ? slab_chunk_class(e, r) : 0;
        if (id == 0)
            continue;
        if (lock_class(m, id) < 0) {
            (*unusable)++;
            continue;
        }
        freed += free_if_owned(e, &e->classes[id], r, slot);
        unlock_class(m, id);
    }
    return freed;
}

int engine_worker_reap(struct engine *e, int slot, struct engine_reap *out)
{
    memset(out, 0, sizeof(*out));
    if (slot <= 0)
        return -1;              /* the master's own slot is not reaped */
    return engine_reap_slot(e, slot, out);
}

int engine_reap_slot(struct engine *e, int slot, struct engine_reap *out)
{
    uint64_t before = __atomic_load_n(&e->r->lock_repairs, __ATOMIC_RELAXED);
    int freed = 0, unusable = 0;

    memset(out, 0, sizeof(*out));
    if (slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return -1;
    struct slot *s = &e->slots[slot];
    unusable += take_touched(e, LOCK_STRIPE, e->r->nstripes, slot);
    unusable += take_touched(e, LOCK_CLASS, e->r->nclasses + 1, slot);
    unusable += take_touched(e, LOCK_PAGES, 1, slot);
    unusable += take_touched(e, LOCK_DETAIL, 1, slot);
    if (e->changelog != NULL)
        unusable += take_touched(e, LOCK_LOG, 1, slot);
    if (__atomic_load_n(&s->allocs, __ATOMIC_ACQUIRE) != 0)
        freed = free_allocs(e, slot, &unusable);
    uint64_t after = __atomic_load_n(&e->r->lock_repairs, __ATOMIC_RELAXED);
    out->repairs = (unsigned)(after - before);
    out->freed = (unsigned)freed;
    out->unusable = (unsigned)unusable;
    if (unusable > 0)
        return -1;              /* the slot stays claimed: reap again later */
    s->allocs = 0;
    s->live_overflow = 0;
    memset(s->live, 0, sizeof(s->live));
    journal_clear(&s->j_op);
    journal_clear(&s->j_evict);
    __atomic_store_n(&s->j_split, 0, __ATOMIC_RELEASE);
    s->pid = 0;
    __atomic_add_fetch(&e->r->slot_reaps, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&s->in_use, 0, __ATOMIC_RELEASE);
    return 0;
}
