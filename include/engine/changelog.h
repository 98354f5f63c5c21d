/*
 * changelog.h - the change log: which keys clients changed, in order, for a
 * consumer to ship elsewhere (replication), and the deletions' versions
 * (tombstones). Engine internal; the consumer's side is in engine.h.
 *
 * A ring of records in the region, appended under the log lock (a leaf,
 * taken under any other lock) by the process that makes the change, while
 * it still holds the key's stripe and before it clears its journal entry:
 * a process that dies after changing an item but before logging it leaves
 * the journal entry, and the stripe's repair logs the key again (a record
 * twice is harmless: the consumer ships the item's state, not the
 * command). A record is written whole before `head` moves past it (one
 * release store), so a dead appender leaves no half record, and the
 * consumer reads [tail, head) without a lock. The ring never overwrites
 * what the consumer has not released: a change that finds no room is
 * counted in `dropped` (the consumer must then copy everything: resync).
 *
 * Tombstones remember the latest deletions per stripe (the stripe's lock
 * guards its entries): the key and the version it was deleted at, so that
 * an older change of the key arriving later from elsewhere is refused, and
 * a full copy tells the peer what went. TOMBS_PER_STRIPE of them: a
 * deletion older than the ones kept is forgotten.
 */
#ifndef SHMC_ENGINE_CHANGELOG_H
#define SHMC_ENGINE_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/region.h"

#define TOMBS_PER_STRIPE 4

struct changelog {
    struct shlock lock;     /* head, dropped, the bytes past head */
    uint64_t size;          /* ring bytes (a multiple of 8) */
    uint64_t head;          /* next position written (monotonic) */
    uint64_t tail;          /* oldest position the consumer still needs */
    uint64_t dropped;       /* changes not logged for want of room */
    uint64_t appended;      /* records appended */
    char ring[];            /* at off_changelog + sizeof(struct changelog) */
};

struct tomb {
    uint64_t hash;          /* the key's hash; 0 = empty */
    uint64_t version;       /* the deletion's */
    uint8_t nkey;
    uint8_t peer;           /* the deletion came from the peer (ties are
                               decided by origin, as for items; 0 in a
                               region made before it, which reads "ours") */
    char key[ENGINE_KEY_MAX];   /* a full copy ships deletions too */
};

enum { CL_PAD = 0, CL_SET = 1, CL_DEL = 2, CL_FLUSH = 3 };

/* Appends a change of key (holding its stripe). No-op without a log.
 * The slot's last_log records the position after it. */
void changelog_append(struct engine_worker *w, int op, const char *key,
                      size_t nkey, uint64_t version);
/* flush_all: the new (oldest_live, oldest_cas). */
void changelog_flush(struct engine_worker *w, int64_t oldest_live,
                     uint64_t oldest_cas);

/* The deletion version remembered for the key of hash hv in stripe s (0:
 * none; *peer: whether the deletion came from the peer), and remembering
 * one. Holding stripe s. */
uint64_t tomb_get(const struct engine *e, uint32_t s, uint64_t hv, int *peer);
void tomb_put(struct engine *e, uint32_t s, uint64_t hv, uint64_t version,
              int peer, const char *key, size_t nkey);

/* The log lock's repair: nothing to repair (see above). */
int changelog_repair(struct engine_worker *w, uint32_t idx, int dead);

#endif
