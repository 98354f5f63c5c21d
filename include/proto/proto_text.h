/*
 * proto_text.h - internals shared by the text protocol modules
 * (proto_token.c: tokens and numbers, proto_text.c: the command table,
 * proto_stats.c: the stats family).
 *
 * Not a public interface: the server only sees proto.h. A request line is
 * tokenized in place, without copying or allocation: a token is a pointer
 * into the caller's input and a length, and stays valid only while that
 * input does (for the duration of one handler call).
 */
#ifndef SHMC_PROTO_TEXT_H
#define SHMC_PROTO_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* memcached: a command line holds at most 23 tokens; the rest of a longer
 * line is kept unparsed (get keys are then scanned from it in batches). */
#define PROTO_MAX_TOKENS 23

struct proto_token {
    const char *p;
    size_t len;
};

/* A parsed command line. tok[0] is the command name. */
struct request {
    struct proto_token tok[PROTO_MAX_TOKENS];
    size_t ntok;
    /* When the line had more than PROTO_MAX_TOKENS tokens: the unparsed
     * remainder [rest, end); rest is NULL otherwise. */
    const char *rest;
    const char *end;
    int noreply;            /* set by handlers that honour "noreply" */
};

/* 1 when the token is exactly the NUL-free literal s. */
static inline int proto_tok_eq(const struct proto_token *t, const char *s,
                               size_t n)
{
    return t->len == n && memcmp(t->p, s, n) == 0;
}
#define PROTO_TOK_IS(t, lit) proto_tok_eq((t), lit, sizeof(lit) - 1)

/* Number parsing with memcached's acceptance rules (strtoul/strtol on a
 * 64-bit host: leading whitespace and a sign are accepted, the number must
 * end at the token's end or at a whitespace character, a 64-bit overflow
 * is an error, the result is then truncated to the target width; a negative
 * value that wraps to a "negative" unsigned is refused). Return 1 on
 * success with *out set, 0 on a malformed number. */
int proto_strtoul32(const struct proto_token *t, uint32_t *out);
int proto_strtol32(const struct proto_token *t, int32_t *out);
int proto_strtoull(const struct proto_token *t, uint64_t *out);

/* Writes the decimal form of v at dst (no NUL); returns the length (<=20). */
size_t proto_u64toa(uint64_t v, char *dst);

/* Splits line [p, end) at spaces into r (memcached's tokenizer: only ' '
 * separates, a NUL ends the line, at most PROTO_MAX_TOKENS tokens; the
 * remainder of a longer line is left in r->rest). */
void proto_parse_line(const char *p, const char *end, struct request *r);
/* memcached's set_noreply_maybe: the last token is "noreply". */
int proto_last_is_noreply(const struct request *r);
/* Next get key: from the tokens, then from the unparsed rest of the line
 * (*i indexes tok, *scan walks rest; start with 0 and r->rest). 0 when no
 * key is left. */
int proto_next_key(const struct request *r, size_t *i, const char **scan,
                   struct proto_token *key);

/* ---- for the meta commands (proto_meta.c) ---- */

struct engine_alloc;
struct proto_conn;
struct proto_env;
struct proto_meta;

const struct proto_env *proto_conn_env(const struct proto_conn *pc);
/* The connection's meta state slot (NULL until proto_meta.c fills it; freed
 * with the connection by proto_meta_free()). */
struct proto_meta **proto_conn_meta(struct proto_conn *pc);
/* Streams the next vlen value bytes, then two terminator bytes, into the
 * allocation *a (the connection takes it over; released if the connection
 * dies first), then calls proto_meta_nread_done(). */
void proto_conn_nread_meta(struct proto_conn *pc, const struct engine_alloc *a,
                           size_t vlen);
/* Drops the next n input bytes (the data block of a refused ms). */
void proto_conn_swallow(struct proto_conn *pc, size_t n);

#endif
