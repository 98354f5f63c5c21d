/*
 * test_proto_meta.c - the meta commands (mg ms md ma mn me) through
 * proto_feed() against a real engine (fake clock). Each transcript runs on
 * a new engine (CAS uniques start at 1, as on a fresh memcached), fed
 * whole, split in two at every byte and one byte at a time, the way a
 * server feeds proto_feed. Expected bytes are memcached 1.6.18's replies
 * (captured over a socket; see test/integration/test_meta.py), except the
 * E and md x extensions. engine_check() runs after every transcript.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "proto/proto.h"
#include "unit.h"

static struct fixture F;
static struct proto_config PC;
static struct proto_env ENV;

static int open_engine(void)
{
    if (fixture_open(&F, 8, NULL) < 0)
        return -1;
    memset(&ENV, 0, sizeof ENV);
    ENV.engine = F.e;
    ENV.worker = F.w;
    ENV.cfg = &PC;
    PC.line_max_get = 65536;
    return 0;
}

static int setup(void)
{
    proto_config_defaults(&PC);
    return open_engine();
}

static int teardown(void)
{
    fixture_close(&F);
    return 0;
}

static void feed_all(struct proto_conn *pc, struct buf *inb, struct buf *out)
{
    for (int guard = 0; guard < 100000; guard++) {
        int flags;
        size_t used = proto_feed(pc, inb->data, inb->len, out, &flags);
        buf_consume(inb, used);
        if (!(flags & PROTO_YIELD) || (flags & PROTO_CLOSE))
            break;
    }
}

/* One run on a new engine; the input arrives in pieces of `step` bytes
 * after a first piece of `first` bytes. 1 when the output matched. */
static int run_one(const char *in, size_t len, size_t first, size_t step,
                   const char *want, size_t wlen, int line)
{
    fixture_close(&F);
    CU_ASSERT_FATAL(open_engine() == 0);
    struct proto_conn *pc = proto_conn_new(&ENV);
    struct buf inb, out;
    buf_init(&inb);
    buf_init(&out);
    size_t at = 0;
    while (at < len) {
        size_t n = at == 0 ? first : step;
        if (n > len - at)
            n = len - at;
        buf_append(&inb, in + at, n);
        at += n;
        feed_all(pc, &inb, &out);
    }
    proto_conn_free(pc);
    int ok = out.len == wlen && memcmp(out.data, want, wlen) == 0;
    if (!ok)
        fprintf(stderr, "\nline %d (first %zu, step %zu): got \"%.*s\"\n",
                line, first, step, (int)out.len, out.data);
    char msg[256];
    int chk = engine_check(F.e, msg, sizeof msg);
    if (chk != 0)
        fprintf(stderr, "\nline %d: engine_check: %s\n", line, msg);
    buf_free(&inb);
    buf_free(&out);
    return ok && chk == 0;
}

static void expect_io(const char *in, size_t len, const char *want,
                      size_t wlen, int line)
{
    int ok = run_one(in, len, len, len, want, wlen, line);
    for (size_t i = 1; i < len && ok && len <= 600; i++)
        ok = run_one(in, len, i, len, want, wlen, line);
    if (ok)
        ok = run_one(in, len, 1, 1, want, wlen, line);
    CU_ASSERT(ok);
}

#define EXPECT(in, want) \
    expect_io(in, sizeof(in) - 1, want, sizeof(want) - 1, __LINE__)

static void test_mn_arity(void)
{
    EXPECT("mn\r\nmn foo\r\nmg\r\nms\r\nmd\r\nma\r\nme\r\nmg foo\r\n"
           "ms foo\r\nms foo x\r\nms foo -1\r\nms foo 2147483646\r\n",
           "MN\r\nMN\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n"
           "CLIENT_ERROR bad command line format\r\nEN\r\n"
           "CLIENT_ERROR bad command line format\r\n"
           "CLIENT_ERROR bad command line format\r\n"
           "CLIENT_ERROR bad command line format\r\n"
           "CLIENT_ERROR bad command line format\r\n");
}

