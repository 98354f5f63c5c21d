/*
 * test_handoff.c - the pieces of a connection hand-off:
 *  - drain: random request streams (values holding command-like lines,
 *    refused values, bad chunks, noreply, cas) fed in random pieces, with
 *    the connection drained (proto_conn_drain) at random moments and moved
 *    to a fresh proto_conn as soon as it stands at a boundary (as a reload
 *    does), must produce the very same replies as one proto_conn fed the
 *    whole stream;
 *  - handoff: message encoding/decoding (inline and memfd), SCM_RIGHTS over
 *    a socketpair, a forwarded message, the relay queue;
 *  - reload: the settings diff (what is applied, what needs a restart).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "fixture.h"
#include "server/handoff.h"
#include "proto/proto.h"
#include "server/reload.h"
#include "server/settings.h"
#include "unit.h"

/* ---- drain ------------------------------------------------------------ */

static unsigned rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}

/* A random stream of requests into b. */
static void gen_stream(struct buf *b, unsigned *seed, int nreq)
{
    static const char *tricky[] = {
        "get k1\r\n", "set k2 0 0 3\r\n", "delete k1\r\n", "\r\n",
        "version\r\n", "cas k1 0 0 1 1\r\n",
    };
    for (int i = 0; i < nreq; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%u", rnd(seed) % 4);
        unsigned kind = rnd(seed) % 10;
        unsigned vlen = rnd(seed) % 3 == 0 ? rnd(seed) % 3000 : rnd(seed) % 40;
        const char *nr = rnd(seed) % 5 == 0 ? " noreply" : "";
        switch (kind) {
        case 0: case 1: case 2: {
            const char *op[] = { "set", "add", "append", "prepend",
                                 "replace" };
            buf_printf(b, "%s %s %u 0 %u%s\r\n", op[rnd(seed) % 5], key,
                       rnd(seed) % 9, vlen, nr);
            for (unsigned j = 0; j < vlen;) {
                const char *t = tricky[rnd(seed) % 6];
                size_t n = strlen(t);
                if (n > vlen - j)
                    n = vlen - j;
                buf_append(b, t, n);
                j += (unsigned)n;
            }
            /* sometimes a bad data chunk */
            buf_appendz(b, rnd(seed) % 15 == 0 ? "xy" : "\r\n");
            break;
        }
        case 3:
            buf_printf(b, "cas %s 0 0 2 %u%s\r\nzz\r\n", key,
                       rnd(seed) % 6, nr);
            break;
        case 4:         /* refused (too large): swallowed */
            buf_printf(b, "set %s 0 0 5000\r\n", key);
            for (int j = 0; j < 625; j++)
                buf_appendz(b, "get k1\r\n");    /* 5000 bytes */
            buf_appendz(b, "\r\n");
            break;
        case 5:
            buf_printf(b, "get %s k1 k2 k3\r\n", key);
            break;
        case 6:
            buf_printf(b, "incr %s 1\r\ndelete %s%s\r\n", key, key, nr);
            break;
        case 7:
            buf_printf(b, "set %s 0 0 bad\r\n", key);
            break;
        case 8:
            buf_printf(b, "bogus command here\r\ngets %s\r\n", key);
            break;
        default:
            buf_printf(b, "touch %s 0\r\nversion\r\n", key);
            break;
        }
    }
}

static void small_items(struct engine_config *cfg)
{
    cfg->item_size_max = 4096;
    cfg->slab_chunk_max = 4096;
}

/* Feeds `in` to one proto_conn in pieces; out gets the replies. With
 * handoff set, the connection is drained at random moments and moves to a
 * new proto_conn once it stands at a boundary. Returns the number of moves. */
