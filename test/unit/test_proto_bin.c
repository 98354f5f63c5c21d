/*
 * test_proto_bin.c - the binary protocol through proto_feed() against a
 * real engine (8 MB, fake clock). Each transcript is a request stream and
 * the exact response bytes memcached 1.6 gives for it (observed on Debian's
 * memcached 1.6.18 over a socket; only VERSION differs), fed whole, split
 * in two at every byte and one byte at a time, each run from an empty
 * cache. CAS uniques depend on what ran before, so transcripts compare
 * them masked; the CAS tests read them and check them exactly.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "proto/proto.h"
#include "proto/proto_bin.h"
#include "server/settings.h"
#include "unit.h"
#include "core/version.h"

static struct fixture F;
static struct proto_config PC;
static struct proto_env ENV;

static struct settings SETTINGS;

static void on_stats_settings(void *arg, struct buf *out)
{
    (void)arg;
    settings_stats(&SETTINGS, ENV.engine, NULL, out);
}

static int setup(void)
{
    if (fixture_open(&F, 8, NULL) < 0)
        return -1;
    proto_config_defaults(&PC);
    memset(&ENV, 0, sizeof ENV);
    ENV.engine = F.e;
    ENV.worker = F.w;
    ENV.cfg = &PC;
    settings_defaults(&SETTINGS);
    ENV.stats_settings = on_stats_settings;
    PC.line_max_get = 65536;
    return 0;
}

static int teardown(void)
{
    fixture_close(&F);
    return 0;
}

static void reset_cache(void)
{
    engine_flush(F.w, 0);
    F.now += 10;
}

/* ---- packets ---------------------------------------------------------- */

struct pk {
    char d[16384];
    size_t n;
};

