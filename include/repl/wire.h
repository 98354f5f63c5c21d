/*
 * wire.h - the replication stream between two nodes: frames, their
 * encoding and their strict decoding.
 *
 * Every frame is  u32 length | u8 type | body  (little-endian; the length
 * counts the type and the body). A node's sender connects to its peer's
 * replication port and speaks first (HELLO); the peer's receiver answers
 * (WELCOME) and from then on only acknowledges (ACK) what it applied; the
 * sender streams changes (SET, DEL, FLUSH, each at the position of its
 * change log record), or a full copy (COPY_BEGIN, SET items without a
 * position, COPY_END) followed by the changes, and a PING with its log
 * position when idle.
 *
 * Decoding never trusts the peer: a frame is taken only whole, every length
 * is checked against the frame and the limits (a key of at most 250 bytes,
 * a value of at most the cache's item size), and anything else is an
 * error: the link is dropped and, on reconnection, the peer is brought up
 * to date again. Nothing half decoded reaches the cache.
 */
#ifndef SHMC_REPL_WIRE_H
#define SHMC_REPL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"

#define WIRE_MAGIC "SHMCREPL"
#define WIRE_VERSION 1
#define WIRE_NONE UINT64_MAX        /* WELCOME: nothing applied: copy all */

enum wire_type {
    W_HELLO = 1,        /* token, incarnation */
    W_WELCOME = 2,      /* token, applied */
    W_SET = 3,          /* an item (a change, or part of a full copy) */
    W_DEL = 4,          /* a deletion */
    W_FLUSH = 5,        /* flush_all */
    W_COPY_BEGIN = 6,   /* pos: the log position the copy starts from */
    W_COPY_END = 7,     /* items: how many the copy sent */
    W_ACK = 8,          /* pos: applied up to here */
    W_PING = 9,         /* pos: the sender's log head */
};

struct wire_frame {
    enum wire_type type;
    uint64_t pos;           /* SET DEL FLUSH (0: part of a copy), ACK,
                               PING, COPY_BEGIN, WELCOME (applied) */
    uint64_t token;         /* HELLO, WELCOME */
    uint64_t version;       /* SET, DEL; FLUSH: oldest_cas */
    int64_t oldest_live;    /* FLUSH */
    uint64_t items;         /* COPY_END */
    uint32_t flags, exptime, stime;     /* SET */
    uint8_t ours;           /* SET: the item came from the receiver */
    size_t nkey;
    const char *key;        /* into the decoded buffer */
    size_t nbytes;
    const void *value;      /* into the decoded buffer */
};

/* Appends one frame to out. 0, or -1 when out cannot grow (or the key is
 * longer than a key may be). A SET whose
 * value is NULL is written but for its nbytes value bytes, which the
 * caller appends itself (copied from where they lie). */
int wire_put(struct buf *out, const struct wire_frame *f);

/* Decodes the first frame of in[0..len), values up to value_max bytes.
 * Returns the bytes it took (f filled, key/value pointing into in), 0 when
 * the frame is not whole yet, -1 when the stream is malformed. */
long wire_get(const char *in, size_t len, size_t value_max,
              struct wire_frame *f);

#endif
