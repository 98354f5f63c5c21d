/*
 * test_http.c - the console's HTTP parser (http.h), its form decoding,
 * and the Prometheus renderer (metrics.h) on a canned stats reply: the
 * names, labels and values of memcached_exporter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/http.h"
#include "console/metrics.h"
#include "console/stats.h"
#include "core/buf.h"
#include "unit.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_parse_ok(void)
{
    struct http_req r;
    static const char req[] = "GET /api/keys?match=a%2Ab&limit=5 HTTP/1.1\r\n"
                              "Host: x\r\nX-Shmcached: 1\r\n\r\nGET /";
    CU_ASSERT_EQUAL(http_parse(S(req), &r), (long)(sizeof(req) - 1 - 5));
    CU_ASSERT_EQUAL(r.method, HTTP_GET);
    CU_ASSERT_EQUAL(r.path_len, 9);
    CU_ASSERT(memcmp(r.path, "/api/keys", 9) == 0);
    CU_ASSERT_EQUAL(r.keep_alive, 1);
    CU_ASSERT_EQUAL(r.has_token, 1);
    char v[32];
    CU_ASSERT_EQUAL(http_param(r.query, r.query_len, "match", v, sizeof(v)), 3);
    CU_ASSERT_STRING_EQUAL(v, "a*b");
    CU_ASSERT_EQUAL(http_param(r.query, r.query_len, "limit", v, sizeof(v)), 1);
    CU_ASSERT_EQUAL(http_param(r.query, r.query_len, "lim", v, sizeof(v)), -1);

    static const char post[] = "POST /api/delete HTTP/1.0\nContent-Length: 5"
                               "\nConnection: keep-alive\n\nkey=a";
    CU_ASSERT_EQUAL(http_parse(S(post), &r), (long)(sizeof(post) - 1));
    CU_ASSERT_EQUAL(r.method, HTTP_POST);
    CU_ASSERT_EQUAL(r.body_len, 5);
    CU_ASSERT_EQUAL(r.keep_alive, 1);
    CU_ASSERT_EQUAL(r.has_token, 0);
    /* incomplete: head, then body */
    CU_ASSERT_EQUAL(http_parse(S("GET / HTTP/1.1\r\nHost: x\r\n"), &r), 0);
    CU_ASSERT_EQUAL(http_parse(post, sizeof(post) - 3, &r), 0);
    /* every split of a request is "need more" until it is whole */
    for (size_t k = 0; k < sizeof(req) - 6; k++)
        CU_ASSERT_EQUAL(http_parse(req, k, &r), 0);
}

static void test_parse_refused(void)
{
    struct http_req r;
    CU_ASSERT_EQUAL(http_parse(S("PUT / HTTP/1.1\r\n\r\n"), &r), -405);
    CU_ASSERT_EQUAL(http_parse(S("GET / HTTP/2.0\r\n\r\n"), &r), -505);
    CU_ASSERT_EQUAL(http_parse(S("GET http://evil/ HTTP/1.1\r\n\r\n"), &r),
                    -400);
    CU_ASSERT_EQUAL(http_parse(S("GET / HTTP/1.1\r\nbad header\r\n\r\n"), &r),
                    -400);
    CU_ASSERT_EQUAL(http_parse(S("GET / HTTP/1.1\r\n folded\r\n\r\n"), &r),
                    -400);
    CU_ASSERT_EQUAL(http_parse(S("POST / HTTP/1.1\r\nContent-Length: 1\r\n"
                                 "Content-Length: 2\r\n\r\n"), &r), -400);
    CU_ASSERT_EQUAL(http_parse(S("POST / HTTP/1.1\r\nContent-Length: 99999"
                                 "\r\n\r\n"), &r), -413);
    CU_ASSERT_EQUAL(http_parse(S("POST / HTTP/1.1\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\n"), &r), -501);
    char *big = malloc(HTTP_HEAD_MAX + 100);
    memset(big, 'a', HTTP_HEAD_MAX + 100);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CU_ASSERT_EQUAL(http_parse(big, HTTP_HEAD_MAX + 100, &r), -431);
    CU_ASSERT_EQUAL(http_parse(big, 100, &r), 0);
    free(big);
    char v[4];
    CU_ASSERT_EQUAL(http_param(S("a=%zz"), "a", v, sizeof(v)), -1);
    CU_ASSERT_EQUAL(http_param(S("a=%4"), "a", v, sizeof(v)), -1);
    CU_ASSERT_EQUAL(http_param(S("a=toolong"), "a", v, sizeof(v)), -1);
    CU_ASSERT_EQUAL(http_param(S("a=b+c"), "a", v, sizeof(v)), 3);
    CU_ASSERT_STRING_EQUAL(v, "b c");
}

