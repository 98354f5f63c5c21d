/*
 * region.h - layout of the shared memory region (engine internal).
 *
 * The region is one memfd mapping, the same bytes in every process, but not
 * necessarily at the same address. Every link inside it is therefore a
 * `ref_t`: the byte offset from the region base divided by 8 (all chunks are
 * 8-byte aligned), 0 meaning "none". A 32-bit ref addresses 32 GiB.
 *
 *   +-----------------+ 0
 *   | struct region   |  magic, version, sizes, global state, pages lock
 *   | slots[]         |  one per worker: journal, counters (cache-line padded)
 *   | classes[]       |  one per slab class: lock, free list, LRU, counts
 *   | detail          |  stats detail: per-prefix counters
 *   | stripes[]       |  bucket locks (bucket b is guarded by b % nstripes)
 *   | buckets[]       |  hash table heads (ref_t), room for 2^hash_max of
 *   |                 |  them; 2^power used (hashtab.h: the table grows)
 *   | page_class[]    |  which class owns each 1 MiB page (PAGE_NONE = not
 *   |                 |  carved; 0 = the global page pool, mover.h)
 *   | pages           |  mem_reserve / 1 MiB pages of chunks
 *   +-----------------+ region_size
 *
 * Chunk states (item_state(), the low bits of item.st) are the source of
 * truth that crash repair rebuilds everything else from:
 *   FREE    on its class's free list (or about to be, after a crash); with
 *           IF_MOVING, a chunk of the page being moved, taken off the free
 *           list by the slab mover (mover.h)
 *   ALLOC   owned by one worker slot (item.prev = slot), not yet visible
 *   LINKED  in exactly one hash chain and on its class's LRU
 *   CHAIN   value continuation of a large item (class `big`), linked by
 *           item.next from its head's item.chain; item.prev names the head
 * Which lock guards which field is written beside it (struct item below);
 * the locks, their order and their repairs are in lock.h.
 */
#ifndef SHMC_REGION_H
#define SHMC_REGION_H

#include <stdint.h>

#include "engine/engine.h"
#include "core/log.h"
#include "engine/shlock.h"

struct changelog;
struct tomb;

#define REGION_MAGIC   0x31434d4853ULL       /* "SHMC1" */
#define REGION_VERSION 6u      /* any change of a shared layout bumps it */
#define SLAB_PAGE_SIZE SHMC_SLAB_PAGE_SIZE
#define PAGE_NONE      0xffu
#define LRU_BUMP_SECS  60                    /* min seconds between LRU bumps */

typedef uint32_t ref_t;

enum { ST_FREE = 0, ST_ALLOC = 1, ST_LINKED = 2, ST_CHAIN = 3 };
#define ST_MASK 3u

/* The LRU segments of a class (lru.h), kept in item.st while LINKED. */
enum { LRU_HOT = 0, LRU_WARM = 1, LRU_COLD = 2, LRU_TEMP = 3, LRU_SEGS = 4 };
#define ST_SEG_SHIFT 2
#define ST_SEG_MASK (3u << ST_SEG_SHIFT)
#define ST_ACTIVE 0x10u     /* fetched twice since it last moved (lru.h) */

/* Item flags (item.iflags), owned by the item's stripe while the chunk is
 * an item (LINKED, or ALLOC by its owner before anyone else can see it):
 * IF_FETCHED, the meta protocol's IF_STALE, IF_WON, IF_KEYB (marked
 * stale by an invalidation, a recache "win" already handed out, the key
 * was sent base64-encoded), and replication's IF_PEER, IF_SYNCED.
 * IF_CFLAGS is part of the item's layout: set when the chunk is allocated
 * (client flags not 0: four bytes of them before the key) and fixed until
 * it is freed. Whether an item is on its LRU is not a flag: it is
 * item_state() == ST_LINKED (class lock).
 * Chunks that are not items reuse bit 0 (their state says which meaning):
 * a FREE chunk's iflags are its class's, and IF_MOVING says the slab mover
 * holds it (off the free list, on the page being moved); IF_REACH marks
 * CHAIN chunks during a class repair (class lock; CHAIN chunks are never
 * on a hash chain). */
enum {
    IF_MOVING = 1,      /* FREE: a chunk the slab mover holds (class lock) */
    IF_REACH = 1,       /* CHAIN: reached from its head (class repair) */
    IF_FETCHED = 2, IF_STALE = 4, IF_WON = 8, IF_KEYB = 16,
    IF_PEER = 32,       /* its version came from the peer (replication) */
    IF_SYNCED = 64,     /* confirmed by the peer's full copy (apply.c) */
    IF_CFLAGS = 0x80,   /* client flags stored (not 0): layout, fixed */
};

