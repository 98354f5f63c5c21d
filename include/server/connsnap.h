/*
 * connsnap.h - "stats conns" over every worker process.
 *
 * memcached lists every connection of the server; here each worker owns
 * its connections. Every worker publishes a snapshot of its connections
 * (descriptor, peer, listener, memcached's state name, last activity)
 * into its slot of a shared block every CONNSNAP_PERIOD seconds, and the
 * worker answering "stats conns" prints the other workers' snapshots
 * before its own live list. A snapshot is at most CONNSNAP_PERIOD old.
 * Slots are seqlocked (one writer each): a reader copies a slot and
 * keeps it only if its sequence was even and unchanged.
 */
#ifndef SHMC_SERVER_CONNSNAP_H
#define SHMC_SERVER_CONNSNAP_H

#include "core/buf.h"

struct conn_set;

#define CONNSNAP_PERIOD 0.25        /* seconds between snapshots */
#define CONNSNAP_MAX 256            /* connections listed per worker */

struct connsnap;

/* Master, before forking: NULL on failure (errno). */
struct connsnap *connsnap_create(void);
void connsnap_destroy(struct connsnap *cs);

/* Worker of slot: publishes set's connections (now: wall clock seconds). */
void connsnap_publish(struct connsnap *cs, int slot,
                      const struct conn_set *set, double now);
/* The slot's worker is gone (master) or stops: its list empties. */
void connsnap_clear(struct connsnap *cs, int slot);

/* "stats conns" lines of every slot but `self`. 0, or -1 (out). */
int connsnap_stats(const struct connsnap *cs, int self, double now,
                   struct buf *out);

#endif
