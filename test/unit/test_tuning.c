/*
 * test_tuning.c - memcached's -o tuning options (settings_tuning.c):
 * defaults as memcached 1.6, every option through -o and the config file,
 * memcached's ranges and messages, slab_chunk_max's units, no_modern's
 * order, the cross-field rules, and "stats settings" showing the values
 * under memcached's names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "server/settings.h"
#include "unit.h"

static char err[512];

static int load(struct settings *s, int n, ...)
{
    char *argv[32];
    va_list ap;
    va_start(ap, n);
    argv[0] = "shmcached";
    for (int i = 0; i < n && i < 30; i++)
        argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    argv[n + 1] = NULL;
    err[0] = '\0';
    int rc = settings_load(s, n + 1, argv, NULL, err, sizeof(err));
    if (rc == 0 && settings_validate(s, err, sizeof(err)) < 0)
        return -1;
    return rc;
}

static void test_tuning_defaults(void)
{
    struct settings s;
    settings_defaults(&s);
    const struct tuning_config *t = &s.tuning;
    CU_ASSERT_EQUAL(t->slab_reassign, 1);
    CU_ASSERT_EQUAL(t->slab_automove, 1);
    CU_ASSERT(t->slab_automove_ratio == 0.8);
    CU_ASSERT_EQUAL(t->slab_automove_window, 30);
    CU_ASSERT_EQUAL(t->lru_segmented, 1);
    CU_ASSERT_EQUAL(t->hot_lru_pct, 20);
    CU_ASSERT_EQUAL(t->warm_lru_pct, 40);
    CU_ASSERT(t->hot_max_factor == 0.2 && t->warm_max_factor == 2.0);
    CU_ASSERT_EQUAL(t->temp_lru, 0);
    CU_ASSERT_EQUAL(t->temporary_ttl, 61);
    CU_ASSERT_EQUAL(t->hash_expand, 1);
    CU_ASSERT_STRING_EQUAL(tuning_hash_name(t->hash_algorithm), "murmur3");
    CU_ASSERT_EQUAL(s.lru_crawler_sleep, 100);
    CU_ASSERT_EQUAL(s.watch_enabled, 1);
    CU_ASSERT_EQUAL(s.watcher_logbuf_size, (size_t)256 << 10);
    CU_ASSERT_EQUAL(s.worker_logbuf_size, (size_t)64 << 10);
}

static void test_tuning_values(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, 2, "-o",
                         "slab_reassign,slab_automove=2,"
                         "slab_automove_ratio=0.5,slab_automove_window=10,"
                         "hot_lru_pct=10,warm_lru_pct=30,hot_max_factor=0.5,"
                         "warm_max_factor=3,temporary_ttl=30,"
                         "hash_algorithm=xxh3,no_hashexpand,"
                         "tail_repair_time=30,lru_crawler_sleep=500,"
                         "lru_crawler_tocrawl=1000,watcher_logbuf_size=128,"
                         "worker_logbuf_size=32,slab_sizes=100-200-400,"
                         "resp_obj_mem_limit=5,inline_ascii_resp,modern"), 0);
    const struct tuning_config *t = &s.tuning;
    CU_ASSERT_EQUAL(t->slab_automove, 2);
    CU_ASSERT(t->slab_automove_ratio == 0.5);
    CU_ASSERT_EQUAL(t->slab_automove_window, 10);
    CU_ASSERT_EQUAL(t->hot_lru_pct, 10);
    CU_ASSERT_EQUAL(t->warm_lru_pct, 30);
    CU_ASSERT(t->hot_max_factor == 0.5 && t->warm_max_factor == 3.0);
    CU_ASSERT_EQUAL(t->temp_lru, 1);
    CU_ASSERT_EQUAL(t->temporary_ttl, 30);
    CU_ASSERT_STRING_EQUAL(tuning_hash_name(t->hash_algorithm), "xxh3");
    CU_ASSERT_EQUAL(t->hash_expand, 0);
    CU_ASSERT_EQUAL(t->tail_repair_time, 30);
    CU_ASSERT_EQUAL(s.lru_crawler_sleep, 500);
    CU_ASSERT_EQUAL(s.lru_crawler_tocrawl, 1000);
    CU_ASSERT_EQUAL(s.watcher_logbuf_size, (size_t)128 << 10);
    CU_ASSERT_EQUAL(s.worker_logbuf_size, (size_t)32 << 10);
    CU_ASSERT_EQUAL(t->nslab_sizes, 3);
    CU_ASSERT_EQUAL(t->slab_sizes[2], 400);
    CU_ASSERT_EQUAL(t->slab_sizes[3], 0);

    CU_ASSERT_EQUAL(load(&s, 2, "-o", "no_slab_reassign,no_slab_automove"), 0);
    CU_ASSERT_EQUAL(s.tuning.slab_reassign, 0);
    CU_ASSERT_EQUAL(s.tuning.slab_automove, 0);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_automove"), 0);
    CU_ASSERT_EQUAL(s.tuning.slab_automove, 1);
    CU_ASSERT_EQUAL(load(&s, 3, "-W", "-N", "1"), 0);
    CU_ASSERT_EQUAL(s.watch_enabled, 0);
    CU_ASSERT_EQUAL(s.napi_ids, 1);
}

/* memcached's -h says kilobytes; 1.6's parser and tests use bytes. */
static void test_chunk_max_units(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=16"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)16 << 10);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=512"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)512 << 10);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=16384"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, 16384);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=64k"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)64 << 10);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=x"), -1);
    CU_ASSERT(strstr(err, "slab_chunk_max") != NULL);
    /* memcached's rules against -I and the page */
    CU_ASSERT_EQUAL(load(&s, 4, "-I", "512k", "-o", "slab_chunk_max=1m"), -1);
    CU_ASSERT(strstr(err, "cannot be larger than -I") != NULL);
    CU_ASSERT_EQUAL(load(&s, 4, "-I", "1m", "-o", "slab_chunk_max=384k"), -1);
    CU_ASSERT(strstr(err, "evenly divisible") != NULL);
    /* no_chunked_items: one chunk per item, up to a page */
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "no_chunked_items"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)1 << 20);
}

