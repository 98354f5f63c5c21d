/*
 * connquota.c - the shared connection count (see connquota.h).
 *
 * Invariant: total == sum(per[i]) except for the instant between the two
 * updates of a take/put (a worker killed in that instant leaves the total
 * off by one until the next reset of that index, which recomputes nothing
 * but subtracts exactly what per[idx] says).
 */
#include "server/connquota.h"

#include <stddef.h>
#include <sys/mman.h>

struct conn_quota {
    long total;
    int nworkers;
    long per[];
};

static size_t quota_size(int nworkers)
{
    return sizeof(struct conn_quota) + (size_t)nworkers * sizeof(long);
}

struct conn_quota *conn_quota_create(int nworkers)
{
    void *p = mmap(NULL, quota_size(nworkers), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    struct conn_quota *q = p;       /* fresh anonymous pages are zero */
    q->nworkers = nworkers;
    return q;
}

void conn_quota_destroy(struct conn_quota *q)
{
    if (q != NULL)
        munmap(q, quota_size(q->nworkers));
}

int conn_quota_take(struct conn_quota *q, int idx, long max)
{
    long old = __atomic_fetch_add(&q->total, 1, __ATOMIC_ACQ_REL);
    if (old >= max) {
        __atomic_fetch_sub(&q->total, 1, __ATOMIC_ACQ_REL);
        return -1;
    }
    __atomic_add_fetch(&q->per[idx], 1, __ATOMIC_RELAXED);
    return 0;
}

void conn_quota_put(struct conn_quota *q, int idx)
{
    __atomic_sub_fetch(&q->per[idx], 1, __ATOMIC_RELAXED);
    __atomic_fetch_sub(&q->total, 1, __ATOMIC_ACQ_REL);
}

void conn_quota_reset(struct conn_quota *q, int idx)
{
    long held = __atomic_exchange_n(&q->per[idx], 0, __ATOMIC_ACQ_REL);
    __atomic_fetch_sub(&q->total, held, __ATOMIC_ACQ_REL);
}

long conn_quota_total(const struct conn_quota *q)
{
    return __atomic_load_n(&q->total, __ATOMIC_ACQUIRE);
}