static void test_mg_flags(void)
{
    EXPECT("ms foo 2 T0 F5 c k O123 q\r\nhi\r\n"
           "mg foo s v f c k t O9 h l\r\nmg foo h\r\nmg foo q\r\n"
           "mg miss q v\r\nmg miss k O1 v\r\nmg miss O1 k\r\nmn\r\n",
           "VA 2 s2 f5 c1 kfoo t-1 O9 h0 l0\r\nhi\r\nHD h1\r\nHD\r\n"
           "EN kmiss O1\r\nEN O1 kmiss\r\nMN\r\n");
    EXPECT("ms h 1 T100\r\nx\r\nmg h h t u\r\nmg h h\r\nmg h h\r\n"
           "mg h t T30\r\nmg h T50 t\r\nmg h T0 t\r\nmg h T-1\r\nmg h v\r\n",
           "HD\r\nHD h0 t100\r\nHD h0\r\nHD h1\r\nHD t100\r\nHD t50\r\n"
           "HD t-1\r\nHD\r\nEN\r\n");
}

static void test_mg_vivify_stale(void)
{
    EXPECT("mg viv N30 v c t k s f h\r\nmg viv N30 v c t\r\n"
           "ms viv 3 T100\r\nnew\r\nmg viv R30 v\r\nmg viv R200 v\r\n"
           "mg viv R200 v\r\nmd viv I T30\r\nmg viv v t c\r\nmg viv t c\r\n"
           "ms viv 3 T0\r\nabc\r\nmg viv v\r\nmg t3 T9 N0 t\r\n"
           "mg t2 N0 T9 t\r\n",
           "VA 0 c1 t30 kviv s0 f0 h0 W\r\n\r\nVA 0 c1 t30 Z\r\n\r\n"
           "HD\r\nVA 3\r\nnew\r\nVA 3 W\r\nnew\r\nVA 3 Z\r\nnew\r\nHD\r\n"
           "VA 3 t30 c3 X W\r\nnew\r\nHD t30 c3 Z X\r\nHD\r\nVA 3\r\nabc\r\n"
           "HD t-1 W\r\nHD t9 W\r\n");
}

static void test_mg_errors(void)
{
    EXPECT("mg foo v v\r\nmg foo O123456789012345678901234567890123\r\n"
           "mg foo Nx\r\nmg foo T\r\nmg foo Jx\r\nmg foo Dx\r\nmg foo Fx\r\n"
           "mg foo MXY\r\nmg foo a\r\nmg foo b\r\nmg Zm9v b k\r\n"
           "mg a A B C D E F G H I J K L M N O P Q R\r\n",
           "CLIENT_ERROR duplicate flag\r\n"
           "CLIENT_ERROR opaque token too long\r\n"
           "CLIENT_ERROR bad token in command line format\r\n"
           "CLIENT_ERROR bad token in command line format\r\n"
           "CLIENT_ERROR invalid numeric initial value\r\n"
           "CLIENT_ERROR invalid numeric delta value\r\n"
           "CLIENT_ERROR bad command line format\r\n"
           "CLIENT_ERROR incorrect length for M token\r\n"
           "CLIENT_ERROR invalid flag\r\n"
           "CLIENT_ERROR error decoding key\r\n"
           "EN kZm9v b\r\n"
           "CLIENT_ERROR options flags are too long\r\n");
}

static void test_ms(void)
{
    EXPECT("ms foo 2 MX\r\nhi\r\nms foo 2 q c c\r\nhi\r\nms foo 2\r\nhiX\r\n"
           "ms foo 2 O1 k c F7\r\nhi\r\nmg foo f v\r\n"
           "ms Zm9vYmFy 2 b k\r\nhi\r\nmg foobar k v\r\nme foobar\r\n",
           "CLIENT_ERROR invalid mode for ms M token\r\n"
           "CLIENT_ERROR duplicate flag\r\n"
           "CLIENT_ERROR bad data chunk\r\nERROR\r\n"
           "HD O1 kfoo c1\r\nVA 2 f7\r\nhi\r\nHD kZm9vYmFy b\r\n"
           "VA 2 kZm9vYmFy b\r\nhi\r\n"
           "ME Zm9vYmFy exp=-1 la=0 cas=2 fetch=yes cls=1 size=67\r\n");
    EXPECT("ms a 1 MA\r\nx\r\nms a 1 ME c\r\nx\r\nms a 1 ME c\r\ny\r\n"
           "ms a 1 MA c\r\nz\r\nms a 1 MP c F9 T9\r\nw\r\nmg a v f t c\r\n"
           "ms a 1 MA C1\r\nq\r\nms a 1 MR C3 c\r\nr\r\nms zz 1 C1 c\r\nq\r\n"
           "ms zz 1 q\r\nq\r\nmn\r\n",
           "NS\r\nHD c1\r\nNS c0\r\nHD c2\r\nHD c3\r\nVA 3 f0 t-1 c3\r\nwxz\r\n"
           "EX\r\nHD c4\r\nNF c0\r\nMN\r\n");
    /* invalidate: an older CAS stores, stale, keeping the TTL */
    EXPECT("ms s 1 T100\r\n1\r\nms s 1 C1 c\r\n2\r\nms s 1 C1 I T5 c\r\n3\r\n"
           "mg s v c t\r\nms s 1 C9 I\r\n4\r\n",
           "HD\r\nHD c2\r\nHD c3\r\nVA 1 c3 t-1 X W\r\n3\r\nEX\r\n");
}

