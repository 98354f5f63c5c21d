/*
 * region.c - the shared region's layout, its mapping, and the checks a
 * region must pass before a process trusts it (see region.h for the
 * layout).
 *
 * region_layout() is the one function that decides where everything lies,
 * from the configuration alone: a region built by this binary and one it
 * is asked to attach agree on every offset exactly when their
 * configurations, format version and header size agree, which is what
 * region_check() verifies (the magic is written last by engine_create(),
 * so a region whose creation did not finish is refused too).
 */
#include "engine/region.h"

#include "engine/changelog.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_REGION_BYTES (32ull << 30)   /* 32-bit refs of 8-byte units */
#define MAX_STRIPES 4096u
#define HASH_POWER_CAP 30u  /* room reserved for growth: 4 GiB of buckets
                               at most, past any item count 32 GiB holds */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* The largest table growth may need: the power at which the most items
 * the reserve can hold (every item takes at least a chunk of the smallest
 * class, header + -n rounded up to 8, as slab.c cuts it) are no more than
 * 1.5 per bucket, so that no doubling is ever due past it; never below
 * the starting power, at most HASH_POWER_CAP (and region_layout lowers it
 * further when the region would pass 32 GiB). */
static unsigned hash_max_power(const struct engine_config *cfg,
                               uint64_t reserve, unsigned init)
{
    uint64_t smallest = cfg->slab_sizes[0] ? cfg->slab_sizes[0]
                                           : ITEM_HDR_MC + cfg->min_chunk;
    smallest = (smallest + 7) & ~7ull;
    uint64_t items = align_up(reserve, SLAB_PAGE_SIZE) / SLAB_PAGE_SIZE *
                     (SLAB_PAGE_SIZE / smallest);
    unsigned p = init;
    while (p < HASH_POWER_CAP && (3ull << p) / 2 < items)
        p++;
    return p;
}

/* Every offset past the buckets, for a table with room for 2^r->hash_max
 * of them. Returns the region's size. */
static uint64_t layout_from_buckets(struct region *r)
{
    const struct engine_config *cfg = &r->cfg;
    uint64_t off = r->off_buckets;
    off += align_up((1ull << r->hash_max) * sizeof(ref_t), 64);
    r->off_page_class = off;
    off += align_up(r->npages, 64);
    r->off_changelog = r->off_tombs = 0;
    if (cfg->changelog_size > 0) {
        r->off_changelog = align_up(off, 64);
        off = r->off_changelog + sizeof(struct changelog) +
              align_up(cfg->changelog_size, 8);
        r->off_tombs = align_up(off, 64);
        off = r->off_tombs +
              (uint64_t)r->nstripes * TOMBS_PER_STRIPE * sizeof(struct tomb);
    }
    r->off_pages = align_up(off, 4096);
    return r->off_pages + r->npages * SLAB_PAGE_SIZE;
}

uint64_t region_layout(struct region *r)
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
    r->hash_init = hp;
    r->hash_max = hash_max_power(cfg, reserve, hp);
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
    uint64_t size = layout_from_buckets(r);
    while (size > MAX_REGION_BYTES && r->hash_max > hp) {
        r->hash_max--;          /* room for growth yields to the pages */
        size = layout_from_buckets(r);
    }
    return size > MAX_REGION_BYTES ? 0 : size;
}

char *region_map_new(uint64_t size, int *fd, const char **err)
{
    *fd = memfd_create("shmcached", MFD_CLOEXEC);
    if (*fd < 0) {
        *err = "memfd_create failed";
        return NULL;
    }
    if (ftruncate(*fd, (off_t)size) < 0) {
        *err = "cannot size the shared memory region";
        close(*fd);
        return NULL;
    }
    char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (base == MAP_FAILED) {
        *err = "cannot map the shared memory region";
        close(*fd);
        return NULL;
    }
    return base;
}

/* Is the hash table's state word one of a table of this geometry? */
static int hash_state_ok(const struct region *r)
{
    uint64_t st = __atomic_load_n(&r->hash_state, __ATOMIC_ACQUIRE);
    unsigned p = (unsigned)(st & 0xff);
    uint64_t used = st >> 8;
    if (p < r->hash_init || p > r->hash_max)
        return 0;
    if (p == r->hash_init)
        return used == 1ull << p;
    return used >= 1ull << (p - 1) && used <= 1ull << p;
}

const char *region_check(const struct region *r, uint64_t size)
{
    struct region tmp;
    if (size < sizeof(struct region))
        return "not a shmcached region (too small)";
    if (__atomic_load_n(&r->magic, __ATOMIC_ACQUIRE) != REGION_MAGIC)
        return "not a shmcached region (bad magic)";
    if (r->version != REGION_VERSION)
        return "region format version differs from this binary";
    if (r->hdr_size != sizeof(struct region))
        return "region header size differs from this binary";
    memset(&tmp, 0, sizeof(tmp));
    tmp.cfg = r->cfg;
    uint64_t want = region_layout(&tmp);
    if (want == 0 || r->region_size != size || want != r->region_size ||
        tmp.off_pages != r->off_pages || tmp.hash_init != r->hash_init ||
        tmp.hash_max != r->hash_max || tmp.off_buckets != r->off_buckets ||
        tmp.nstripes != r->nstripes || tmp.npages != r->npages ||
        tmp.off_changelog != r->off_changelog)
        return "region geometry differs from what its configuration makes";
    if (!hash_state_ok(r))
        return "region hash table state is out of its geometry";
    return NULL;
}

void region_bind(struct engine *e, char *base, int fd)
{
    struct region *r = (struct region *)base;
    e->r = r;
    e->base = base;
    e->fd = fd;
    e->slots = (struct slot *)(base + r->off_slots);
    e->classes = (struct class *)(base + r->off_classes);
    e->stripes = (struct shlock *)(base + r->off_stripes);
    e->buckets = (ref_t *)(base + r->off_buckets);
    e->page_class = (uint8_t *)(base + r->off_page_class);
    e->detail = (struct detail *)(base + r->off_detail);
    e->changelog = r->off_changelog
                   ? (struct changelog *)(base + r->off_changelog) : NULL;
    e->tombs = r->off_tombs ? (struct tomb *)(base + r->off_tombs) : NULL;
}