/* Every chunk starts with this header (40 bytes). An item's chunk goes on
 * with its client flags (4 bytes, only when not 0: IF_CFLAGS), its key and
 * its value. The head of a chained value (class `big` only) keeps the ref
 * of its first CHAIN chunk in the last 4 bytes of its chunk (item_chainp()),
 * where no value byte of a big item lies. So the common item pays for
 * neither (memcached: 48 bytes + 8 of CAS, flags also only when not 0).
 * Each mutable field has one owner (lock.h): the lock that must be held to
 * write it. "stripe" is the stripe of the item's bucket; "class" the lock
 * of the chunk's class; while a chunk is ALLOC, the process of the owning
 * slot writes the stripe-owned fields without a lock (no one else can
 * reach the chunk until it is put on a chain, under the stripe). The
 * client flags and the chain link are fields too: the flags are the
 * stripe's (fixed once linked), the chain link is the class's. */
struct item {
    uint64_t cas;       /* stripe */
    ref_t hnext;        /* stripe: next item of the hash chain */
    ref_t prev, next;   /* class: LRU or free list (both doubly linked);
                           ALLOC: prev = owner slot; CHAIN: prev = the
                           head, next = following chunk */
    uint32_t exptime;   /* stripe: absolute unix time, 0 = never */
    uint32_t atime;     /* stripe + class (both held to write): last access,
                           LRU order; repair sorts on it */
    uint32_t stime;     /* stripe: store time (flush_all) */
    uint32_t nbytes;    /* stripe: value length */
    uint8_t nkey;       /* stripe (fixed once linked) */
    uint8_t clsid;      /* fixed: set when the page is carved (pages) */
    uint8_t st;         /* class: the state (ST_*, bits 0-1, item_state());
                           while LINKED also the LRU segment (bits 2-3) and
                           ST_ACTIVE (lru.h) */
    uint8_t iflags;     /* stripe: IF_* (CHAIN chunks: class, IF_REACH) */
};
#define ITEM_HDR ((uint32_t)sizeof(struct item))
/* memcached's item header: the slab classes start at it + -n, as
 * memcached's do, so class ids and chunk sizes are memcached's, and the
 * -I limit counts it, so the largest item accepted is memcached's too */
#define ITEM_HDR_MC 48u

/* The bytes the client flags take before the key: 0 or 4. */
static inline uint32_t item_cflags_len(const struct item *it)
{
    return (it->iflags & IF_CFLAGS) ? (uint32_t)sizeof(uint32_t) : 0;
}

static inline uint32_t item_flags(const struct item *it)
{
    uint32_t f = 0;
    if (it->iflags & IF_CFLAGS)
        __builtin_memcpy(&f, it + 1, sizeof f);
    return f;
}

/* What an item counts for in its class (memcached's "requested"). */
static inline uint64_t item_size(const struct item *it)
{
    return (uint64_t)ITEM_HDR + item_cflags_len(it) + it->nkey + it->nbytes;
}

static inline unsigned item_state(const struct item *it)
{
    return it->st & ST_MASK;
}

/* A new state; the LRU bits go with the old one (they mean something only
 * while LINKED, and lru.c sets them when it links). Class lock. */
static inline void item_set_state(struct item *it, unsigned s)
{
    it->st = (uint8_t)s;
}

/* An in-flight change of one hash chain, recorded before the first store
 * and cleared before the stripe lock is released (stripe-owned: only the
 * slot's process writes it, holding that stripe; the stripe's repair reads
 * a dead slot's). */
struct journal {
    uint32_t stripe;    /* stripe index + 1; 0 = empty */
    ref_t new_item;     /* being linked */
    ref_t old_item;     /* being unlinked */
    /* with a change log: the change to log (changelog.h), so that a
     * repair logs it again whatever state the chunks were left in */
    uint8_t log_op;     /* CL_SET or CL_DEL; 0 = nothing to log */
    uint8_t nkey;
    char key[ENGINE_KEY_MAX];
};

static inline void journal_set(struct journal *j, uint32_t s, ref_t nr,
                               ref_t old)
{
    j->new_item = nr;
    j->old_item = old;
    j->log_op = 0;
    __atomic_store_n(&j->stripe, s + 1, __ATOMIC_RELEASE);
}

