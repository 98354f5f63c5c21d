/*
 * settings_tuning.h - memcached's -o tuning options (slab mover, segmented
 * LRU, crawler, hash table, logger buffers): value checks by name, and the
 * cross-field rules. Internal to the settings module (settings.c routes
 * these options here); struct tuning_config is declared in settings.h.
 */
#ifndef SHMC_SETTINGS_TUNING_H
#define SHMC_SETTINGS_TUNING_H

#include <stddef.h>

#include "server/settings.h"

/* Applies -o name[=val] (val NULL: given without a value) to s. Returns 0,
 * or -1 with memcached's message for a refused value in msg. */
int settings_tuning_apply(struct settings *s, const char *name,
                          const char *val, char *msg, size_t msglen);

/* memcached's cross-field rules: 0, or -1 with err. */
int settings_tuning_validate(const struct settings *s, char *err,
                             size_t errlen);

#endif
