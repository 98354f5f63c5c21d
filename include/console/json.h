/*
 * json.h - writing JSON into a struct buf: string escaping (any bytes in,
 * valid UTF-8 JSON out) and a UTF-8 check. Nothing here parses JSON; the
 * value decoders (decode.h) do.
 */
#ifndef SHMC_CONSOLE_JSON_H
#define SHMC_CONSOLE_JSON_H

#include <stddef.h>

struct buf;

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int json_utf8_valid(const char *s, size_t len);

/* Appends s[0..len) as a JSON string with its quotes. Control characters
 * are escaped; a byte that is not part of valid UTF-8 becomes U+FFFD (so
 * the output is always valid JSON). Returns 0 or -1. */
int json_str(struct buf *out, const char *s, size_t len);
int json_strz(struct buf *out, const char *s);

/* Appends "name": (a JSON string key and the colon). */
int json_key(struct buf *out, const char *name);

/* Appends s[0..len) as a string of lowercase hex digits, with quotes. */
int json_hex(struct buf *out, const void *s, size_t len);

#endif
