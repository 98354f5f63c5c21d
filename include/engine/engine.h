/*
 * engine.h - the shared-memory cache engine: public API.
 *
 * The engine keeps every byte of the cache (items, hash table, slab pages,
 * LRU lists, statistics) in one shared memory region. The master process
 * creates the region with engine_create() before fork(); every forked worker
 * then calls engine_worker_attach() to claim a worker slot, and performs
 * cache operations through that handle. Nothing returned by the engine points
 * into the region after the call returns: values are copied out under the
 * bucket lock (engine_get_fn callbacks), so a process holds no item
 * reference between calls, and a process that dies holds nothing but,
 * perhaps, the locks it was inside of (see lock.h).
 *
 * Large values are written in place: engine_alloc() reserves an item for
 * `nbytes` of value, the caller fills it with engine_alloc_write() as bytes
 * arrive from the network, then engine_alloc_store() links it (set/add/...)
 * or engine_alloc_release() drops it. A worker that dies between the two
 * leaks nothing: engine_worker_reap() frees what its slot had allocated.
 *
 * All functions are safe to call from many processes at once.
 */
#ifndef SHMC_ENGINE_H
#define SHMC_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/limits.h"

#define ENGINE_KEY_MAX SHMC_KEY_MAX
#define ENGINE_MAX_SLOTS 256        /* worker slots (slot 0 is the master's) */
#define ENGINE_MAX_CLASSES 64
#define ENGINE_RELTIME_MAX 2592000  /* exptime up to 30 days is relative */

/* Configuration fixed when the region is created. */
struct engine_config {
    size_t mem_limit;        /* bytes of slab pages allowed (-m) */
    size_t mem_reserve;      /* bytes of slab pages reserved in the region
                                (>= mem_limit; cache_memlimit may grow up to
                                it). Reserved pages cost address space only:
                                memory is used when a page is first carved */
    double factor;           /* class growth factor (-f), > 1.0 */
    unsigned min_chunk;      /* minimum space for key+value (-n) */
    size_t item_size_max;    /* largest value+key accepted (-I) */
    size_t slab_chunk_max;   /* largest chunk; bigger items are chained
                                (0 = page size / 2) */
    unsigned slab_sizes[ENGINE_MAX_CLASSES]; /* -o slab_sizes: the class
                                sizes below slab_chunk_max, increasing,
                                0-terminated; none: from min_chunk and
                                factor */
    int hashpower;           /* log2 of the starting bucket count; 0 = sized
                                from mem_limit */
    int hash_expand;         /* grow the table as items grow (1, the
                                default; 0: -o no_hashexpand). Behaviour,
                                not shape: a reopened file takes it as
                                asked */
    int use_cas;             /* 0 disables CAS (-C) */
    int evict;               /* 0 = -M: fail with out of memory instead */
    size_t changelog_size;   /* bytes of the change log (replication),
                                0 = no log */
    /* The slab mover (memcached's slab_reassign, slab_automove,
     * slab_automove_ratio, slab_automove_window): behaviour, not shape,
     * taken again when a memory file is reopened. */
    int slab_reassign;       /* 1: pages may move between classes */
    int slab_automove;       /* 0, 1 (memcached's window policy), 2 (a
                                page for every eviction) */
    double slab_automove_ratio;     /* (0, 1]: 0.8 */
    unsigned slab_automove_window;  /* > 2: 30 */
};

void engine_config_defaults(struct engine_config *cfg);

/* The eviction policy (lru.h), memcached's segmented LRU: new items enter
 * HOT (TEMP when their TTL is below temp_ttl and temp_lru is on), flow to
 * WARM when fetched twice or to COLD when HOT is over hot_pct of the
 * class's bytes or older than hot_factor x COLD's age (WARM likewise), and
 * are evicted from COLD. segmented = 0 is one plain LRU (memcached's
 * "flat" mode). It can change while the server runs (reload). */