static int run_stream(const struct proto_env *env, const struct buf *in,
                      unsigned seed, int handoff, struct buf *out)
{
    struct proto_conn *pc = proto_conn_new(env);
    struct buf pend;
    int moves = 0, draining = 0;
    buf_init(&pend);
    size_t pos = 0;
    while (pos < in->len || pend.len > 0) {
        size_t n = 1 + rnd(&seed) % 700;
        if (n > in->len - pos)
            n = in->len - pos;
        buf_append(&pend, in->data + pos, n);
        pos += n;
        for (int guard = 0; guard < 100000; guard++) {
            int flags = 0;
            if (handoff && !draining && rnd(&seed) % 3 == 0) {
                proto_conn_drain(pc, 1);
                draining = 1;
            }
            int idle = proto_conn_idle(pc);
            size_t used = proto_feed(pc, pend.data, pend.len, out, &flags);
            if (draining && idle)
                CU_ASSERT_EQUAL(used, 0);   /* drained: starts nothing */
            buf_consume(&pend, used);
            CU_ASSERT_FATAL(!(flags & PROTO_CLOSE));
            if (draining && proto_conn_idle(pc)) {
                proto_conn_free(pc);
                pc = proto_conn_new(env);
                draining = 0;
                moves++;
                continue;
            }
            if (!(flags & PROTO_YIELD))
                break;
        }
        if (pos == in->len && pend.len > 0 && !draining) {
            /* only a partial line may stay: nothing more will come */
            CU_ASSERT(memchr(pend.data, '\n', pend.len) == NULL);
            break;
        }
    }
    CU_ASSERT(proto_conn_idle(pc));
    proto_conn_free(pc);
    buf_free(&pend);
    return moves;
}

static void test_drain_matches_proto(void)
{
    int moves = 0;
    for (unsigned round = 0; round < 12; round++) {
        struct fixture a, b;
        CU_ASSERT_FATAL(fixture_open(&a, 8, small_items) == 0);
        CU_ASSERT_FATAL(fixture_open(&b, 8, small_items) == 0);
        struct proto_config pc;
        proto_config_defaults(&pc);
        pc.reqs_per_event = 1 + (int)round % 5;
        struct proto_env ea = { .engine = a.e, .worker = a.w, .cfg = &pc };
        struct proto_env eb = ea;
        eb.engine = b.e;
        eb.worker = b.w;
        struct buf in, out1, out2;
        buf_init(&in);
        buf_init(&out1);
        buf_init(&out2);
        unsigned seed = 7 + round * 31;
        gen_stream(&in, &seed, 300);
        run_stream(&ea, &in, round, 0, &out1);
        moves += run_stream(&eb, &in, round, 1, &out2);
        CU_ASSERT_EQUAL(out1.len, out2.len);
        CU_ASSERT(out1.len == out2.len &&
                  memcmp(out1.data, out2.data, out1.len) == 0);
        buf_free(&in);
        buf_free(&out1);
        buf_free(&out2);
        fixture_close(&a);
        fixture_close(&b);
    }
    CU_ASSERT(moves > 100);
}

/* ---- handoff ---------------------------------------------------------- */

static void test_handoff_encode(void)
{
    char buf[HANDOFF_MSG_MAX];
    struct handoff_hdr h = { 0, 5, 3, "tcp:127.0.0.1:1" }, d;
    const char *in, *out;
    size_t n = handoff_encode(buf, sizeof(buf), &h, "get a", "END");
    CU_ASSERT_EQUAL(n, HANDOFF_HDR_LEN + 8);
    CU_ASSERT(handoff_is_msg(buf, n));
    CU_ASSERT_EQUAL(handoff_decode(buf, n, &d, &in, &out), 0);
    CU_ASSERT_EQUAL(d.in_len, 5);
    CU_ASSERT_EQUAL(d.out_len, 3);
    CU_ASSERT_STRING_EQUAL(d.listen_addr, "tcp:127.0.0.1:1");
    CU_ASSERT(memcmp(in, "get a", 5) == 0 && memcmp(out, "END", 3) == 0);
    /* truncated, wrong magic, length mismatch, unknown flag */
    CU_ASSERT_EQUAL(handoff_decode(buf, n - 1, &d, &in, &out), -1);
    CU_ASSERT_EQUAL(handoff_decode(buf, 10, &d, &in, &out), -1);
    buf[0] = 'X';
    CU_ASSERT_EQUAL(handoff_decode(buf, n, &d, &in, &out), -1);
    CU_ASSERT(!handoff_is_msg(buf, n));
    buf[0] = 'S';
    h.flags = 8;
    n = handoff_encode(buf, sizeof(buf), &h, "get a", "END");
    CU_ASSERT_EQUAL(handoff_decode(buf, n, &d, &in, &out), -1);
    /* memfd form: header only */
    h.flags = HANDOFF_F_MEMFD;
    h.in_len = 100000;
    n = handoff_encode(buf, sizeof(buf), &h, NULL, NULL);
    CU_ASSERT_EQUAL(n, HANDOFF_HDR_LEN);
    CU_ASSERT_EQUAL(handoff_decode(buf, n, &d, &in, &out), 0);
    CU_ASSERT(d.flags == HANDOFF_F_MEMFD && d.in_len == 100000);
    /* too big to be inline; too small a buffer */
    h.flags = 0;
    CU_ASSERT_EQUAL(handoff_encode(buf, sizeof(buf), &h, buf, buf), 0);
    h.in_len = 5;
    CU_ASSERT_EQUAL(handoff_encode(buf, 20, &h, "get a", "END"), 0);
}

