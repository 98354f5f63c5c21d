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

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
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
    uint64_t size = r->off_pages + r->npages * SLAB_PAGE_SIZE;
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
        tmp.off_pages != r->off_pages || tmp.hashpower != r->hashpower ||
        tmp.nstripes != r->nstripes || tmp.npages != r->npages ||
        tmp.off_changelog != r->off_changelog)
        return "region geometry differs from what its configuration makes";
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
