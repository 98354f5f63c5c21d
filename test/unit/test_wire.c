/*
 * test_wire.c - the replication stream's frames (repl/wire.c): every type
 * survives encoding and decoding with each field; a SET whose value the
 * caller appends is the same bytes as one given its value; every prefix of
 * a valid stream is "not whole yet" (never an error, never a read past
 * it); a length one byte off, a bad magic or version, an empty or too long
 * key, a value over the limit, an unknown type are errors; and random
 * bytes never make the decoder claim more than it was given or point
 * outside it.
 */
#include <stdlib.h>
#include <string.h>

#include "repl/wire.h"
#include "unit.h"

#define VMAX 4096

static struct wire_frame frame_of(enum wire_type t)
{
    static const char key[] = "some:key";
    static const char val[] = "a value\r\nwith bytes\0inside";
    struct wire_frame f = { .type = t };
    switch (t) {
    case W_HELLO: f.token = 0x1122334455667788ull; break;
    case W_WELCOME: f.token = 42; f.pos = WIRE_NONE; break;
    case W_SET:
        f.pos = 1000; f.version = 77; f.flags = 0xdeadbeef;
        f.exptime = 1700000000; f.stime = 1690000000; f.ours = 1;
        f.key = key; f.nkey = 8; f.value = val; f.nbytes = sizeof(val);
        break;
    case W_DEL:
        f.pos = 2000; f.version = 78; f.key = key; f.nkey = 8; break;
    case W_FLUSH:
        f.pos = 3000; f.oldest_live = -5; f.version = 99; break;
    case W_COPY_END: f.items = 123456; break;
    default: f.pos = 4000; break;
    }
    return f;
}

static const enum wire_type all_types[] = {
    W_HELLO, W_WELCOME, W_SET, W_DEL, W_FLUSH, W_COPY_BEGIN, W_COPY_END,
    W_ACK, W_PING,
};
#define NTYPES (sizeof(all_types) / sizeof(all_types[0]))

static void test_wire_round_trip(void)
{
    for (size_t i = 0; i < NTYPES; i++) {
        struct wire_frame f = frame_of(all_types[i]), g;
        struct buf b;
        buf_init(&b);
        CU_ASSERT_EQUAL_FATAL(wire_put(&b, &f), 0);
        CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), (long)b.len);
        CU_ASSERT_EQUAL(g.type, f.type);
        CU_ASSERT_EQUAL(g.pos, f.pos);
        CU_ASSERT_EQUAL(g.token, f.token);
        CU_ASSERT_EQUAL(g.version, f.version);
        CU_ASSERT_EQUAL(g.oldest_live, f.oldest_live);
        CU_ASSERT_EQUAL(g.items, f.items);
        CU_ASSERT_EQUAL(g.flags, f.flags);
        CU_ASSERT_EQUAL(g.exptime, f.exptime);
        CU_ASSERT_EQUAL(g.stime, f.stime);
        CU_ASSERT_EQUAL(g.ours, f.ours);
        CU_ASSERT_EQUAL(g.nkey, f.nkey);
        CU_ASSERT_EQUAL(g.nbytes, f.nbytes);
        if (f.nkey)
            CU_ASSERT(memcmp(g.key, f.key, f.nkey) == 0);
        if (f.nbytes)
            CU_ASSERT(memcmp(g.value, f.value, f.nbytes) == 0);
        buf_free(&b);
    }
}

static void test_wire_value_appended(void)
{
    struct wire_frame f = frame_of(W_SET), g = f;
    struct buf a, b;
    buf_init(&a);
    buf_init(&b);
    CU_ASSERT_EQUAL(wire_put(&a, &f), 0);
    g.value = NULL;
    CU_ASSERT_EQUAL(wire_put(&b, &g), 0);
    CU_ASSERT_EQUAL(b.len + f.nbytes, a.len);
    CU_ASSERT_EQUAL(buf_append(&b, f.value, f.nbytes), 0);
    CU_ASSERT_EQUAL(a.len, b.len);
    CU_ASSERT(memcmp(a.data, b.data, a.len) == 0);
    buf_free(&a);
    buf_free(&b);
}

static void test_wire_prefixes(void)
{
    struct buf b;
    buf_init(&b);
    for (size_t i = 0; i < NTYPES; i++) {
        struct wire_frame f = frame_of(all_types[i]);
        CU_ASSERT_EQUAL_FATAL(wire_put(&b, &f), 0);
    }
    /* every frame, one after the other, from a buffer cut anywhere */
    for (size_t cut = 0; cut <= b.len; cut++) {
        char *copy = malloc(cut ? cut : 1);   /* exact size: ASan sees */
        memcpy(copy, b.data, cut);
        size_t off = 0, frames = 0;
        for (;;) {
            struct wire_frame g;
            long n = wire_get(copy + off, cut - off, VMAX, &g);
            CU_ASSERT(n >= 0);
            if (n <= 0)
                break;
            CU_ASSERT(off + (size_t)n <= cut);
            off += (size_t)n;
            frames++;
        }
        if (cut == b.len)
            CU_ASSERT_EQUAL(frames, NTYPES);
        free(copy);
    }
    buf_free(&b);
}