/* Sends a connection (one end of a socketpair) with in/out bytes through
 * a "master" that forwards it, and opens it at the far end. */
static void pass_one(size_t in_len, size_t out_len)
{
    int w2m[2], m2w[2], cli[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, w2m) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, m2w) == 0);
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, cli) == 0);
    char *in = malloc(in_len + 1), *out = malloc(out_len + 1);
    for (size_t i = 0; i < in_len; i++)
        in[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < out_len; i++)
        out[i] = (char)('A' + i % 26);
    CU_ASSERT_EQUAL(handoff_send(w2m[0], cli[0], "tcp:x", in, in_len, out,
                                 out_len), 0);
    close(cli[0]);                      /* the sender's copy */

    struct handoff_msg *m = NULL;
    CU_ASSERT_EQUAL_FATAL(handoff_recv(w2m[1], &m), 1);
    CU_ASSERT_EQUAL(m->nfds, in_len + out_len > HANDOFF_INLINE_MAX ? 2 : 1);
    struct handoff_queue q = { 0 };
    handoff_queue_push(&q, m);
    CU_ASSERT_EQUAL(q.count, 1);
    m = handoff_queue_pop(&q);
    CU_ASSERT_EQUAL(handoff_forward(m2w[0], m), 0);
    handoff_msg_free(m);                /* the master's copies */
    CU_ASSERT_EQUAL(handoff_recv(w2m[1], &m), 0);   /* nothing more */

    CU_ASSERT_EQUAL_FATAL(handoff_recv(m2w[1], &m), 1);
    struct handoff_hdr h;
    int fd = -1;
    char *payload;
    const char *pin, *pout;
    CU_ASSERT_EQUAL_FATAL(handoff_open(m, &h, &fd, &payload, &pin, &pout),
                          0);
    CU_ASSERT_EQUAL(h.in_len, in_len);
    CU_ASSERT_EQUAL(h.out_len, out_len);
    CU_ASSERT_STRING_EQUAL(h.listen_addr, "tcp:x");
    CU_ASSERT(in_len == 0 || memcmp(pin, in, in_len) == 0);
    CU_ASSERT(out_len == 0 || memcmp(pout, out, out_len) == 0);
    handoff_msg_free(m);
    /* the adopted socket is the client's peer */
    CU_ASSERT_EQUAL(write(fd, "hi", 2), 2);
    char b[4];
    CU_ASSERT_EQUAL(read(cli[1], b, sizeof(b)), 2);
    close(fd);
    CU_ASSERT_EQUAL(read(cli[1], b, sizeof(b)), 0);  /* no copy left */
    free(payload);
    free(in);
    free(out);
    close(cli[1]);
    close(w2m[0]);
    close(w2m[1]);
    close(m2w[0]);
    close(m2w[1]);
}

static void test_handoff_pass(void)
{
    pass_one(0, 0);
    pass_one(9, 30);
    pass_one(HANDOFF_INLINE_MAX, 0);
    pass_one(200000, 300000);           /* through a memfd */
}

static void test_handoff_eof(void)
{
    int sv[2];
    struct handoff_msg *m = NULL;
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    close(sv[0]);
    CU_ASSERT_EQUAL(handoff_recv(sv[1], &m), -1);
    CU_ASSERT_EQUAL(errno, 0);
    close(sv[1]);
}

/* ---- reload ----------------------------------------------------------- */

