/*
 * decode.h - showing stored values: JSON, PHP serialize() and Python
 * pickle, decoded by reading their formats (a pickle is never run: its
 * opcodes are interpreted by a small stack machine that only builds data,
 * and a class, a global or a reduce call shows up as a description such as
 * {"__global": "module.name"}).
 *
 * Every decoder takes untrusted bytes: it reads nothing past the input,
 * bounds its depth (DECODE_DEPTH_MAX) and its output (DECODE_OUT_MAX), and
 * fails cleanly (returns -1, out unchanged) on anything it does not know.
 * The output is always valid JSON (strings that are not UTF-8 show U+FFFD;
 * bytes that are not text show as {"__bytes": "<hex>"}).
 */
#ifndef SHMC_CONSOLE_DECODE_H
#define SHMC_CONSOLE_DECODE_H

#include <stddef.h>

struct buf;

#define DECODE_DEPTH_MAX 64
#define DECODE_OUT_MAX (1u << 20)
#define DECODE_IN_MAX (1u << 20)    /* larger values are not decoded */

enum decode_fmt { DECODE_NONE = 0, DECODE_JSON, DECODE_PHP, DECODE_PICKLE };

/* "json", "php", "pickle" or "none". */
const char *decode_name(enum decode_fmt f);

/* Each appends v[0..n) as one JSON value to out and returns 0, or returns
 * -1 (out unchanged) when v is not a complete value of its format. */
int decode_json(const char *v, size_t n, struct buf *out);
int decode_php(const char *v, size_t n, struct buf *out);
int decode_pickle(const char *v, size_t n, struct buf *out);

/* Tries JSON (objects and arrays), PHP, then pickle; returns the format
 * that decoded v (its JSON appended to out), or DECODE_NONE. */
enum decode_fmt decode_value(const char *v, size_t n, struct buf *out);

#endif
