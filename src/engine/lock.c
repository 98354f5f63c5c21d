/*
 * lock.c - the one way the engine takes a lock (see lock.h for the locks,
 * their order and the repairs).
 *
 * lock_take() turns the shared lock's state into one of two outcomes for
 * the caller: the lock is held and what it protects is consistent, or it
 * is not held and the caller fails closed. A dead holder's lock comes back
 * dirty (shlock.h); the repair for its kind is looked up in the engine
 * handle's table and run while holding it; success marks the lock clean,
 * failure releases it still dirty, so the next acquirer tries again, and
 * logs the failure once per lock (shlock.failed) until a repair succeeds.
 * This file knows nothing of what the locks protect: the table is filled
 * by engine.c with functions of the layers that own the data.
 */
#include "engine/lock.h"

#include "engine/changelog.h"

#include <errno.h>
#include <string.h>

static const char *const kind_name[LOCK_KINDS] = {
    "stripe", "class", "pages", "detail", "log",
};

struct shlock *lock_addr(const struct engine *e, enum lock_kind k,
                         uint32_t idx)
{
    switch (k) {
    case LOCK_STRIPE:
        return &e->stripes[idx];
    case LOCK_CLASS:
        return &e->classes[idx].lock;
    case LOCK_PAGES:
        return &e->r->pages_lock;
    case LOCK_LOG:
        return &e->changelog->lock;
    case LOCK_DETAIL:
    default:
        return &e->detail->lock;
    }
}

/* Logs a lock that cannot be used, once until it is repaired. */
static void failed(struct engine *e, enum lock_kind k, uint32_t idx,
                   struct shlock *l, const char *why)
{
    int expect = 0;
    if (__atomic_compare_exchange_n(&l->failed, &expect, 1, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        log_error(&e->log, "engine: %s lock %u unusable (%s); operations "
                  "that need it fail until a repair succeeds",
                  kind_name[k], idx, why);
}

int lock_take(struct engine_worker *w, enum lock_kind k, uint32_t idx)
{
    struct engine *e = w->e;
    struct shlock *l = lock_addr(e, k, idx);
    int rc = shlock_acquire(l, w->slot);
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_ERROR) {
        failed(e, k, idx, l, strerror(errno));
        return -1;
    }
    int dead = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE);
    if (e->repair[k] == NULL || e->repair[k](w, idx, dead) < 0) {
        shlock_release(l);              /* still dirty: repaired later */
        failed(e, k, idx, l, "its repair failed");
        return -1;
    }
    shlock_clean(l, w->slot);
    __atomic_add_fetch(&e->r->lock_repairs, 1, __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&l->failed, 0, __ATOMIC_ACQ_REL))
        log_warn(&e->log, "engine: %s lock %u repaired", kind_name[k], idx);
    return 0;
}

int lock_recover(struct engine_worker *w, enum lock_kind k, uint32_t idx)
{
    int rc = shlock_recover(lock_addr(w->e, k, idx));
    if (rc == SHLOCK_OK)
        return 0;
    if (rc == SHLOCK_DIRTY && lock_take(w, k, idx) == 0) {
        lock_drop(w, k, idx);
        return 1;
    }
    return -1;
}

int lock_try(struct engine_worker *w, enum lock_kind k, uint32_t idx)
{
    return shlock_try(lock_addr(w->e, k, idx), w->slot) == SHLOCK_OK ? 0 : 1;
}

void lock_drop(struct engine_worker *w, enum lock_kind k, uint32_t idx)
{
    shlock_release(lock_addr(w->e, k, idx));
}

int lock_touched_by(const struct engine *e, enum lock_kind k, uint32_t idx,
                    int slot)
{
    const struct shlock *l = lock_addr(e, k, idx);
    return __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) == slot ||
           __atomic_load_n(&l->dirty, __ATOMIC_ACQUIRE);
}

int lock_classes(struct engine_worker *w, unsigned a, unsigned b)
{
    unsigned lo = a < b ? a : b, hi = a < b ? b : a;
    if (lo == 0)
        lo = hi, hi = 0;
    if (lo != 0 && lock_class(w, lo) < 0)
        return -1;
    if (hi != 0 && hi != lo && lock_class(w, hi) < 0) {
        unlock_class(w, lo);
        return -1;
    }
    return 0;
}

void drop_classes(struct engine_worker *w, unsigned a, unsigned b)
{
    if (a != 0)
        unlock_class(w, a);
    if (b != 0 && b != a)
        unlock_class(w, b);
}
