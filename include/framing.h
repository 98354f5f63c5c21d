/*
 * framing.h - where a connection's byte stream stands between requests.
 *
 * A connection may move to another worker only at a request boundary: not
 * while a storage command's value is being received (the protocol then holds
 * an engine allocation of this worker's slot, or is swallowing a refused
 * value). struct framing follows the bytes the protocol CONSUMED and knows,
 * after each proto_feed(), whether the stream stands at a boundary and, if
 * not, how many value bytes (data + "\r\n") the current request still owns.
 *
 * It mirrors the framing rules of the text protocol (proto_text.c: a command
 * line ends at '\n'; set/add/replace/append/prepend (5..6 tokens) and cas
 * (6..7 tokens) with a key of at most 250 bytes and well-formed numbers are
 * followed by <bytes> + 2 bytes, whether the value is stored or swallowed)
 * using the protocol's own number parsers. The unit suite checks the mirror
 * against the real protocol: a stream cut at every boundary the mirror
 * reports and continued on a fresh proto_conn must give the same replies.
 * conn.c takes the protocol's own word (proto_conn_idle()) on WHETHER a
 * connection stands at a boundary; this mirror tells HOW MANY value bytes
 * the current request still owns, so that a retiring worker feeds the
 * protocol exactly to the end of that request. If the two ever disagree
 * the protocol wins (the mirror only bounds a feed). When the protocol
 * grows a command with a data block (meta "ms"), this must learn it too.
 *
 * Invariant: the protocol consumes whole command lines only, so at a
 * boundary every consumed chunk starts with a command line. A chunk that
 * breaks that rule (a partial line) makes the state unknown: `lost` is set
 * and the connection is never considered at a boundary again (it cannot be
 * handed off; it is closed when its worker goes).
 */
#ifndef SHMC_FRAMING_H
#define SHMC_FRAMING_H

#include <stddef.h>
#include <stdint.h>

struct framing {
    uint64_t skip;      /* value bytes still owned by the current request */
    int lost;           /* framing unknown: never at a boundary */
};

static inline void framing_init(struct framing *f)
{
    f->skip = 0;
    f->lost = 0;
}

/* 1 when no request is partly consumed. */
static inline int framing_at_boundary(const struct framing *f)
{
    return f->skip == 0 && !f->lost;
}

/* Value bytes the current request still needs (0 at a boundary). */
static inline uint64_t framing_value_left(const struct framing *f)
{
    return f->skip;
}

/* Advances over n bytes the protocol consumed, starting at p. */
void framing_consume(struct framing *f, const char *p, size_t n);

/* The value length a command line [line, end) (without its "\r\n")
 * announces, as the protocol would read it: returns 1 with *vlen for a
 * storage command followed by a data block, 0 otherwise. */
int framing_line_value(const char *line, const char *end, uint64_t *vlen);

#endif