struct engine_lru_config {
    uint32_t segmented;     /* 1: HOT/WARM/COLD(/TEMP); 0: one LRU */
    uint32_t hot_pct;       /* of the class's item bytes: 20 */
    uint32_t warm_pct;      /* 40 */
    uint32_t temp_lru;      /* 1: short TTLs go to TEMP */
    uint32_t temp_ttl;      /* seconds: 61 */
    uint32_t pad;
    double hot_factor;      /* HOT may be this many times COLD's age: 0.2 */
    double warm_factor;     /* 2.0 */
};
struct engine;
struct engine_worker;
void engine_lru_defaults(struct engine_lru_config *lc);
void engine_set_lru(struct engine *e, const struct engine_lru_config *lc);
void engine_get_lru(const struct engine *e, struct engine_lru_config *lc);
/* One round of LRU maintenance (the master's, as memcached's maintainer
 * thread): expired items reclaimed from the tails (counted in reclaimed),
 * HOT and WARM juggled to their sizes and ages, active COLD items rescued
 * to WARM. One class lock at a time, a few items per hold; it stops once
 * `budget` items moved or went (the caller has other duties: call again
 * soon when it returns budget or more). Returns the items moved or
 * reclaimed. */
unsigned engine_lru_maintain(struct engine_worker *w, unsigned budget);

/* NULL when the engine can build a region for cfg, else why not (a static
 * message naming the parameter and its range). */
const char *engine_config_check(const struct engine_config *cfg);

/* Clock: returns the current unix time in seconds. Injectable for tests. */
typedef time_t (*engine_clock_fn)(void *arg);

struct engine;          /* per-process handle on a region */
struct engine_worker;   /* per-process handle on one worker slot */

/* Creates a new region (memfd, MAP_SHARED) sized for cfg.
 * Returns NULL and sets *err to a static message on failure. */
struct engine *engine_create(const struct engine_config *cfg, const char **err);

/* A region in a file (-e): it outlives every process of the server.
 * engine_open_file() opens the file at path (creating it), takes its lock
 * (waiting up to wait_ms for the processes of an earlier server to go: two
 * servers never share one file), and serves what it holds when its format,
 * geometry and configuration match cfg and it was stopped cleanly or
 * crashed in this boot ("warm": the locks a dead process held are repaired
 * and the dead server's slots reaped, in time that does not grow with the
 * cache); otherwise it builds a new region ("cold") and says why in
 * info->why. The space for the memory limit is reserved in the file's
 * filesystem up front. Returns NULL with info->err when no region can be
 * had (the file is in use, the filesystem is full, ...). With cfg NULL,
 * the file is taken with the configuration it was built with, or refused
 * (info->err), never rebuilt (an inspection: --check). */
#define ENGINE_OPEN_MSG 256
struct engine_open_info {
    int warm;                   /* 1: the file's cache is served */
    int clean;                  /* warm: it was stopped gracefully */
    unsigned repairs;           /* warm: locks repaired */
    unsigned reaped;            /* warm: slots of the dead server reaped */
    unsigned freed;             /* warm: half-received values freed */
    char why[ENGINE_OPEN_MSG];  /* cold: why the file's content was not
                                   used ("" for a new or empty file) */
    char err[ENGINE_OPEN_MSG];  /* NULL returned: why */
};
struct engine *engine_open_file(const struct engine_config *cfg,
                                const char *path, int wait_ms,
                                struct engine_open_info *info);
/* A new region for cfg in a new file renamed over path, whoever holds the
 * file there now (a binary upgrade whose format changed: the old server's
 * processes keep the old file until they exit). NULL with info->err. */
struct engine *engine_create_file(const struct engine_config *cfg,
                                  const char *path,
                                  struct engine_open_info *info);
/* A graceful stop of a region in a file, when no other process uses it:
 * writes it back and marks it clean (the next open trusts it even after a
 * reboot). 0 or -1 (errno). Nothing to do for a memfd region. */
int engine_close_clean(struct engine *e);

/* Opens an existing region from a memfd or file descriptor (validates the
 * header magic, version and sizes). Returns NULL and *err on failure. */
struct engine *engine_attach_fd(int fd, const char **err);

/* File descriptor of the region (to pass to exec'd processes). */
int engine_fd(const struct engine *e);