/* journal_set() for a change to log: the key goes with it. */
static inline void journal_set_logged(struct journal *j, uint32_t s,
                                      ref_t nr, ref_t old, int op,
                                      const char *key, size_t nkey)
{
    j->new_item = nr;
    j->old_item = old;
    j->nkey = (uint8_t)nkey;
    __builtin_memcpy(j->key, key, nkey);
    j->log_op = (uint8_t)op;
    __atomic_store_n(&j->stripe, s + 1, __ATOMIC_RELEASE);
}

static inline void journal_clear(struct journal *j)
{
    __atomic_store_n(&j->stripe, 0, __ATOMIC_RELEASE);
    j->new_item = j->old_item = 0;
    j->log_op = 0;
}

/* The chunks a slot holds in state ALLOC, so that the reap of a dead slot
 * frees them without scanning the pages: an open-addressed set of refs,
 * written only by the slot's own process (or, once it is dead, by whoever
 * finishes or frees its chunks), under the class lock of the chunk. An
 * entry is written before the chunk becomes ALLOC and cleared after it
 * stops being ALLOC, so the set is a superset of the slot's ALLOC chunks at
 * every instruction; entries are cleared in place (no moves), so a death
 * mid-change leaves at worst a stale entry, which the reap checks. A full
 * set sets `overflow`: the reap then scans the pages instead. */
#define SLOT_LIVE_MAX 256u      /* a power of two */

struct slot {
    int32_t pid;
    uint32_t in_use;
    uint64_t allocs;    /* upper bound of ALLOC chunks this slot owns */
    struct journal j_op;     /* the slot's own stripe operation */
    struct journal j_evict;  /* eviction of another stripe's item */
    uint32_t live_overflow;  /* the live set was full once: scan on reap */
    uint64_t last_log;       /* change log position after this slot's last
                                record (the slot's process only) */
    uint64_t j_split;        /* the hash table state word of the bucket
                                split in flight (hashgrow.h), 0 = none:
                                written holding the bucket's stripe */
    ref_t live[SLOT_LIVE_MAX];
    struct engine_counters c __attribute__((aligned(64)));
    struct engine_class_counters cls[ENGINE_MAX_CLASSES];
} __attribute__((aligned(64)));

static inline uint32_t slot_live_pos(ref_t r)
{
    return (uint32_t)((r * 2654435761u) >> 24) & (SLOT_LIVE_MAX - 1);
}

/* Records r in the slot's live set (before r becomes ALLOC). */
static inline void slot_live_add(struct slot *s, ref_t r)
{
    uint32_t p = slot_live_pos(r);
    for (uint32_t i = 0; i < SLOT_LIVE_MAX; i++) {
        if (s->live[p] == 0) {
            __atomic_store_n(&s->live[p], r, __ATOMIC_RELEASE);
            return;
        }
        p = (p + 1) & (SLOT_LIVE_MAX - 1);
    }
    __atomic_store_n(&s->live_overflow, 1, __ATOMIC_RELEASE);
}

/* Forgets r (after it stopped being ALLOC). */
static inline void slot_live_del(struct slot *s, ref_t r)
{
    uint32_t p = slot_live_pos(r);
    for (uint32_t i = 0; i < SLOT_LIVE_MAX; i++) {
        if (s->live[p] == r) {
            __atomic_store_n(&s->live[p], 0, __ATOMIC_RELEASE);
            return;
        }
        p = (p + 1) & (SLOT_LIVE_MAX - 1);
    }
}

struct class {
    struct shlock lock;
    uint32_t size;          /* chunk size in bytes */
    uint32_t perpage;
    ref_t free_head;
    struct lru_seg {        /* lru.h */
        ref_t head, tail;
        uint64_t count;     /* items */
        uint64_t bytes;     /* header + key + value of its items */
    } lru[LRU_SEGS];
    uint64_t free_count;
    uint64_t curr_items;
    uint64_t requested;     /* sum of key + value bytes of LINKED items */
    uint64_t pages;
    uint64_t allocated;     /* chunks in ALLOC or CHAIN state */
    /* counters kept here because they happen under this lock */
    uint64_t evicted, evicted_nonzero, evicted_time, outofmemory, reclaimed,
             expired_unfetched, evicted_unfetched, evicted_active,
             crawler_reclaimed, total_items;
    uint64_t moves_to_cold, moves_to_warm, moves_within_lru,
             direct_reclaims;
} __attribute__((aligned(64)));

