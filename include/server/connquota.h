/*
 * connquota.h - the -c connection limit, shared by every worker process.
 *
 * One small MAP_SHARED anonymous mapping, created by the master before
 * fork(), holds the number of open connections in total and per worker
 * index. A worker takes a unit for each accepted connection and gives it
 * back on close; the limit is therefore global (exact under races: the
 * total is an atomic counter checked as it is incremented), not split
 * evenly between workers. When a worker dies the master gives back
 * whatever that worker held (conn_quota_reset()).
 *
 * The per-index entries have one writer each (the worker, then the master
 * once the worker is dead); the total is updated with atomic operations.
 */
#ifndef SHMC_CONNQUOTA_H
#define SHMC_CONNQUOTA_H

struct conn_quota;

/* Maps a quota for nworkers worker indexes (0..nworkers-1).
 * Returns NULL (errno set) when mmap fails. */
struct conn_quota *conn_quota_create(int nworkers);
void conn_quota_destroy(struct conn_quota *q);

/* Takes one connection for worker idx if fewer than max are open.
 * Returns 0, or -1 when the limit is reached (nothing taken). */
int conn_quota_take(struct conn_quota *q, int idx, long max);
/* Gives back one connection taken by worker idx. */
void conn_quota_put(struct conn_quota *q, int idx);
/* Master: worker idx died; gives back every connection it held. */
void conn_quota_reset(struct conn_quota *q, int idx);
/* Open connections over all workers. */
long conn_quota_total(const struct conn_quota *q);

#endif
