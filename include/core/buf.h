/*
 * buf.h - a growable byte buffer, used for connection output and input.
 *
 * Invariants: data[0..len) is content; cap is the allocation size; a buffer
 * whose allocation failed keeps its old content and reports -1. Buffers are
 * process-local (never in the shared region).
 */
#ifndef SHMC_BUF_H
#define SHMC_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* Ensures room for `more` bytes after len. Returns 0, or -1 (ENOMEM, or
 * len + more above SIZE_MAX / 2) with the buffer unchanged. */
int buf_reserve(struct buf *b, size_t more);
/* Appends; returns 0 or -1. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appendz(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Drops content; shrinks the allocation back to `keep` bytes if larger. */
void buf_reset(struct buf *b, size_t keep);

#endif
