/*
 * test_proto_text.c - the text protocol against a real engine (8 MB, fake
 * clock). Every transcript is checked byte for byte against the reply
 * memcached 1.6 gives (captured from /usr/bin/memcached over a socket;
 * only the VERSION string differs), fed whole, split in two at every byte
 * boundary and one byte at a time, each run from an empty cache, the way
 * a server feeds proto_feed: unconsumed input is kept and more appended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "fixture.h"
#include "proto/proto.h"
#include "server/settings.h"
#include "unit.h"
#include "core/version.h"

static struct fixture F;
static struct proto_config PC;
static struct proto_env ENV;
static int shutdown_calls, shutdown_graceful, verbosity_level = -1;

static void on_shutdown(void *arg, int graceful)
{
    (void)arg;
    shutdown_calls++;
    shutdown_graceful = graceful;
}

static void on_verbosity(void *arg, int level)
{
    (void)arg;
    verbosity_level = level;
}

static void on_conns(void *arg, struct buf *out)
{
    (void)arg;
    buf_appendz(out, "STAT 7:addr tcp:127.0.0.1:5555\r\n");
}

/* The server side of "stats": what a worker's callbacks would give. */
static struct settings SETTINGS;
static struct proto_shared SHARED;
static int stats_resets;

static void on_server_stats(void *arg, struct proto_server_stats *st)
{
    (void)arg;
    st->pid = 4242;
    st->max_connections = 1024;
    st->curr_connections = 3;
    st->threads = 2;
}

static void on_stats_shmcached(void *arg, struct buf *out)
{
    (void)arg;
    buf_appendz(out, "STAT workers 2\r\n");
}

static void on_stats_reset(void *arg)
{
    (void)arg;
    stats_resets++;
}

static void on_stats_settings(void *arg, struct buf *out)
{
    (void)arg;
    settings_stats(&SETTINGS, ENV.engine, &SHARED, out);
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
    memset(&SHARED, 0, sizeof SHARED);
    ENV.shared = &SHARED;
    ENV.server_stats = on_server_stats;
    ENV.stats_shmcached = on_stats_shmcached;
    ENV.stats_reset = on_stats_reset;
    ENV.stats_settings = on_stats_settings;
    ENV.shutdown = on_shutdown;
    ENV.set_verbosity = on_verbosity;
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

/* Feeds in pieces ending at cuts[] to a new connection (fixture.c). */
static int run_chunks(const char *in, size_t len, const size_t *cuts,
                      size_t ncuts, struct buf *out)
{
    return fx_feed_chunks(&ENV, in, len, cuts, ncuts, out);
}

static void show(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "%s: \"", what);
    for (size_t i = 0; i < n && i < 400; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\n')
            fputs("\\n", stderr);
        else if (c < 32 || c > 126)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fprintf(stderr, "\"%s\n", n > 400 ? "..." : "");
}

/* One run; returns 1 when it matched. */
static int run_one(const char *in, size_t len, const size_t *cuts,
                   size_t ncuts, const char *want, size_t wlen,
                   int want_close, int line)
{
    struct buf out;
    buf_init(&out);
    reset_cache();
    int closed = run_chunks(in, len, cuts, ncuts, &out);
    int ok = closed == want_close && out.len == wlen &&
             (wlen == 0 || memcmp(out.data, want, wlen) == 0);
    if (!ok) {
        fprintf(stderr, "\nline %d, cut at %zu (%zu cuts): closed %d/%d\n",
                line, ncuts ? cuts[0] : len, ncuts, closed, want_close);
        show("  in  ", in, len);
        show("  want", want, wlen);
        show("  got ", out.data, out.len);
    }
    buf_free(&out);
    return ok;
}

/* Whole, split in two at every byte (inputs up to 4 KB), byte by byte. */
static void expect_io(const char *in, size_t len, const char *want,
                      size_t wlen, int want_close, int line)
{
    int ok = run_one(in, len, NULL, 0, want, wlen, want_close, line);
    if (len <= 4096) {
        for (size_t i = 1; i < len && ok; i++)
            ok = run_one(in, len, &i, 1, want, wlen, want_close, line);
        static size_t cuts[4096];
        for (size_t i = 0; i + 1 < len; i++)
            cuts[i] = i + 1;
        if (ok && len > 1)
            ok = run_one(in, len, cuts, len - 1, want, wlen, want_close, line);
    }
    CU_ASSERT(ok);
}

#define EXPECT(in, want) \
    expect_io(in, sizeof(in) - 1, want, sizeof(want) - 1, 0, __LINE__)
#define EXPECT_CLOSE(in, want) \
    expect_io(in, sizeof(in) - 1, want, sizeof(want) - 1, 1, __LINE__)

/* ---- storage and retrieval -------------------------------------------- */

static void test_set_get(void)
{
    EXPECT("set foo 5 0 3\r\nabc\r\nget foo\r\n",
           "STORED\r\nVALUE foo 5 3\r\nabc\r\nEND\r\n");
    EXPECT("set a 0 0 0\r\n\r\nget a\r\nincr a 1\r\nset c 0 0 1\r\nx\r\n"
           "get a b c\r\n",
           "STORED\r\nVALUE a 0 0\r\n\r\nEND\r\n"
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
           "STORED\r\nVALUE a 0 0\r\n\r\nVALUE c 0 1\r\nx\r\nEND\r\n");
    /* value bytes that look like protocol are data */
    EXPECT("set k 1 0 13\r\nget k\r\nquit\r\n\r\nget k\r\n",
           "STORED\r\nVALUE k 1 13\r\nget k\r\nquit\r\n\r\nEND\r\n");
    /* flags: memcached truncates to 32 bits; "+1" and a tab are accepted */
    EXPECT("set f 4294967296 0 1\r\na\r\nget f\r\n",
           "STORED\r\nVALUE f 0 1\r\na\r\nEND\r\n");
    EXPECT("set f +1 0 1\r\na\r\nset g 1\t 0 1\r\nb\r\nget f g\r\n",
           "STORED\r\nSTORED\r\nVALUE f 1 1\r\na\r\nVALUE g 1 1\r\nb\r\nEND\r\n");
    /* length is parsed as a long and truncated to int32 like memcached */
    EXPECT("set v 0 0 4294967297\r\nA\r\nget v\r\n",
           "STORED\r\nVALUE v 0 1\r\nA\r\nEND\r\n");
    /* a 6th token that is not noreply is ignored */
    EXPECT("set foo 0 0 1 xyz\r\na\r\n", "STORED\r\n");
    /* keys of exactly 250 bytes are fine */
    char in[800], want[800];
    char key[251];
    memset(key, 'k', 250);
    key[250] = '\0';
    int n = snprintf(in, sizeof in, "set %s 0 0 1\r\na\r\nget %s\r\n", key, key);
    int m = snprintf(want, sizeof want, "STORED\r\nVALUE %s 0 1\r\na\r\nEND\r\n",
                     key);
    expect_io(in, (size_t)n, want, (size_t)m, 0, __LINE__);
    fx_check(&F);
}

static void test_store_ops(void)
{
    EXPECT("add c 0 0 1\r\nz\r\nadd c 0 0 1\r\ny\r\nreplace e 0 0 1\r\nz\r\n"
           "append e 0 0 1\r\nz\r\nprepend c 0 0 1\r\nq\r\nappend c 0 0 1\r\n"
           "r\r\nget c\r\nreplace c 7 0 1\r\nw\r\nget c\r\nprepend\r\n",
           "STORED\r\nNOT_STORED\r\nNOT_STORED\r\nNOT_STORED\r\nSTORED\r\n"
           "STORED\r\nVALUE c 0 3\r\nqzr\r\nEND\r\nSTORED\r\n"
           "VALUE c 7 1\r\nw\r\nEND\r\nERROR\r\n");
    EXPECT("cas c 0 0 1 5\r\nx\r\ncas c 0 0 1\r\nx\r\ncas c 0 0 1 x\r\nx\r\n"
           "cas c 0 0 1 -1\r\ny\r\n",
           "NOT_FOUND\r\nERROR\r\nERROR\r\nCLIENT_ERROR bad command line "
           "format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n"
           "ERROR\r\n");
    fx_check(&F);
}

static void test_gets_cas(void)
{
    char in[256], want[256], val[8];
    uint64_t cas;
    struct buf out;

    reset_cache();
    CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "c", "x", 3, 0), ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&F, "c", val, sizeof val, NULL, &cas), ENGINE_OK);
    int n = snprintf(in, sizeof in,
                     "gets c\r\ncas c 0 0 1 %llu\r\ny\r\ncas c 0 0 1 %llu\r\n"
                     "z\r\ncas c 0 0 1 %llu noreply\r\nz\r\nget c\r\n",
                     (unsigned long long)cas, (unsigned long long)cas,
                     (unsigned long long)cas);
    int m = snprintf(want, sizeof want,
                     "VALUE c 3 1 %llu\r\nx\r\nEND\r\nSTORED\r\nEXISTS\r\n"
                     "VALUE c 0 1\r\ny\r\nEND\r\n", (unsigned long long)cas);
    buf_init(&out);
    size_t cut = (size_t)n / 2;
    CU_ASSERT_EQUAL(run_chunks(in, (size_t)n, &cut, 1, &out), 0);
    CU_ASSERT_EQUAL(out.len, (size_t)m);
    CU_ASSERT(out.len == (size_t)m && memcmp(out.data, want, out.len) == 0);
    if (out.len != (size_t)m || memcmp(out.data, want, out.len) != 0)
        show("got", out.data, out.len);
    buf_free(&out);
}

