/*
 * shlock.c - robust process-shared mutexes (see shlock.h for the protocol).
 *
 * The mutex is PTHREAD_MUTEX_NORMAL: the engine never re-locks a lock it
 * holds (a try-lock of a held stripe during eviction returns EBUSY, which is
 * what the caller wants). EOWNERDEAD is turned into dirty = 1 at once, before
 * anything else can happen, so the only state a crash can leave behind is
 * "dirty, repair pending", whichever instruction it died at.
 */
#include "engine/shlock.h"

#include <errno.h>

int shlock_init(struct shlock *l)
{
    pthread_mutexattr_t a;
    int rc = pthread_mutexattr_init(&a);
    if (rc != 0)
        return rc;
    if ((rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL)) ||
        (rc = pthread_mutex_init(&l->m, &a))) {
        pthread_mutexattr_destroy(&a);
        return rc;
    }
    pthread_mutexattr_destroy(&a);
    l->owner = -1;
    l->dirty = 0;
    l->failed = 0;
    return 0;
}

/* Turns the result of lock/trylock into the shlock protocol. */
static int settle(struct shlock *l, int rc, int slot)
{
    if (rc == EOWNERDEAD) {
        __atomic_store_n(&l->dirty, 1, __ATOMIC_RELEASE);
        pthread_mutex_consistent(&l->m);
        rc = 0;
    }
    if (rc != 0) {
        errno = rc;
        return SHLOCK_ERROR;
    }
    if (__atomic_load_n(&l->dirty, __ATOMIC_ACQUIRE))
        return SHLOCK_DIRTY;
    l->owner = slot;
    return SHLOCK_OK;
}

int shlock_acquire(struct shlock *l, int slot)
{
    return settle(l, pthread_mutex_lock(&l->m), slot);
}

int shlock_try(struct shlock *l, int slot)
{
    int rc = pthread_mutex_trylock(&l->m);
    if (rc == EBUSY)
        return SHLOCK_BUSY;
    rc = settle(l, rc, slot);
    if (rc == SHLOCK_DIRTY) {
        pthread_mutex_unlock(&l->m);
        return SHLOCK_BUSY;
    }
    return rc;
}

void shlock_clean(struct shlock *l, int slot)
{
    l->owner = slot;
    __atomic_store_n(&l->dirty, 0, __ATOMIC_RELEASE);
}

void shlock_release(struct shlock *l)
{
    pthread_mutex_unlock(&l->m);
}

int shlock_recover(struct shlock *l)
{
    int rc = pthread_mutex_trylock(&l->m);
    if (rc == EOWNERDEAD) {
        __atomic_store_n(&l->dirty, 1, __ATOMIC_RELEASE);
        pthread_mutex_consistent(&l->m);
    } else if (rc != 0) {
        /* held by a process that is gone without the kernel's note, or
         * unrecoverable: nobody else can hold it, so make it anew */
        int32_t owner = l->owner;
        if (shlock_init(l) != 0)
            return SHLOCK_ERROR;
        l->owner = owner;
        l->dirty = 1;
        if (pthread_mutex_lock(&l->m) != 0)
            return SHLOCK_ERROR;
    }
    int dirty = __atomic_load_n(&l->dirty, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&l->m);
    return dirty ? SHLOCK_DIRTY : SHLOCK_OK;
}
