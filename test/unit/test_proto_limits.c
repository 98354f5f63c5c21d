/*
 * test_proto_limits.c - the response memory limit of the text protocol
 * (proto_config.resp_obj_limit, from read_buf_mem_limit): a multiget past
 * it answers memcached's "SERVER_ERROR out of memory writing get
 * response", stacked requests past it close the connection dropping what
 * was unsent, both are counted in response_obj_oom, and output that went
 * out (out emptied) gives the budget back. Also the split of
 * read_buf_mem_limit over the workers (settings_proto_config).
 */
#include <string.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "fixture.h"
#include "proto/proto.h"
#include "server/settings.h"
#include "unit.h"

static struct fixture fx;
static struct proto_config cfg;
static struct proto_counters counters;
static struct proto_env env;

static void setup(unsigned limit)
{
    CU_ASSERT_EQUAL_FATAL(fixture_open(&fx, 8, NULL), 0);
    proto_config_defaults(&cfg);
    cfg.resp_obj_limit = limit;
    cfg.reqs_per_event = 1000;
    memset(&counters, 0, sizeof(counters));
    memset(&env, 0, sizeof(env));
    env.engine = fx.e;
    env.worker = fx.w;
    env.cfg = &cfg;
    env.counters = &counters;
}

/* Feeds text to pc; returns the flags, out gets the replies. */
static int feed(struct proto_conn *pc, const char *text, struct buf *out)
{
    int flags = 0;
    size_t used = proto_feed(pc, text, strlen(text), out, &flags);
    if (!(flags & PROTO_CLOSE))
        CU_ASSERT_EQUAL(used, strlen(text));
    return flags;
}

static int contains(const struct buf *b, const char *s)
{
    return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void test_multiget_over_limit(void)
{
    setup(26);
    struct buf out;
    buf_init(&out);
    struct proto_conn *pc = proto_conn_new(&env);
    char req[4096] = "get";
    for (int i = 0; i < 30; i++)
        strcat(req, " foo");
    strcat(req, "\r\n");
    CU_ASSERT_EQUAL(feed(pc, "set foo 0 0 1\r\nx\r\n", &out), 0);
    out.len = 0;                        /* sent */
    CU_ASSERT_EQUAL(feed(pc, req, &out), 0);
    CU_ASSERT_EQUAL(out.len, strlen("SERVER_ERROR out of memory writing "
                                     "get response\r\n"));
    CU_ASSERT(contains(&out, "SERVER_ERROR out of memory writing get "
                             "response\r\n"));
    CU_ASSERT_EQUAL(counters.response_obj_oom, 1);
    /* within the limit once the output went out */
    out.len = 0;
    CU_ASSERT_EQUAL(feed(pc, "get foo foo\r\n", &out), 0);
    CU_ASSERT(contains(&out, "VALUE foo 0 1\r\nx\r\nVALUE foo 0 1\r\nx\r\n"
                             "END\r\n"));
    proto_conn_free(pc);
    buf_free(&out);
    fixture_close(&fx);
}

static void test_stacked_requests_close(void)
{
    setup(10);
    struct buf out;
    buf_init(&out);
    struct proto_conn *pc = proto_conn_new(&env);
    char req[4096] = "";
    for (int i = 0; i < 20; i++)
        strcat(req, "mg foo v\r\n");
    CU_ASSERT(feed(pc, req, &out) & PROTO_CLOSE);
    CU_ASSERT_EQUAL(out.len, 0);        /* the unsent replies go too */
    CU_ASSERT_EQUAL(counters.response_obj_oom, 1);
    proto_conn_free(pc);
    /* no limit: all served */
    cfg.resp_obj_limit = 0;
    pc = proto_conn_new(&env);
    CU_ASSERT_EQUAL(feed(pc, req, &out), 0);
    CU_ASSERT_EQUAL(out.len, 20 * strlen("EN\r\n"));
    proto_conn_free(pc);
    buf_free(&out);
    fixture_close(&fx);
}

static void test_limit_from_settings(void)
{
    struct settings s;
    struct proto_config pc;
    settings_defaults(&s);
    settings_proto_config(&s, &pc);
    CU_ASSERT_EQUAL(pc.resp_obj_limit, 0);
    s.read_buf_mem_limit = (size_t)1 << 20;
    s.threads = 32;                     /* 32 KB each: two bundles */
    settings_proto_config(&s, &pc);
    CU_ASSERT_EQUAL(pc.resp_obj_limit, 2 * PROTO_RESP_PER_BUNDLE);
    s.threads = 128;                    /* less than a bundle: one */
    settings_proto_config(&s, &pc);
    CU_ASSERT_EQUAL(pc.resp_obj_limit, PROTO_RESP_PER_BUNDLE);
}

UNIT_SUITE(proto_limits, NULL, NULL,
           UNIT_TEST(test_multiget_over_limit),
           UNIT_TEST(test_stacked_requests_close),
           UNIT_TEST(test_limit_from_settings))
