/*
 * fuzz_meta.c - libFuzzer target: the meta commands (mg ms md ma mn me and
 * their flags, base64 keys, q mode) through a real connection against a
 * real engine, -B auto, so meta requests mix with the classic ones they
 * share a cache with. The harness is the text target's (rig.h); what
 * differs is the seed corpus (corpus/meta/, from test_meta.py and the
 * proto_meta unit suite) and the dictionary (meta.dict) that steer it.
 */
#include <stddef.h>
#include <stdint.h>

#include "rig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return rig_run(RIG_AUTO, data, size);
}
