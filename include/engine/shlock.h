/*
 * shlock.h - process-shared robust mutex with a dead-owner protocol.
 *
 * A struct shlock lives in shared memory. It is a pthread mutex with the
 * PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST attributes, plus two words:
 *   owner  the worker slot that last acquired it (written right after
 *          acquisition; may be stale if that process died before writing it)
 *   dirty  1 while what the lock protects may be inconsistent: set when an
 *          acquirer got EOWNERDEAD, cleared by the repair (shlock_clean).
 * A process that dies holding the lock makes the next pthread_mutex_lock
 * return EOWNERDEAD; shlock marks the mutex consistent at once (so it can
 * never become ENOTRECOVERABLE) and sets dirty, and every acquirer that sees
 * dirty set runs the repair for what the lock protects before doing anything
 * else. The repair itself may die half way: dirty stays set and the next
 * acquirer repairs again, so repairs must be idempotent. This module only
 * implements the protocol; lock.c runs the repairs.
 */
#ifndef SHMC_SHLOCK_H
#define SHMC_SHLOCK_H

#include <pthread.h>
#include <stdint.h>

struct shlock {
    pthread_mutex_t m;
    int32_t owner;
    int32_t dirty;
    int32_t failed;     /* a repair failed and was logged (lock.c): the
                           failure is logged once, until a repair succeeds */
} __attribute__((aligned(64)));

enum { SHLOCK_OK = 0, SHLOCK_DIRTY = 1, SHLOCK_BUSY = 2, SHLOCK_ERROR = -1 };

/* Initializes a lock in shared memory. Returns 0 or an errno value. */
int shlock_init(struct shlock *l);

/* Blocks until acquired. Returns SHLOCK_OK; SHLOCK_DIRTY when the caller
 * holds the lock and must repair, then call shlock_clean(); SHLOCK_ERROR if
 * the mutex is unusable (errno set; nothing is held). On SHLOCK_DIRTY,
 * l->owner still names the slot that died (or the last recorded owner). */
int shlock_acquire(struct shlock *l, int slot);

/* Never blocks. SHLOCK_OK when acquired clean; SHLOCK_BUSY when held by
 * another process, or when it needed repair (it is then left dirty and
 * released: the caller of a try-lock is in no position to repair). */
int shlock_try(struct shlock *l, int slot);

/* After a successful repair: clears dirty and records the new owner. */
void shlock_clean(struct shlock *l, int slot);

void shlock_release(struct shlock *l);

/* Only when no other process can use the lock (a region reopened after
 * every process that had it died): makes the mutex usable whatever state
 * its last holder left it in, and returns SHLOCK_OK (it was released
 * clean) or SHLOCK_DIRTY (a holder died inside: dirty is set, the owner
 * kept; repair before use). The lock is not held on return. */
int shlock_recover(struct shlock *l);

#endif