/* no_modern applies memcached 1.4's defaults where it stands. */
static void test_no_modern(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "no_modern"), 0);
    CU_ASSERT_EQUAL(s.tuning.slab_reassign, 0);
    CU_ASSERT_EQUAL(s.tuning.slab_automove, 0);
    CU_ASSERT_EQUAL(s.tuning.lru_segmented, 0);
    CU_ASSERT_EQUAL(s.maxconns_fast, 0);
    CU_ASSERT_EQUAL(s.lru_crawler, 0);
    CU_ASSERT_EQUAL(s.lru_maintainer, 0);
    CU_ASSERT_STRING_EQUAL(tuning_hash_name(s.tuning.hash_algorithm),
                           "jenkins");
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)1 << 20);
    CU_ASSERT_EQUAL(load(&s, 2, "-o", "slab_chunk_max=16384,no_modern,"
                         "slab_automove=2,lru_maintainer"), 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, 16384);      /* given: kept */
    CU_ASSERT_EQUAL(s.tuning.slab_automove, 2);    /* later: wins */
    CU_ASSERT_EQUAL(s.lru_maintainer, 1);
    CU_ASSERT_EQUAL(s.tuning.lru_segmented, 1);
}

static void test_tuning_errors(void)
{
    struct settings s;
    static const struct { const char *opt, *msg; } bad[] = {
        { "slab_automove=3", "slab_automove must be between 0 and 2" },
        { "slab_automove_ratio=0", "slab_automove_ratio must be > 0" },
        { "slab_automove_ratio=1.5", "slab_automove_ratio must be > 0" },
        { "slab_automove_window=2", "slab_automove_window must be > 2" },
        { "hot_lru_pct=80", "hot_lru_pct must be > 1 and < 80" },
        { "warm_lru_pct=0", "warm_lru_pct must be > 1 and < 80" },
        { "hot_lru_pct=50,warm_lru_pct=40", "cannot be more than 80%" },
        { "hot_max_factor=0", "hot_max_factor must be > 0" },
        { "warm_max_factor=-1", "warm_max_factor must be > 0" },
        { "hash_algorithm=md5", "Unknown hash_algorithm option" },
        { "tail_repair_time=5", "less than 10 seconds" },
        { "slab_chunk_max=-1", "slab_chunk_max" },
        { "lru_crawler_sleep=2000000", "between 0 and 1 second" },
        { "lru_crawler_tocrawl=-1", "32bit" },
        { "temporary_ttl=30,no_lru_maintainer", "requires lru_maintainer" },
        { "slab_sizes=200-100", "slab size 100 cannot be lower than or "
                                "equal to a previous class size" },
        { "slab_sizes=100-104", "slab size 104 must be at least 8 bytes "
                                "larger than previous class" },
        { "slab_sizes=40-100", "slab size 40 is out of valid range" },
        { "slab_sizes=100-600000", "slab size 600000 is out of valid range" },
        { "slab_chunk_max=16,slab_sizes=100-20000",
          "slab size 20000 is out of valid range" },
        { "slab_sizes=100-x", "could not parse" },
        { "slab_reassign=maybe", "not a boolean" },
        { "watcher_logbuf_size=0", "watcher_logbuf_size" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL(load(&s, 2, "-o", bad[i].opt), -1);
        if (strstr(err, bad[i].msg) == NULL)
            fprintf(stderr, "\n-o %s: got '%s'\n", bad[i].opt, err);
        CU_ASSERT(strstr(err, bad[i].msg) != NULL);
    }
    CU_ASSERT_EQUAL(load(&s, 4, "-t", "2", "-N", "3"), -1);
    CU_ASSERT(strstr(err, "napi_ids") != NULL);
}

/* The config file takes the same names and values. */
static void test_tuning_config_file(void)
{
    char path[] = "/tmp/shmc_test_tuning_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *text = "slab_automove = 0\nhot-lru-pct = 15\n"
                       "no_slab_reassign = yes\ntemporary_ttl = 10\n"
                       "slab_chunk_max = 32\n";
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, 2, "--config", path), 0);
    CU_ASSERT_EQUAL(s.tuning.slab_automove, 0);
    CU_ASSERT_EQUAL(s.tuning.hot_lru_pct, 15);
    CU_ASSERT_EQUAL(s.tuning.slab_reassign, 0);
    CU_ASSERT_EQUAL(s.tuning.temporary_ttl, 10);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)32 << 10);
    unlink(path);
}