void engine_set_clock(struct engine *e, engine_clock_fn fn, void *arg);
time_t engine_now(const struct engine *e);

/* Unmaps the region in this process and closes the handle's descriptor
 * (the region lives while any process maps it or holds its fd; a file's
 * lock goes with the last descriptor of the server). */
void engine_close(struct engine *e);

/* Claims a free worker slot for process `pid`. Returns NULL when every slot
 * is in use. Slot 0 is reserved: engine_master() returns it. */
struct engine_worker *engine_worker_attach(struct engine *e, int pid);
struct engine_worker *engine_master(struct engine *e);
int engine_worker_slot(const struct engine_worker *w);
/* Releases a slot held by a worker that exits cleanly, and the handle. */
void engine_worker_detach(struct engine_worker *w);
/* Frees only this process's handle (the slot is untouched): the master's
 * copy of a handle it claimed for a child. */
void engine_worker_free(struct engine_worker *w);
/* Master side: the process that held `slot` is dead. Takes every lock it
 * may have held (running the pending repairs), frees the items it had
 * allocated but not stored, clears its journal and frees the slot.
 * Statistics of the slot are kept (folded into the totals). Returns 0 with
 * *out saying what was done (locks repaired, allocations freed); -1 when
 * a lock it held is unusable (out->unusable; logged by the engine): the
 * slot then stays claimed, and a later reap may succeed. */
struct engine_reap {
    unsigned repairs;       /* locks repaired (the dead process held them) */
    unsigned freed;         /* allocations freed (values half received) */
    unsigned unusable;      /* locks that could not be taken */
};
int engine_worker_reap(struct engine *e, int slot, struct engine_reap *out);

/* The engine's messages (a lock unusable, a repair) go to lg (copied);
 * by default to stderr, errors and warnings only. */
struct logger;
void engine_set_logger(struct engine *e, const struct logger *lg);

/* ---- operations ---------------------------------------------------- */

enum engine_status {
    ENGINE_OK = 0,
    ENGINE_STORED,
    ENGINE_NOT_STORED,
    ENGINE_EXISTS,
    ENGINE_NOT_FOUND,
    ENGINE_TOO_LARGE,
    ENGINE_NO_MEMORY,
    ENGINE_NON_NUMERIC,     /* incr/decr on a non-numeric value */
    ENGINE_BAD_KEY,         /* empty or longer than ENGINE_KEY_MAX */
    ENGINE_ERROR,           /* a lock is unusable (its repair failed):
                               nothing was changed; memcached's
                               SERVER_ERROR for the client */
};

enum engine_store_op {
    ENGINE_SET = 0, ENGINE_ADD, ENGINE_REPLACE, ENGINE_APPEND,
    ENGINE_PREPEND, ENGINE_CAS,
};

/* The region keeps this many bytes for the server's own use (engine_app):
 * state that must live and die with the cache. */
#define ENGINE_APP_AREA 512
void *engine_app(struct engine *e);

/* Converts a protocol exptime (memcached's rule: 0 never, <= 30 days
 * relative, larger absolute unix time, negative already expired) into the
 * engine's absolute form. */
uint32_t engine_exptime(const struct engine *e, int64_t exptime);

/* What a get callback sees. `value` is only valid during the callback; copy
 * it with engine_value_copy(). */
struct engine_item_info {
    const char *key;
    size_t nkey;
    uint32_t flags;
    uint32_t nbytes;       /* value length */
    uint64_t cas;          /* as clients see it: 0 with -C */
    uint64_t version;      /* the item's CAS, also with -C (replication) */
    uint32_t exptime;      /* absolute unix time, 0 = never */
    uint32_t atime;        /* last access, absolute unix time */
    uint8_t clsid;         /* slab class */
    uint8_t fetched;       /* fetched since it was stored */
    uint8_t from_peer;     /* its version came from the replication peer */
    uint32_t stime;        /* when it was stored (at its origin) */
    const void *value;     /* opaque: pass to engine_value_copy() */
};
typedef void (*engine_get_fn)(void *arg, const struct engine_item_info *info);
/* Copies `len` bytes of the value starting at `off` into dst. */
void engine_value_copy(const struct engine_item_info *info, size_t off,
                       size_t len, void *dst);
