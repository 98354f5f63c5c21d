/*
 * shm.c - creating, attaching and describing the shared region, and the
 * worker slots in it.
 *
 * engine_create() lays the region out (see region.h), initializes every lock
 * and class, and writes the magic last: a region whose magic is missing was
 * never finished and is refused on attach, as is one whose version, header
 * size or total size differ from what this binary computes. The region is a
 * memfd, so it lives exactly as long as some process maps it or holds the fd.
 *
 * Slots: slot 0 belongs to the master (engine_master()); workers claim slots
 * 1..ENGINE_MAX_SLOTS-1 with an atomic compare-and-swap on slot.in_use, and
 * give them back with engine_worker_detach() or, when they die, through the
 * master's engine_worker_reap() (recover.c).
 */
#include "engine/engine.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/region.h"
#include "engine/slab.h"

#define MAX_REGION_BYTES (32ull << 30)   /* 32-bit refs of 8-byte units */
#define MAX_STRIPES 4096u

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
    cfg->use_cas = 1;
    cfg->evict = 1;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Computes the layout of r from r->cfg. Returns total size, 0 if too big. */
static uint64_t layout(struct region *r)
{
    const struct engine_config *cfg = &r->cfg;
    uint64_t reserve = cfg->mem_reserve > cfg->mem_limit ? cfg->mem_reserve
                                                         : cfg->mem_limit;
    unsigned hp = (unsigned)cfg->hashpower;
    if (hp == 0) {
        hp = 16;
        while (hp < 27 && (1ull << hp) < cfg->mem_limit / 128)
            hp++;
    }
    r->hashpower = hp;
    r->nstripes = (1u << hp) < MAX_STRIPES ? (1u << hp) : MAX_STRIPES;
    r->npages = align_up(reserve, SLAB_PAGE_SIZE) / SLAB_PAGE_SIZE +
                ENGINE_MAX_CLASSES;
    uint64_t off = align_up(sizeof(struct region), 64);
    r->off_slots = off;
    off += ENGINE_MAX_SLOTS * sizeof(struct slot);
    r->off_classes = off;
    off += ENGINE_MAX_CLASSES * sizeof(struct class);
    r->off_detail = off;
    off += align_up(sizeof(struct detail), 64);
    r->off_stripes = off;
    off += r->nstripes * sizeof(struct shlock);
    r->off_buckets = off;
    off += align_up((1ull << hp) * sizeof(ref_t), 64);
    r->off_page_class = off;
    off += align_up(r->npages, 64);
    r->off_pages = align_up(off, 4096);
    uint64_t size = r->off_pages + r->npages * SLAB_PAGE_SIZE;
    return size > MAX_REGION_BYTES ? 0 : size;
}

static struct engine *handle(char *base, int fd)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    struct region *r = (struct region *)base;
    e->r = r;
    e->base = base;
    e->fd = fd;
    e->clock = default_clock;
    e->slots = (struct slot *)(base + r->off_slots);
    e->classes = (struct class *)(base + r->off_classes);
    e->stripes = (struct shlock *)(base + r->off_stripes);
    e->buckets = (ref_t *)(base + r->off_buckets);
    e->page_class = (uint8_t *)(base + r->off_page_class);
    e->detail = (struct detail *)(base + r->off_detail);
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
        (c->slab_chunk_max < 4096 || c->slab_chunk_max > SLAB_PAGE_SIZE ||
         c->slab_chunk_max % 8 != 0))
        return "slab_chunk_max must be a multiple of 8 between 4096 and "
               "1048576 bytes";
    if (c->hashpower != 0 && (c->hashpower < 12 || c->hashpower > 31))
        return "hashpower must be between 12 and 31";
    return NULL;
}

