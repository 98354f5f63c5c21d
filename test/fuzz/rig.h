/*
 * rig.h - what the protocol fuzz targets share: a real engine, a libev
 * loop, and for every input a fresh client connection (server/conn.c) over
 * a socketpair, fed the input in pieces.
 *
 * libFuzzer calls LLVMFuzzerTestOneInput() with no context argument, so the
 * rig is one process-wide object behind these functions (the only global
 * state of the fuzz targets; nothing in src/ is involved).
 *
 * Per input (rig_run):
 *  - the engine is the one made by the first call (-m 4, hashpower 12,
 *    fake clock); rig_run starts by making it as good as fresh: flush_all,
 *    a sweep that reclaims every flushed item, the memory limit and the
 *    `stats detail` switch put back, so no state carries from one input to
 *    the next except which size class owns each carved slab page;
 *  - the bytes are written to the client's end in pieces whose sizes come
 *    from a hash of the input (the same input is always cut the same way,
 *    so a crash replays), the fake clock moving 0-2 s between some pieces;
 *    the loop runs after each piece and replies are read and dropped;
 *  - one input in four is handed off before one of its pieces, as on a
 *    reload: the connection finishes the request it is in, leaves at the
 *    boundary with its unparsed input and unsent output (on_ready), and a
 *    second connection set adopts it (conn_adopt) and serves the rest;
 *  - then the client half-closes; the connection must close by itself once
 *    its replies are read (a connection that never closes aborts: a hang);
 *  - finally engine_check() must return 0, the worker's connection counter
 *    must be back to 0, and once everything is flushed and swept no chunk
 *    may stay in use (a value allocation the protocol forgot to release).
 * Any violated invariant calls abort() with a message on stderr, which
 * libFuzzer reports as a crash and saves the input.
 */
#ifndef SHMC_FUZZ_RIG_H
#define SHMC_FUZZ_RIG_H

#include <stddef.h>
#include <stdint.h>

enum rig_proto {        /* values of enum proto_mode */
    RIG_AUTO = 0,       /* -B auto: text, meta or binary on the first byte */
    RIG_BINARY = 2,     /* -B binary */
};

/* Runs one input through a new connection and checks the invariants.
 * Always returns 0 (failures abort). */
int rig_run(enum rig_proto proto, const uint8_t *data, size_t size);

#endif