/* Points iov[0..n) at the value where it lies in shared memory, valid only
 * during the callback (to send it without a copy while the bucket lock is
 * held). Returns n, or -1 if the value has more than max pieces. */
struct iovec;
int engine_value_iov(const struct engine_item_info *info, struct iovec *iov,
                     int max);

/* get/gets: on a hit calls fn under the bucket lock and returns ENGINE_OK;
 * ENGINE_NOT_FOUND on a miss (expired and flushed items are misses). */
enum engine_status engine_get(struct engine_worker *w, const char *key,
                              size_t nkey, engine_get_fn fn, void *arg);
/* gat/gats: like engine_get, and sets the new exptime (engine form). */
enum engine_status engine_gat(struct engine_worker *w, const char *key,
                              size_t nkey, uint32_t exptime,
                              engine_get_fn fn, void *arg);
/* touch: ENGINE_OK (touched) or ENGINE_NOT_FOUND. */
enum engine_status engine_touch(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t exptime);
/* Removes key without counting it anywhere: a storage command that fails
 * (too large, out of memory) drops the old value, as memcached does.
 * ENGINE_OK or ENGINE_NOT_FOUND. */
enum engine_status engine_unlink(struct engine_worker *w, const char *key,
                                 size_t nkey);
/* Looks key up without counting anything, without an LRU bump: on a hit
 * calls fn (may be NULL) under the bucket lock, ENGINE_OK; else
 * ENGINE_NOT_FOUND, ENGINE_BAD_KEY or ENGINE_ERROR. */
enum engine_status engine_peek(struct engine_worker *w, const char *key,
                               size_t nkey, engine_get_fn fn, void *arg);
/* delete: ENGINE_OK or ENGINE_NOT_FOUND. */
enum engine_status engine_delete(struct engine_worker *w, const char *key,
                                 size_t nkey);

/* Store in one call (value contiguous). cas_in is used by ENGINE_CAS only.
 * Returns STORED / NOT_STORED / EXISTS / NOT_FOUND / TOO_LARGE / NO_MEMORY.
 * *cas_out (may be NULL) receives the new item's CAS unique. */
enum engine_status engine_store(struct engine_worker *w,
                                enum engine_store_op op, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                const void *value, size_t nbytes,
                                uint64_t cas_in, uint64_t *cas_out);

/* Store in three steps, for values that arrive in pieces. */
struct engine_alloc {
    uint32_t ref;          /* engine internal */
    uint32_t nbytes;
    size_t written;
};
/* Reserves an item for key + nbytes of value. TOO_LARGE, NO_MEMORY or OK. */
enum engine_status engine_alloc(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                size_t nbytes, struct engine_alloc *a);
/* Appends len bytes of value (the total must not exceed nbytes). */
void engine_alloc_write(struct engine_worker *w, struct engine_alloc *a,
                        const void *data, size_t len);
/* Zero-copy filling: the next writable piece of the value where it lies
 * in shared memory (*p), and its length (0 when the value is complete).
 * Bytes put there count once engine_alloc_advance() says so. */
size_t engine_alloc_window(struct engine_worker *w, struct engine_alloc *a,
                           void **p);
void engine_alloc_advance(struct engine_alloc *a, size_t n);
/* Links the filled item per op; the allocation is consumed either way. */
enum engine_status engine_alloc_store(struct engine_worker *w,
                                      struct engine_alloc *a,
                                      enum engine_store_op op,
                                      uint64_t cas_in, uint64_t *cas_out);
/* Drops an allocation that will not be stored. */
void engine_alloc_release(struct engine_worker *w, struct engine_alloc *a);

/* incr/decr: 64-bit unsigned, incr wraps, decr stops at 0.
 * ENGINE_OK with *result, ENGINE_NOT_FOUND, ENGINE_NON_NUMERIC,
 * ENGINE_NO_MEMORY. *cas_out (may be NULL) receives the new CAS. */
enum engine_status engine_delta(struct engine_worker *w, const char *key,
                                size_t nkey, int incr, uint64_t delta,
                                uint64_t *result, uint64_t *cas_out);