static void put(struct pk *b, const void *p, size_t n)
{
    CU_ASSERT_FATAL(b->n + n <= sizeof b->d);
    if (n)
        memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void header(struct pk *b, uint8_t magic, uint8_t op, size_t nkey,
                   size_t next, uint16_t status, size_t body,
                   uint32_t opaque, uint64_t cas)
{
    unsigned char h[24];
    h[0] = magic;
    h[1] = op;
    be(h + 2, nkey, 2);
    h[4] = (unsigned char)next;
    h[5] = 0;
    be(h + 6, status, 2);
    be(h + 8, body, 4);
    be(h + 12, opaque, 4);
    be(h + 16, cas, 8);
    put(b, h, 24);
}

/* A request: extras, key and value with their lengths in the header. */
static void req(struct pk *b, uint8_t op, const void *ext, size_t next,
                const char *key, const void *val, size_t nval,
                uint64_t cas, uint32_t opaque)
{
    size_t nkey = key ? strlen(key) : 0;
    header(b, 0x80, op, nkey, next, 0, next + nkey + nval, opaque, cas);
    put(b, ext, next);
    put(b, key, nkey);
    put(b, val, nval);
}

/* A response (cas as memcached sends it, masked in transcripts). */
static void res(struct pk *b, uint8_t op, uint16_t status, const void *ext,
                size_t next, const char *key, const void *val, size_t nval,
                uint32_t opaque)
{
    size_t nkey = key ? strlen(key) : 0;
    header(b, 0x81, op, nkey, next, status, next + nkey + nval, opaque, 0);
    put(b, ext, next);
    put(b, key, nkey);
    put(b, val, nval);
}

static void res_err(struct pk *b, uint8_t op, uint16_t status,
                    const char *text, uint32_t opaque)
{
    res(b, op, status, NULL, 0, NULL, text, strlen(text), opaque);
}

/* Extras: set (flags, exptime), touch (exptime), incr (delta, initial,
 * exptime). */
static const unsigned char *x_set(uint32_t flags, uint32_t exp)
{
    static unsigned char x[8];
    be(x, flags, 4);
    be(x + 4, exp, 4);
    return x;
}

static const unsigned char *x_exp(uint32_t exp)
{
    static unsigned char x[4];
    be(x, exp, 4);
    return x;
}

static const unsigned char *x_delta(uint64_t d, uint64_t init, uint32_t exp)
{
    static unsigned char x[20];
    be(x, d, 8);
    be(x + 8, init, 8);
    be(x + 16, exp, 4);
    return x;
}

static const unsigned char *u64be(uint64_t v)
{
    static unsigned char x[8];
    be(x, v, 8);
    return x;
}

#define S_(s) s, sizeof(s) - 1
static const char FLAGS0[4] = { 0, 0, 0, 0 };

/* ---- running ---------------------------------------------------------- */

/* Feeds in pieces ending at cuts[] to a new connection (fixture.c). */
static int run_chunks(const char *in, size_t len, const size_t *cuts,
                      size_t ncuts, struct buf *out)
{
    return fx_feed_chunks(&ENV, in, len, cuts, ncuts, out);
}

/* Zeroes the CAS field of every response packet in out. */
static void mask_cas(struct buf *out)
{
    size_t p = 0;
    while (p + 24 <= out->len) {
        const unsigned char *h = (const unsigned char *)out->data + p;
        size_t body = (size_t)h[8] << 24 | (size_t)h[9] << 16 |
                      (size_t)h[10] << 8 | h[11];
        memset(out->data + p + 16, 0, 8);
        p += 24 + body;
    }
}

static void show(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "%s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 200; i++)
        fprintf(stderr, "%s%02x", i % 24 ? " " : "\n   ", (unsigned char)p[i]);
    fprintf(stderr, "%s\n", n > 200 ? " ..." : "");
}

static int run_one(const struct pk *in, const size_t *cuts, size_t ncuts,
                   const struct pk *want, int want_close, int line)
{
    struct buf out;
    buf_init(&out);
    reset_cache();
    int closed = run_chunks(in->d, in->n, cuts, ncuts, &out);
    mask_cas(&out);
    int ok = closed == want_close && out.len == want->n &&
             (want->n == 0 || memcmp(out.data, want->d, want->n) == 0);
    if (!ok) {
        fprintf(stderr, "\nline %d, cut at %zu (%zu cuts): closed %d/%d\n",
                line, ncuts ? cuts[0] : in->n, ncuts, closed, want_close);
        show("  want", want->d, want->n);
        show("  got ", out.data, out.len);
    }
    buf_free(&out);
    return ok;
}

/* Whole, split in two at every byte, byte by byte. */
static void expect_io(const struct pk *in, const struct pk *want,
                      int want_close, int line)
{
    static size_t cuts[sizeof in->d];
    int ok = run_one(in, NULL, 0, want, want_close, line);
    for (size_t i = 1; i < in->n && ok; i++)
        ok = run_one(in, &i, 1, want, want_close, line);
    for (size_t i = 0; i + 1 < in->n; i++)
        cuts[i] = i + 1;
    if (ok && in->n > 1)
        ok = run_one(in, cuts, in->n - 1, want, want_close, line);
    CU_ASSERT(ok);
}

#define EXPECT(in, want) expect_io(&(in), &(want), 0, __LINE__)
#define EXPECT_CLOSE(in, want) expect_io(&(in), &(want), 1, __LINE__)
#define RESET(a, b) (memset(&(a), 0, sizeof(struct pk)), (b).n = 0)

static struct pk I, W;

/* ---- retrieval and storage -------------------------------------------- */

static void test_get_set(void)
{
    RESET(I, W);
    req(&I, 0x00, NULL, 0, "nokey", NULL, 0, 0, 7);             /* get */
    res_err(&W, 0x00, 0x01, "Not found", 7);
    req(&I, 0x0c, NULL, 0, "nokey", NULL, 0, 0, 8);             /* getk */
    res(&W, 0x0c, 0x01, NULL, 0, "nokey", NULL, 0, 8);
    req(&I, 0x01, x_set(5, 0), 8, "k", S_("hello"), 0, 9);      /* set */
    res(&W, 0x01, 0, NULL, 0, NULL, NULL, 0, 9);
    req(&I, 0x00, NULL, 0, "k", NULL, 0, 0, 10);
    res(&W, 0x00, 0, "\0\0\0\5", 4, NULL, S_("hello"), 10);
    req(&I, 0x0c, NULL, 0, "k", NULL, 0, 0, 11);
    res(&W, 0x0c, 0, "\0\0\0\5", 4, "k", S_("hello"), 11);
    req(&I, 0x01, x_set(0, 0), 8, "e", NULL, 0, 0, 0);          /* empty */
    res(&W, 0x01, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x00, NULL, 0, "e", NULL, 0, 0, 0);
    res(&W, 0x00, 0, FLAGS0, 4, NULL, NULL, 0, 0);
    EXPECT(I, W);

    /* add / replace / append / prepend and their errors */
    RESET(I, W);
    req(&I, 0x02, x_set(1, 0), 8, "a", S_("v"), 0, 0);
    res(&W, 0x02, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x02, x_set(1, 0), 8, "a", S_("v"), 0, 0);
    res_err(&W, 0x02, 0x02, "Data exists for key.", 0);
    req(&I, 0x03, x_set(2, 0), 8, "zz", S_("v"), 0, 0);
    res_err(&W, 0x03, 0x01, "Not found", 0);
    req(&I, 0x03, x_set(2, 0), 8, "a", S_("w"), 0, 0);
    res(&W, 0x03, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x0e, NULL, 0, "zz", S_("x"), 0, 0);
    res_err(&W, 0x0e, 0x05, "Not stored.", 0);
    req(&I, 0x0e, NULL, 0, "a", S_("A"), 0, 0);
    res(&W, 0x0e, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x0f, NULL, 0, "a", S_("P"), 0, 0);
    res(&W, 0x0f, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x00, NULL, 0, "a", NULL, 0, 0, 0);
    res(&W, 0x00, 0, "\0\0\0\2", 4, NULL, S_("PwA"), 0);
    EXPECT(I, W);
    fx_check(&F);
}

/* Quiet requests: nothing on success (gets: nothing on a miss), errors
 * always; noop answers and ends the batch. Opaque is echoed. */
static void test_quiet(void)
{
    RESET(I, W);
    req(&I, 0x11, x_set(1, 0), 8, "q", S_("v"), 0, 1);          /* setq */
    req(&I, 0x0d, NULL, 0, "q", NULL, 0, 0, 2);                 /* getkq */
    res(&W, 0x0d, 0, "\0\0\0\1", 4, "q", S_("v"), 2);
    req(&I, 0x09, NULL, 0, "nq", NULL, 0, 0, 3);                /* getq miss */
    req(&I, 0x09, NULL, 0, "q", NULL, 0, 0, 4);                 /* getq hit */
    res(&W, 0x09, 0, "\0\0\0\1", 4, NULL, S_("v"), 4);
    req(&I, 0x12, x_set(1, 0), 8, "q", S_("v"), 0, 5);          /* addq err */
    res_err(&W, 0x12, 0x02, "Data exists for key.", 5);
    req(&I, 0x13, x_set(1, 0), 8, "zz", S_("v"), 0, 6);         /* replaceq */
    res_err(&W, 0x13, 0x01, "Not found", 6);
    req(&I, 0x13, x_set(1, 0), 8, "q", S_("v"), 0, 7);
    req(&I, 0x19, NULL, 0, "q", S_("A"), 0, 8);                 /* appendq */
    req(&I, 0x1a, NULL, 0, "q", S_("B"), 0, 9);                 /* prependq */
    req(&I, 0x19, NULL, 0, "zz", S_("A"), 0, 10);
    res_err(&W, 0x19, 0x05, "Not stored.", 10);
    req(&I, 0x15, x_delta(1, 5, 0), 20, "c", NULL, 0, 0, 11);   /* incrq */
    req(&I, 0x16, x_delta(1, 5, 0), 20, "c", NULL, 0, 0, 12);   /* decrq */
    req(&I, 0x15, x_delta(1, 5, 0), 20, "q", NULL, 0, 0, 13);
    res_err(&W, 0x15, 0x06, "Non-numeric server-side value for incr or decr",
            13);
    req(&I, 0x15, x_delta(1, 5, 0xffffffff), 20, "c3", NULL, 0, 0, 14);
    res_err(&W, 0x15, 0x01, "Not found", 14);
    req(&I, 0x14, NULL, 0, "c", NULL, 0, 0, 15);                /* deleteq */
    req(&I, 0x14, NULL, 0, "c", NULL, 0, 0, 16);
    res_err(&W, 0x14, 0x01, "Not found", 16);
    req(&I, 0x1e, x_exp(0), 4, "q", NULL, 0, 0, 17);            /* gatq */
    res(&W, 0x1e, 0, "\0\0\0\1", 4, NULL, S_("BvA"), 17);
    req(&I, 0x24, x_exp(0), 4, "q", NULL, 0, 0, 18);            /* gatkq */
    res(&W, 0x24, 0, "\0\0\0\1", 4, "q", S_("BvA"), 18);
    req(&I, 0x1e, x_exp(0), 4, "zz", NULL, 0, 0, 19);
    req(&I, 0x24, x_exp(0), 4, "zz", NULL, 0, 0, 20);
    req(&I, 0x23, x_exp(0), 4, "zz", NULL, 0, 0, 21);           /* gatk */
    res(&W, 0x23, 0x01, NULL, 0, "zz", NULL, 0, 21);
    req(&I, 0x18, NULL, 0, NULL, NULL, 0, 0, 22);               /* flushq */
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 0xdeadbeef);       /* noop */
    res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 0xdeadbeef);
    req(&I, 0x09, NULL, 0, "q", NULL, 0, 0, 23);
    EXPECT(I, W);
}

