/*
 * persist.c - a region kept in a file, which outlives every process of the
 * server (-e): reopened warm after a graceful stop, a crash of the whole
 * process tree (kill -9) or a binary upgrade.
 *
 * Ownership. The file is locked (flock, exclusive) by the open file
 * description the master opens; every process the master forks shares that
 * description, so the lock is held exactly while some process of this
 * server still has the region. A second server waits for it (wait_ms) and
 * then gives up: two servers never share one file. Holding the lock also
 * proves that no process of an earlier server is alive, which is what makes
 * recovery single-handed.
 *
 * Reuse. The file's content is served when its header passes region_check
 * (magic, format version, header size, geometry), its configuration is the
 * one asked for (every field that shapes the region; eviction -M is taken
 * as asked), and it was either stopped cleanly (engine_close_clean) or left
 * unclean in this same boot (the page cache still holds every store). A
 * file left unclean by a boot that is over is not trusted: the writes the
 * kernel had not written back are gone. Anything else is a cold start,
 * with the reason.
 *
 * Recovery of a warm region, in this order, none of it proportional to the
 * cache: every lock is made usable and, if its holder died inside, repaired
 * (pages, detail, classes, then stripes, whose repairs take class locks);
 * then every slot of the dead server is reaped (its journal is finished by
 * the stripe repairs, its half-received values are freed from its live
 * set, region.h).
 *
 * A cold start never writes into the old file: the new region is built in a
 * new file next to it and renamed over it, so processes of an older server
 * that still map the old file (an upgrade) never see it change. The space
 * for the memory limit is reserved up front (posix_fallocate), so a full
 * filesystem is an error at start, never a SIGBUS in a worker later.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/life.h"
#include "engine/lock.h"
#include "engine/mover.h"
#include "engine/region.h"

#define LOCK_POLL_MS 50

static void read_boot_id(char *out, size_t len)
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)len, f) == NULL)
            out[0] = '\0';
        fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
}

static void say(char *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, ENGINE_OPEN_MSG, fmt, ap);
    va_end(ap);
}

/* Takes the file's lock, waiting up to wait_ms for an earlier server. */
static int lock_file(int fd, int wait_ms)
{
    for (int waited = 0;; waited += LOCK_POLL_MS) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK || waited >= wait_ms)
            return -1;
        struct timespec ts = { 0, LOCK_POLL_MS * 1000000L };
        nanosleep(&ts, NULL);
    }
}

/* Reserves the pages of the memory limit (and what lies before them). A
 * file whose blocks already cover them is left alone: asking again would
 * cost time in proportion to the cache (the filesystem walks its pages). */
static int reserve_space(int fd, const struct region *r, uint64_t pages)
{
    uint64_t len = r->off_pages + pages * SLAB_PAGE_SIZE;
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_blocks * 512 >= len)
        return 0;
    int rc = posix_fallocate(fd, 0, (off_t)len);
    if (rc != 0)
        errno = rc;
    return rc == 0 ? 0 : -1;
}

/* Why the region whose header is r cannot be served for cfg, or NULL. */
static int refuse(const struct region *r, uint64_t size,
                  const struct engine_config *cfg, const char *boot, char *why)
{
    struct region want;
    const char *w = region_check(r, size);
    if (w == NULL && cfg != NULL && engine_plan(cfg, &want, &w) == 0)
        w = w ? w : "the configuration is refused";
    if (w != NULL) {
        say(why, "%s", w);
        return 1;
    }
    if (cfg == NULL)                    /* the file's own configuration */
        want = *r;
    const struct engine_config *a = &r->cfg, *b = &want.cfg;
#define DIFF(f, name, fmt) \
    if (a->f != b->f) { \
        say(why, "%s differs (the file has " fmt ", asked " fmt ")", \
            name, a->f, b->f); \
        return 1; \
    }
    DIFF(mem_limit, "-m (bytes)", "%zu")
    DIFF(mem_reserve, "memory_reserve (bytes)", "%zu")
    DIFF(factor, "-f", "%.2f")
    DIFF(min_chunk, "-n", "%u")
    DIFF(item_size_max, "-I (bytes)", "%zu")
    DIFF(slab_chunk_max, "slab_chunk_max (bytes)", "%zu")
    DIFF(use_cas, "cas enabled (-C)", "%d")
    DIFF(changelog_size, "the replication queue (bytes)", "%zu")
#undef DIFF
    if (memcmp(a->slab_sizes, b->slab_sizes, sizeof a->slab_sizes) != 0) {
        say(why, "slab_sizes differs");
        return 1;
    }
    if (r->hash_init != want.hash_init) {
        say(why, "hashpower differs (the file has %u, asked %u)",
            r->hash_init, want.hash_init);
        return 1;
    }
    if (!r->clean && strcmp(r->boot_id, boot) != 0) {
        say(why, "it was left unclean by a boot that is over: what the "
            "page cache held then is lost");
        return 1;
    }
    return 0;
}