static void test_streamed_value(void)
{
    /* a 100 KB value arriving in uneven pieces */
    size_t vlen = 100000;
    static char in[110000];
    int hl = snprintf(in, sizeof in, "set big 9 0 %zu\r\n", vlen);
    for (size_t i = 0; i < vlen; i++)
        in[hl + i] = (char)('a' + i % 26);
    size_t len = (size_t)hl + vlen;
    memcpy(in + len, "\r\nget big\r\n", 11);
    len += 11;
    size_t cuts[] = { 3, (size_t)hl, (size_t)hl + 1, 5000, 5001, 77777,
                      len - 12, len - 11, len - 10, len - 3 };
    struct buf out;
    buf_init(&out);
    reset_cache();
    CU_ASSERT_EQUAL(run_chunks(in, len, cuts, 10, &out), 0);
    static char want[110000];
    int wl = snprintf(want, sizeof want, "STORED\r\nVALUE big 9 %zu\r\n", vlen);
    memcpy(want + wl, in + hl, vlen);
    memcpy(want + wl + vlen, "\r\nEND\r\n", 7);
    CU_ASSERT_EQUAL(out.len, wl + vlen + 7);
    CU_ASSERT(memcmp(out.data, want, wl + vlen + 7) == 0);
    buf_free(&out);
    fx_check(&F);
}

static void test_too_large(void)
{
    /* over -I: refused at the command line, the data is swallowed, the
     * old value of a set is gone (memcached unlinks it) */
    size_t vlen = 1048577;
    static char in[1100000];
    int hl = snprintf(in, sizeof in, "set big 0 0 %zu\r\n", vlen);
    memset(in + hl, 'x', vlen);
    size_t len = (size_t)hl + vlen;
    memcpy(in + len, "\r\nget big\r\n", 11);
    len += 11;
    static const char want[] =
        "SERVER_ERROR object too large for cache\r\nEND\r\n";
    size_t cuts[] = { 5, (size_t)hl + 10, len - 12, len - 11, len - 10 };
    struct buf out;

    for (int split = 0; split < 2; split++) {
        buf_init(&out);
        reset_cache();
        CU_ASSERT_EQUAL(fx_store(&F, ENGINE_SET, "big", "old", 0, 0),
                        ENGINE_STORED);
        CU_ASSERT_EQUAL(run_chunks(in, len, cuts, split ? 5 : 0, &out), 0);
        CU_ASSERT_EQUAL(out.len, sizeof want - 1);
        CU_ASSERT(memcmp(out.data, want, sizeof want - 1) == 0);
        buf_free(&out);
    }
    /* noreply hides the error; the data is still swallowed */
    hl = snprintf(in, sizeof in, "set big 0 0 %zu noreply\r\n", vlen);
    memset(in + hl, 'x', vlen);
    len = (size_t)hl + vlen;
    memcpy(in + len, "\r\nget big\r\n", 11);
    len += 11;
    buf_init(&out);
    reset_cache();
    CU_ASSERT_EQUAL(run_chunks(in, len, NULL, 0, &out), 0);
    CU_ASSERT_EQUAL(out.len, 5);
    CU_ASSERT(memcmp(out.data, "END\r\n", 5) == 0);
    buf_free(&out);
    fx_check(&F);
}