/* flush_all: invalidates every item stored before now + delay (delay <= 0:
 * now). `when` uses memcached's exptime rule when > 0. */
void engine_flush(struct engine_worker *w, int64_t when);

/* Changes the memory limit (bytes). Growing is allowed up to the reserve;
 * shrinking stops new pages from being handed out. Returns 0 or -1. */
int engine_set_mem_limit(struct engine *e, size_t bytes);
/* The memory limit now (engine_config() has the one the region was built
 * with). */
size_t engine_mem_limit(const struct engine *e);

/* Reclaims up to `budget` expired or flushed items across classes (the
 * background sweep). Returns the number reclaimed. */
unsigned engine_sweep(struct engine_worker *w, unsigned budget);

/* Hash table growth: the table doubles when the cache holds more than 1.5
 * items per bucket (memcached's rule) and cfg.hash_expand is on, up to the
 * largest table the region has room for (from the memory reserve and the
 * smallest item). One call starts a doubling if one is due, then splits up
 * to max_buckets buckets, each under its own bucket lock (workers go on
 * meanwhile; a lookup waits at most for one split). Returns 1 while a
 * doubling is under way or due (call again soon), 0 when there is nothing
 * to do, -1 when a bucket lock is unusable (nothing is left half done;
 * call again later). Any process may call it: the master does on its
 * tick. */
int engine_hash_grow(struct engine_worker *w, unsigned max_buckets);

/* An eviction (an item dropped for room, not an expiry) as "watch
 * evictions" shows it. The hook is this process's (struct engine is a
 * per-process handle): it runs in the process that evicts, holding the
 * victim's stripe and class locks, so it must be quick and must not call
 * the engine. */
struct engine_evicted {
    const char *key;
    size_t nkey;
    int fetched;
    int64_t ttl;                /* seconds left, -1: none */
    uint32_t last_access;       /* seconds since */
    unsigned clsid;
    uint32_t nbytes;
};
void engine_on_evict(struct engine *e,
                     void (*fn)(void *arg, const struct engine_evicted *ev),
                     void *arg);
/* ---- the slab mover (memcached's slabs reassign / automove) ---------- */

/* memcached's reassign results ("slabs reassign" replies). */
enum engine_reassign {
    ENGINE_REASSIGN_OK = 0,     /* OK: the move is scheduled */
    ENGINE_REASSIGN_RUNNING,    /* BUSY: a move is requested or running */
    ENGINE_REASSIGN_BADCLASS,   /* BADCLASS: no such src or dst class */
    ENGINE_REASSIGN_NOSPARE,    /* NOSPARE: src has fewer than 2 pages */
    ENGINE_REASSIGN_SAME,       /* SAME: src == dst */
    ENGINE_REASSIGN_DISABLED,   /* slab_reassign is off */
};
/* Asks for one page of class src (-1: any class with a spare page; 0:
 * the global page pool) to move to class dst (0: the pool). The move
 * itself is engine_slab_mover()'s. Never blocks. */
enum engine_reassign engine_slabs_reassign(struct engine *e, int src,
                                           int dst);
/* "slabs automove 0|1|2" and "slabs automove ratio R"; what they are now.
 * 0, or -1 for a value out of range (nothing changed). */
int engine_set_automove(struct engine *e, int mode);
int engine_set_automove_ratio(struct engine *e, double ratio);
int engine_automove(const struct engine *e);
double engine_automove_ratio(const struct engine *e);
unsigned engine_automove_window(const struct engine *e);
/* 1 when slab_reassign is on ("slabs reassign" is served). */
int engine_slab_reassign(const struct engine *e);
/* slab_automove=1, memcached's policy (automove.h): one decider per
 * process (the master's), run about once a second. Returns the
 * destination of the move it asked for (0: the global pool: memcached
 * then decides again at once, every millisecond, while classes have free
 * memory to give back), or -1 when it asked for none. */
