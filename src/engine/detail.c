/*
 * detail.c - "stats detail": per-prefix get/hit/set/delete counts shared by
 * every worker.
 *
 * The table lives in the region (struct detail): ENGINE_DETAIL_PREFIXES
 * entries, open addressing with linear probing on the key hash, entries
 * never removed. It is guarded by one leaf lock (lock.h); the fast path
 * when detail is off is a single atomic load. A prefix is the key up to the
 * first delimiter (-D, ':' by default); keys without one are not counted,
 * as in memcached. Once the table is full, new prefixes are not counted.
 */
#include "engine/detail.h"

#include <string.h>

#include "engine/hashtab.h"
#include "engine/lock.h"

void engine_detail_enable(struct engine *e, int on, char delimiter)
{
    if (delimiter)
        e->detail->delimiter = delimiter;
    __atomic_store_n(&e->detail->enabled, on ? 1 : 0, __ATOMIC_RELEASE);
}

int engine_detail_enabled(const struct engine *e)
{
    return __atomic_load_n(&e->detail->enabled, __ATOMIC_ACQUIRE);
}

static struct detail_entry *find(struct detail *d, const char *p, size_t len)
{
    uint64_t h = hash_key(p, len);
    for (unsigned i = 0; i < ENGINE_DETAIL_PREFIXES; i++) {
        struct detail_entry *x =
            &d->e[(h + i) & (ENGINE_DETAIL_PREFIXES - 1)];
        if (x->len == 0) {
            if (d->used + 1 >= ENGINE_DETAIL_PREFIXES)
                return NULL;          /* keep one empty slot: probes end */
            memcpy(x->prefix, p, len);
            x->gets = x->hits = x->sets = x->dels = 0;
            x->len = (uint8_t)len;
            d->used++;
            return x;
        }
        if (x->len == len && memcmp(x->prefix, p, len) == 0)
            return x;
    }
    return NULL;
}

void detail_record(struct engine_worker *w, const char *key, size_t nkey,
                   enum detail_op op, int hit)
{
    struct detail *d = w->e->detail;
    if (!__atomic_load_n(&d->enabled, __ATOMIC_ACQUIRE))
        return;
    const char *end = memchr(key, d->delimiter, nkey);
    if (end == NULL || end == key)
        return;
    size_t len = (size_t)(end - key);
    if (len > DETAIL_PREFIX_MAX || lock_take(w, LOCK_DETAIL, 0) < 0)
        return;
    struct detail_entry *x = find(d, key, len);
    if (x) {
        switch (op) {
        case DETAIL_GET:
            x->gets++;
            x->hits += hit != 0;
            break;
        case DETAIL_SET:
            x->sets++;
            break;
        case DETAIL_DEL:
            x->dels++;
            break;
        }
    }
    lock_drop(w, LOCK_DETAIL, 0);
}

void engine_detail_dump(struct engine *e,
                        void (*fn)(void *arg, const char *prefix, size_t len,
                                   uint64_t gets, uint64_t hits,
                                   uint64_t sets, uint64_t dels),
                        void *arg)
{
    struct detail *d = e->detail;
    if (lock_take(e->master, LOCK_DETAIL, 0) < 0)
        return;
    for (unsigned i = 0; i < ENGINE_DETAIL_PREFIXES; i++) {
        const struct detail_entry *x = &d->e[i];
        if (x->len)
            fn(arg, x->prefix, x->len, x->gets, x->hits, x->sets, x->dels);
    }
    lock_drop(e->master, LOCK_DETAIL, 0);
}

void engine_detail_clear(struct engine *e)
{
    struct detail *d = e->detail;
    if (lock_take(e->master, LOCK_DETAIL, 0) < 0)
        return;
    memset(d->e, 0, sizeof(d->e));
    d->used = 0;
    lock_drop(e->master, LOCK_DETAIL, 0);
}

int detail_repair(struct engine_worker *w, uint32_t idx, int dead)
{
    struct detail *d = w->e->detail;
    (void)idx, (void)dead;
    memset(d->e, 0, sizeof(d->e));
    d->used = 0;
    return 0;
}