/* The slab mover's record (mover.h has the design; lock.h the rules). */
enum { MV_IDLE = 0, MV_REQUESTED = 1, MV_DRAIN = 2, MV_CARVE = 3 };

struct slab_mover {
    /* The move: phase (bits 0-7), source class + 1 (bits 8-15, 0 = "any
     * class"), destination (bits 16-23, 0 = the global page pool) in one
     * word, changed atomically: IDLE -> REQUESTED by a compare-and-swap
     * (no lock); every other change holding the pages lock and the class
     * lock of the class the phase works on. */
    uint64_t state;
    uint64_t page;          /* the page moved (pages lock, with the phase) */
    /* a chained item's head being rescued (class `big`): its chain is
     * handed from old to new; the class repair finishes or undoes it */
    ref_t rescue_old, rescue_new;
    /* the mover's progress through the page (class lock of the source;
     * hints: a mover that starts again after a death scans it again) */
    uint32_t cursor, busy;
    uint32_t pick;          /* where "any class" starts looking (atomic) */
    /* the pages lock's: pool pages free to take (page_class 0, not the
     * one a move is carving), and pages given back to the system (holes:
     * PAGE_NONE below pages_used) */
    uint64_t pool_pages, holes;
    /* behaviour (atomic): slab_reassign, slab_automove, its ratio and
     * window */
    uint32_t reassign, automove;
    double ratio;
    uint32_t window;
    uint32_t pad;
    /* counters (atomic), memcached's slab_reassign_* and slabs_moved */
    uint64_t moved, rescues, chunk_rescues, evictions_nomem, inline_reclaim,
             busy_items, busy_deletes;
};

static inline unsigned mover_phase(uint64_t st)
{
    return (unsigned)(st & 0xff);
}

/* The source class; -1 for "any class" (a request only). */
static inline int mover_src(uint64_t st)
{
    return (int)((st >> 8) & 0xff) - 1;
}

static inline unsigned mover_dst(uint64_t st)
{
    return (unsigned)((st >> 16) & 0xff);
}

static inline uint64_t mover_word(unsigned phase, int src, unsigned dst)
{
    return (uint64_t)phase | (uint64_t)(unsigned)(src + 1) << 8 |
           (uint64_t)dst << 16;
}

struct region {
    uint64_t magic;
    uint32_t version;
    uint32_t hdr_size;          /* sizeof(struct region) */
    uint64_t region_size;
    struct engine_config cfg;   /* as built: never changes */

    uint32_t nclasses;          /* classes 1..nclasses are used */
    uint32_t big;               /* class of chained items (largest) */
    uint32_t hash_init;         /* the table's starting power (fixed) */
    uint32_t hash_max;          /* the power buckets[] has room for */
    uint32_t nstripes;
    uint64_t npages;            /* reserved pages */
    uint64_t off_slots, off_classes, off_stripes, off_buckets,
             off_page_class, off_pages, off_detail;
    uint64_t off_changelog, off_tombs;  /* 0 without a change log */

    struct shlock pages_lock;   /* pages_used, page_class[] */
    uint64_t pages_used;
    uint64_t pages_limit;       /* mem_limit in pages (atomic) */
    uint64_t mem_limit;         /* the limit now (cache_memlimit, reload) */

    /* A region in a file (engine_open_file) outlives the server: */
    uint32_t clean;             /* 1: written back and closed by a graceful
                                   stop; 0 while a server has it open */
    uint32_t generation;        /* servers that have opened it */
    char boot_id[40];           /* the boot it was last opened in */

    /* An area the server keeps its own state in, kept with the region
     * (replication's positions): the engine never reads it. */
    uint8_t app[ENGINE_APP_AREA] __attribute__((aligned(8)));

    /* The LRU policy now (engine_set_lru: set by the master at start and
     * on reload; read without a lock, each field atomically). */
    struct engine_lru_config lru;
    uint64_t lru_juggles;       /* atomic: maintenance rounds that moved */

    uint64_t cas_counter;       /* atomic */
    int64_t oldest_live;        /* flush_all: see engine.c item_flushed() */
    uint64_t oldest_cas;
    uint64_t lock_repairs;      /* atomic */
    uint64_t slot_reaps;        /* atomic */

    /* The hash table's size and growth (hashtab.h, hashgrow.h): power and
     * buckets in use in one word, read by every lookup, so on a cache line
     * of its own. */
    uint64_t hash_state __attribute__((aligned(64)));
    char hash_pad[56];
    struct slab_mover mover;    /* pages lock and class locks (above) */
};