struct engine_automove;
struct engine_automove *engine_automove_new(struct engine *e);
void engine_automove_free(struct engine_automove *am);
int engine_automove_run(struct engine_automove *am);
/* The mover's work, as memcached's rebalancer thread (the master calls it
 * from its loop): starts a requested move, empties the page a few chunks
 * per class lock hold (rescuing items into free chunks of their class,
 * evicting them when there is none, waiting for chunks a worker has
 * allocated), hands the page to its new class or the pool, and gives
 * pool pages back to the system while more pages are carved than the
 * memory limit allows. budget bounds the chunks examined in this call.
 * Returns 1 while a move is in progress (call again soon), 2 when it waits
 * for busy chunks (call again after a pause), 0 when idle, -1 when a lock
 * it needs is unusable (it tries again on the next call). */
int engine_slab_mover(struct engine_worker *w, unsigned budget);

/* ---- statistics ----------------------------------------------------- */

/* Counters of cache operations per worker slot, summed when read. */
#define ENGINE_COUNTERS(X) \
    X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch) X(get_hits) \
    X(get_misses) X(get_expired) X(get_flushed) X(delete_misses) \
    X(delete_hits) X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits) \
    X(cas_misses) X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses) \
    X(store_too_large) X(store_no_memory) X(cmd_meta)

struct engine_counters {
#define X(name) uint64_t name;
    ENGINE_COUNTERS(X)
#undef X
};

/* Per-class counters kept per slot. */
#define ENGINE_CLASS_COUNTERS(X) \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) \
    X(cas_hits) X(cas_badval) X(touch_hits) \
    X(hits_hot) X(hits_warm) X(hits_cold) X(hits_temp)

struct engine_class_counters {
#define X(name) uint64_t name;
    ENGINE_CLASS_COUNTERS(X)
#undef X
};

/* The calling worker's own counter slot (writable, single writer). */
struct engine_counters *engine_worker_counters(struct engine_worker *w);

/* Global figures (summed over slots and classes). */
struct engine_stats {
    struct engine_counters c;
    uint64_t curr_items, total_items, bytes, evictions, reclaimed,
             expired_unfetched, evicted_unfetched, evicted_active,
             crawler_reclaimed, slabs_moved, lock_repairs, slot_reaps;
    uint64_t moves_to_cold, moves_to_warm, moves_within_lru,
             direct_reclaims, lru_juggles;
    /* the slab mover (memcached's names) */
    uint64_t slab_reassign_rescues, slab_reassign_chunk_rescues,
             slab_reassign_evictions_nomem, slab_reassign_inline_reclaim,
             slab_reassign_busy_items, slab_reassign_busy_deletes,
             slab_global_page_pool;
    int slab_reassign_running;
    uint64_t limit_maxbytes, total_malloced, hash_bytes;  /* total_malloced:
                             the pages carved (classes and pool), bytes */
    unsigned hash_power_level, active_slabs, slab_classes;
    int hash_is_expanding;
};
void engine_stats(struct engine *e, struct engine_stats *st);
/* stats reset: zeroes counters (not items or memory figures). */
void engine_stats_reset(struct engine *e);

struct engine_class_stats {
    unsigned id;
    unsigned chunk_size, chunks_per_page;
    uint64_t total_pages, total_chunks, used_chunks, free_chunks;
    uint64_t curr_items, requested_bytes;   /* items: key + value bytes */
    uint64_t evicted, evicted_nonzero, evicted_time, outofmemory,
             reclaimed, expired_unfetched, evicted_unfetched, crawler_reclaimed;
    uint64_t oldest_age;                      /* seconds since tail access */
    uint64_t number_hot, number_warm, number_cold, number_temp;
    uint64_t age_hot, age_warm;               /* their tails' ages */
    uint64_t evicted_active, moves_to_cold, moves_to_warm, moves_within_lru,
             direct_reclaims;
    struct engine_class_counters c;
};
/* Number of classes; fills st for class id 1..n (returns 0 if unused). */
unsigned engine_class_count(struct engine *e);
int engine_class_stats(struct engine *e, unsigned id,
                       struct engine_class_stats *st);

/* stats sizes: calls fn(arg, size, count) for each 32-byte size bucket with
 * items (size = item total size rounded up). */