static void test_delta(void)
{
    RESET(I, W);
    req(&I, 0x05, x_delta(1, 10, 0xffffffff), 20, "n", NULL, 0, 0, 0);
    res_err(&W, 0x05, 0x01, "Not found", 0);
    req(&I, 0x05, x_delta(1, 10, 0), 20, "n", NULL, 0, 0, 0);   /* creates */
    res(&W, 0x05, 0, NULL, 0, NULL, u64be(10), 8, 0);
    req(&I, 0x05, x_delta(5, 10, 0), 20, "n", NULL, 0, 0, 0);
    res(&W, 0x05, 0, NULL, 0, NULL, u64be(15), 8, 0);
    req(&I, 0x06, x_delta(100, 10, 0), 20, "n", NULL, 0, 0, 0);
    res(&W, 0x06, 0, NULL, 0, NULL, u64be(0), 8, 0);
    req(&I, 0x00, NULL, 0, "n", NULL, 0, 0, 0);                 /* "0 " */
    res(&W, 0x00, 0, FLAGS0, 4, NULL, S_("0 "), 0);
    req(&I, 0x06, x_delta(1, 7, 0), 20, "d", NULL, 0, 0, 0);    /* decr creates */
    res(&W, 0x06, 0, NULL, 0, NULL, u64be(7), 8, 0);
    req(&I, 0x05, x_delta(1, UINT64_MAX, 0), 20, "w", NULL, 0, 0, 0);
    res(&W, 0x05, 0, NULL, 0, NULL, u64be(UINT64_MAX), 8, 0);
    req(&I, 0x05, x_delta(1, 0, 0), 20, "w", NULL, 0, 0, 0);    /* wraps */
    res(&W, 0x05, 0, NULL, 0, NULL, u64be(0), 8, 0);
    req(&I, 0x01, x_set(0, 0), 8, "s", S_("abc"), 0, 0);
    res(&W, 0x01, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x06, x_delta(1, 0, 0), 20, "s", NULL, 0, 0, 0);
    res_err(&W, 0x06, 0x06, "Non-numeric server-side value for incr or decr",
            0);
    EXPECT(I, W);

    /* the created item expires with the given expiration */
    struct buf out;
    buf_init(&out);
    reset_cache();
    RESET(I, W);
    req(&I, 0x05, x_delta(1, 3, 100), 20, "ex", NULL, 0, 0, 0);
    run_chunks(I.d, I.n, NULL, 0, &out);
    CU_ASSERT(fx_has(&F, "ex"));
    F.now += 101;
    CU_ASSERT(!fx_has(&F, "ex"));
    buf_free(&out);
}

