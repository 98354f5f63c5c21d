/*
 * life.h - what the two ways of making a region share (engine internal):
 * engine.c makes one on a memfd (engine_create), persist.c in a file that
 * outlives the server (engine_open_file). Both are the top of the engine.
 */
#ifndef SHMC_ENGINE_LIFE_H
#define SHMC_ENGINE_LIFE_H

#include "engine/engine.h"
#include "engine/region.h"

/* A handle on the region mapped at base (shortcuts, the master's slot 0,
 * the repair table). NULL when out of memory. */
struct engine *engine_handle_new(char *base, int fd);

/* Lays a new region out at base (size bytes, zeroed) for cfg: header,
 * classes, locks, page table, the master's slot; the magic last. Returns
 * NULL or why it cannot (a static message). */
const char *engine_format(struct engine *e, const struct engine_config *cfg,
                          uint64_t size);

/* The configuration as the region will store it (defaults filled in), and
 * its size; 0 with *err when cfg is refused. */
uint64_t engine_plan(const struct engine_config *cfg, struct region *tmp,
                     const char **err);

/* engine_worker_reap() for any slot, the master's 0 included (a region
 * reopened after the whole server died). */
int engine_reap_slot(struct engine *e, int slot, struct engine_reap *out);

#endif