void engine_sizes(struct engine *e,
                  void (*fn)(void *arg, unsigned size, uint64_t count),
                  void *arg);

/* stats cachedump: up to limit (0 = all, capped at 2 MB of output by the
 * caller) items of class id, most recent first. */
void engine_cachedump(struct engine *e, unsigned id, unsigned limit,
                      void (*fn)(void *arg, const char *key, size_t nkey,
                                 uint32_t nbytes, uint32_t exptime),
                      void *arg);

/* Walks the live items bucket by bucket, starting at *cursor (0: the
 * start; an opaque position, not a bucket number), holding one bucket's
 * lock at a time (two while the table doubles: a bucket and its image):
 * for each item, fn is called under that lock with the item
 * (engine_value_copy() works on it) and the seconds since its last access;
 * fn returns 0 to go on, non-zero to stop after this bucket. The walk also
 * stops after max_buckets steps. On return *cursor is where to continue,
 * ENGINE_WALK_END once every bucket was seen. Nothing is counted, bumped or
 * marked fetched. An item that exists for the whole walk is seen exactly
 * once, however the hash table grows meanwhile (hashtab.h); items stored
 * or removed meanwhile may or may not be seen. Returns the number of items seen, or -1 when a lock
 * is unusable (ENGINE_ERROR). */
#define ENGINE_WALK_END UINT64_MAX
typedef int (*engine_walk_fn)(void *arg, const struct engine_item_info *info,
                              uint32_t last_access);
long engine_walk(struct engine_worker *w, uint64_t *cursor,
                 uint64_t max_buckets, engine_walk_fn fn, void *arg);

/* ---- the change log (replication) ----------------------------------- */

/* With cfg.changelog_size > 0, every change a client makes (store, delete,
 * touch, arithmetic, flush_all; not evictions or expiry) appends a record
 * to a ring in the region: the key (the item's state is read when the
 * record is shipped), the version the change gave it (its CAS), the time.
 * One consumer reads the records in order from a position and releases
 * what it no longer needs; a change that finds the ring full of unreleased
 * records is dropped and counted (the consumer must then copy everything).
 * Records are never lost to a crash: see changelog.h. */
enum engine_change_op {
    ENGINE_CHANGE_SET = 1,      /* the key's item changed (or was made) */
    ENGINE_CHANGE_DEL,          /* the key was deleted, at `version` */
    ENGINE_CHANGE_FLUSH,        /* flush_all: oldest_live / oldest_cas */
};
struct engine_change {
    enum engine_change_op op;
    uint64_t end;               /* the position after this record */
    uint64_t version;
    uint32_t ms;                /* when (ms of the unix clock, low bits) */
    uint32_t seq;               /* its number (low 32 bits of appended) */
    size_t nkey;
    char key[ENGINE_KEY_MAX];
    int64_t oldest_live;        /* FLUSH */
    uint64_t oldest_cas;        /* FLUSH */
};
/* The record at *pos: 1 (c filled, *pos past it), 0 (none yet), -1 (*pos
 * is no longer in the ring). */
int engine_changelog_read(struct engine *e, uint64_t *pos,
                          struct engine_change *c);
struct engine_changelog_state {
    uint64_t size;              /* ring bytes (0: no log) */
    uint64_t head;              /* position of the next record */
    uint64_t tail;              /* oldest position not released */
    uint64_t dropped;           /* changes lost for want of room */
    uint64_t appended;          /* records ever appended */
};
void engine_changelog_state(struct engine *e,
                            struct engine_changelog_state *st);
/* The consumer's count of the records it has not released yet. */
uint64_t engine_changelog_pending(struct engine *e);
/* The consumer no longer needs what lies before pos. */
void engine_changelog_release(struct engine *e, uint64_t pos);
/* Empties the log (tail = head) and clears `dropped`: the consumer starts
 * a full copy. Returns the position it restarts at. */
uint64_t engine_changelog_restart(struct engine_worker *w);
/* The position after the last record the slot of w appended (0: none). */
uint64_t engine_changelog_last(const struct engine_worker *w);

/* ---- applying a peer's changes (replication) ------------------------- */

