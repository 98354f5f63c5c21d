/*
 * watchlog.h - the log lines of memcached's "watch" command, from every
 * worker process to every watcher.
 *
 * A watcher's connection lives in one worker; the events it follows happen
 * in all of them. The master maps one shared block before it forks: a
 * ring of log lines per engine worker slot, each written only by the
 * process holding that slot. A line is formatted once, by the process
 * where the event happened, and only while someone watches its type
 * (proto_shared.watching[type] > 0: one load on the hot path). Every
 * watcher keeps its own position in every ring and reads at its own pace;
 * a watcher too slow for a ring loses the lines overwritten meanwhile and
 * is told "skipped=N", as memcached says it.
 *
 * Rings are lock-free: entries are fixed-size slots stamped with their
 * sequence number (a seqlock per slot: stamped busy while written, then
 * with the sequence); a reader copies an entry and keeps it only if the
 * stamp did not change meanwhile. A worker that dies mid-line leaves one
 * entry stamped busy: readers skip it.
 *
 * Watcher counts: proto_shared.watching[t] counts the watchers of type t
 * server-wide; each slot's share is kept here too, so the master takes a
 * dead worker's watchers out of the count (watchlog_slot_dead).
 */
#ifndef SHMC_SERVER_WATCHLOG_H
#define SHMC_SERVER_WATCHLOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/proto.h"

#define WATCHLOG_LINE 1000      /* longest line (a 250-byte key encoded
                                   three times over fits) */

struct watchlog;
struct watch_reader;

/* Maps rings of ring_bytes (-o worker_logbuf_size) for every slot. NULL
 * on failure (errno). */
struct watchlog *watchlog_create(size_t ring_bytes,
                                 struct proto_shared *shared);
void watchlog_destroy(struct watchlog *wl);

/* Appends one line ("ts=... gid=... " is prefixed, the newline added) of
 * type t to slot's ring. Lines longer than WATCHLOG_LINE are cut. */
void watchlog_write(struct watchlog *wl, int slot, enum proto_log_type t,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A watcher in the worker of slot, following the types in mask (bit t),
 * starting from now. Its output waits while more than out_max bytes of it
 * are unsent. NULL when out of memory. */
struct watch_reader *watchlog_reader_new(struct watchlog *wl, int slot,
                                         unsigned mask, size_t out_max);
/* Appends the lines written since the last call (a "skipped=N" line first
 * when lines were lost) while out holds less than out_max. Returns the
 * number of lines appended. */
size_t watchlog_read(struct watch_reader *r, struct buf *out);
void watchlog_reader_free(struct watch_reader *r);

/* Master: the process of slot is gone; its watchers stop counting. */
void watchlog_slot_dead(struct watchlog *wl, int slot);

/* "stats": lines written, lines watchers lost, lines sent, watchers. */
struct watchlog_stats {
    uint64_t written, skipped, sent, watchers;
};
void watchlog_stats(const struct watchlog *wl, struct watchlog_stats *st);

/* memcached's uriencode of a key into dst (3 * n bytes at most). */
size_t watchlog_uriencode(const char *key, size_t n, char *dst);

#endif
