/*
 * test_decode.c - the console's value decoders (decode.h): JSON, PHP
 * serialize() and Python pickle, on values as php and python3 write them
 * (copied here byte for byte), their edge cases, and robustness: every
 * prefix of every sample and a few hundred thousand mutated inputs must
 * decode to valid JSON or fail cleanly (run under make asan, any read out
 * of bounds shows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/decode.h"
#include "console/json.h"
#include "core/buf.h"
#include "unit.h"

/* Decodes with fn; returns the JSON (static buffer) or NULL on failure. */
static const char *dec(int (*fn)(const char *, size_t, struct buf *),
                       const char *v, size_t n)
{
    static char text[8192];
    struct buf b;
    buf_init(&b);
    buf_append(&b, "X", 1);           /* something before: left alone */
    int rc = fn(v, n, &b);
    const char *res = NULL;
    if (rc == 0 && b.len - 1 < sizeof(text)) {
        memcpy(text, b.data + 1, b.len - 1);
        text[b.len - 1] = '\0';
        res = text;
    }
    CU_ASSERT(b.data[0] == 'X');
    if (rc < 0)
        CU_ASSERT_EQUAL(b.len, 1);     /* unchanged on failure */
    buf_free(&b);
    return res;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_json(void)
{
    CU_ASSERT_STRING_EQUAL(dec(decode_json, S("{\"a\": [1, 2.5e3, true, null]}")),
                           "{\"a\": [1, 2.5e3, true, null]}");
    CU_ASSERT_PTR_NOT_NULL(dec(decode_json, S(" [\"\\u00e9\\n\", -0, {}] ")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("{\"a\":}")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("[1,]")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("[01]")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("{\"a\":1} x")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("\"\x01\"")));
    CU_ASSERT_PTR_NULL(dec(decode_json, S("\"\xff\"")));   /* not UTF-8 */
    CU_ASSERT_PTR_NULL(dec(decode_json, S("\"\\x\"")));
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    CU_ASSERT_PTR_NULL(dec(decode_json, deep, sizeof(deep)));  /* depth */
}

/* echo serialize(["name" => "Zoë", "tags" => ["a","b"], "n" => 42,
 *   "pi" => 3.5, "ok" => true, "none" => null, "obj" => (object)["x"=>1]]); */
static const char php_sample[] =
    "a:7:{s:4:\"name\";s:4:\"Zo\xc3\xab\";s:4:\"tags\";a:2:{i:0;s:1:\"a\";"
    "i:1;s:1:\"b\";}s:1:\"n\";i:42;s:2:\"pi\";d:3.5;s:2:\"ok\";b:1;"
    "s:4:\"none\";N;s:3:\"obj\";O:8:\"stdClass\":1:{s:1:\"x\";i:1;}}";

static void test_php(void)
{
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S(php_sample)),
        "{\"name\":\"Zo\xc3\xab\",\"tags\":{\"0\":\"a\",\"1\":\"b\"},"
        "\"n\":42,\"pi\":3.5,\"ok\":true,\"none\":null,"
        "\"obj\":{\"__class\":\"stdClass\",\"x\":1}}");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("i:-7;")), "-7");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("d:INF;")), "\"INF\"");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("b:0;")), "false");
    /* a string's length counts bytes, quotes inside are data */
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("s:3:\"a\"b\";")), "\"a\\\"b\"");
    /* private and protected properties lose their prefix */
    CU_ASSERT_STRING_EQUAL(dec(decode_php,
        S("O:1:\"A\":2:{s:4:\"\0A\0p\";i:1;s:4:\"\0*\0q\";i:2;}")),
        "{\"__class\":\"A\",\"p\":1,\"q\":2}");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("a:1:{i:0;r:1;}")),
                           "{\"0\":{\"__ref\":1}}");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("C:3:\"Foo\":3:{abc}")),
                           "{\"__class\":\"Foo\",\"__serialized\":\"abc\"}");
    CU_ASSERT_STRING_EQUAL(dec(decode_php, S("E:7:\"Suit:Up\";")),
                           "{\"__enum\":\"Suit:Up\"}");
    CU_ASSERT_PTR_NULL(dec(decode_php, S("s:5:\"abc\";")));     /* short */
    CU_ASSERT_PTR_NULL(dec(decode_php, S("s:-1:\"\";")));
    CU_ASSERT_PTR_NULL(dec(decode_php, S("a:2:{i:0;i:1;}")));   /* count */
    CU_ASSERT_PTR_NULL(dec(decode_php, S("i:99999999999999999999;")));
    CU_ASSERT_PTR_NULL(dec(decode_php, S("i:1;x")));
    CU_ASSERT_PTR_NULL(dec(decode_php, S("a:1:{a:0:{}i:1;}")));  /* key */
}

/* pickle.dumps({"a": [1, 2], "b": ("x", None), "c": 1.5, "d": True,
 *               "e": b"\x00\xff", "f": 2**70}, protocol=N) */