static void test_touch_gat_flush(void)
{
    RESET(I, W);
    req(&I, 0x01, x_set(3, 0), 8, "t", S_("v"), 0, 0);
    res(&W, 0x01, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x1c, x_exp(100), 4, "t", NULL, 0, 0, 1);            /* touch */
    res(&W, 0x1c, 0, "\0\0\0\3", 4, NULL, NULL, 0, 1);
    req(&I, 0x1c, x_exp(100), 4, "zz", NULL, 0, 0, 2);
    res_err(&W, 0x1c, 0x01, "Not found", 2);
    req(&I, 0x1d, x_exp(100), 4, "t", NULL, 0, 0, 3);            /* gat */
    res(&W, 0x1d, 0, "\0\0\0\3", 4, NULL, S_("v"), 3);
    req(&I, 0x23, x_exp(100), 4, "t", NULL, 0, 0, 4);            /* gatk */
    res(&W, 0x23, 0, "\0\0\0\3", 4, "t", S_("v"), 4);
    req(&I, 0x1d, x_exp(100), 4, "zz", NULL, 0, 0, 5);
    res_err(&W, 0x1d, 0x01, "Not found", 5);
    req(&I, 0x08, NULL, 0, NULL, NULL, 0, 0, 6);                 /* flush */
    res(&W, 0x08, 0, NULL, 0, NULL, NULL, 0, 6);
    req(&I, 0x00, NULL, 0, "t", NULL, 0, 0, 7);
    res_err(&W, 0x00, 0x01, "Not found", 7);
    req(&I, 0x08, x_exp(0), 4, NULL, NULL, 0, 0, 8);             /* flush 0 */
    res(&W, 0x08, 0, NULL, 0, NULL, NULL, 0, 8);
    EXPECT(I, W);

    /* touch sets the expiration; flush with a delay */
    struct buf out;
    buf_init(&out);
    reset_cache();
    RESET(I, W);
    req(&I, 0x01, x_set(0, 0), 8, "t", S_("v"), 0, 0);
    req(&I, 0x1c, x_exp(50), 4, "t", NULL, 0, 0, 0);
    req(&I, 0x01, x_set(0, 0), 8, "u", S_("v"), 0, 0);
    req(&I, 0x08, x_exp(20), 4, NULL, NULL, 0, 0, 0);
    run_chunks(I.d, I.n, NULL, 0, &out);
    CU_ASSERT(fx_has(&F, "t") && fx_has(&F, "u"));
    F.now += 21;
    CU_ASSERT(!fx_has(&F, "u"));
    CU_ASSERT(!fx_has(&F, "t"));
    buf_free(&out);

    /* -F: flush refused with memcached's auth failure */
    PC.flush_enabled = 0;
    RESET(I, W);
    req(&I, 0x08, NULL, 0, NULL, NULL, 0, 0, 0);
    res_err(&W, 0x08, 0x20, "Auth failure.", 0);
    req(&I, 0x18, NULL, 0, NULL, NULL, 0, 0, 0);
    res_err(&W, 0x18, 0x20, "Auth failure.", 0);
    EXPECT(I, W);
    PC.flush_enabled = 1;
}

static void test_misc_commands(void)
{
    RESET(I, W);
    req(&I, 0x0b, NULL, 0, NULL, NULL, 0, 0, 1);                 /* version */
    res(&W, 0x0b, 0, NULL, 0, NULL, S_(SHMC_VERSION), 1);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 2);
    res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 2);
    /* unknown opcodes and SASL (not enabled): the body is dropped */
    req(&I, 0x50, NULL, 0, NULL, S_("xyz"), 0, 3);
    res_err(&W, 0x50, 0x81, "Unknown command", 3);
    req(&I, 0x1b, x_exp(1), 4, NULL, NULL, 0, 0, 4);             /* verbosity */
    res_err(&W, 0x1b, 0x81, "Unknown command", 4);
    req(&I, 0x20, NULL, 0, NULL, NULL, 0, 0, 5);
    res_err(&W, 0x20, 0x81, "Unknown command", 5);
    req(&I, 0x21, NULL, 0, "PLAIN", S_("\0u\0p"), 0, 6);
    res_err(&W, 0x21, 0x81, "Unknown command", 6);
    req(&I, 0x22, NULL, 0, "PLAIN", S_("\0u\0p"), 0, 7);
    res_err(&W, 0x22, 0x81, "Unknown command", 7);
    req(&I, 0x07, NULL, 0, NULL, NULL, 0, 0, 8);                 /* quit */
    res(&W, 0x07, 0, NULL, 0, NULL, NULL, 0, 8);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 9);                 /* unread */
    EXPECT_CLOSE(I, W);

    RESET(I, W);
    req(&I, 0x17, NULL, 0, NULL, NULL, 0, 0, 8);                 /* quitq */
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 9);
    EXPECT_CLOSE(I, W);
}