struct engine *engine_create(const struct engine_config *cfg, const char **err)
{
    struct region tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.cfg = *cfg;
    if (tmp.cfg.slab_chunk_max == 0)
        tmp.cfg.slab_chunk_max = SLAB_PAGE_SIZE / 2;
    if ((*err = engine_config_check(&tmp.cfg)) != NULL)
        return NULL;
    uint64_t size = layout(&tmp);
    if (size == 0) {
        *err = "memory limit too large for one region (32 GB at most)";
        return NULL;
    }
    int fd = memfd_create("shmcached", MFD_CLOEXEC);
    if (fd < 0) {
        *err = "memfd_create failed";
        return NULL;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        *err = "cannot size the shared memory region";
        close(fd);
        return NULL;
    }
    char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        *err = "cannot map the shared memory region";
        close(fd);
        return NULL;
    }
    struct region *r = (struct region *)base;
    *r = tmp;
    r->magic = 0;
    r->version = REGION_VERSION;
    r->hdr_size = sizeof(struct region);
    r->region_size = size;
    r->pages_limit = align_up(cfg->mem_limit, SLAB_PAGE_SIZE) / SLAB_PAGE_SIZE;

    struct engine *e = handle(base, fd);
    if (e == NULL) {
        *err = "out of memory";
        munmap(base, size);
        close(fd);
        return NULL;
    }
    if (slab_classes_init(r, e->classes) == 0) {
        *err = "no slab class fits the configuration";
        engine_close(e);
        return NULL;
    }
    int rc = shlock_init(&r->pages_lock);
    if (rc == 0)
        rc = shlock_init(&e->detail->lock);
    e->detail->delimiter = ':';
    for (unsigned i = 0; rc == 0 && i < r->nstripes; i++)
        rc = shlock_init(&e->stripes[i]);
    for (unsigned i = 0; rc == 0 && i < ENGINE_MAX_CLASSES; i++)
        rc = shlock_init(&e->classes[i].lock);
    if (rc != 0) {
        *err = "cannot initialize process-shared robust mutexes";
        engine_close(e);
        return NULL;
    }
    memset(e->page_class, PAGE_NONE, r->npages);
    e->slots[0].in_use = 1;
    e->slots[0].pid = (int32_t)getpid();
    __atomic_store_n(&r->magic, REGION_MAGIC, __ATOMIC_RELEASE);
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
    struct region *r = (struct region *)base;
    struct region tmp;
    memset(&tmp, 0, sizeof(tmp));
    tmp.cfg = r->cfg;
    if (r->magic != REGION_MAGIC)
        *err = "not a shmcached region (bad magic)";
    else if (r->version != REGION_VERSION)
        *err = "region format version differs from this binary";
    else if (r->hdr_size != sizeof(struct region) ||
             r->region_size != (uint64_t)st.st_size ||
             layout(&tmp) != r->region_size ||
             tmp.off_pages != r->off_pages)
        *err = "region sizes differ from this binary";
    else
        *err = NULL;
    if (*err != NULL) {
        munmap(base, (size_t)st.st_size);
        return NULL;
    }
    struct engine *e = handle(base, fd);
    if (e == NULL) {
        *err = "out of memory";
        munmap(base, (size_t)st.st_size);
    }
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

void engine_close(struct engine *e)
{
    if (e == NULL)
        return;
    munmap(e->base, e->r->region_size);
    free(e->master);
    free(e);
}

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
        memset(&s->j_op, 0, sizeof(s->j_op));
        memset(&s->j_evict, 0, sizeof(s->j_evict));
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

const struct engine_config *engine_config(const struct engine *e)
{
    return &e->r->cfg;
}

int engine_set_mem_limit(struct engine *e, size_t bytes)
{
    uint64_t pages = align_up(bytes, SLAB_PAGE_SIZE) / SLAB_PAGE_SIZE;
    if (pages == 0 || pages > e->r->npages - ENGINE_MAX_CLASSES)
        return -1;
    __atomic_store_n(&e->r->pages_limit, pages, __ATOMIC_RELEASE);
    e->r->cfg.mem_limit = bytes;
    return 0;
}
