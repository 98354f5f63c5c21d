/*
 * fixture.h - helpers shared by the engine suites: an engine with a fake
 * clock, and value helpers.
 */
#ifndef SHMC_TEST_FIXTURE_H
#define SHMC_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine/engine.h"

struct fixture {
    struct engine *e;
    struct engine_worker *w;
    time_t now;
};

/* Creates an engine of mb megabytes (other settings: defaults, then the
 * optional adjust callback) with a fake clock starting at a fixed time. */
int fixture_open(struct fixture *f, size_t mb,
                 void (*adjust)(struct engine_config *cfg));
/* The same on a region in the file at path (engine_open_file; info says
 * whether it was warm). */
int fixture_open_file(struct fixture *f, size_t mb, const char *path,
                      void (*adjust)(struct engine_config *cfg),
                      struct engine_open_info *info);
/* The configuration fixture_open uses. */
void fixture_config(struct engine_config *cfg, size_t mb,
                    void (*adjust)(struct engine_config *cfg));
void fixture_close(struct fixture *f);
/* The LRU policy: memcached's defaults, segmented (the engine's default)
 * or flat (one LRU, bumped at most every LRU_BUMP_SECS). */
void fx_lru(struct fixture *f, int segmented);

/* Stores with op; returns the engine status. */
enum engine_status fx_store(struct fixture *f, enum engine_store_op op,
                            const char *key, const char *val,
                            uint32_t flags, int64_t exptime);
/* Gets key into buf (NUL-terminated, up to cap-1 bytes). Returns status;
 * *flags and *cas receive the item's. */
enum engine_status fx_get(struct fixture *f, const char *key, char *buf,
                          size_t cap, uint32_t *flags, uint64_t *cas);
/* 1 if key is present. */
int fx_has(struct fixture *f, const char *key);
/* engine_check(); CU assertion with its message on failure. */
void fx_check(struct fixture *f);
/* After a worker w was killed: reaps its slot, frees w, runs
 * engine_check(). 0, or 1 (the reason on stderr, with the round). */
int fx_reap_check(struct fixture *f, struct engine_worker *w,
                  unsigned round);

struct proto_env;
struct buf;
/* Feeds in[0..len) to a new proto_conn of env in pieces ending at
 * cuts[0..ncuts), then len; replies go to out. Returns 1 if it closed. */
int fx_feed_chunks(const struct proto_env *env, const char *in, size_t len,
                   const size_t *cuts, size_t ncuts, struct buf *out);

#endif