/* Lengths that do not fit the opcode: "Invalid arguments" and close;
 * extras + key longer than the body: "Unknown command" and close; a bad
 * magic after the first request: close. */
static void test_invalid(void)
{
    static const struct {
        uint8_t op;
        size_t next, nkey, body;
        uint16_t status;
    } bad[] = {
        { 0x00, 4, 1, 5, 0x04 }, { 0x00, 0, 0, 0, 0x04 },
        { 0x00, 0, 1, 2, 0x04 }, { 0x01, 0, 1, 9, 0x04 },
        { 0x01, 8, 0, 9, 0x04 }, { 0x0e, 4, 1, 6, 0x04 },
        { 0x05, 8, 1, 9, 0x04 }, { 0x04, 4, 1, 5, 0x04 },
        { 0x1c, 0, 1, 1, 0x04 }, { 0x0a, 0, 1, 1, 0x04 },
        { 0x08, 2, 0, 2, 0x04 }, { 0x0b, 0, 0, 1, 0x04 },
        { 0x10, 4, 0, 4, 0x04 }, { 0x07, 0, 0, 3, 0x04 },
        { 0x21, 0, 0, 2, 0x04 }, { 0x20, 0, 1, 1, 0x04 },
        { 0x00, 0, 2, 1, 0x81 }, { 0x01, 8, 1, 8, 0x81 },
        { 0x00, 0, 251, 251, 0x04 }, { 0x50, 0, 251, 251, 0x04 },
    };
    static const char zeros[300];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        RESET(I, W);
        req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 1);
        res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 1);
        header(&I, 0x80, bad[i].op, bad[i].nkey, bad[i].next, 0, bad[i].body,
               2, 0);
        size_t have = bad[i].body;
        if (have < bad[i].next + bad[i].nkey)
            have = bad[i].next + bad[i].nkey;
        put(&I, zeros, have);
        res_err(&W, bad[i].op, bad[i].status,
                bad[i].status == 0x04 ? "Invalid arguments"
                                      : "Unknown command", 2);
        req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 3);    /* never read */
        EXPECT_CLOSE(I, W);
    }
    RESET(I, W);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 1);
    res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 1);
    header(&I, 0x81, 0x0a, 0, 0, 0, 0, 0, 0);
    EXPECT_CLOSE(I, W);
    /* a key of 250 bytes is fine */
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    RESET(I, W);
    req(&I, 0x01, x_set(0, 0), 8, key, S_("v"), 0, 0);
    res(&W, 0x01, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x0c, NULL, 0, key, NULL, 0, 0, 0);
    res(&W, 0x0c, 0, FLAGS0, 4, key, S_("v"), 0);
    EXPECT(I, W);
}

/* A value over the item size is swallowed with "Too large." and the old
 * value of a set is gone; the stream continues. */
static void test_too_large(void)
{
    static char big[1024 * 1024 + 16];
    struct buf out;
    buf_init(&out);
    reset_cache();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "big", "old", 0, 0),
                    ENGINE_STORED);
    memset(big, 'x', sizeof big);
    static struct pk in;
    in.n = 0;
    req(&in, 0x01, x_set(0, 0), 8, "big", NULL, 0, 0, 1);
    /* header with the value's length; the value follows in pieces */
    size_t body = 8 + 3 + sizeof big;
    be((unsigned char *)in.d + 8, body, 4);
    struct proto_conn *pc = proto_conn_new(&ENV);
    int flags;
    CU_ASSERT_EQUAL(proto_feed(pc, in.d, in.n, &out, &flags), in.n);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT(!proto_conn_idle(pc));
    for (size_t off = 0; off < sizeof big; off += 4000) {
        size_t n = sizeof big - off < 4000 ? sizeof big - off : 4000;
        CU_ASSERT_EQUAL(proto_feed(pc, big + off, n, &out, &flags), n);
    }
    CU_ASSERT(proto_conn_idle(pc));
    RESET(I, W);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 2);
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, I.n, &out, &flags), I.n);
    res_err(&W, 0x01, 0x03, "Too large.", 1);
    res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 2);
    CU_ASSERT_EQUAL(out.len, W.n);
    CU_ASSERT(memcmp(out.data, W.d, W.n) == 0);
    CU_ASSERT(!fx_has(&F, "big"));
    proto_conn_free(pc);
    buf_free(&out);
}

/* A large value is streamed into the engine as it arrives: every byte fed
 * is consumed, the connection is not idle until the value is stored. */