static void test_md(void)
{
    EXPECT("md d C1\r\nms d 1 c\r\nx\r\nmd d C2 k O5\r\nmd d C1 q\r\n"
           "md d\r\nms d 1\r\nx\r\nmd d I T30 O1 k\r\nmg d c t\r\n"
           "md d I q\r\nmg d c\r\nmd d Cx\r\nmd d r\r\n",
           "NF\r\nHD c1\r\nEX kd O5\r\nNF\r\nHD\r\nHD O1 kd\r\n"
           "HD c3 t30 X W\r\nHD c4 X W\r\n"
           "CLIENT_ERROR invalid or duplicate flag\r\n"
           "CLIENT_ERROR invalid or duplicate flag\r\n");
}

static void test_ma(void)
{
    EXPECT("ma n\r\nma n N0 J10 v c t\r\nma n v\r\nma n MD D100 v\r\n"
           "ma n M+ D18446744073709551615 v\r\nma n T30 t v\r\n"
           "ma n t T60\r\nma n q\r\nma n C1\r\nma n C0 v O7 k\r\n"
           "mg n c v\r\nma nv N0 q\r\nma t Mx\r\nma t Dx\r\n",
           "NF\r\nVA 2 c1 t-1\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n0\r\n"
           "VA 20\r\n18446744073709551615\r\nVA 1 t30\r\n0\r\nHD t30\r\n"
           "EX\r\nVA 1 O7 kn\r\n3\r\nVA 20 c8\r\n3                   \r\n"
           "HD\r\nCLIENT_ERROR invalid mode for ma M token\r\n"
           "CLIENT_ERROR invalid or duplicate flag\r\n");
    EXPECT("ms t 5\r\nhello\r\nma t\r\n",
           "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric "
           "value\r\n");
}

static void test_me_and_text_mix(void)
{
    EXPECT("set k 42 0 5\r\nhello\r\ngets k\r\nmg k c f v\r\n"
           "ms k 3 F7 c\r\nbye\r\ngets k\r\nme k\r\nme miss\r\nme k b\r\n",
           "STORED\r\nVALUE k 42 5 1\r\nhello\r\nEND\r\n"
           "VA 5 c1 f42\r\nhello\r\nHD c2\r\nVALUE k 7 3 2\r\nbye\r\nEND\r\n"
           "ME k exp=-1 la=0 cas=2 fetch=yes cls=1 size=67\r\nEN\r\n"
           "CLIENT_ERROR bad command line format\r\n");
}

static void test_extensions(void)
{
    EXPECT("ms e 1 E777 c\r\nx\r\nma e2 N0 E900 c\r\nmd e I E5000\r\n"
           "mg e c\r\nmd e x\r\nmg e s v f\r\nmg v N0 E42 c\r\n",
           "HD c777\r\nHD c900\r\nHD\r\nHD c5000 X W\r\nHD\r\n"
           "VA 0 s0 f0\r\n\r\nHD c42 W\r\n");
}

UNIT_SUITE(proto_meta, setup, teardown,
           UNIT_TEST(test_mn_arity), UNIT_TEST(test_mg_flags),
           UNIT_TEST(test_mg_vivify_stale), UNIT_TEST(test_mg_errors),
           UNIT_TEST(test_ms), UNIT_TEST(test_md), UNIT_TEST(test_ma),
           UNIT_TEST(test_me_and_text_mix), UNIT_TEST(test_extensions))
