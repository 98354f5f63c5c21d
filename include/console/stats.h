/*
 * stats.h - the console's view of a server's statistics: the text of
 * memcached's "stats" replies, parsed into name/value lists.
 *
 * Everything the console shows about a server (the dashboard's JSON, the
 * Prometheus metrics) is read from these lists, whichever server they come
 * from: the local one answers through the protocol layer in this process
 * (proto_feed over the shared region: byte for byte what a client's
 * "stats" gets, without a socket), a peer over TCP with the memcached text
 * protocol (peer.h). So the figures on /metrics are, by construction, the
 * ones "stats" prints.
 *
 * A snapshot holds the replies of "stats", "stats settings", "stats items",
 * "stats slabs", "stats sizes" and "stats shmcached" (shmcached's own
 * lines: a memcached peer answers ERROR, an empty list). Values stay
 * strings; numbers are parsed where they are used.
 */
#ifndef SHMC_CONSOLE_STATS_H
#define SHMC_CONSOLE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct kv {
    const char *name;
    const char *value;
};

struct kvlist {
    struct kv *v;
    size_t n, cap;
    char *text;                 /* owns the parsed strings */
    struct kv_owned *owned;     /* values set by kv_set */
};

void kv_init(struct kvlist *l);
void kv_free(struct kvlist *l);
/* Parses "STAT <name> <value>\r\n" lines up to END (other lines are
 * skipped). Replaces l's content. Returns 0, or -1 out of memory. */
int kv_parse(struct kvlist *l, const char *text, size_t len);
/* The value of name, or NULL. */
const char *kv_get(const struct kvlist *l, const char *name);
/* Replaces the value of name (if present) with a copy of value.
 * Returns 0, 1 if name is absent, -1 out of memory. */
int kv_set(struct kvlist *l, const char *name, const char *value);
/* The value as an unsigned number (0 when absent or not a number). */
uint64_t kv_u64(const struct kvlist *l, const char *name);

enum snap_part {
    SNAP_STATS = 1, SNAP_SETTINGS = 2, SNAP_ITEMS = 4, SNAP_SLABS = 8,
    SNAP_SIZES = 16, SNAP_SHMCACHED = 32, SNAP_ALL = 63,
};

struct snapshot {
    int up;                     /* the server answered */
    char error[160];            /* why not */
    struct kvlist stats, settings, items, slabs, sizes, shmcached;
};

void snapshot_init(struct snapshot *s);
void snapshot_free(struct snapshot *s);

/* Runs one text-protocol command and returns its whole reply in out (up
 * to its terminating line): the local server through the protocol layer,
 * or a peer. Implemented by the console (console.h) for the local server
 * and by peer.c for others. */
typedef int (*stats_cmd_fn)(void *arg, const char *cmd, struct buf *out,
                            char *err, size_t errlen);

/* Fills the parts of s named by mask with fn's replies. Returns 0, or -1
 * with s->error set and s->up = 0. */
int snapshot_take(struct snapshot *s, unsigned mask, stats_cmd_fn fn,
                  void *arg);

#endif
