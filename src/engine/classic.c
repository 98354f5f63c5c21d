/*
 * classic.c - memcached's classic commands (engine.h) as thin wrappers over
 * the general operations (ops.h): get/gets/gat/gats/touch are engine_mget
 * with a counting mode, delete is engine_mdelete without options, incr and
 * decr engine_marith, the storage commands engine_mset. Each also records
 * its key's prefix for "stats detail" (detail.h) as memcached does. The
 * value access a get callback needs is here too.
 */
#include "engine/engine.h"

#include "engine/detail.h"
#include "engine/item.h"
#include "engine/keyop.h"
#include "engine/ops.h"

void engine_value_copy(const struct engine_item_info *info, size_t off,
                       size_t len, void *dst)
{
    const struct info_box *b = (const struct info_box *)info;
    item_read(b->e, (struct item *)info->value, off, len, dst);
}

int engine_value_iov(const struct engine_item_info *info, struct iovec *iov,
                     int max)
{
    const struct info_box *b = (const struct info_box *)info;
    return item_iov(b->e, (struct item *)info->value, iov, max);
}

/* ---- retrieval ---------------------------------------------------------- */

static enum engine_status get_as(struct engine_worker *w, const char *key,
                                 size_t nkey, const struct engine_mget_opts *o,
                                 engine_get_fn fn, void *arg)
{
    enum engine_status st = engine_mget(w, key, nkey, o, NULL, fn, arg);
    if (st == ENGINE_OK || st == ENGINE_NOT_FOUND)
        detail_record(w, key, nkey, DETAIL_GET, st == ENGINE_OK);
    return st;
}

enum engine_status engine_get(struct engine_worker *w, const char *key,
                              size_t nkey, engine_get_fn fn, void *arg)
{
    static const struct engine_mget_opts o = { .count = ENGINE_COUNT_GET };
    return get_as(w, key, nkey, &o, fn, arg);
}

enum engine_status engine_gat(struct engine_worker *w, const char *key,
                              size_t nkey, uint32_t exptime,
                              engine_get_fn fn, void *arg)
{
    struct engine_mget_opts o = { .count = ENGINE_COUNT_GAT, .touch = 1,
                                  .touch_exptime = exptime };
    return get_as(w, key, nkey, &o, fn, arg);
}

enum engine_status engine_touch(struct engine_worker *w, const char *key,
                                size_t nkey, uint32_t exptime)
{
    struct engine_mget_opts o = { .count = ENGINE_COUNT_TOUCH, .touch = 1,
                                  .no_fetched = 1, .touch_exptime = exptime };
    return engine_mget(w, key, nkey, &o, NULL, NULL, NULL);
}

/* ---- delete, incr/decr ------------------------------------------------ */

enum engine_status engine_delete(struct engine_worker *w, const char *key,
                                 size_t nkey)
{
    static const struct engine_mdel_opts plain;
    enum engine_status st = engine_mdelete(w, key, nkey, &plain);
    if (st == ENGINE_OK || st == ENGINE_NOT_FOUND)
        detail_record(w, key, nkey, DETAIL_DEL, st == ENGINE_OK);
    return st;
}

enum engine_status engine_delta(struct engine_worker *w, const char *key,
                                size_t nkey, int incr, uint64_t delta,
                                uint64_t *result, uint64_t *cas_out)
{
    struct engine_marith_opts o = { .incr = incr != 0, .delta = delta };
    struct engine_marith_result res;
    enum engine_status st = engine_marith(w, key, nkey, &o, &res);
    if (st == ENGINE_OK) {
        *result = res.value;
        if (cas_out)
            *cas_out = res.cas;
    }
    return st;
}

/* ---- storage -------------------------------------------------------------- */

/* cas compares exactly (with -C every unique is 0); an append or prepend
 * whose result does not fit is not stored (as memcached answers). */
enum engine_status engine_alloc_store(struct engine_worker *w,
                                      struct engine_alloc *a,
                                      enum engine_store_op op,
                                      uint64_t cas_in, uint64_t *cas_out)
{
    struct engine_mset_opts o = { .mode = op, .cas = cas_in,
                                  .has_cas = op == ENGINE_CAS };
    return engine_mset(w, a, &o, cas_out);
}

enum engine_status engine_store(struct engine_worker *w,
                                enum engine_store_op op, const char *key,
                                size_t nkey, uint32_t flags, uint32_t exptime,
                                const void *value, size_t nbytes,
                                uint64_t cas_in, uint64_t *cas_out)
{
    struct engine_alloc a;
    enum engine_status st = engine_alloc(w, key, nkey, flags, exptime,
                                         nbytes, &a);
    if (st != ENGINE_OK)
        return st;
    engine_alloc_write(w, &a, value, nbytes);
    return engine_alloc_store(w, &a, op, cas_in, cas_out);
}