static const char pk4[] =
    "\x80\x04\x95""F\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01""a\x94]\x94(K\x01K\x02""e\x8c\x01""b\x94\x8c\x01x\x94N\x86\x94\x8c\x01""c\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01""d\x94\x88\x8c\x01""e\x94""C\x02\x00\xff\x94\x8c\x01""f\x94\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@u.";
/* protocol 0 (python-memcached's default) of {"a": [1, 2], "s": "\u00e9"} */
static const char pk0[] =
    "(dp0\nVa\np1\n(lp2\nI1\naI2\nasVs\np3\nV\xe9\np4\ns.";
/* l = [1]; l.append(l); pickle.dumps(l, 2): a cycle */
static const char pkcycle[] =
    "\x80\x02]q\x00(K\x01h\x00""e.";
/* collections.OrderedDict(a=1), protocol 2: a reduce, described */
static const char pkod[] =
    "\x80\x02""ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00""aq\x02K\x01s.";
/* b"\x00\xff" with protocol 2 (Python 3): _codecs.encode(str, latin1) */
static const char pkbytes2[] =
    "\x80\x02""c_codecs\nencode\nq\x00X\x03\x00\x00\x00\x00\xc3\xbfq\x01X\x06\x00\x00\x00latin1q\x02\x86q\x03Rq\x04.";

static void test_pickle(void)
{
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S(pk4)),
        "{\"a\":[1,2],\"b\":[\"x\",null],\"c\":1.5,\"d\":true,"
        "\"e\":{\"__bytes\":\"00ff\"},"
        "\"f\":{\"__int_le\":\"000000000000000040\"}}");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S(pk0)),
                           "{\"a\":[1,2],\"s\":\"\xc3\xa9\"}");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S(pkcycle)),
                           "[1,{\"__cycle\":true}]");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S(pkod)),
        "{\"__call\":{\"__global\":\"collections.OrderedDict\"},"
        "\"args\":[],\"items\":{\"a\":1}}");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S(pkbytes2)),
                           "{\"__bytes\":\"00ff\"}");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S("I00\n.")), "false");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S("\x80\x02J\xff\xff\xff\xff.")),
                           "-1");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S("\x80\x02\x8a\x01\xff.")),
                           "-1");
    CU_ASSERT_STRING_EQUAL(dec(decode_pickle, S("S'a\\'b'\n.")),
                           "\"a'b\"");
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x02K\x01K\x02.")));   /* 2 left */
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x02h\x05.")));  /* no memo */
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x02X\xff\xff\xff\x7f.")));
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x02P1\n.")));  /* persid */
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x02""a.")));    /* empty */
    CU_ASSERT_PTR_NULL(dec(decode_pickle, S("\x80\x09N.")));  /* protocol 9 */
}

static void test_detect(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(decode_value(S(php_sample), &b), DECODE_PHP);
    CU_ASSERT_EQUAL(decode_value(S(pk0), &b), DECODE_PICKLE);
    CU_ASSERT_EQUAL(decode_value(S(" {\"a\":1}"), &b), DECODE_JSON);
    CU_ASSERT_EQUAL(decode_value(S("12345"), &b), DECODE_NONE);
    CU_ASSERT_EQUAL(decode_value(S("hello."), &b), DECODE_NONE);
    CU_ASSERT_EQUAL(decode_value(S(""), &b), DECODE_NONE);
    buf_free(&b);
}

/* Output of any decoder that succeeds is valid JSON (checked with the
 * JSON decoder itself, which is strict). */
static void check_fuzz(const char *v, size_t n)
{
    struct buf b, again;
    buf_init(&b);
    buf_init(&again);
    enum decode_fmt f = decode_value(v, n, &b);
    if (f != DECODE_NONE)
        CU_ASSERT_EQUAL(decode_json(b.data, b.len, &again), 0);
    buf_free(&b);
    buf_free(&again);
}

static void test_fuzz(void)
{
    static const struct { const char *p; size_t n; } samples[] = {
        { S(php_sample) }, { S(pk4) }, { S(pk0) }, { S(pkcycle) },
        { S(pkod) }, { S(pkbytes2) }, { S("{\"a\":[1,{\"b\":\"c\"}]}") },
    };
    unsigned seed = 12345;
    char buf[512];
    for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
        size_t n = samples[s].n;
        for (size_t k = 0; k <= n; k++) {           /* every prefix */
            char *copy = malloc(k ? k : 1);         /* exact size: asan */
            memcpy(copy, samples[s].p, k);
            check_fuzz(copy, k);
            free(copy);
        }
        for (int round = 0; round < 20000; round++) {   /* mutations */
            memcpy(buf, samples[s].p, n);
            int flips = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
            for (int f = 0; f < flips; f++) {
                seed = seed * 1103515245 + 12345;
                buf[(seed >> 8) % n] = (char)(seed >> 20);
            }
            char *copy = malloc(n);
            memcpy(copy, buf, n);
            check_fuzz(copy, n);
            free(copy);
        }
    }
}

UNIT_SUITE(decode, NULL, NULL,
           UNIT_TEST(test_json),
           UNIT_TEST(test_php),
           UNIT_TEST(test_pickle),
           UNIT_TEST(test_detect),
           UNIT_TEST(test_fuzz))
