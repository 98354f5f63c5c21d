/*
 * fuzz_text.c - libFuzzer target: the text protocol (storage, retrieval,
 * arithmetic, stats, admin commands) through a real connection (conn.c over
 * a socketpair, libev) against a real engine, -B auto. See rig.h for what
 * is checked after each input. Seeds: corpus/text/, dictionary text.dict.
 */
#include <stddef.h>
#include <stdint.h>

#include "rig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return rig_run(RIG_AUTO, data, size);
}