static void test_bad_data_chunk(void)
{
    /* exactly <bytes>+2 are read; what follows is parsed as commands */
    EXPECT("set foo 0 0 3\r\nabcde\r\nget foo\r\n",
           "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
    EXPECT("set foo 0 0 3\r\nabcdefgh\r\n",
           "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    EXPECT("set foo 0 0 1\r\nab\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    EXPECT("set foo 0 0 1\r\na\rget foo\r\n",
           "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    EXPECT("set foo 0 0 3 noreply\r\nabcde\r\n", "ERROR\r\n");
    /* the old value stays */
    EXPECT("set k 0 0 1\r\n1\r\nset k 0 0 1\r\n22\r\nget k\r\n",
           "STORED\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n"
           "VALUE k 0 1\r\n1\r\nEND\r\n");
    fx_check(&F);
}

static void test_command_errors(void)
{
    EXPECT("set foo 0 0 -1\r\nabc\r\n",
           "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    EXPECT("set foo 0 0\r\n", "ERROR\r\n");
    EXPECT("set foo -1 0 1\r\na\r\n",
           "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    EXPECT("set a x 0 1\r\na\r\n",
           "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    EXPECT("set foo 0 0 2147483647\r\n",
           "CLIENT_ERROR bad command line format\r\n");
    EXPECT("set foo 0 0 1x\r\na\r\n",
           "CLIENT_ERROR bad command line format\r\nERROR\r\n");
    EXPECT("set foo 0 0 99999999999999999999\r\n",
           "CLIENT_ERROR bad command line format\r\n");
    EXPECT("set a 0 0 1 2 3\r\nA\r\n", "ERROR\r\nERROR\r\n");
    EXPECT("set a 0 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 "
           "22 23\r\nA\r\n", "ERROR\r\nERROR\r\n");
    EXPECT("\r\n\n \r\nx\r\nxy\r\n\r\r\nGET\r\nfoo bar\r\n",
           "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n"
           "ERROR\r\n");
    /* not implemented (admin commands), unknown meta names, lru_crawler
     * without a subcommand: unknown; meta commands themselves:
     * test_proto_meta.c; watch: test_watch.py */
    EXPECT("mz\r\nlru_crawler\r\nslabs\r\nlru\r\nextstore\r\n"
           "misbehave\r\n",
           "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n");
    /* a NUL ends the line for the parser */
    expect_io("get a\0 b\r\nversion\r\n", 20,
              "END\r\nVERSION " SHMC_VERSION "\r\n",
              sizeof("END\r\nVERSION " SHMC_VERSION "\r\n") - 1, 0, __LINE__);
}

static void test_key_too_long(void)
{
    char k[252];
    char in[2400];
    memset(k, 'k', 251);
    k[251] = '\0';
    int n = snprintf(in, sizeof in,
                     "set %s 0 0 1\r\na\r\nset %s 0 0 1 noreply\r\na\r\n"
                     "delete %s\r\ndelete %s 0\r\nincr %s 1\r\ntouch %s 1\r\n",
                     k, k, k, k, k, k);
    static const char want[] =
        "CLIENT_ERROR bad command line format\r\nERROR\r\nERROR\r\n"
        "CLIENT_ERROR bad command line format\r\n"
        "CLIENT_ERROR bad command line format\r\n"
        "CLIENT_ERROR bad command line format\r\n"
        "CLIENT_ERROR bad command line format\r\n";
    expect_io(in, (size_t)n, want, sizeof want - 1, 0, __LINE__);
    /* get: what the command had produced is replaced by the error */
    n = snprintf(in, sizeof in, "set a 0 0 1\r\n1\r\nget a %s b\r\nget a\r\n", k);
    static const char want2[] =
        "STORED\r\nCLIENT_ERROR bad command line format\r\n"
        "VALUE a 0 1\r\n1\r\nEND\r\n";
    expect_io(in, (size_t)n, want2, sizeof want2 - 1, 0, __LINE__);
}

/* ---- other commands ---------------------------------------------------- */

static void test_get_variants(void)
{
    EXPECT("get\r\nget \r\ngets\r\ngat\r\ngat 10\r\ngat x a\r\ngat -1 nokey\r\n"
           "set a 0 0 1\r\n5\r\ngat 100 a\r\ngetx a\r\nget a\tb\r\n",
           "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nEND\r\n"
           "CLIENT_ERROR invalid exptime argument\r\nEND\r\nSTORED\r\n"
           "VALUE a 0 1\r\n5\r\nEND\r\nERROR\r\nEND\r\n");
    /* more keys than tokens: the rest of the line is scanned in batches */
    EXPECT("set a 0 0 1\r\nA\r\nget a a a a a a a a a a a a a a a a a a a a a "
           "a a a a x   a a a  \r\n",
           "STORED\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\n"
           "A\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\n"
           "VALUE a 0 1\r\nA\r\nEND\r\n");
    /* gat with a negative exptime expires the item */
    EXPECT("set t 0 0 1\r\nx\r\ngat -1 t\r\nget t\r\n",
           "STORED\r\nVALUE t 0 1\r\nx\r\nEND\r\nEND\r\n");
}

static void test_delete(void)
{
    EXPECT("set a 0 0 1\r\n1\r\ndelete a 0\r\ndelete a 1\r\ndelete a noreply\r\n"
           "delete a 0 noreply\r\ndelete a x noreply\r\ndelete a 0 0\r\n"
           "delete a 1 2 3\r\ndelete\r\ndelete a\r\ndelete noreply\r\n",
           "STORED\r\nDELETED\r\nCLIENT_ERROR bad command line format.  "
           "Usage: delete <key> [noreply]\r\nCLIENT_ERROR bad command line "
           "format.  Usage: delete <key> [noreply]\r\nERROR\r\nERROR\r\n"
           "NOT_FOUND\r\nNOT_FOUND\r\n");
}

static void test_incr_decr(void)
{
    EXPECT("incr\r\nincr a\r\nincr a 1\r\nset a 0 0 2\r\n10\r\nincr a 1\r\n"
           "incr a -1\r\nincr a x\r\nincr a 18446744073709551615\r\n"
           "incr a 18446744073709551616\r\ndecr a 100\r\n"
           "incr a -18446744073709551615\r\nincr a 1 noreply\r\nget a\r\n"
           "set b 0 0 1\r\nx\r\nincr b 1\r\nincr a 1 2\r\nincr a 1 2 3\r\n"
           "incr a 1\t\r\nincr a \t2\r\ndecr nokey 1\r\n",
           "ERROR\r\nERROR\r\nNOT_FOUND\r\nSTORED\r\n11\r\n"
           "CLIENT_ERROR invalid numeric delta argument\r\n"
           "CLIENT_ERROR invalid numeric delta argument\r\n10\r\n"
           "CLIENT_ERROR invalid numeric delta argument\r\n0\r\n1\r\n"
           "VALUE a 0 2\r\n2 \r\nEND\r\nSTORED\r\n"
           "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
           "3\r\nERROR\r\n4\r\n6\r\nNOT_FOUND\r\n");
    fx_check(&F);
}

static void test_touch(void)
{
    EXPECT("set a 0 0 1\r\n1\r\ntouch a\r\ntouch a 10\r\ntouch a x\r\n"
           "touch zz 10\r\ntouch a 10 noreply\r\ntouch a 10 foo\r\n"
           "touch a -1\r\nget a\r\n",
           "STORED\r\nERROR\r\nTOUCHED\r\n"
           "CLIENT_ERROR invalid exptime argument\r\nNOT_FOUND\r\nTOUCHED\r\n"
           "TOUCHED\r\nEND\r\n");
}

static void test_noreply(void)
{
    EXPECT("set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\n"
           "replace a 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\n"
           "prepend a 0 0 1 noreply\r\n5\r\nincr a 1 noreply\r\n"
           "decr a 1 noreply\r\ntouch a 0 noreply\r\nget a\r\n"
           "delete a noreply\r\nget a\r\nflush_all noreply\r\n"
           "verbosity 1 noreply\r\nverbosity noreply\r\n"
           "cache_memlimit 100 noreply\r\nset a 0 0 noreply\r\n",
           "VALUE a 0 3\r\n534\r\nEND\r\nEND\r\n");
}

static void test_flush_all(void)
{
    EXPECT("set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nflush_all 0\r\n"
           "flush_all -1\r\nflush_all x\r\nflush_all noreply\r\n"
           "flush_all 0 noreply\r\nflush_all noreply 5\r\nflush_all 1 2 3\r\n"
           "flush_all 1 2\r\n",
           "STORED\r\nOK\r\nEND\r\nOK\r\nOK\r\n"
           "CLIENT_ERROR invalid exptime argument\r\n"
           "CLIENT_ERROR invalid exptime argument\r\nERROR\r\nOK\r\n");
    /* delayed flush: items die when the delay has passed */
    EXPECT("set a 0 0 1\r\n1\r\nflush_all 2\r\nget a\r\n",
           "STORED\r\nOK\r\nVALUE a 0 1\r\n1\r\nEND\r\n");
    F.now += 5;
    /* -F: refused, and still counted */
    PC.flush_enabled = 0;
    struct engine_stats st;
    engine_stats(F.e, &st);
    uint64_t before = st.c.cmd_flush;
    struct buf out;
    buf_init(&out);
    static const char in[] = "flush_all\r\nflush_all noreply\r\nflush_all x\r\n"
                             "flush_all 1 2 3\r\n";
    run_chunks(in, sizeof in - 1, NULL, 0, &out);
    static const char want[] = "CLIENT_ERROR flush_all not allowed\r\n"
                               "CLIENT_ERROR flush_all not allowed\r\nERROR\r\n";
    CU_ASSERT(out.len == sizeof want - 1 &&
              memcmp(out.data, want, out.len) == 0);
    engine_stats(F.e, &st);
    CU_ASSERT_EQUAL(st.c.cmd_flush, before + 3);
    PC.flush_enabled = 1;
    buf_free(&out);
}

static void test_misc_commands(void)
{
    EXPECT("version\r\nversion x\r\n",
           "VERSION " SHMC_VERSION "\r\nVERSION " SHMC_VERSION "\r\n");
    verbosity_level = -1;
    EXPECT("verbosity\r\nverbosity 1\r\nverbosity x\r\nverbosity noreply\r\n"
           "verbosity 1 noreply\r\nverbosity 1 2\r\nverbosity 1 2 3\r\n"
           "verbosity 5\r\n",
           "ERROR\r\nOK\r\nCLIENT_ERROR bad command line format\r\nOK\r\n"
           "ERROR\r\nOK\r\n");
    CU_ASSERT_EQUAL(verbosity_level, 2);
    EXPECT("cache_memlimit\r\ncache_memlimit 4\r\ncache_memlimit x\r\n"
           "cache_memlimit 2000000000\r\ncache_memlimit 64 1 2\r\n"
           "cache_memlimit 8\r\n",
           "ERROR\r\nMEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
           "ERROR\r\nMEMLIMIT_ADJUST_FAILED input value is megabytes not "
           "bytes\r\nERROR\r\nOK\r\n");
    /* quit and HTTP close the connection; replies before stay */
    EXPECT_CLOSE("version\r\nquit\r\nversion\r\n",
                 "VERSION " SHMC_VERSION "\r\n");
    EXPECT_CLOSE("quit x\r\nversion\r\n", "");
    EXPECT_CLOSE("GET / HTTP/1.1\r\nversion\r\n", "");
    EXPECT_CLOSE("HTTP/1.1\r\n", "");
    EXPECT("get / HTTP/1.1\r\nx HTTP/\r\nlru_crawler HTTP/1.0\r\n",
           "END\r\nERROR\r\nERROR\r\n");
}

static void test_shutdown(void)
{
    shutdown_calls = 0;
    EXPECT("shutdown\r\nshutdown graceful\r\nshutdown x y\r\n",
           "ERROR: shutdown not enabled\r\nERROR: shutdown not enabled\r\n"
           "ERROR: shutdown not enabled\r\n");
    CU_ASSERT_EQUAL(shutdown_calls, 0);
    PC.shutdown_enabled = 1;
    EXPECT("shutdown x y\r\nshutdown foo\r\nshutdown graceful x\r\n",
           "CLIENT_ERROR invalid shutdown mode\r\n"
           "CLIENT_ERROR invalid shutdown mode\r\n"
           "CLIENT_ERROR invalid shutdown mode\r\n");
    CU_ASSERT_EQUAL(shutdown_calls, 0);
    struct buf out;
    buf_init(&out);
    CU_ASSERT_EQUAL(run_chunks("shutdown graceful\r\nversion\r\n", 28, NULL,
                               0, &out), 1);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(shutdown_calls, 1);
    CU_ASSERT_EQUAL(shutdown_graceful, 1);
    CU_ASSERT_EQUAL(run_chunks("shutdown\r\n", 10, NULL, 0, &out), 1);
    CU_ASSERT_EQUAL(shutdown_calls, 2);
    CU_ASSERT_EQUAL(shutdown_graceful, 0);
    PC.shutdown_enabled = 0;
    buf_free(&out);
}

/* ---- line limits, pipelining, yield, teardown ------------------------- */

static void feed_once(const char *in, size_t len, size_t *used, int *flags,
                      struct buf *out)
{
    struct proto_conn *pc = proto_conn_new(&ENV);
    *used = proto_feed(pc, in, len, out, flags);
    proto_conn_free(pc);
}

static void test_long_lines(void)
{
    static char in[70000];
    struct buf out;
    size_t used;
    int flags;

    buf_init(&out);
    memset(in, 'x', sizeof in);
    feed_once(in, 2048, &used, &flags, &out);    /* may still end */
    CU_ASSERT_EQUAL(used, 0);
    CU_ASSERT_EQUAL(flags, 0);
    feed_once(in, 2049, &used, &flags, &out);    /* too long: close */
    CU_ASSERT_EQUAL(flags, PROTO_CLOSE);
    CU_ASSERT_EQUAL(out.len, 0);
    /* a long line that did end is served */
    memcpy(in + 3000, "\r\n", 2);
    feed_once(in, 3002, &used, &flags, &out);
    CU_ASSERT_EQUAL(used, 3002);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT(out.len == 7 && memcmp(out.data, "ERROR\r\n", 7) == 0);
    out.len = 0;
    /* get/gets lines may grow up to line_max_get */
    memcpy(in, "  get ", 6);
    for (size_t i = 6; i + 1 < sizeof in; i += 2)
        memcpy(in + i, "k ", 2);
    feed_once(in, 3000, &used, &flags, &out);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT_EQUAL(used, 0);
    feed_once(in, 65537, &used, &flags, &out);
    CU_ASSERT_EQUAL(flags, PROTO_CLOSE);
    memcpy(in + 4000, "\r\n", 2);
    feed_once(in, 4002, &used, &flags, &out);
    CU_ASSERT_EQUAL(used, 4002);
    CU_ASSERT(out.len == 5 && memcmp(out.data, "END\r\n", 5) == 0);
    out.len = 0;
    /* gat is not exempt; more than 100 leading spaces neither */
    memcpy(in, "gat 0 ", 6);
    feed_once(in, 3000, &used, &flags, &out);
    CU_ASSERT_EQUAL(flags, PROTO_CLOSE);
    memset(in, ' ', 101);
    memcpy(in + 101, "get ", 4);
    feed_once(in, 3000, &used, &flags, &out);
    CU_ASSERT_EQUAL(flags, PROTO_CLOSE);
    memset(in, ' ', 100);
    memcpy(in + 100, "gets ", 5);
    feed_once(in, 3000, &used, &flags, &out);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT_EQUAL(out.len, 0);
    buf_free(&out);
}

static void test_yield(void)
{
    static const char in[] = "version\r\nversion\r\nversion\r\nversion\r\n"
                             "version\r\n";
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf out;
    int flags;
    buf_init(&out);
    PC.reqs_per_event = 2;
    size_t used = proto_feed(pc, in, sizeof in - 1, &out, &flags);
    CU_ASSERT_EQUAL(used, 18);
    CU_ASSERT_EQUAL(flags, PROTO_YIELD);
    used += proto_feed(pc, in + used, sizeof in - 1 - used, &out, &flags);
    CU_ASSERT_EQUAL(used, 36);
    CU_ASSERT_EQUAL(flags, PROTO_YIELD);
    used += proto_feed(pc, in + used, sizeof in - 1 - used, &out, &flags);
    CU_ASSERT_EQUAL(used, sizeof in - 1);
    CU_ASSERT_EQUAL(flags, 0);
    CU_ASSERT_EQUAL(out.len, 5 * (sizeof("VERSION " SHMC_VERSION "\r\n") - 1));
    /* exactly reqs_per_event requests and nothing left: no yield */
    out.len = 0;
    used = proto_feed(pc, in, 18, &out, &flags);
    CU_ASSERT_EQUAL(used, 18);
    CU_ASSERT_EQUAL(flags, 0);
    PC.reqs_per_event = 20;
    proto_conn_free(pc);
    buf_free(&out);
}

static void test_free_mid_value(void)
{
    struct buf out;
    int flags;
    buf_init(&out);
    reset_cache();
    for (int i = 0; i < 200; i++) {
        struct proto_conn *pc = proto_conn_new(&ENV);
        static const char in[] = "set half 0 0 100000\r\nabcdef";
        CU_ASSERT_TRUE(proto_conn_idle(pc));
        size_t used = proto_feed(pc, in, sizeof in - 1, &out, &flags);
        CU_ASSERT_EQUAL(used, sizeof in - 1);
        CU_ASSERT_FALSE(proto_conn_idle(pc));
        proto_conn_free(pc);    /* releases the allocation */
    }
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_FALSE(fx_has(&F, "half"));
    /* idle again once the value (or a swallowed one) is complete */
    struct proto_conn *pc = proto_conn_new(&ENV);
    static const char in2[] = "set k 0 0 2\r\nab\r\nset k 0 0 2000000\r\nxy";
    CU_ASSERT_EQUAL(proto_feed(pc, in2, 15, &out, &flags), 15);
    CU_ASSERT_FALSE(proto_conn_idle(pc));
    CU_ASSERT_EQUAL(proto_feed(pc, in2 + 15, 2, &out, &flags), 2);
    CU_ASSERT_TRUE(proto_conn_idle(pc));
    CU_ASSERT_EQUAL(proto_feed(pc, in2 + 17, sizeof in2 - 18, &out, &flags),
                    sizeof in2 - 18);
    CU_ASSERT_FALSE(proto_conn_idle(pc));
    proto_conn_free(pc);
    out.len = 0;
    fx_check(&F);
    buf_free(&out);
}

/* ---- stats ------------------------------------------------------------- */

static void run_text(const char *in, struct buf *out)
{
    out->len = 0;
    run_chunks(in, strlen(in), NULL, 0, out);
    buf_append(out, "", 1);     /* NUL for string checks */
    out->len--;
}

static void test_stats(void)
{
    /* a fresh engine: flushed items of earlier tests would still count */
    struct fixture keep = F;
    struct buf out;
    buf_init(&out);
    CU_ASSERT_FATAL(fixture_open(&F, 8, NULL) == 0);
    ENV.engine = F.e;
    ENV.worker = F.w;
    fx_store(&F, ENGINE_SET, "foo", "abc", 0, 0);
    fx_store(&F, ENGINE_SET, "bar", "xy", 5, 100);

    run_text("stats\r\n", &out);
    const char *order[] = { "STAT pid 4242\r\n", "STAT uptime ", "STAT time ",
        "STAT version " SHMC_VERSION "\r\n", "STAT libevent ",
        "STAT pointer_size 64\r\n", "STAT rusage_user ", "STAT rusage_system ",
        "STAT max_connections 1024\r\n", "STAT curr_connections 3\r\n",
        "STAT cmd_get ", "STAT cmd_set ", "STAT cmd_flush ", "STAT cmd_touch ",
        "STAT get_hits ", "STAT get_misses ", "STAT delete_misses ",
        "STAT touch_misses ", "STAT bytes_read ", "STAT limit_maxbytes 8388608",
        "STAT threads 2\r\n", "STAT hash_power_level 16\r\n", "STAT bytes ",
        "STAT curr_items 2\r\n", "STAT total_items ", "STAT evictions ",
        "STAT lru_bumps_dropped 0\r\nEND\r\n" };
    const char *p = out.data;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *q = p ? strstr(p, order[i]) : NULL;
        if (q == NULL)
            fprintf(stderr, "\nstats: missing or out of order: %s\n", order[i]);
        CU_ASSERT_PTR_NOT_NULL(q);
        p = q;
    }
    CU_ASSERT(out.len > 5 && strcmp(out.data + out.len - 5, "END\r\n") == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT rusage_user "));
    CU_ASSERT_PTR_NULL(strstr(out.data, "\r\n\r\n"));
    /* shmcached's own lines are in "stats shmcached" only */
    CU_ASSERT_PTR_NULL(strstr(out.data, "STAT workers "));
    CU_ASSERT_PTR_NULL(strstr(out.data, "STAT lock_repairs "));
    run_text("stats shmcached\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data, "STAT workers 2\r\nSTAT lock_repairs 0\r\n"
                                     "STAT slot_reaps 0\r\nEND\r\n");

    run_text("stats settings\r\n", &out);
    CU_ASSERT(strncmp(out.data, "STAT maxbytes 8388608\r\nSTAT maxconns 1024\r\n"
                      "STAT tcpport 11211\r\n", 62) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT reqs_per_event 20\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT item_size_max 1048576\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT growth_factor 1.25\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT umask 700\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT flush_enabled yes\r\n"));
    CU_ASSERT(strcmp(out.data + out.len - 5, "END\r\n") == 0);

    run_text("stats items\r\n", &out);
    /* segmented (memcached's default): new items are in HOT */
    CU_ASSERT(strncmp(out.data, "STAT items:1:number 2\r\n"
                      "STAT items:1:number_hot 2\r\n"
                      "STAT items:1:number_warm 0\r\n"
                      "STAT items:1:number_cold 0\r\n", 102) == 0);
    CU_ASSERT_PTR_NULL(strstr(out.data, "number_temp"));   /* no temp_lru */
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT items:1:mem_requested "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT items:1:hits_to_temp 0\r\n"
                                            "END\r\n"));

    run_text("stats slabs\r\n", &out);
    CU_ASSERT(strncmp(out.data, "STAT 1:chunk_size ", 18) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT 1:used_chunks 2\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT 1:cmd_set 2\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT 1:touch_hits 0\r\n"
                                            "STAT active_slabs 1\r\n"
                                            "STAT total_malloced "));

    run_text("stats cachedump 1 0\r\n", &out);
    char want[128];
    snprintf(want, sizeof want,
             "ITEM bar [2 b; %lld s]\r\nITEM foo [3 b; 0 s]\r\nEND\r\n",
             (long long)F.now + 100);
    CU_ASSERT_STRING_EQUAL(out.data, want);
    run_text("stats cachedump 1 1\r\n", &out);
    CU_ASSERT(strncmp(out.data, "ITEM bar", 8) == 0);
    CU_ASSERT_PTR_NULL(strstr(out.data, "foo"));
    run_text("stats cachedump\r\nstats cachedump x 1\r\nstats cachedump 64 0\r\n"
             "stats cachedump 63 0\r\nstats cachedump -1 0\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data, "CLIENT_ERROR bad command line\r\n"
        "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR Illegal slab id\r\n"
        "END\r\nCLIENT_ERROR bad command line format\r\n");
    PC.dump_enabled = 0;
    run_text("stats cachedump 1 0\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data,
                           "CLIENT_ERROR stats cachedump not allowed\r\n");
    PC.dump_enabled = 1;

    run_text("stats sizes\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data, "STAT sizes_status disabled\r\nEND\r\n");
    run_text("stats sizes_enable\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data, "STAT sizes_status enabled\r\n");
    CU_ASSERT_EQUAL(SHARED.track_sizes, 1);   /* for every worker */
    run_text("stats sizes\r\n", &out);
    SHARED.track_sizes = 0;
    CU_ASSERT(strncmp(out.data, "STAT ", 5) == 0);
    CU_ASSERT_PTR_NULL(strstr(out.data, "sizes_status"));
    CU_ASSERT(strcmp(out.data + out.len - 5, "END\r\n") == 0);

    run_text("stats foo\r\nstats detail\r\nstats detail dump\r\n"
             "stats detail on\r\nstats detail off\r\nstats conns\r\n"
             "stats reset\r\nstats reset x\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data, "ERROR\r\n"
        "CLIENT_ERROR usage: stats detail on|off|dump\r\nEND\r\nOK\r\nOK\r\n"
        "END\r\nRESET\r\nRESET\r\n");
    CU_ASSERT_EQUAL(stats_resets, 2);   /* the server's counters too */
    ENV.conns = on_conns;
    run_text("stats conns\r\n", &out);
    CU_ASSERT_STRING_EQUAL(out.data,
                           "STAT 7:addr tcp:127.0.0.1:5555\r\nEND\r\n");
    ENV.conns = NULL;
    run_text("stats\r\n", &out);
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT cmd_set 0\r\n"));
    buf_free(&out);
    fixture_close(&F);
    F = keep;
    ENV.engine = F.e;
    ENV.worker = F.w;
}

/* The lines memcached prints only under a setting, on and off: with
 * memcached's defaults (maxconns_fast, the LRU maintainer, no idle_timeout;
 * the crawler off here), then each one turned around. */
static void test_stats_conditional(void)
{
    struct buf out;
    buf_init(&out);
    static const char *const dflt[] = { "rejected_connections",
        "lru_maintainer_juggles", "evicted_active", "moves_to_cold",
        "moves_to_warm", "moves_within_lru", "direct_reclaims",
        "lru_bumps_dropped" };
    static const char *const flipped[] = { "idle_kicks",
        "lru_crawler_running", "lru_crawler_starts" };
    char line[64];

    run_text("stats\r\n", &out);
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) {
        snprintf(line, sizeof line, "\nSTAT %s ", dflt[i]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out.data, line));
    }
    for (size_t i = 0; i < sizeof flipped / sizeof flipped[0]; i++) {
        snprintf(line, sizeof line, "\nSTAT %s ", flipped[i]);
        CU_ASSERT_PTR_NULL(strstr(out.data, line));
    }

    PC.maxconns_fast = 0;
    PC.lru_maintainer = 0;
    PC.idle_timeout = 1;
    SHARED.crawler_enabled = 1;
    run_text("stats\r\n", &out);
    for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++) {
        snprintf(line, sizeof line, "\nSTAT %s ", dflt[i]);
        CU_ASSERT_PTR_NULL(strstr(out.data, line));
    }
    /* in memcached's places */
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT auth_errors 0\r\n"
                                            "STAT idle_kicks 0\r\n"
                                            "STAT bytes_read "));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT lru_crawler_running 0\r\n"
                                            "STAT lru_crawler_starts 0\r\n"
                                            "STAT malloc_fails 0\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "STAT evicted_unfetched 0\r\n"
                                            "STAT evictions 0\r\n"));
    static const char tail[] = "STAT lrutail_reflocked 0\r\nEND\r\n";
    CU_ASSERT(out.len > sizeof tail &&
              strcmp(out.data + out.len - (sizeof tail - 1), tail) == 0);
    PC.maxconns_fast = 1;
    PC.lru_maintainer = 1;
    PC.idle_timeout = 0;
    SHARED.crawler_enabled = 0;
    buf_free(&out);
}

