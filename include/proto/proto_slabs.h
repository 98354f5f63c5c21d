/*
 * proto_slabs.h - memcached's "slabs" commands of the text protocol:
 * "slabs reassign <src> <dst>" and "slabs automove <0|1|2>" / "slabs
 * automove ratio <r>". Internal to the protocol layer: proto_text.c's
 * command table calls proto_slabs_cmd.
 */
#ifndef SHMC_PROTO_SLABS_H
#define SHMC_PROTO_SLABS_H

#include "core/buf.h"
#include "proto/proto.h"
#include "proto/proto_text.h"

/* "slabs ..." (r->tok[0]): asks the engine's slab mover and appends
 * memcached 1.6's reply (none for "automove ... noreply"). Returns 0, or
 * PROTO_CLOSE when out could not grow. */
int proto_slabs_cmd(const struct proto_env *env, struct request *r,
                    struct buf *out);

#endif
