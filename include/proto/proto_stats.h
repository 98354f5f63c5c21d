/*
 * proto_stats.h - the "stats" command family of the text protocol
 * (general stats, settings, items, slabs, sizes, conns, cachedump, detail,
 * reset, and shmcached's own "stats shmcached"). Called by the command
 * table in proto_text.c; formats replies in memcached 1.6's exact layout
 * from the engine's figures and the server's settings. Stats are not a hot
 * path: printf formatting is used here.
 */
#ifndef SHMC_PROTO_STATS_H
#define SHMC_PROTO_STATS_H

#include "core/buf.h"
#include "proto/proto.h"
#include "proto/proto_text.h"

/* Runs "stats [sub ...]" (r->tok[0] is "stats") and appends the whole
 * reply (terminated by END, RESET, OK, ERROR or a CLIENT_ERROR line) to
 * out. Returns 0, or -1 when out could not grow (the caller closes). */
int proto_stats(const struct proto_env *env, const struct request *r,
                struct buf *out);

#endif