static void test_streaming(void)
{
    static char val[1000 * 1000];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (char)('a' + i % 26);
    struct buf out;
    buf_init(&out);
    reset_cache();
    struct proto_conn *pc = proto_conn_new(&ENV);
    int flags;
    RESET(I, W);
    req(&I, 0x01, x_set(9, 0), 8, "large", NULL, 0, 0, 1);
    be((unsigned char *)I.d + 8, 8 + 5 + sizeof val, 4);
    /* a partial header is left unconsumed: still between requests */
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, 10, &out, &flags), 0);
    CU_ASSERT(proto_conn_idle(pc));
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, I.n, &out, &flags), I.n);
    CU_ASSERT(!proto_conn_idle(pc));
    for (size_t off = 0; off < sizeof val; off += 1500) {
        size_t n = sizeof val - off < 1500 ? sizeof val - off : 1500;
        CU_ASSERT_EQUAL(proto_feed(pc, val + off, n, &out, &flags), n);
        CU_ASSERT_EQUAL(proto_conn_idle(pc), off + n == sizeof val);
    }
    CU_ASSERT_EQUAL(out.len, 24u);
    CU_ASSERT_EQUAL((unsigned char)out.data[0], 0x81);
    CU_ASSERT_EQUAL(out.data[7], 0);
    buf_reset(&out, 0);
    RESET(I, W);
    req(&I, 0x00, NULL, 0, "large", NULL, 0, 0, 2);
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, I.n, &out, &flags), I.n);
    CU_ASSERT_EQUAL_FATAL(out.len, 24 + 4 + sizeof val);
    CU_ASSERT(memcmp(out.data + 28, val, sizeof val) == 0);
    CU_ASSERT_EQUAL(out.data[27], 9);
    /* a connection freed mid-value releases its allocation */
    RESET(I, W);
    req(&I, 0x01, x_set(0, 0), 8, "half", NULL, 0, 0, 3);
    be((unsigned char *)I.d + 8, 8 + 4 + 5000, 4);
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, I.n, &out, &flags), I.n);
    CU_ASSERT_EQUAL(proto_feed(pc, val, 100, &out, &flags), 100u);
    proto_conn_free(pc);
    CU_ASSERT(!fx_has(&F, "half"));
    fx_check(&F);
    buf_free(&out);
}

/* ---- CAS --------------------------------------------------------------- */

struct resp {
    uint8_t op;
    uint16_t status;
    uint64_t cas;
    size_t body;
};

/* Runs one request on pc; decodes the first response (if any). */
static int one(struct proto_conn *pc, const struct pk *in, struct resp *r)
{
    struct buf out;
    int flags;
    buf_init(&out);
    proto_feed(pc, in->d, in->n, &out, &flags);
    int got = out.len >= 24;
    if (got) {
        const unsigned char *h = (const unsigned char *)out.data;
        r->op = h[1];
        r->status = (uint16_t)(h[6] << 8 | h[7]);
        r->cas = 0;
        for (int i = 16; i < 24; i++)
            r->cas = r->cas << 8 | h[i];
        r->body = out.len - 24;
    }
    buf_free(&out);
    return got;
}

#define ONE(pc, st, casv)                                                   \
    do {                                                                    \
        struct resp rr_;                                                    \
        CU_ASSERT_FATAL(one(pc, &I, &rr_));                                 \
        CU_ASSERT_EQUAL(rr_.status, st);                                    \
        casv = rr_.cas;                                                     \
    } while (0)

static void test_cas(void)
{
    struct proto_conn *pc = proto_conn_new(&ENV);
    uint64_t c1, c2, c3, x;
    uint32_t flags;
    char v[16];

    reset_cache();
    RESET(I, W);
    req(&I, 0x01, x_set(1, 0), 8, "c", S_("one"), 0, 0);
    ONE(pc, 0, c1);
    CU_ASSERT(c1 != 0);
    CU_ASSERT_EQUAL(fx_get(&F, "c", v, sizeof v, &flags, &x), ENGINE_OK);
    CU_ASSERT_EQUAL(x, c1);                     /* the stored item's CAS */
    RESET(I, W);
    req(&I, 0x00, NULL, 0, "c", NULL, 0, 0, 0);
    ONE(pc, 0, x);
    CU_ASSERT_EQUAL(x, c1);
    /* set with a wrong CAS: exists; right CAS: stored with a new CAS */
    RESET(I, W);
    req(&I, 0x01, x_set(1, 0), 8, "c", S_("two"), c1 + 100, 0);
    ONE(pc, 0x02, x);
    CU_ASSERT_EQUAL(x, 0u);
    RESET(I, W);
    req(&I, 0x01, x_set(1, 0), 8, "c", S_("two"), c1, 0);
    ONE(pc, 0, c2);
    CU_ASSERT(c2 > c1);
    /* replace and add with a CAS act as cas */
    RESET(I, W);
    req(&I, 0x03, x_set(1, 0), 8, "c", S_("3"), c1, 0);
    ONE(pc, 0x02, x);
    RESET(I, W);
    req(&I, 0x02, x_set(1, 0), 8, "c", S_("3"), c2, 0);
    ONE(pc, 0, c3);
    CU_ASSERT(c3 > c2);
    /* CAS on a missing key: not found */
    RESET(I, W);
    req(&I, 0x01, x_set(1, 0), 8, "nokey", S_("v"), 5, 0);
    ONE(pc, 0x01, x);
    /* append with a CAS */
    RESET(I, W);
    req(&I, 0x0e, NULL, 0, "c", S_("A"), c3 + 1, 0);
    ONE(pc, 0x02, x);
    RESET(I, W);
    req(&I, 0x0e, NULL, 0, "c", S_("A"), c3, 0);
    ONE(pc, 0, c1);
    CU_ASSERT(c1 > c3);
    CU_ASSERT_EQUAL(fx_get(&F, "c", v, sizeof v, &flags, &x), ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(v, "3A");
    /* incr with a CAS */
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "n", "5", 0, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "n", v, sizeof v, &flags, &c2), ENGINE_OK);
    RESET(I, W);
    req(&I, 0x05, x_delta(1, 0, 0), 20, "n", NULL, 0, c2 + 5, 0);
    ONE(pc, 0x02, x);
    RESET(I, W);
    req(&I, 0x05, x_delta(1, 0, 0), 20, "n", NULL, 0, c2, 0);
    ONE(pc, 0, c3);
    CU_ASSERT(c3 > c2);
    /* delete with a CAS */
    RESET(I, W);
    req(&I, 0x04, NULL, 0, "n", NULL, 0, c2, 0);
    ONE(pc, 0x02, x);
    CU_ASSERT(fx_has(&F, "n"));
    RESET(I, W);
    req(&I, 0x04, NULL, 0, "n", NULL, 0, c3, 0);
    ONE(pc, 0, x);
    CU_ASSERT_EQUAL(x, 0u);
    CU_ASSERT(!fx_has(&F, "n"));
    proto_conn_free(pc);
    fx_check(&F);
}

