/*
 * item.h - reading and writing an item's value where it lies, and whether
 * an item is still alive (engine internal).
 *
 * A value starts right after the key in the item's own chunk; an item of
 * the largest class whose value does not fit continues in CHAIN chunks
 * (item.chain, then each chunk's next), each holding chunk size - header
 * bytes. These helpers hide that: they take the caller's word that it may
 * touch the value (the item's stripe is held, or the item is ALLOC and the
 * caller owns it) and take no lock.
 */
#ifndef SHMC_ENGINE_ITEM_H
#define SHMC_ENGINE_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/region.h"

/* Is the item expired or invalidated by flush_all at time now? */
int item_dead(const struct engine *e, const struct item *it, uint32_t now);

/* Value bytes [off, off+len) of an item, wherever they are. */
void item_read(const struct engine *e, struct item *it, size_t off,
               size_t len, void *dst);
void item_write(const struct engine *e, struct item *it, size_t off,
                const void *src, size_t len);
/* Where value byte `off` lies: *p, and the bytes left in its piece. */
size_t item_window(const struct engine *e, struct item *it, size_t off,
                   char **p);
/* The value's pieces (head, then chained chunks) as iovecs; -1 if more
 * than max. */
struct iovec;
int item_iov(const struct engine *e, struct item *it, struct iovec *iov,
             int max);

#endif
