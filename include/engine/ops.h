/*
 * ops.h - the general form of each key operation: get, store, delete and
 * arithmetic with every option any protocol needs (memcached's meta
 * protocol mg ms md ma me, the binary protocol's compare-CAS and
 * create-on-miss, the text protocol's classic commands, which engine.h
 * offers as thin wrappers over these), each one read-modify-write under
 * the key's stripe lock, and the item metadata they report (last access,
 * fetched before, TTL, stale and recache-win state).
 *
 * Stale / win state lives in the item (engine_meta.c explains it):
 *   stale      the item was invalidated (md I, or ms I with an older CAS);
 *   won        a client was handed the right to recache it (W): vivify on
 *              miss, a recache threshold (R) met, or the first fetch of a
 *              stale item; later fetches see "token sent" (Z).
 *
 * Times passed in are absolute (engine_exptime() form); 0 = never.
 */
#ifndef SHMC_ENGINE_OPS_H
#define SHMC_ENGINE_OPS_H

#include <stdint.h>

#include "engine/engine.h"

/* What a meta callback sees besides the item itself. Values are as they
 * were before the operation changed anything, except where noted. */
struct engine_meta {
    uint32_t now;
    uint32_t exptime_before;  /* the item's exptime before this operation
                                 (0 for an item this operation created) */
    uint32_t last_access;     /* seconds since the item was last accessed */
    unsigned fetched:1;       /* fetched before this operation */
    unsigned created:1;       /* vivified by this operation */
    unsigned stale:1;         /* X */
    unsigned token_sent:1;    /* Z: a win was handed out before */
    unsigned won:1;           /* W: this operation won the recache */
    unsigned key_binary:1;    /* the key was stored base64-encoded */
    unsigned clsid;
    uint32_t size;            /* memcached's figure: header + key + value */
};

/* Called under the stripe lock; info->value is valid only during the call
 * (engine_value_copy). info->exptime and info->cas are the final ones. */
typedef void (*engine_meta_fn)(void *arg, const struct engine_item_info *info,
                               const struct engine_meta *m);

/* ---- mg ---- */
/* Which counters a get counts (memcached counts its commands apart). */
enum engine_get_count {
    ENGINE_COUNT_MG = 0,      /* mg: a get, or a touch when T touched a hit */
    ENGINE_COUNT_GET,         /* get/gets: cmd_get, get_hits/misses */
    ENGINE_COUNT_GAT,         /* gat/gats: cmd_get + cmd_touch,
                                 touch_hits/misses */
    ENGINE_COUNT_TOUCH,       /* touch: cmd_touch, touch_hits/misses */
};

struct engine_mget_opts {
    enum engine_get_count count;
    unsigned no_bump:1;       /* u: no LRU bump, not marked fetched */
    unsigned no_fetched:1;    /* bumped but not marked fetched (touch) */
    unsigned touch:1;         /* T: exptime = touch_exptime on a hit */
    unsigned vivify:1;        /* N: create an empty item on a miss */
    unsigned recache:1;       /* R: win if exptime is below recache_time */
    unsigned recache_after_touch:1;  /* R sees the TTL T has set */
    unsigned has_new_cas:1;   /* E: a vivified item gets new_cas */
    uint32_t touch_exptime;
    uint32_t viv_exptime;     /* exptime of a vivified item */
    uint32_t recache_time;
    uint64_t new_cas;
};
/* ENGINE_OK (hit or vivified; fn or plain called, at most one of them may
 * be non-NULL), ENGINE_NOT_FOUND, ENGINE_BAD_KEY, ENGINE_ERROR (an
 * unusable lock). Counts per o->count, as memcached does. */
enum engine_status engine_mget(struct engine_worker *w, const char *key,
                               size_t nkey, const struct engine_mget_opts *o,
                               engine_meta_fn fn, engine_get_fn plain,
                               void *arg);

/* ---- ms ---- */
struct engine_mset_opts {
    enum engine_store_op mode;  /* SET ADD REPLACE APPEND PREPEND */
    unsigned has_cas:1;         /* C: compare (set/replace become cas) */
    unsigned invalidate:1;      /* I: an older CAS stores, marked stale */
    unsigned has_new_cas:1;     /* E: the stored item gets new_cas */
    unsigned key_binary:1;      /* b */
    uint64_t cas;
    uint64_t new_cas;
};
/* Links the filled allocation a (engine_alloc) per o; a is consumed.
 * ENGINE_STORED, NOT_STORED (also an append whose result does not fit, as
 * memcached), EXISTS, NOT_FOUND, ENGINE_ERROR. *cas_out: the new CAS or 0. */
enum engine_status engine_mset(struct engine_worker *w, struct engine_alloc *a,
                               const struct engine_mset_opts *o,
                               uint64_t *cas_out);

/* ---- md ---- */
struct engine_mdel_opts {
    unsigned has_cas:1;       /* C */
    unsigned invalidate:1;    /* I: mark stale, new CAS, keep the item */
    unsigned touch:1;         /* T with I: new exptime */
    unsigned remove_value:1;  /* x: empty the value, keep the item */
    unsigned has_new_cas:1;   /* E: the CAS I or x gives */
    unsigned exists_uncounted:1;  /* a CAS mismatch counts no delete miss
                                     (binary protocol) */
    uint64_t cas;
    uint32_t exptime;
    uint64_t new_cas;
};
/* ENGINE_OK, ENGINE_NOT_FOUND, ENGINE_EXISTS (CAS mismatch), BAD_KEY,
 * NO_MEMORY (x), ERROR. */
enum engine_status engine_mdelete(struct engine_worker *w, const char *key,
                                  size_t nkey,
                                  const struct engine_mdel_opts *o);

/* ---- ma ---- */
struct engine_marith_opts {
    unsigned incr:1;
    unsigned has_cas:1;       /* C (0 compares nothing, as memcached) */
    unsigned vivify:1;        /* N: create with `initial` on a miss */
    unsigned touch:1;         /* T: exptime = touch_exptime on a hit */
    unsigned has_new_cas:1;   /* E */
    uint64_t delta;
    uint64_t cas;
    uint64_t initial;
    uint32_t viv_exptime;
    uint32_t touch_exptime;
    uint64_t new_cas;
};
struct engine_marith_result {
    uint64_t value;
    uint64_t cas;
    uint32_t exptime_before;  /* 0 for a created item */
    uint32_t exptime;
    uint32_t now;
    int created;
};
/* ENGINE_OK (*res filled), NOT_FOUND, EXISTS, NON_NUMERIC, NO_MEMORY,
 * NOT_STORED, BAD_KEY, ERROR. Counts incr/decr hits and misses. */
enum engine_status engine_marith(struct engine_worker *w, const char *key,
                                 size_t nkey,
                                 const struct engine_marith_opts *o,
                                 struct engine_marith_result *res);

/* ---- me ---- */
/* Calls fn on a hit without bumping or marking the item; counts cmd_meta.
 * ENGINE_OK, NOT_FOUND, BAD_KEY, ERROR. */
enum engine_status engine_mdebug(struct engine_worker *w, const char *key,
                                 size_t nkey, engine_meta_fn fn, void *arg);

#endif
