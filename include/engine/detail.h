/*
 * detail.h - recording per-prefix statistics (engine internal; the public
 * side, enable and dump, is in engine.h).
 */
#ifndef SHMC_DETAIL_H
#define SHMC_DETAIL_H

#include <stddef.h>

#include "engine/region.h"

enum detail_op { DETAIL_GET, DETAIL_SET, DETAIL_DEL };

/* Counts one operation on key if detail is enabled and the key has a
 * prefix. Takes the detail lock (alone). */
void detail_record(struct engine_worker *w, const char *key, size_t nkey,
                   enum detail_op op, int hit);

/* The detail lock's repair (lock.h): clears the table. */
int detail_repair(struct engine_worker *w, uint32_t idx, int dead);

#endif
