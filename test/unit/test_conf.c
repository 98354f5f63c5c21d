/*
 * test_conf.c - the shipped conf/shmcached.conf parses and validates, and
 * every value it documents (the commented lines, uncommented) is the
 * default; the crash backoff schedule of the master.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/master.h"
#include "server/settings.h"
#include "unit.h"

static const char *conf_path(void)
{
    static const char *cands[] = { "conf/shmcached.conf",
                                   "../conf/shmcached.conf",
                                   "../../conf/shmcached.conf" };
    for (size_t i = 0; i < 3; i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return cands[0];
}

static void test_conf_parses(void)
{
    struct settings s, d;
    char err[512] = "";
    settings_defaults(&s);
    settings_defaults(&d);
    int rc = settings_parse_file(&s, conf_path(), err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\n%s\n", err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(s.port, 11211);
    CU_ASSERT_EQUAL(s.nlisten, 1);
    CU_ASSERT_STRING_EQUAL(s.listen[0], "127.0.0.1");
    CU_ASSERT_EQUAL(s.maxbytes, d.maxbytes);
    CU_ASSERT_EQUAL(s.maxconns, d.maxconns);
}

/* Uncomments every "# name = value" line (except placeholders) and parses
 * the result: each documented default must be the real default. */
static void test_conf_defaults(void)
{
    FILE *in = fopen(conf_path(), "r");
    CU_ASSERT_FATAL(in != NULL);
    char path[] = "/tmp/shmc_conf_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    FILE *out = fdopen(fd, "w");
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), in) != NULL) {
        char *p = line;
        if (strncmp(p, "# ", 2) == 0 && p[2] >= 'a' && p[2] <= 'z' &&
            strstr(p, " = ") != NULL) {
            p += 2;
            n++;
        }
        if (strchr(p, '<') != NULL)
            continue;
        fputs(p, out);
    }
    fclose(in);
    fclose(out);
    CU_ASSERT(n >= 30);
    struct settings s, d;
    char err[512] = "";
    settings_defaults(&s);
    settings_defaults(&d);
    int rc = settings_parse_file(&s, path, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\n%s\n", err);
    CU_ASSERT_EQUAL(rc, 0);
    unlink(path);
    d.nlisten = s.nlisten;
    memcpy(d.listen, s.listen, sizeof(d.listen));
    d.detail_enabled = s.detail_enabled;    /* -D turns detail on */
    CU_ASSERT_EQUAL(s.detail_enabled, 1);
    CU_ASSERT_EQUAL(s.port, d.port);
    CU_ASSERT_EQUAL(s.access_mask, d.access_mask);
    CU_ASSERT_EQUAL(s.backlog, d.backlog);
    CU_ASSERT_EQUAL(s.reqs_per_event, d.reqs_per_event);
    CU_ASSERT_EQUAL(s.maxconns_fast, d.maxconns_fast);
    CU_ASSERT_EQUAL(s.idle_timeout, d.idle_timeout);
    CU_ASSERT_EQUAL(s.verbose, d.verbose);
    CU_ASSERT_EQUAL(s.enable_flush, d.enable_flush);
    CU_ASSERT_EQUAL(s.dump_enabled, d.dump_enabled);
    CU_ASSERT_EQUAL(s.stat_key_prefix, d.stat_key_prefix);
    CU_ASSERT_EQUAL(s.worker_restart_backoff_ms, d.worker_restart_backoff_ms);
    CU_ASSERT_EQUAL(s.maxbytes, d.maxbytes);
    CU_ASSERT_EQUAL(s.mem_reserve, d.mem_reserve);
    CU_ASSERT_EQUAL(s.item_size_max, d.item_size_max);
    CU_ASSERT(s.factor == d.factor);
    CU_ASSERT_EQUAL(s.chunk_size, d.chunk_size);
    CU_ASSERT_EQUAL(s.slab_chunk_max, d.slab_chunk_max);
    CU_ASSERT_EQUAL(s.hashpower, d.hashpower);
    CU_ASSERT_EQUAL(s.disable_cas, d.disable_cas);
    CU_ASSERT_EQUAL(s.evict_to_free, d.evict_to_free);
    CU_ASSERT_EQUAL(s.daemonize, d.daemonize);
    CU_ASSERT_EQUAL(s.lock_memory, d.lock_memory);
    CU_ASSERT_EQUAL(s.read_buf_mem_limit, d.read_buf_mem_limit);
    CU_ASSERT_STRING_EQUAL(s.socketpath, "");
    CU_ASSERT_STRING_EQUAL(s.username, "");
}

static void test_backoff(void)
{
    CU_ASSERT_EQUAL(master_backoff_ms(0, 100), 0);
    CU_ASSERT_EQUAL(master_backoff_ms(1, 100), 0);    /* first crash */
    CU_ASSERT_EQUAL(master_backoff_ms(2, 100), 100);
    CU_ASSERT_EQUAL(master_backoff_ms(3, 100), 200);
    CU_ASSERT_EQUAL(master_backoff_ms(8, 100), 6400);
    CU_ASSERT_EQUAL(master_backoff_ms(50, 100), 6400); /* capped */
    CU_ASSERT_EQUAL(master_backoff_ms(5, 0), 0);
}

UNIT_SUITE(conf, NULL, NULL,
           UNIT_TEST(test_conf_parses),
           UNIT_TEST(test_conf_defaults),
           UNIT_TEST(test_backoff))