static void test_respond(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(http_respond(&b, 404, "text/plain", "no", 2, 0, NULL), 0);
    buf_append(&b, "", 1);
    CU_ASSERT(strncmp(b.data, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CU_ASSERT(strstr(b.data, "Content-Length: 2\r\n") != NULL);
    CU_ASSERT(strstr(b.data, "Connection: close\r\n") != NULL);
    CU_ASSERT(strstr(b.data, "\r\n\r\nno") != NULL);
    buf_free(&b);
}

static const char stats_text[] =
    "STAT pid 42\r\nSTAT uptime 100\r\nSTAT version 1.6.21\r\n"
    "STAT rusage_user 0.500000\r\nSTAT curr_items 3\r\nSTAT bytes 300\r\n"
    "STAT get_hits 10\r\nSTAT get_misses 4\r\nSTAT cmd_set 9\r\n"
    "STAT cas_hits 1\r\nSTAT cas_misses 2\r\nSTAT cas_badval 3\r\n"
    "STAT evictions 0\r\nSTAT limit_maxbytes 67108864\r\nEND\r\n";
static const char shmcached_text[] =
    "STAT worker_restarts 2\r\nSTAT reloads 1\r\n"
    "STAT repl_state connected\r\nSTAT repl_queued_bytes 64\r\n"
    "STAT repl_lag_ms 3\r\nSTAT repl_sync_timeouts 0\r\nEND\r\n";
static const char items_text[] =
    "STAT items:1:number 2\r\nSTAT items:1:age 7\r\n"
    "STAT items:1:hits_to_cold 5\r\nSTAT items:12:number 1\r\nEND\r\n";
static const char slabs_text[] =
    "STAT 1:chunk_size 96\r\nSTAT 1:get_hits 5\r\nSTAT 1:cmd_set 4\r\n"
    "STAT 1:cas_hits 1\r\nSTAT 1:cas_badval 1\r\nSTAT active_slabs 1\r\n"
    "STAT total_malloced 1048576\r\nEND\r\n";

static void test_metrics(void)
{
    struct snapshot s;
    struct buf b;
    snapshot_init(&s);
    buf_init(&b);
    s.up = 1;
    CU_ASSERT_EQUAL(kv_parse(&s.stats, S(stats_text)), 0);
    CU_ASSERT_EQUAL(kv_parse(&s.items, S(items_text)), 0);
    CU_ASSERT_EQUAL(kv_parse(&s.slabs, S(slabs_text)), 0);
    CU_ASSERT_EQUAL(kv_parse(&s.shmcached, S(shmcached_text)), 0);
    CU_ASSERT_EQUAL(kv_parse(&s.settings, S("STAT maxconns 1024\r\n"
                                            "STAT lru_crawler no\r\nEND\r\n")), 0);
    CU_ASSERT_STRING_EQUAL(kv_get(&s.stats, "version"), "1.6.21");
    CU_ASSERT_EQUAL(kv_u64(&s.stats, "get_hits"), 10);
    CU_ASSERT_EQUAL(kv_set(&s.stats, "rusage_user", "0.500000"), 0);
    CU_ASSERT_EQUAL(kv_set(&s.stats, "no_such_stat", "1"), 1);
    struct metrics_proc p = { "worker", 0, 77, 1700000000, 3, 1 };
    CU_ASSERT_EQUAL(metrics_render(&s, &p, 1, &b), 0);
    buf_append(&b, "", 1);
    static const char *const want[] = {
        "memcached_up 1\n",
        "memcached_version{version=\"1.6.21\"} 1\n",
        "memcached_commands_total{command=\"get\",status=\"hit\"} 10\n",
        "memcached_commands_total{command=\"get\",status=\"miss\"} 4\n",
        "memcached_commands_total{command=\"cas\",status=\"badval\"} 3\n",
        "memcached_commands_total{command=\"set\",status=\"hit\"} 3\n",
        "memcached_current_items 3\n",
        "memcached_current_bytes 300\n",
        "memcached_limit_bytes 67108864\n",
        "memcached_process_user_cpu_seconds_total 0.500000\n",
        "memcached_max_connections 1024\n",
        "memcached_malloced_bytes 1048576\n",
        "memcached_slab_current_items{slab=\"1\"} 2\n",
        "memcached_slab_current_items{slab=\"12\"} 1\n",
        "memcached_slab_items_age_seconds{slab=\"1\"} 7\n",
        "memcached_slab_lru_hits_total{slab=\"1\",lru=\"cold\"} 5\n",
        "memcached_slab_chunk_size_bytes{slab=\"1\"} 96\n",
        "memcached_slab_commands_total{slab=\"1\",command=\"set\","
        "status=\"hit\"} 2\n",
        "shmcached_worker_restarts_total 2\n",
        "shmcached_reloads_total 1\n",
        "shmcached_repl_connected 1\n",
        "shmcached_repl_queued_bytes 64\n",
        "shmcached_repl_lag_milliseconds 3\n",
        "shmcached_repl_sync_timeouts_total 0\n",
        "shmcached_process_id{role=\"worker\",index=\"0\"} 77\n",
        "# TYPE memcached_items_evicted_total counter\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(b.data, want[i]) == NULL)
            fprintf(stderr, "\nmissing: %s", want[i]);
        CU_ASSERT(strstr(b.data, want[i]) != NULL);
    }
    /* the crawler's settings only when it is on, as the exporter */
    CU_ASSERT(strstr(b.data, "memcached_lru_crawler_enabled") == NULL);
    /* a memcached answers "stats shmcached" with ERROR: no shmcached_* */
    CU_ASSERT_EQUAL(kv_parse(&s.shmcached, S("ERROR\r\n")), 0);
    CU_ASSERT_EQUAL(s.shmcached.n, 0);
    buf_reset(&b, 0);
    CU_ASSERT_EQUAL(metrics_render(&s, NULL, 0, &b), 0);
    buf_append(&b, "", 1);
    CU_ASSERT(strstr(b.data, "shmcached_") == NULL);
    CU_ASSERT(strstr(b.data, "memcached_current_items 3\n") != NULL);
    /* a server that did not answer: memcached_up 0 and nothing else */
    s.up = 0;
    buf_reset(&b, 0);
    CU_ASSERT_EQUAL(metrics_render(&s, NULL, 0, &b), 0);
    buf_append(&b, "", 1);
    CU_ASSERT(strstr(b.data, "\nmemcached_up 0\n") != NULL);
    CU_ASSERT(strstr(b.data, "memcached_current_items") == NULL);
    buf_free(&b);
    snapshot_free(&s);
}

UNIT_SUITE(http, NULL, NULL,
           UNIT_TEST(test_parse_ok),
           UNIT_TEST(test_parse_refused),
           UNIT_TEST(test_respond),
           UNIT_TEST(test_metrics))