/* ---- stats, modes, batching -------------------------------------------- */

/* Decodes stat packets from out: count, whether "pid" was seen, and
 * whether the last one is the empty terminator. */
static void stat_walk(const struct buf *out, int *n, int *found,
                      const char *want, int *terminated)
{
    size_t p = 0;
    *n = 0, *found = 0, *terminated = 0;
    while (p + 24 <= out->len) {
        const unsigned char *h = (const unsigned char *)out->data + p;
        size_t nkey = (size_t)h[2] << 8 | h[3];
        size_t body = (size_t)h[8] << 24 | (size_t)h[9] << 16 |
                      (size_t)h[10] << 8 | h[11];
        if (nkey == strlen(want) && memcmp(h + 24, want, nkey) == 0)
            *found = 1;
        *terminated = body == 0 && h[7] == 0;
        (*n)++;
        p += 24 + body;
    }
    CU_ASSERT_EQUAL(p, out->len);
}

/* Sends stats `key` (NULL: the general stats); *n packets came back, the
 * last a terminator (*term), every one with the request's opaque.
 * Returns whether a stat named want was among them. */
static int stat_find(const char *key, const char *want, int *n, int *term)
{
    struct buf out;
    int found;
    buf_init(&out);
    RESET(I, W);
    req(&I, 0x10, NULL, 0, key, NULL, 0, 0, 0x01020304);
    run_chunks(I.d, I.n, NULL, 0, &out);
    stat_walk(&out, n, &found, want, term);
    CU_ASSERT(out.len >= 24 && memcmp(out.data + 12, "\1\2\3\4", 4) == 0);
    buf_free(&out);
    return found;
}

static void stat_case(const char *key, const char *want, int min_packets)
{
    int n, term;
    CU_ASSERT(stat_find(key, want, &n, &term));
    CU_ASSERT(n >= min_packets);
    CU_ASSERT(term);
}

static void test_stats(void)
{
    reset_cache();
    fx_store(&F, ENGINE_SET, "s", "v", 0, 0);
    stat_case(NULL, "pid", 50);
    stat_case("settings", "item_size_max", 20);
    stat_case("items", "items:1:number", 10);
    stat_case("slabs", "active_slabs", 3);
    stat_case("sizes", "sizes_status", 2);
    stat_case("detail dump", "detailed", 2);
    stat_case("shmcached", "lock_repairs", 3);
    {   /* the general stats are memcached's lines only */
        int n, term;
        int found = stat_find(NULL, "lock_repairs", &n, &term);
        CU_ASSERT(n > 50 && !found && term);
    }
    RESET(I, W);
    req(&I, 0x10, NULL, 0, "reset", NULL, 0, 0, 0);
    res(&W, 0x10, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x10, NULL, 0, "detail on", NULL, 0, 0, 0);
    res(&W, 0x10, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x10, NULL, 0, "detail off", NULL, 0, 0, 0);
    res(&W, 0x10, 0, NULL, 0, NULL, NULL, 0, 0);
    req(&I, 0x10, NULL, 0, "detail", NULL, 0, 0, 0);
    res_err(&W, 0x10, 0x01, "Not found", 0);
    req(&I, 0x10, NULL, 0, "conns", NULL, 0, 0, 0);
    res_err(&W, 0x10, 0x01, "Not found", 0);
    req(&I, 0x10, NULL, 0, "itemsx", NULL, 0, 0, 0);
    res_err(&W, 0x10, 0x01, "Not found", 0);
    EXPECT(I, W);
}