/* Makes every lock usable and repairs those whose holder died, then reaps
 * every slot of the dead server. 0, or -1 with why. */
static int recover(struct engine *e, struct engine_open_info *info, char *why)
{
    struct engine_worker *m = engine_master(e);
    static const enum lock_kind order[] = { LOCK_PAGES, LOCK_DETAIL,
                                            LOCK_LOG, LOCK_CLASS,
                                            LOCK_STRIPE };
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        uint32_t n = order[k] == LOCK_CLASS ? e->r->nclasses + 1
                   : order[k] == LOCK_STRIPE ? e->r->nstripes
                   : order[k] == LOCK_LOG && e->changelog == NULL ? 0 : 1;
        for (uint32_t i = 0; i < n; i++) {
            int rc = lock_recover(m, order[k], i);
            if (rc < 0) {
                say(why, "a lock in the file cannot be repaired");
                return -1;
            }
            info->repairs += (unsigned)rc;
        }
    }
    for (int slot = 0; slot < ENGINE_MAX_SLOTS; slot++) {
        struct engine_reap rp;
        if (!e->slots[slot].in_use)
            continue;
        if (engine_reap_slot(e, slot, &rp) < 0) {
            say(why, "slot %d of the dead server cannot be reaped", slot);
            return -1;
        }
        info->reaped += slot != 0;
        info->freed += rp.freed;
    }
    e->slots[0].in_use = 1;
    e->slots[0].pid = (int32_t)getpid();
    return 0;
}

/* Serves the region already in fd (locked, `size` bytes); NULL with why
 * (then nothing in the file was changed but repairs). */
static struct engine *open_warm(int fd, uint64_t size,
                                const struct engine_config *cfg,
                                struct engine_open_info *info)
{
    char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        say(info->why, "it cannot be mapped: %s", strerror(errno));
        return NULL;
    }
    struct engine *e = engine_handle_new(base, fd);
    if (e == NULL) {
        say(info->why, "out of memory");
        munmap(base, size);
        return NULL;
    }
    e->file = 1;
    info->clean = e->r->clean;
    if (recover(e, info, info->why) < 0) {
        engine_close(e);
        return NULL;
    }
    struct region *r = e->r;
    if (cfg != NULL) {
        r->cfg.evict = cfg->evict;      /* -M is a behaviour, not a shape */
        r->cfg.hash_expand = cfg->hash_expand;  /* so is no_hashexpand */
        mover_configure(e, cfg);        /* so is the slab mover */
        r->mem_limit = cfg->mem_limit;  /* as asked, not as last adjusted */
        r->pages_limit = (cfg->mem_limit + SLAB_PAGE_SIZE - 1) /
                         SLAB_PAGE_SIZE;
    }
    return e;
}

/* Builds a new region for cfg in a new file, renamed over path once it is
 * whole. Returns it (fd locked) or NULL with info->err. */