/* stats settings: memcached's names and formats. */
static void test_tuning_stats(void)
{
    struct settings s;
    CU_ASSERT_EQUAL_FATAL(load(&s, 4, "-m", "16", "-o",
                               "slab_automove=2,slab_automove_ratio=0.5,"
                               "temporary_ttl=30,hash_algorithm=jenkins,"
                               "slab_chunk_max=16"), 0);
    struct engine_config cfg;
    settings_engine_config(&s, &cfg);
    const char *why = NULL;
    struct engine *e = engine_create(&cfg, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    struct buf out;
    buf_init(&out);
    CU_ASSERT_EQUAL(settings_stats(&s, e, NULL, &out), 0);
    CU_ASSERT_EQUAL(buf_append(&out, "", 1), 0);
    static const char *want[] = {
        "STAT slab_reassign yes\r\n", "STAT slab_automove 2\r\n",
        "STAT slab_automove_ratio 0.50\r\n",
        "STAT slab_automove_window 30\r\n", "STAT slab_chunk_max 16384\r\n",
        "STAT lru_crawler_sleep 100\r\n", "STAT hash_algorithm jenkins\r\n",
        "STAT lru_segmented yes\r\n", "STAT hot_lru_pct 20\r\n",
        "STAT hot_max_factor 0.20\r\n", "STAT warm_max_factor 2.00\r\n",
        "STAT temp_lru yes\r\n", "STAT temporary_ttl 30\r\n",
        "STAT watcher_logbuf_size 262144\r\n",
        "STAT worker_logbuf_size 65536\r\n",
        "STAT inline_ascii_response no\r\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(out.data, want[i]) == NULL)
            fprintf(stderr, "\nmissing: %s", want[i]);
        CU_ASSERT(strstr(out.data, want[i]) != NULL);
    }
    buf_free(&out);
    engine_close(e);
}

/* memcached's ports: -p 0 no TCP, -p -1 and -U -1 ephemeral; -U alone
 * moves TCP to the UDP port. */
static void test_ports(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, 2, "-p", "-1"), 0);
    CU_ASSERT_EQUAL(settings_tcp_port(&s), 0);
    CU_ASSERT_EQUAL(load(&s, 2, "-p", "0"), 0);
    CU_ASSERT(settings_tcp_port(&s) < 0);
    CU_ASSERT_EQUAL(load(&s, 2, "-p", "11300"), 0);
    CU_ASSERT_EQUAL(settings_tcp_port(&s), 11300);
    CU_ASSERT_EQUAL(load(&s, 2, "-U", "-1"), 0);
    CU_ASSERT_EQUAL(s.udpport, -1);
    CU_ASSERT_EQUAL(settings_tcp_port(&s), 0);
    CU_ASSERT_EQUAL(load(&s, 4, "-U", "11301", "-p", "11302"), 0);
    CU_ASSERT_EQUAL(settings_tcp_port(&s), 11302);
    CU_ASSERT_EQUAL(load(&s, 2, "-p", "-2"), -1);
}

UNIT_SUITE(tuning, NULL, NULL,
           UNIT_TEST(test_ports),
           UNIT_TEST(test_tuning_defaults),
           UNIT_TEST(test_tuning_values),
           UNIT_TEST(test_chunk_max_units),
           UNIT_TEST(test_no_modern),
           UNIT_TEST(test_tuning_errors),
           UNIT_TEST(test_tuning_config_file),
           UNIT_TEST(test_tuning_stats))
