/*
 * wire.c - encoding and decoding replication frames (see wire.h).
 *
 * Bodies, after  u32 length | u8 type:
 *   HELLO       magic[8] u16 version u64 token
 *   WELCOME     u64 token u64 applied
 *   SET         u64 pos u64 version u32 flags u32 exptime u32 stime
 *               u8 ours u8 nkey u32 nbytes key value
 *   DEL         u64 pos u64 version u8 nkey key
 *   FLUSH       u64 pos i64 oldest_live u64 oldest_cas
 *   COPY_BEGIN  u64 pos      COPY_END u64 items
 *   ACK         u64 pos      PING     u64 pos
 * A frame's length must be exactly what its type and its own length fields
 * make: a byte more or less is malformed.
 */
#include "repl/wire.h"

#include <string.h>

#define FRAME_MAX_FIXED 64u     /* the largest body without key and value */

static void put16(char *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint16_t get16(const char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t get32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int wire_put(struct buf *out, const struct wire_frame *f)
{
    char hdr[5 + FRAME_MAX_FIXED], *p = hdr + 5;
    size_t extra = 0;
    if (f->nkey > SHMC_KEY_MAX || f->nbytes > UINT32_MAX)
        return -1;
    switch (f->type) {
    case W_HELLO:
        memcpy(p, WIRE_MAGIC, 8);
        put16(p + 8, WIRE_VERSION);
        put64(p + 10, f->token);
        p += 18;
        break;
    case W_WELCOME:
        put64(p, f->token);
        put64(p + 8, f->pos);
        p += 16;
        break;
    case W_SET:
        put64(p, f->pos);
        put64(p + 8, f->version);
        put32(p + 16, f->flags);
        put32(p + 20, f->exptime);
        put32(p + 24, f->stime);
        p[28] = (char)f->ours;
        p[29] = (char)f->nkey;
        put32(p + 30, (uint32_t)f->nbytes);
        p += 34;
        extra = f->nkey + f->nbytes;
        break;
    case W_DEL:
        put64(p, f->pos);
        put64(p + 8, f->version);
        p[16] = (char)f->nkey;
        p += 17;
        extra = f->nkey;
        break;
    case W_FLUSH:
        put64(p, f->pos);
        put64(p + 8, (uint64_t)f->oldest_live);
        put64(p + 16, f->version);
        p += 24;
        break;
    case W_COPY_END:
        put64(p, f->items);
        p += 8;
        break;
    default:                    /* COPY_BEGIN ACK PING */
        put64(p, f->pos);
        p += 8;
        break;
    }
    size_t body = (size_t)(p - hdr) - 4 + extra;
    put32(hdr, (uint32_t)body);
    hdr[4] = (char)f->type;
    if (buf_append(out, hdr, (size_t)(p - hdr)) < 0 ||
        (f->nkey && f->type != W_HELLO && f->type != W_WELCOME &&
         buf_append(out, f->key, f->nkey) < 0) ||
        (f->type == W_SET && f->nbytes && f->value != NULL &&
         buf_append(out, f->value, f->nbytes) < 0))
        return -1;
    return 0;
}

/* The body of a SET, n bytes at p. 0 or -1. */
static int get_set(const char *p, size_t n, size_t value_max,
                   struct wire_frame *f)
{
    if (n < 34)
        return -1;
    f->pos = get64(p);
    f->version = get64(p + 8);
    f->flags = get32(p + 16);
    f->exptime = get32(p + 20);
    f->stime = get32(p + 24);
    f->ours = (uint8_t)p[28];
    f->nkey = (uint8_t)p[29];
    f->nbytes = get32(p + 30);
    if (f->ours > 1 || f->nkey == 0 || f->nkey > SHMC_KEY_MAX ||
        f->nbytes > value_max || n != 34 + f->nkey + f->nbytes)
        return -1;
    f->key = p + 34;
    f->value = p + 34 + f->nkey;
    return 0;
}

/* The body of every other type. 0 or -1. */
static int get_other(const char *p, size_t n, struct wire_frame *f)
{
    switch (f->type) {
    case W_HELLO:
        if (n != 18 || memcmp(p, WIRE_MAGIC, 8) != 0 ||
            get16(p + 8) != WIRE_VERSION)
            return -1;
        f->token = get64(p + 10);
        return 0;
    case W_WELCOME:
        if (n != 16)
            return -1;
        f->token = get64(p);
        f->pos = get64(p + 8);
        return 0;
    case W_DEL:
        if (n < 17)
            return -1;
        f->pos = get64(p);
        f->version = get64(p + 8);
        f->nkey = (uint8_t)p[16];
        f->key = p + 17;
        return f->nkey == 0 || f->nkey > SHMC_KEY_MAX || n != 17 + f->nkey
               ? -1 : 0;
    case W_FLUSH:
        if (n != 24)
            return -1;
        f->pos = get64(p);
        f->oldest_live = (int64_t)get64(p + 8);
        f->version = get64(p + 16);
        return 0;
    case W_COPY_END:
        if (n != 8)
            return -1;
        f->items = get64(p);
        return 0;
    case W_COPY_BEGIN: case W_ACK: case W_PING:
        if (n != 8)
            return -1;
        f->pos = get64(p);
        return 0;
    default:
        return -1;
    }
}

long wire_get(const char *in, size_t len, size_t value_max,
              struct wire_frame *f)
{
    if (len < 5)
        return 0;
    uint32_t flen = get32(in);
    if (flen < 1 || flen > FRAME_MAX_FIXED + SHMC_KEY_MAX + value_max)
        return -1;
    if (len < 4 + (size_t)flen)
        return 0;
    memset(f, 0, sizeof(*f));
    f->type = (enum wire_type)(unsigned char)in[4];
    const char *body = in + 5;
    size_t n = flen - 1;
    int rc = f->type == W_SET ? get_set(body, n, value_max, f)
                              : get_other(body, n, f);
    return rc < 0 ? -1 : (long)(4 + flen);
}