/* stats detail: prefixes in an open-addressing table (detail.c). */
#define DETAIL_PREFIX_MAX ENGINE_KEY_MAX
struct detail_entry {
    uint64_t gets, hits, sets, dels;
    uint8_t len;                     /* 0 = empty slot */
    char prefix[DETAIL_PREFIX_MAX];
} __attribute__((aligned(8)));

struct detail {
    struct shlock lock;              /* the table (a leaf lock) */
    int32_t enabled;                 /* atomic */
    int32_t delimiter;
    uint32_t used;
    struct detail_entry e[ENGINE_DETAIL_PREFIXES];
};

/* A lock kind's repair (lock.h). */
typedef int (*lock_repair_fn_t)(struct engine_worker *w, uint32_t idx,
                                int dead);

/* Per-process handle. */
struct engine {
    struct region *r;
    char *base;
    int fd;
    engine_clock_fn clock;
    void *clock_arg;
    lock_repair_fn_t repair[5];     /* by enum lock_kind (lock.h) */
    int file;                       /* the region is a file (persist.c) */
    struct logger log;              /* the engine's messages */
    struct slot *slots;
    struct class *classes;
    struct shlock *stripes;
    ref_t *buckets;
    uint8_t *page_class;
    struct detail *detail;
    struct changelog *changelog;    /* NULL without a change log */
    struct tomb *tombs;
    struct engine_worker *master;
    /* engine_on_evict(): this process's */
    void (*on_evict)(void *arg, const struct engine_evicted *ev);
    void *on_evict_arg;
};

struct engine_worker {
    struct engine *e;
    struct slot *s;
    int slot;
};

/* ---- region.c ---- */

/* Computes the layout of r from r->cfg (hashpower, stripes, pages, every
 * offset). Returns the region's total size, 0 if it would be too big. */
uint64_t region_layout(struct region *r);
/* Maps a new region of `size` zero bytes on a memfd (*fd). NULL with *err
 * on failure. */
char *region_map_new(uint64_t size, int *fd, const char **err);
/* NULL when r (mapped, `size` bytes) is a region this binary can use, else
 * why not: a finished region (magic), this format version and header size,
 * and the geometry its own configuration makes. */
const char *region_check(const struct region *r, uint64_t size);
/* Points the handle's shortcuts into the region at base. */
void region_bind(struct engine *e, char *base, int fd);

static inline struct item *ITEM(const struct engine *e, ref_t r)
{
    return (struct item *)(e->base + ((uint64_t)r << 3));
}

static inline ref_t REF(const struct engine *e, const void *p)
{
    return (ref_t)(((const char *)p - e->base) >> 3);
}

static inline char *item_key(struct item *it)
{
    return (char *)(it + 1) + item_cflags_len(it);
}

static inline char *item_data(struct item *it)
{
    return item_key(it) + it->nkey;
}

/* Where a head of class `big` keeps its chain (the first CHAIN chunk, 0 =
 * none): the last ref of its chunk; NULL for the other classes, whose
 * items are never chained. Class lock; zeroed when the chunk is
 * allocated, before it turns ALLOC, so a repair never follows garbage. */
static inline ref_t *item_chainp(const struct engine *e, struct item *it)
{
    if (it->clsid != e->r->big)
        return (ref_t *)0;
    return (ref_t *)((char *)it + e->classes[it->clsid].size -
                     sizeof(ref_t));
}

static inline ref_t item_chain(const struct engine *e, struct item *it)
{
    ref_t *p = item_chainp(e, it);
    return p ? *p : 0;
}

static inline void item_set_chain(const struct engine *e, struct item *it,
                                  ref_t x)
{
    ref_t *p = item_chainp(e, it);
    if (p)
        *p = x;
}

/* The head chunk's room for key and value: after the header and the
 * flags, before the chain link of a big head. */
static inline size_t item_head_room(const struct engine *e,
                                    const struct item *it)
{
    return e->classes[it->clsid].size - ITEM_HDR - item_cflags_len(it) -
           (it->clsid == e->r->big ? sizeof(ref_t) : 0);
}

/* The room for value in a CHAIN chunk. */
static inline size_t item_chunk_room(const struct engine *e,
                                     const struct item *x)
{
    return e->classes[x->clsid].size - ITEM_HDR;
}

#endif