/* The frame of type t, its length field changed by delta and a byte
 * added or dropped to match. */
static long decode_off_by(enum wire_type t, int delta)
{
    struct wire_frame f = frame_of(t), g;
    struct buf b;
    buf_init(&b);
    wire_put(&b, &f);
    uint32_t len;
    memcpy(&len, b.data, 4);
    len += (uint32_t)delta;
    memcpy(b.data, &len, 4);
    if (delta > 0)
        buf_append(&b, "\0", 1);
    else
        b.len--;
    long rc = wire_get(b.data, b.len, VMAX, &g);
    buf_free(&b);
    return rc;
}

static void test_wire_malformed(void)
{
    for (size_t i = 0; i < NTYPES; i++) {
        CU_ASSERT_EQUAL(decode_off_by(all_types[i], 1), -1);
        CU_ASSERT_EQUAL(decode_off_by(all_types[i], -1), -1);
    }
    struct wire_frame f, g;
    struct buf b;
    char big[VMAX + 1];
    memset(big, 'v', sizeof(big));
    buf_init(&b);
    /* HELLO: magic and version */
    f = frame_of(W_HELLO);
    wire_put(&b, &f);
    b.data[5] ^= 1;
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    b.data[5] ^= 1;
    b.data[13]++;                           /* the version */
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    b.len = 0;
    /* SET: no key, a key too long, a value over the limit, ours = 2 */
    f = frame_of(W_SET);
    f.nkey = 0;
    wire_put(&b, &f);
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    b.len = 0;
    f = frame_of(W_SET);
    f.value = big;
    f.nbytes = VMAX + 1;
    wire_put(&b, &f);
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    CU_ASSERT(wire_get(b.data, b.len, VMAX + 1, &g) > 0);
    b.len = 0;
    f = frame_of(W_SET);
    wire_put(&b, &f);
    b.data[5 + 28] = 2;                     /* ours */
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    b.len = 0;
    /* a key of 251 bytes: refused by the encoder; made by hand (a key
     * of 250, its length byte and the frame's made one larger), refused
     * by the decoder */
    char key[251];
    memset(key, 'k', sizeof(key));
    f = frame_of(W_DEL);
    f.key = key;
    f.nkey = 251;
    CU_ASSERT_EQUAL(wire_put(&b, &f), -1);
    f.nkey = 250;
    CU_ASSERT_EQUAL(wire_put(&b, &f), 0);
    CU_ASSERT(wire_get(b.data, b.len, VMAX, &g) > 0);
    uint32_t len;
    memcpy(&len, b.data, 4);
    len++;
    memcpy(b.data, &len, 4);
    b.data[5 + 16] = (char)251;
    buf_append(&b, "k", 1);
    CU_ASSERT_EQUAL(wire_get(b.data, b.len, VMAX, &g), -1);
    b.len = 0;
    /* unknown types, and a length of 0 */
    for (int t = 0; t < 256; t++) {
        if (t >= W_HELLO && t <= W_PING)
            continue;
        char fr[13] = { 9, 0, 0, 0, (char)t };
        CU_ASSERT_EQUAL(wire_get(fr, sizeof(fr), VMAX, &g), -1);
    }
    char zero[8] = { 0 };
    CU_ASSERT_EQUAL(wire_get(zero, sizeof(zero), VMAX, &g), -1);
    /* a length beyond any frame is an error at once, not a wait */
    char huge[5] = { (char)0xff, (char)0xff, (char)0xff, 0x7f, W_SET };
    CU_ASSERT_EQUAL(wire_get(huge, sizeof(huge), VMAX, &g), -1);
    buf_free(&b);
}

static void test_wire_random_bytes(void)
{
    unsigned seed = 12345;
    char in[512];
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)(rand_r(&seed) % sizeof(in));
        for (size_t i = 0; i < len; i++)
            in[i] = (char)rand_r(&seed);
        if (len >= 5 && round % 2) {        /* a plausible header */
            uint32_t fl = (uint32_t)(rand_r(&seed) % (len - 3)) + 1;
            memcpy(in, &fl, 4);
            in[4] = (char)(1 + rand_r(&seed) % 9);
        }
        struct wire_frame g;
        long n = wire_get(in, len, 300, &g);
        CU_ASSERT_FATAL(n >= -1 && n <= (long)len);
        if (n > 0 && g.nkey > 0)
            CU_ASSERT_FATAL(g.key >= in && g.key + g.nkey <= in + n);
        if (n > 0 && g.nbytes > 0)
            CU_ASSERT_FATAL((const char *)g.value >= in &&
                            (const char *)g.value + g.nbytes <= in + n);
    }
}

UNIT_SUITE(wire, NULL, NULL,
           UNIT_TEST(test_wire_round_trip),
           UNIT_TEST(test_wire_value_appended),
           UNIT_TEST(test_wire_prefixes),
           UNIT_TEST(test_wire_malformed),
           UNIT_TEST(test_wire_random_bytes))