static void test_reload_plan(void)
{
    struct settings a, b;
    struct reload_plan p;
    char err[256], names[512];
    settings_defaults(&a);
    b = a;
    CU_ASSERT_EQUAL(reload_plan(&a, &b, 1 << 30, &p, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(p.changes, 0);
    CU_ASSERT_EQUAL(p.napplied + p.nfixed, 0);

    b.threads = a.threads + 1;
    b.verbose = 2;
    b.idle_timeout = 30;
    b.item_size_max = 2 << 20;          /* fixed */
    b.factor = 1.5;                     /* fixed */
    b.nlisten = 1;
    strcpy(b.listen[0], "127.0.0.1:9999");
    b.maxbytes = 128 << 20;
    CU_ASSERT_EQUAL(reload_plan(&a, &b, 1 << 30, &p, err, sizeof(err)), 0);
    CU_ASSERT(p.changes & RELOAD_THREADS);
    CU_ASSERT(p.changes & RELOAD_VERBOSE);
    CU_ASSERT(p.changes & RELOAD_WORKER);
    CU_ASSERT(p.changes & RELOAD_LISTEN);
    CU_ASSERT(p.changes & RELOAD_MEMORY);
    CU_ASSERT_EQUAL(p.next.threads, b.threads);
    CU_ASSERT_EQUAL(p.next.idle_timeout, 30);
    CU_ASSERT_EQUAL(p.next.item_size_max, a.item_size_max);   /* kept */
    CU_ASSERT(p.next.factor == a.factor);
    CU_ASSERT_STRING_EQUAL(p.next.listen[0], "127.0.0.1:9999");
    reload_names(p.fixed, p.nfixed, names, sizeof(names));
    CU_ASSERT_STRING_EQUAL(names, "-f, -I");
    reload_names(p.applied, p.napplied, names, sizeof(names));
    CU_ASSERT(strstr(names, "-t") && strstr(names, "idle_timeout") &&
              strstr(names, "-l") && strstr(names, "-m"));

    /* -m beyond the reserve is refused */
    CU_ASSERT_EQUAL(reload_plan(&a, &b, 64 << 20, &p, err, sizeof(err)), -1);
    CU_ASSERT(strstr(err, "reserved") != NULL);

    /* every parsed option is classified: change each through the parser */
    static const char *opts[][2] = {
        { "-p", "1" }, { "-c", "7" }, { "-t", "9" }, { "-R", "3" },
        { "-b", "9" }, { "-m", "65" }, { "-v", NULL }, { "-A", NULL },
        { "-F", NULL }, { "-X", NULL }, { "-C", NULL }, { "-M", NULL },
        { "-k", NULL }, { "-d", NULL }, { "-r", NULL }, { "-L", NULL },
        { "-f", "1.5" }, { "-n", "64" }, { "-I", "2m" }, { "-u", "x" },
        { "-P", "/p" }, { "-s", "/s" }, { "-a", "0600" }, { "-l", "::1" },
        { "-D", "/" }, { "-o", "idle_timeout=5" },
        { "-o", "slab_chunk_max=65536" }, { "-o", "hashpower=20" },
        { "-o", "memory_reserve=512" }, { "-o", "no_maxconns_fast" },
        { "-o", "worker_backoff_ms=5" }, { "-o", "read_buf_mem_limit=5" },
        { "-o", "no_lru_crawler" },
        { "-o", "no_lru_maintainer" }, { "-o", "tail_repair_time=15" },
        { "-o", "slab_automove=2" }, { "-o", "hot_lru_pct=10" },
        { "-o", "watcher_logbuf_size=512" }, { "-o", "lru_crawler_sleep=5" },
        { "-W", NULL }, { "-N", "1" }, { "-o", "no_modern" },
        { "-B", "ascii" }, { "-o", "http_port=11280" },
        { "-o", "http_addr=::1" }, { "-o", "http_write" },
        { "-o", "http_peers=127.0.0.1:11211" },
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char *argv[4] = { "shmcached", (char *)opts[i][0],
                          (char *)opts[i][1], NULL };
        settings_defaults(&b);
        int argc = opts[i][1] ? 3 : 2;
        CU_ASSERT_EQUAL_FATAL(settings_parse_args(&b, argc, argv, NULL, err,
                                                  sizeof(err)), 0);
        reload_plan(&a, &b, (size_t)1 << 40, &p, err, sizeof(err));
        if (p.napplied + p.nfixed < 1)
            fprintf(stderr, "\n%s %s: %d applied, %d fixed\n", opts[i][0],
                    opts[i][1] ? opts[i][1] : "", p.napplied, p.nfixed);
        CU_ASSERT(p.napplied + p.nfixed >= 1);
    }
}

UNIT_SUITE(handoff, NULL, NULL,
           UNIT_TEST(test_drain_matches_proto),
           UNIT_TEST(test_handoff_encode),
           UNIT_TEST(test_handoff_pass),
           UNIT_TEST(test_handoff_eof),
           UNIT_TEST(test_reload_plan))