/* A fake socket for proto_conn_set_sender(): takes up to `room` bytes,
 * first from out (as the connection's pending output), then from iov, and
 * records what it took. */
struct fake_sock {
    size_t room;
    int calls;
    struct buf wire;
};

static size_t fake_send(void *arg, struct buf *out, const struct iovec *iov,
                        int n)
{
    struct fake_sock *fs = arg;
    fs->calls++;
    size_t take = out->len < fs->room ? out->len : fs->room;
    buf_append(&fs->wire, out->data, take);
    buf_consume(out, take);
    fs->room -= take;
    if (out->len > 0)
        return 0;
    size_t sent = 0;
    for (int i = 0; i < n && fs->room > 0; i++) {
        size_t t = iov[i].iov_len < fs->room ? iov[i].iov_len : fs->room;
        buf_append(&fs->wire, iov[i].iov_base, t);
        fs->room -= t;
        sent += t;
    }
    return sent;
}

/* A large value goes out through the sender straight from the engine,
 * without being copied into out; whatever the socket refuses is copied.
 * For every amount the socket accepts, wire + out is the exact reply. */
static void test_direct_send(void)
{
    enum { BIG = 100000 };
    static char val[BIG + 1], expect[BIG + 256];
    reset_cache();
    for (int i = 0; i < BIG; i++)
        val[i] = (char)('a' + i % 26);
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_SET, "big", 3, 7, 0, val, BIG, 0,
                                 NULL), ENGINE_STORED);
    CU_ASSERT_EQUAL(engine_store(F.w, ENGINE_SET, "s", 1, 0, 0, "x", 1, 0,
                                 NULL), ENGINE_STORED);
    for (int variant = 0; variant < 2; variant++) {
    /* big in the middle of a get, then as its last key (its END then goes
     * out in the same send) */
    const char *req = variant == 0 ? "get s\r\nget big s\r\n"
                                   : "get s\r\nget big\r\n";
    int n = snprintf(expect, sizeof(expect),
                     "VALUE s 0 1\r\nx\r\nEND\r\nVALUE big 7 %d\r\n", BIG);
    memcpy(expect + n, val, BIG);
    n += BIG;
    n += snprintf(expect + n, sizeof(expect) - (size_t)n, "%s",
                  variant == 0 ? "\r\nVALUE s 0 1\r\nx\r\nEND\r\n"
                               : "\r\nEND\r\n");
    size_t rooms[] = { (size_t)1 << 30, 0, 10, 40, 5000, (size_t)n - 30,
                       (size_t)n - 3 };
    for (unsigned k = 0; k < sizeof(rooms) / sizeof(rooms[0]); k++) {
        struct fake_sock fs = { rooms[k], 0, { NULL, 0, 0 } };
        struct proto_conn *pc = proto_conn_new(&ENV);
        struct buf out;
        int flags;
        buf_init(&out);
        proto_conn_set_sender(pc, fake_send, &fs);
        size_t used = proto_feed(pc, req, strlen(req), &out, &flags);
        CU_ASSERT_EQUAL(used, strlen(req));
        CU_ASSERT_EQUAL(fs.calls, 1);
        CU_ASSERT_EQUAL(fs.wire.len + out.len, (size_t)n);
        CU_ASSERT(fs.wire.len <= (size_t)n &&
                  (fs.wire.len == 0 ||
                   memcmp(fs.wire.data, expect, fs.wire.len) == 0));
        CU_ASSERT(out.len == 0 ||
                  memcmp(out.data, expect + fs.wire.len, out.len) == 0);
        if (rooms[k] > (size_t)n) {
            /* all taken: the value was not copied; as the last key, its
             * END left with it and nothing is left to write */
            CU_ASSERT(out.cap < BIG);
            if (variant == 1)
                CU_ASSERT_EQUAL(out.len, 0);
        }
        buf_free(&out);
        buf_free(&fs.wire);
        proto_conn_free(pc);
    }
    }
    /* a small value, or no sender: copied as before */
    struct fake_sock fs = { (size_t)1 << 30, 0, { NULL, 0, 0 } };
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf out;
    int flags;
    buf_init(&out);
    proto_conn_set_sender(pc, fake_send, &fs);
    proto_feed(pc, "get s\r\n", 7, &out, &flags);
    CU_ASSERT_EQUAL(fs.calls, 0);
    CU_ASSERT_EQUAL(out.len, strlen("VALUE s 0 1\r\nx\r\nEND\r\n"));
    /* a bad key later in the line: nothing is sent early, the reply is
     * the error alone, as memcached answers */
    char line[400];
    memset(line, 'k', sizeof(line));
    memcpy(line, "get big ", 8);
    memcpy(line + sizeof(line) - 2, "\r\n", 2);
    out.len = 0;
    proto_feed(pc, line, sizeof(line), &out, &flags);
    CU_ASSERT_EQUAL(fs.calls, 0);
    CU_ASSERT(out.len > 0 && strncmp(out.data, "CLIENT_ERROR", 12) == 0);
    buf_free(&out);
    buf_free(&fs.wire);
    proto_conn_free(pc);
}

