/*
 * fuzz_binary.c - libFuzzer target: the binary protocol (every opcode,
 * quiet commands, CAS, extras, stats) through a real connection against a
 * real engine, with -B binary so every input is read as binary frames.
 * See rig.h for what is checked after each input. Seeds: corpus/binary/
 * (frames from test_binary.py and the proto_bin unit suite), dictionary
 * binary.dict (magic bytes and opcodes).
 */
#include <stddef.h>
#include <stdint.h>

#include "rig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return rig_run(RIG_BINARY, data, size);
}
