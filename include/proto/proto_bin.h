/*
 * proto_bin.h - memcached's binary protocol (the server side of memcached
 * 1.6's proto_bin), behind the same proto.h interface as the text protocol.
 *
 * proto_text.c picks the protocol of a connection from its first byte
 * (cfg->mode: auto chooses binary on the request magic 0x80; ascii
 * never; binary always) and from then on hands every proto_feed() of a
 * binary connection to proto_bin_feed(). Not a public interface: the server
 * only sees proto.h.
 */
#ifndef SHMC_PROTO_BIN_H
#define SHMC_PROTO_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "proto/proto.h"

#define PROTO_BIN_REQ_MAGIC 0x80
#define PROTO_BIN_RES_MAGIC 0x81
#define PROTO_BIN_HEADER 24

/* Response status codes (memcached's protocol_binary_response_status). */
enum {
    BIN_OK = 0x00,
    BIN_KEY_ENOENT = 0x01,
    BIN_KEY_EEXISTS = 0x02,
    BIN_E2BIG = 0x03,
    BIN_EINVAL = 0x04,
    BIN_NOT_STORED = 0x05,
    BIN_DELTA_BADVAL = 0x06,
    BIN_AUTH_ERROR = 0x20,
    BIN_UNKNOWN_COMMAND = 0x81,
    BIN_ENOMEM = 0x82,
    BIN_EINTERNAL = 0x84,   /* a lock the operation needs is unusable */
};

struct proto_bin;

/* Returns NULL on allocation failure. */
struct proto_bin *proto_bin_new(const struct proto_env *env);
/* Frees the state and releases a half-received value allocation. */
void proto_bin_free(struct proto_bin *pb);
/* 1 between requests (no value being received or swallowed). */
int proto_bin_idle(const struct proto_bin *pb);
/* proto_conn_drain() for a binary connection: while on, finish the value
 * in progress and start no new request. */
void proto_bin_drain(struct proto_bin *pb, int on);
/* proto_feed() for a binary connection (same contract, see proto.h). */
size_t proto_bin_feed(struct proto_bin *pb, const char *in, size_t len,
                      struct buf *out, int *flags);

/* Appends a response header: magic 0x81, opcode, the lengths, status,
 * opaque and cas, in network order. 0 or -1 (out could not grow). */
int proto_bin_header(struct buf *out, uint8_t opcode, uint16_t status,
                     uint8_t extlen, uint16_t keylen, uint32_t bodylen,
                     uint32_t opaque, uint64_t cas);

/* The stat command (proto_bin_stats.c): answers the stats group named by
 * key[0..nkey) as memcached does, one response packet per statistic (key =
 * name, value = figure) then an empty terminating packet, or a "Not found"
 * error for a group memcached's binary protocol does not know. 0, or -1
 * when out could not grow. */
int proto_bin_stats(const struct proto_env *env, const char *key,
                    size_t nkey, uint8_t opcode, uint32_t opaque,
                    struct buf *out);

#endif