static void test_modes(void)
{
    /* -B ascii: a 0x80 byte is text (a line of garbage: ERROR) */
    PC.mode = PROTO_MODE_ASCII;
    RESET(I, W);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 0);    /* opcode 0x0a = '\n' */
    memcpy(W.d, "ERROR\r\n", 7);
    W.n = 7;
    struct buf out;
    buf_init(&out);
    run_chunks(I.d, 2, NULL, 0, &out);
    CU_ASSERT(out.len == 7 && memcmp(out.data, "ERROR\r\n", 7) == 0);
    buf_reset(&out, 0);
    /* -B binary: text is a bad magic: closed */
    PC.mode = PROTO_MODE_BINARY;
    CU_ASSERT(run_chunks("version\r\nversion\r\nversion\r\n", 27, NULL, 0,
                         &out));
    CU_ASSERT_EQUAL(out.len, 0u);
    RESET(I, W);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 0);
    res(&W, 0x0a, 0, NULL, 0, NULL, NULL, 0, 0);
    EXPECT(I, W);
    /* auto: text stays text, binary stays binary */
    PC.mode = PROTO_MODE_AUTO;
    CU_ASSERT(!run_chunks("version\r\n", 9, NULL, 0, &out));
    CU_ASSERT(out.len == 16 && memcmp(out.data, "VERSION ", 8) == 0);
    buf_free(&out);
}

/* One cache for text and binary clients: same value, flags and CAS. */
static void test_mixed(void)
{
    struct buf out;
    buf_init(&out);
    reset_cache();
    run_chunks("set m 42 0 3\r\nabc\r\n", 19, NULL, 0, &out);
    buf_reset(&out, 0);
    run_chunks("gets m\r\n", 8, NULL, 0, &out);
    buf_append(&out, "", 1);
    unsigned long long tcas = 0;
    CU_ASSERT(sscanf(out.data, "VALUE m 42 3 %llu", &tcas) == 1);
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct resp r;
    RESET(I, W);
    req(&I, 0x00, NULL, 0, "m", NULL, 0, 0, 0);
    CU_ASSERT(one(pc, &I, &r));
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_EQUAL(r.cas, tcas);
    CU_ASSERT_EQUAL(r.body, 4u + 3u);
    /* binary cas with the text client's unique; text sees the result */
    RESET(I, W);
    req(&I, 0x01, x_set(7, 0), 8, "m", S_("xyz"), tcas, 0);
    CU_ASSERT(one(pc, &I, &r));
    CU_ASSERT_EQUAL(r.status, 0);
    buf_reset(&out, 0);
    run_chunks("gets m\r\n", 8, NULL, 0, &out);
    char want[64];
    int n = snprintf(want, sizeof want, "VALUE m 7 3 %llu\r\nxyz\r\nEND\r\n",
                     (unsigned long long)r.cas);
    CU_ASSERT(out.len == (size_t)n && memcmp(out.data, want, out.len) == 0);
    proto_conn_free(pc);
    buf_free(&out);
}

/* reqs_per_event: PROTO_YIELD after that many requests. */
static void test_yield(void)
{
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf out;
    int flags;
    buf_init(&out);
    RESET(I, W);
    for (int i = 0; i < 25; i++)
        req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, (uint32_t)i);
    size_t used = proto_feed(pc, I.d, I.n, &out, &flags);
    CU_ASSERT_EQUAL(used, 20u * 24);
    CU_ASSERT_EQUAL(flags, PROTO_YIELD);
    CU_ASSERT_EQUAL(out.len, 20u * 24);
    used = proto_feed(pc, I.d + used, I.n - used, &out, &flags);
    CU_ASSERT_EQUAL(used, 5u * 24);
    CU_ASSERT_EQUAL(flags, 0);
    proto_conn_free(pc);
    buf_free(&out);
}

/* Drain: the value in progress is finished, the next request is left. */
static void test_drain(void)
{
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf out;
    int flags;
    buf_init(&out);
    reset_cache();
    RESET(I, W);
    req(&I, 0x01, x_set(0, 0), 8, "d", S_("0123456789"), 0, 1);
    req(&I, 0x0a, NULL, 0, NULL, NULL, 0, 0, 2);
    size_t first = 24 + 8 + 1 + 10;
    CU_ASSERT_EQUAL(proto_feed(pc, I.d, first - 4, &out, &flags), first - 4);
    CU_ASSERT(!proto_conn_idle(pc));
    proto_conn_drain(pc, 1);
    size_t used = proto_feed(pc, I.d + first - 4, I.n - first + 4, &out,
                             &flags);
    CU_ASSERT_EQUAL(used, 4u);
    CU_ASSERT(proto_conn_idle(pc));
    CU_ASSERT_EQUAL(out.len, 24u);
    CU_ASSERT(fx_has(&F, "d"));
    /* continued on a fresh connection, as after a hand-off */
    proto_conn_free(pc);
    pc = proto_conn_new(&ENV);
    CU_ASSERT_EQUAL(proto_feed(pc, I.d + first, I.n - first, &out, &flags),
                    24u);
    CU_ASSERT_EQUAL(out.len, 48u);
    proto_conn_free(pc);
    buf_free(&out);
}

UNIT_SUITE(proto_bin, setup, teardown,
           UNIT_TEST(test_drain),
           UNIT_TEST(test_get_set),
           UNIT_TEST(test_quiet),
           UNIT_TEST(test_delta),
           UNIT_TEST(test_touch_gat_flush),
           UNIT_TEST(test_misc_commands),
           UNIT_TEST(test_invalid),
           UNIT_TEST(test_too_large),
           UNIT_TEST(test_streaming),
           UNIT_TEST(test_cas),
           UNIT_TEST(test_stats),
           UNIT_TEST(test_modes),
           UNIT_TEST(test_mixed),
           UNIT_TEST(test_yield))