static struct engine *open_cold(const char *path,
                                const struct engine_config *cfg,
                                struct engine_open_info *info)
{
    struct region plan;
    const char *why;
    char tmp[4096 + 32];
    struct engine *e = NULL;
    uint64_t size = engine_plan(cfg, &plan, &why);
    if (size == 0) {
        say(info->err, "%s", why);
        return NULL;
    }
    snprintf(tmp, sizeof(tmp), "%s.new.%d", path, (int)getpid());
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 ||
        ftruncate(fd, (off_t)size) < 0) {
        say(info->err, "cannot create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    uint64_t pages = (cfg->mem_limit + SLAB_PAGE_SIZE - 1) / SLAB_PAGE_SIZE;
    if (reserve_space(fd, &plan, pages) < 0) {
        say(info->err, "cannot reserve %llu MB for the cache in the "
            "filesystem of %s: %s", (unsigned long long)
            ((plan.off_pages + pages * SLAB_PAGE_SIZE + (1u << 20) - 1) >> 20),
            path, strerror(errno));
        goto fail;
    }
    char *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        say(info->err, "cannot map %s: %s", tmp, strerror(errno));
        goto fail;
    }
    e = engine_handle_new(base, fd);
    if (e == NULL) {
        munmap(base, size);
        say(info->err, "out of memory");
        goto fail;
    }
    e->file = 1;
    if ((why = engine_format(e, cfg, size)) != NULL ||
        rename(tmp, path) < 0) {
        say(info->err, "%s", why ? why : strerror(errno));
        goto fail;
    }
    return e;
fail:
    if (e != NULL)
        engine_close(e);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return NULL;
}

/* Marks the region opened by this server (not clean until a graceful stop
 * says so), and writes that mark through at once. */
static void mark_open(struct engine *e, const char *boot)
{
    struct region *r = e->r;
    r->clean = 0;
    r->generation++;
    snprintf(r->boot_id, sizeof(r->boot_id), "%s", boot);
    msync(e->base, 4096, MS_SYNC);
}

struct engine *engine_open_file(const struct engine_config *cfg,
                                const char *path, int wait_ms,
                                struct engine_open_info *info)
{
    char boot[40];
    struct stat st;
    struct region hdr;
    struct engine *e = NULL;

    memset(info, 0, sizeof(*info));
    read_boot_id(boot, sizeof(boot));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(info->err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (lock_file(fd, wait_ms) < 0) {
        say(info->err, "%s is in use by another server (it has kept it "
            "for %d ms)", path, wait_ms);
        close(fd);
        return NULL;
    }
    if (fstat(fd, &st) < 0 || st.st_size == 0) {
        /* a new file: nothing to reuse, nothing to say */
    } else if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
        say(info->why, "it is too short to be a shmcached region");
    } else if (!refuse(&hdr, (uint64_t)st.st_size, cfg, boot, info->why)) {
        e = open_warm(fd, (uint64_t)st.st_size, cfg, info);
    }
    if (e != NULL) {
        info->warm = 1;
        if (reserve_space(fd, e->r, e->r->pages_limit) < 0) {
            say(info->err, "cannot reserve %llu MB for the cache in the "
                "filesystem of %s: %s", (unsigned long long)
                (e->r->mem_limit >> 20), path, strerror(errno));
            engine_close(e);
            return NULL;
        }
    } else if (cfg == NULL) {           /* as it is, or not at all */
        say(info->err, "%s: %s", path, info->why[0] ? info->why
                                                     : "an empty file");
        close(fd);
        return NULL;
    } else {
        close(fd);                      /* the old file stays as it was */
        e = open_cold(path, cfg, info);
    }
    if (e != NULL)
        mark_open(e, boot);
    return e;
}

struct engine *engine_create_file(const struct engine_config *cfg,
                                  const char *path,
                                  struct engine_open_info *info)
{
    char boot[40];
    memset(info, 0, sizeof(*info));
    read_boot_id(boot, sizeof(boot));
    struct engine *e = open_cold(path, cfg, info);
    if (e != NULL)
        mark_open(e, boot);
    return e;
}

int engine_close_clean(struct engine *e)
{
    if (!e->file)
        return 0;
    if (msync(e->base, e->r->region_size, MS_SYNC) < 0)
        return -1;
    e->r->clean = 1;
    return msync(e->base, 4096, MS_SYNC);
}