static void big_items(struct engine_config *cfg)
{
    cfg->item_size_max = 8u << 20;
}

/* A value in more pieces than one send takes (a chained multi-MB item) is
 * copied into out instead, whole and exact. */
static void test_direct_send_many_pieces(void)
{
    struct fixture f;
    CU_ASSERT_FATAL(fixture_open(&f, 32, big_items) == 0);
    struct proto_env env = ENV;
    env.engine = f.e;
    env.worker = f.w;
    size_t big = 6u << 20;
    char *val = malloc(big);
    for (size_t i = 0; i < big; i++)
        val[i] = (char)('A' + i % 23);
    CU_ASSERT_EQUAL(engine_store(f.w, ENGINE_SET, "huge", 4, 0, 0, val, big,
                                 0, NULL), ENGINE_STORED);
    struct fake_sock fs = { (size_t)1 << 30, 0, { NULL, 0, 0 } };
    struct proto_conn *pc = proto_conn_new(&env);
    struct buf out;
    int flags;
    buf_init(&out);
    proto_conn_set_sender(pc, fake_send, &fs);
    proto_feed(pc, "get huge\r\n", 10, &out, &flags);
    CU_ASSERT_EQUAL(fs.calls, 0);
    const char *hdr = "VALUE huge 0 6291456\r\n";
    CU_ASSERT_EQUAL(out.len, strlen(hdr) + big + strlen("\r\nEND\r\n"));
    CU_ASSERT(out.len > big && memcmp(out.data, hdr, strlen(hdr)) == 0 &&
              memcmp(out.data + strlen(hdr), val, big) == 0);
    buf_free(&out);
    proto_conn_free(pc);
    free(val);
    fixture_close(&f);
}