/* A change made elsewhere, as its result: the item with its version (its
 * origin's CAS), or a deletion at a version. Versions are Lamport clocks:
 * applying one moves this region's CAS counter past it, so a later local
 * change is newer. Of two versions the higher wins; equal versions from
 * two origins are decided the same way on both nodes by peer_wins_ties.
 * A deletion leaves a tombstone, so an older change arriving later is
 * refused. Nothing applied is logged again. */
struct engine_remote {
    const char *key;
    size_t nkey;
    int del;                    /* a deletion at `version` */
    uint64_t version;
    uint32_t flags, exptime;    /* exptime absolute */
    uint32_t stime;             /* when it was stored at its origin */
    const void *value;
    size_t nbytes;
    int ours;                   /* it came from this node in the first
                                   place (a full copy sends it back) */
    int peer_wins_ties;         /* equal versions: the peer's wins */
    int mark;                   /* part of a full copy: mark it confirmed */
};
/* ENGINE_STORED (applied), ENGINE_EXISTS (what is here is newer: nothing
 * done), ENGINE_TOO_LARGE, ENGINE_NO_MEMORY, ENGINE_BAD_KEY, ENGINE_ERROR. */
enum engine_status engine_apply(struct engine_worker *w,
                                const struct engine_remote *c);
/* A peer's flush_all: its horizon, if later than this one's. */
void engine_apply_flush(struct engine_worker *w, int64_t oldest_live,
                        uint64_t oldest_cas);
/* Receiving a full copy: first every item is unmarked, bucket by bucket
 * from *cursor (ENGINE_WALK_END when done); then the copy marks what it
 * sends; then engine_purge() deletes, the same way, every item the copy
 * did not confirm that came from the peer, or is this node's own with a
 * version below `horizon` (the peer had it, so no longer having it means
 * it went). Neither is logged. Each returns the items it changed, or -1
 * (a lock unusable). */
long engine_unmark(struct engine_worker *w, uint64_t *cursor,
                   uint64_t max_buckets);
/* Sending a full copy: the deletions the log remembers (the latest few
 * per stripe), stripe by stripe from *cursor: fn(key, version) under the
 * stripe's lock. Returns how many, or -1 (a lock unusable). */
long engine_walk_deletions(struct engine_worker *w, uint64_t *cursor,
                           uint64_t max_stripes,
                           void (*fn)(void *arg, const char *key,
                                      size_t nkey, uint64_t version),
                           void *arg);
long engine_purge(struct engine_worker *w, uint64_t horizon,
                  uint64_t *cursor, uint64_t max_buckets);

/* ---- per-prefix statistics ("stats detail") ------------------------ */

/* While enabled, every get/gets/gat (hit or miss), every storage command
 * and every delete of a key that contains the delimiter is counted under
 * the key's prefix (the part before the first delimiter), in a table
 * shared by all workers (at most ENGINE_DETAIL_PREFIXES prefixes; more are
 * not counted). Enabling clears nothing; disabling keeps the counts. */
#define ENGINE_DETAIL_PREFIXES 1024
void engine_detail_enable(struct engine *e, int on, char delimiter);
int engine_detail_enabled(const struct engine *e);
/* Forgets every prefix (memcached's "stats reset" does). */
void engine_detail_clear(struct engine *e);
/* stats detail dump: calls fn for each prefix counted. */
void engine_detail_dump(struct engine *e,
                        void (*fn)(void *arg, const char *prefix, size_t len,
                                   uint64_t gets, uint64_t hits,
                                   uint64_t sets, uint64_t dels),
                        void *arg);

/* Settings as the region was built (for stats settings). */
const struct engine_config *engine_config(const struct engine *e);

/* ---- invariants (tests) -------------------------------------------- */

/* Checks every invariant of the region while holding every lock:
 * each hashed item is linked on exactly one LRU, each LRU item is hashed,
 * free lists hold only free chunks, per-class counts add up, every chunk
 * of every carved page is exactly one of free / allocated / linked / chained.
 * Returns 0, or -1 with a message in buf. */
int engine_check(struct engine *e, char *buf, size_t buflen);

#endif