/* Reading a value straight into the engine's allocation: the window
 * exists only while value bytes are owed, spans the item's pieces in
 * order, and the terminator still goes through proto_feed. */
static void test_value_window(void)
{
    enum { N = 700000 };    /* chained: more than one piece */
    static char val[N];
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf out;
    int flags;
    void *p;
    buf_init(&out);
    reset_cache();
    for (int i = 0; i < N; i++)
        val[i] = (char)('0' + i % 10);
    CU_ASSERT_EQUAL(proto_conn_value_window(pc, &p), 0);   /* no value owed */
    char cmd[64];
    int n = snprintf(cmd, sizeof(cmd), "set w 5 0 %d\r\n", N);
    CU_ASSERT_EQUAL(proto_feed(pc, cmd, (size_t)n, &out, &flags), (size_t)n);
    size_t done = 0, pieces = 0;
    for (size_t w; (w = proto_conn_value_window(pc, &p)) > 0; pieces++) {
        size_t take = w > 100000 ? 100000 : w;      /* partial reads too */
        memcpy(p, val + done, take);
        proto_conn_value_advance(pc, take);
        done += take;
    }
    CU_ASSERT_EQUAL(done, N);
    CU_ASSERT(pieces >= 7);
    CU_ASSERT_EQUAL(out.len, 0);                     /* not stored yet */
    CU_ASSERT_EQUAL(proto_feed(pc, "\r\n", 2, &out, &flags), 2);
    CU_ASSERT_EQUAL(out.len, 8);
    CU_ASSERT(out.len == 8 && memcmp(out.data, "STORED\r\n", 8) == 0);
    static char got[N + 1];
    uint32_t fl;
    CU_ASSERT_EQUAL(fx_get(&F, "w", got, sizeof(got), &fl, NULL), ENGINE_OK);
    CU_ASSERT(memcmp(got, val, N) == 0);
    CU_ASSERT_EQUAL(fl, 5);
    buf_free(&out);
    proto_conn_free(pc);
}

UNIT_SUITE(proto_text, setup, teardown,
           UNIT_TEST(test_direct_send),
           UNIT_TEST(test_direct_send_many_pieces),
           UNIT_TEST(test_value_window),
           UNIT_TEST(test_set_get),
           UNIT_TEST(test_store_ops),
           UNIT_TEST(test_gets_cas),
           UNIT_TEST(test_streamed_value),
           UNIT_TEST(test_too_large),
           UNIT_TEST(test_bad_data_chunk),
           UNIT_TEST(test_command_errors),
           UNIT_TEST(test_key_too_long),
           UNIT_TEST(test_get_variants),
           UNIT_TEST(test_delete),
           UNIT_TEST(test_incr_decr),
           UNIT_TEST(test_touch),
           UNIT_TEST(test_noreply),
           UNIT_TEST(test_flush_all),
           UNIT_TEST(test_misc_commands),
           UNIT_TEST(test_shutdown),
           UNIT_TEST(test_long_lines),
           UNIT_TEST(test_yield),
           UNIT_TEST(test_free_mid_value),
           UNIT_TEST(test_stats),
           UNIT_TEST(test_stats_conditional))
