/*
 * test_settings.c - option parsing (short and long forms), -o extended
 * options, the --config file, precedence (the command line wins), size
 * suffixes, the errors for unknown and unsupported options, validation.
 * Temporary config files live in /tmp and are removed by each test.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/settings.h"
#include "engine/engine.h"
#include "unit.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static char err[512];

/* settings_load on argv (argv[0] added); returns its result. */
static int load(struct settings *s, FILE *out, int n, ...)
{
    char *argv[64];
    va_list ap;
    va_start(ap, n);
    argv[0] = "shmcached";
    for (int i = 0; i < n && i < 62; i++)
        argv[i + 1] = va_arg(ap, char *);
    va_end(ap);
    argv[n + 1] = NULL;
    err[0] = '\0';
    return settings_load(s, n + 1, argv, out, err, sizeof(err));
}

static int contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Writes text to a new temp file; path gets its name. */
static void write_conf(char *path, const char *text)
{
    strcpy(path, "/tmp/shmc_test_conf_XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void test_defaults(void)
{
    struct settings s;
    settings_defaults(&s);
    CU_ASSERT_EQUAL(s.port, 11211);
    CU_ASSERT_EQUAL(s.udpport, 0);
    CU_ASSERT_EQUAL(s.nlisten, 0);
    CU_ASSERT_EQUAL(s.maxconns, 1024);
    CU_ASSERT_EQUAL(s.backlog, 1024);
    CU_ASSERT_EQUAL(s.reqs_per_event, 20);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)64 << 20);
    CU_ASSERT_EQUAL(s.item_size_max, (size_t)1 << 20);
    CU_ASSERT_EQUAL(s.chunk_size, 48);
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 1.25, 1e-9);
    CU_ASSERT_EQUAL(s.access_mask, 0700);
    CU_ASSERT(s.threads >= 1);
    CU_ASSERT_EQUAL(s.maxconns_fast, 1);
    CU_ASSERT_EQUAL(s.evict_to_free, 1);
    CU_ASSERT_EQUAL(s.enable_flush, 1);
    CU_ASSERT_EQUAL(s.dump_enabled, 1);
    CU_ASSERT_EQUAL(s.verbose, 0);
    CU_ASSERT_EQUAL(s.stat_key_prefix, ':');
    CU_ASSERT_EQUAL(s.worker_restart_backoff_ms, 100);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
}

static void test_short_options(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 33, "-p", "1234", "-m", "128", "-c", "10",
                         "-t", "3", "-R", "5", "-C", "-M", "-F", "-X", "-A",
                         "-d", "-k", "-r", "-b", "50", "-f", "1.5", "-n", "64",
                         "-vvv", "-D", "#", "-a", "755", "-P", "/tmp/p.pid",
                         "-u", "nobody"), 0);
    CU_ASSERT_EQUAL(s.port, 1234);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)128 << 20);
    CU_ASSERT_EQUAL(s.maxconns, 10);
    CU_ASSERT_EQUAL(s.threads, 3);
    CU_ASSERT_EQUAL(s.reqs_per_event, 5);
    CU_ASSERT_EQUAL(s.disable_cas, 1);
    CU_ASSERT_EQUAL(s.evict_to_free, 0);
    CU_ASSERT_EQUAL(s.enable_flush, 0);
    CU_ASSERT_EQUAL(s.dump_enabled, 0);
    CU_ASSERT_EQUAL(s.enable_shutdown, 1);
    CU_ASSERT_EQUAL(s.daemonize, 1);
    CU_ASSERT_EQUAL(s.lock_memory, 1);
    CU_ASSERT_EQUAL(s.maxcore, 1);
    CU_ASSERT_EQUAL(s.backlog, 50);
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 1.5, 1e-9);
    CU_ASSERT_EQUAL(s.chunk_size, 64);
    CU_ASSERT_EQUAL(s.verbose, 3);
    CU_ASSERT_EQUAL(s.stat_key_prefix, '#');
    CU_ASSERT_EQUAL(s.detail_enabled, 1);
    CU_ASSERT_EQUAL(s.access_mask, 0755);
    CU_ASSERT_STRING_EQUAL(s.pidfile, "/tmp/p.pid");
    CU_ASSERT_STRING_EQUAL(s.username, "nobody");

    CU_ASSERT_EQUAL(load(&s, NULL, 5, "-v", "-v", "-s", "/tmp/mc.sock",
                         "-U0"), 0);
    CU_ASSERT_EQUAL(s.verbose, 2);
    CU_ASSERT_STRING_EQUAL(s.socketpath, "/tmp/mc.sock");
    CU_ASSERT_EQUAL(s.udpport, 0);
}

static void test_long_options(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 25, "--port=2345", "--memory-limit", "32",
                         "--conn-limit=77", "--threads=2",
                         "--max-reqs-per-event", "9", "--disable-cas",
                         "--disable-evictions", "--disable-flush-all",
                         "--disable-dumping", "--enable-shutdown", "--daemon",
                         "--listen-backlog=12", "--max-item-size=2m",
                         "--slab-growth-factor=2", "--slab-min-size=32",
                         "--verbose", "--unix-mask=700", "--user=mc",
                         "--pidfile=/tmp/x.pid", "--listen=127.0.0.2",
                         "--protocol=ascii", "--udp-port=0",
                         "--lock-memory"), 0);
    CU_ASSERT_EQUAL(s.port, 2345);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)32 << 20);
    CU_ASSERT_EQUAL(s.maxconns, 77);
    CU_ASSERT_EQUAL(s.threads, 2);
    CU_ASSERT_EQUAL(s.reqs_per_event, 9);
    CU_ASSERT_EQUAL(s.disable_cas, 1);
    CU_ASSERT_EQUAL(s.evict_to_free, 0);
    CU_ASSERT_EQUAL(s.enable_flush, 0);
    CU_ASSERT_EQUAL(s.dump_enabled, 0);
    CU_ASSERT_EQUAL(s.enable_shutdown, 1);
    CU_ASSERT_EQUAL(s.daemonize, 1);
    CU_ASSERT_EQUAL(s.backlog, 12);
    CU_ASSERT_EQUAL(s.item_size_max, (size_t)2 << 20);
    CU_ASSERT_DOUBLE_EQUAL(s.factor, 2.0, 1e-9);
    CU_ASSERT_EQUAL(s.chunk_size, 32);
    CU_ASSERT_EQUAL(s.verbose, 1);
    CU_ASSERT_STRING_EQUAL(s.username, "mc");
    CU_ASSERT_STRING_EQUAL(s.pidfile, "/tmp/x.pid");
    CU_ASSERT_EQUAL(s.nlisten, 1);
    CU_ASSERT_STRING_EQUAL(s.listen[0], "127.0.0.2");
    CU_ASSERT_EQUAL(s.proto, 1);
    CU_ASSERT_EQUAL(s.lock_memory, 1);

    CU_ASSERT_EQUAL(load(&s, NULL, 3, "--verbose=2", "--unix-socket",
                         "/tmp/s"), 0);
    CU_ASSERT_EQUAL(s.verbose, 2);
    CU_ASSERT_STRING_EQUAL(s.socketpath, "/tmp/s");
    /* getopt_long accepts unambiguous abbreviations */
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "--thread", "4"), 0);
    CU_ASSERT_EQUAL(s.threads, 4);
}

/* -B / --protocol: memcached's three names; binary is served. */
static void test_protocol(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-B", "binary"), 0);
    CU_ASSERT_EQUAL(s.proto, 2);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof err), 0);
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "--protocol=binary"), 0);
    CU_ASSERT_EQUAL(s.proto, 2);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-B", "ascii"), 0);
    CU_ASSERT_EQUAL(s.proto, 1);
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "--protocol=auto"), 0);
    CU_ASSERT_EQUAL(s.proto, 0);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-B", "bin"), -1);
    CU_ASSERT(contains(err, "ascii, binary or auto"));
}

static void test_listen_list(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-l", "127.0.0.1,::1", "-l",
                         "[::1]:11311"), 0);
    CU_ASSERT_EQUAL(s.nlisten, 3);
    CU_ASSERT_STRING_EQUAL(s.listen[0], "127.0.0.1");
    CU_ASSERT_STRING_EQUAL(s.listen[1], "::1");
    CU_ASSERT_STRING_EQUAL(s.listen[2], "[::1]:11311");
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);

    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-l", "[::1"), -1);
    CU_ASSERT(contains(err, "invalid listen address"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-l", "127.0.0.1:99999"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-l",
                         "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), -1);
    CU_ASSERT(contains(err, "too many listen addresses"));
}

static void test_size_suffixes(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "512k"), 0);
    CU_ASSERT_EQUAL(s.item_size_max, (size_t)512 << 10);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "2M"), 0);
    CU_ASSERT_EQUAL(s.item_size_max, (size_t)2 << 20);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "4096"), 0);
    CU_ASSERT_EQUAL(s.item_size_max, 4096);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "1K"), 0);
    CU_ASSERT_EQUAL(s.item_size_max, 1024);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "2x"), -1);
    CU_ASSERT(contains(err, "-I"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "-1"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-m", "1g"), 0);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)1 << 30);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-m", "100"), 0);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)100 << 20);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-m", "lots"), -1);
}

static void test_extended(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-o",
                         "hashpower=20,idle_timeout=5,no_maxconns_fast,"
                         "no_lru_crawler,no_lru_maintainer,"
                         "slab_chunk_max=256k,tail_repair_time=30",
                         "--extended",
                         "read_buf_mem_limit=4,relaxed_privileges,"
                         "memory_reserve=512,worker_backoff_ms=50,"
                         "hash_algorithm=murmur3,modern"), 0);
    CU_ASSERT_EQUAL(s.hashpower, 20);
    CU_ASSERT_EQUAL(s.idle_timeout, 5);
    CU_ASSERT_EQUAL(s.maxconns_fast, 0);
    CU_ASSERT_EQUAL(s.lru_crawler, 0);
    CU_ASSERT_EQUAL(s.lru_maintainer, 0);
    CU_ASSERT_EQUAL(s.slab_chunk_max, (size_t)256 << 10);
    CU_ASSERT_EQUAL(s.tuning.tail_repair_time, 30);
    CU_ASSERT_EQUAL(s.read_buf_mem_limit, (size_t)4 << 20);
    CU_ASSERT_EQUAL(s.mem_reserve, (size_t)512 << 20);
    CU_ASSERT_EQUAL(s.worker_restart_backoff_ms, 50);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);

    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-o", "no_maxconns_fast", "-o",
                         "maxconns_fast,lru_crawler=yes"), 0);
    CU_ASSERT_EQUAL(s.maxconns_fast, 1);
    CU_ASSERT_EQUAL(s.lru_crawler, 1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "maxconns_fast=no"), 0);
    CU_ASSERT_EQUAL(s.maxconns_fast, 0);
}

/* The console's options: -o http_peers is comma separated inside the
 * comma-separated -o list; the config file takes the whole value. */
static void test_http_options(void)
{
    struct settings s;
    settings_defaults(&s);
    CU_ASSERT_EQUAL(s.http_port, 0);
    CU_ASSERT_STRING_EQUAL(s.http_addr, "127.0.0.1");
    CU_ASSERT_EQUAL(s.http_write, 0);
    CU_ASSERT_EQUAL(s.npeers, 0);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o",
                         "http_port=11280,http_peers=10.0.0.1:11211,"
                         "cache2:11212,[::1]:11213,http_write,"
                         "http_addr=::1"), 0);
    CU_ASSERT_EQUAL(s.http_port, 11280);
    CU_ASSERT_EQUAL(s.http_write, 1);
    CU_ASSERT_STRING_EQUAL(s.http_addr, "::1");
    CU_ASSERT_EQUAL_FATAL(s.npeers, 3);
    CU_ASSERT_STRING_EQUAL(s.http_peers[0], "10.0.0.1:11211");
    CU_ASSERT_STRING_EQUAL(s.http_peers[1], "cache2:11212");
    CU_ASSERT_STRING_EQUAL(s.http_peers[2], "[::1]:11213");
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
    /* a second http_peers replaces the list */
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-o", "http_peers=a:1,b:2", "-o",
                         "http_peers=c:3"), 0);
    CU_ASSERT_EQUAL(s.npeers, 1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "http_peers=nohostport"), -1);
    CU_ASSERT(contains(err, "host:port"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "http_port=70000"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "http_peers=a:1,bogus"), -1);

    char path[64];
    write_conf(path, "http_port = 8080\nhttp_peers = a:1, b:2;c:3\n"
               "http_write = yes\n");
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "--config", path), 0);
    unlink(path);
    CU_ASSERT_EQUAL(s.http_port, 8080);
    CU_ASSERT_EQUAL(s.npeers, 3);
    CU_ASSERT_EQUAL(s.http_write, 1);
}

static void test_extended_errors(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "bogus_option=1"), -1);
    CU_ASSERT(contains(err, "bogus_option"));
    CU_ASSERT(contains(err, "unknown extended option"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "ssl_chain_cert=/x.pem"), -1);
    CU_ASSERT(contains(err, "TLS"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "ext_path=/mnt/x:1G"), -1);
    CU_ASSERT(contains(err, "extstore"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "proxy_config=/x.lua"), -1);
    CU_ASSERT(contains(err, "proxy"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "hashpower"), -1);
    CU_ASSERT(contains(err, "requires a value"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "idle_timeout=soon"), -1);
    CU_ASSERT(contains(err, "idle_timeout"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "maxconns_fast=maybe"), -1);
    CU_ASSERT(contains(err, "boolean"));
}

/* -e / --memory-file, memory_file_wait, upgrade_timeout, --check */
static void test_memory_file(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-e", "/dev/shm/cache.11211"), 0);
    CU_ASSERT_STRING_EQUAL(s.memory_file, "/dev/shm/cache.11211");
    CU_ASSERT_EQUAL(s.memory_file_wait, 15);
    CU_ASSERT_EQUAL(s.upgrade_timeout, 30);
    CU_ASSERT_EQUAL(s.check_only, 0);
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "--memory-file=/tmp/c", "--check", "-o",
                         "memory_file_wait=3,upgrade_timeout=7"), 0);
    CU_ASSERT_STRING_EQUAL(s.memory_file, "/tmp/c");
    CU_ASSERT_EQUAL(s.check_only, 1);
    CU_ASSERT_EQUAL(s.memory_file_wait, 3);
    CU_ASSERT_EQUAL(s.upgrade_timeout, 7);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "upgrade_timeout=0"), -1);
}

/* Replication: -x as repcached, the -o options, defaults, and the peer
 * checked by validation. */
static void test_repl_options(void)
{
    struct settings s;
    struct engine_config cfg;
    char verr[256];
    CU_ASSERT_EQUAL(load(&s, NULL, 0), 0);
    CU_ASSERT_STRING_EQUAL(s.repl_peer, "");
    CU_ASSERT_EQUAL(settings_repl_port(&s), 11212);
    settings_engine_config(&s, &cfg);
    CU_ASSERT_EQUAL(cfg.changelog_size, 0);     /* no peer: no log */
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-x", "10.0.0.2:4000", "-o",
                         "repl_port=4001,repl_sync,repl_sync_timeout_ms=50,"
                         "repl_queue=2,repl_timeout_ms=700"), 0);
    CU_ASSERT_STRING_EQUAL(s.repl_peer, "10.0.0.2:4000");
    CU_ASSERT_EQUAL(settings_repl_port(&s), 4001);
    CU_ASSERT_EQUAL(s.repl_sync, 1);
    CU_ASSERT_EQUAL(s.repl_sync_timeout_ms, 50);
    CU_ASSERT_EQUAL(s.repl_timeout_ms, 700);
    settings_engine_config(&s, &cfg);
    CU_ASSERT_EQUAL(cfg.changelog_size, (size_t)2 << 20);
    CU_ASSERT_EQUAL(settings_validate(&s, verr, sizeof(verr)), 0);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "repl_timeout_ms=5"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-o", "repl_port=70000"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-x", "[::1"), 0);
    CU_ASSERT_EQUAL(settings_validate(&s, verr, sizeof(verr)), -1);
    CU_ASSERT(strstr(verr, "replication peer") != NULL);
}

static void test_errors(void)
{
    struct settings s;
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "-J"), -1);
    CU_ASSERT(contains(err, "unknown option -J"));
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "--bogus"), -1);
    CU_ASSERT(contains(err, "--bogus"));
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "-p"), -1);
    CU_ASSERT(contains(err, "requires a value"));
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "--port"), -1);
    CU_ASSERT(contains(err, "requires a value"));
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "stray"), -1);
    CU_ASSERT(contains(err, "unexpected argument"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-p", "70000"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-p", "12ab"), -1);
    CU_ASSERT(contains(err, "-p"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-U", "70000"), -1);
    CU_ASSERT(contains(err, "-U"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-B", "smoke"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-a", "999"), -1);
    CU_ASSERT(contains(err, "octal"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-D", "ab"), -1);
    /* -S is served (SASL on the binary protocol); not with ascii */
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "-S"), 0);
    CU_ASSERT_EQUAL(s.sasl, 1);
    CU_ASSERT_EQUAL(load(&s, NULL, 3, "-S", "-B", "ascii"), 0);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "SASL"));
    CU_ASSERT_EQUAL(load(&s, NULL, 1, "-Z"), -1);
    CU_ASSERT(contains(err, "TLS"));
    char longpath[300];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-e", longpath), -1);
    CU_ASSERT(contains(err, "too long"));
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-c", "0"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-t", "-2"), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-f", "1.x"), -1);
    char longuser[100];
    memset(longuser, 'u', sizeof(longuser) - 1);
    longuser[sizeof(longuser) - 1] = '\0';
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-u", longuser), -1);
    CU_ASSERT(contains(err, "too long"));
}

static void test_help_version(void)
{
    struct settings s;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CU_ASSERT_FATAL(out != NULL);
    CU_ASSERT_EQUAL(load(&s, out, 1, "-V"), 1);
    fflush(out);
    CU_ASSERT_STRING_EQUAL(text, "shmcached 1.6.21 (memcached-compatible)\n");
    CU_ASSERT_EQUAL(load(&s, out, 1, "--help"), 1);
    fflush(out);
    CU_ASSERT(contains(text, "-p, --port=<num>"));
    CU_ASSERT(contains(text, "-o, --extended"));
    CU_ASSERT(contains(text, "memory_reserve"));
    CU_ASSERT(contains(text, "default: 127.0.0.1"));
    fclose(out);
    free(text);
}

static void test_config_file(void)
{
    struct settings s;
    char path[64], arg[80];
    write_conf(path,
               "# shmcached test configuration\n"
               "\n"
               "port = 22000\n"
               "   listen=127.0.0.1, ::1   # two addresses\n"
               "threads = 3\n"
               "memory-limit = 128\n"
               "memory_limit = 256m\n"
               "conn_limit = 99\n"
               "verbose = 2\n"
               "max_item_size = 2m\n"
               "unix_socket = \"/tmp/q.sock\"\n"
               "pidfile = /tmp/q.pid\n"
               "daemon = yes\n"
               "disable_cas = true\n"
               "disable-evictions = 0\n"
               "enable_shutdown = on\n"
               "user = nobody\n"
               "idle_timeout = 30\n"
               "hashpower = 16\n"
               "maxconns_fast = no\n"
               "no_lru_crawler = yes\n"
               "extended = worker_backoff_ms=10,memory_reserve=1g\n");
    snprintf(arg, sizeof(arg), "--config=%s", path);
    CU_ASSERT_EQUAL(load(&s, NULL, 1, arg), 0);
    CU_ASSERT_EQUAL(s.port, 22000);
    CU_ASSERT_EQUAL(s.nlisten, 2);
    CU_ASSERT_STRING_EQUAL(s.listen[1], "::1");
    CU_ASSERT_EQUAL(s.threads, 3);
    CU_ASSERT_EQUAL(s.maxbytes, (size_t)256 << 20);
    CU_ASSERT_EQUAL(s.maxconns, 99);
    CU_ASSERT_EQUAL(s.verbose, 2);
    CU_ASSERT_EQUAL(s.item_size_max, (size_t)2 << 20);
    CU_ASSERT_STRING_EQUAL(s.socketpath, "/tmp/q.sock");
    CU_ASSERT_STRING_EQUAL(s.pidfile, "/tmp/q.pid");
    CU_ASSERT_EQUAL(s.daemonize, 1);
    CU_ASSERT_EQUAL(s.disable_cas, 1);
    CU_ASSERT_EQUAL(s.evict_to_free, 1);
    CU_ASSERT_EQUAL(s.enable_shutdown, 1);
    CU_ASSERT_STRING_EQUAL(s.username, "nobody");
    CU_ASSERT_EQUAL(s.idle_timeout, 30);
    CU_ASSERT_EQUAL(s.hashpower, 16);
    CU_ASSERT_EQUAL(s.maxconns_fast, 0);
    CU_ASSERT_EQUAL(s.lru_crawler, 0);
    CU_ASSERT_EQUAL(s.worker_restart_backoff_ms, 10);
    CU_ASSERT_EQUAL(s.mem_reserve, (size_t)1 << 30);
    CU_ASSERT_STRING_EQUAL(s.config_file, path);

    /* the command line wins; its -l list replaces the file's */
    CU_ASSERT_EQUAL(load(&s, NULL, 8, "-p", "23000", "--config", path,
                         "-l", "127.0.0.9", "-t", "5"), 0);
    CU_ASSERT_EQUAL(s.port, 23000);
    CU_ASSERT_EQUAL(s.threads, 5);
    CU_ASSERT_EQUAL(s.nlisten, 1);
    CU_ASSERT_STRING_EQUAL(s.listen[0], "127.0.0.9");
    CU_ASSERT_EQUAL(s.maxconns, 99);            /* from the file */
    CU_ASSERT_EQUAL(load(&s, NULL, 3, "--config", path, "-v"), 0);
    CU_ASSERT_EQUAL(s.verbose, 3);              /* file 2, then -v */
    unlink(path);
}

static void test_config_errors(void)
{
    struct settings s;
    char path[64];

    write_conf(path, "port = 1\n\nbogus_name = 3\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, path));
    CU_ASSERT(contains(err, ":3:"));
    CU_ASSERT(contains(err, "unknown setting"));
    unlink(path);

    write_conf(path, "# ok\nport 11211\n");
    settings_defaults(&s);
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, ":2:"));
    CU_ASSERT(contains(err, "name = value"));
    unlink(path);

    write_conf(path, "daemon = perhaps\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, ":1: daemon"));
    CU_ASSERT(contains(err, "boolean"));
    unlink(path);

    write_conf(path, "threads = many\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "threads"));
    unlink(path);

    write_conf(path, "ssl_key = /k.pem\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "TLS"));
    unlink(path);

    write_conf(path, "config = /etc/other.conf\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "cannot name another"));
    unlink(path);

    write_conf(path, "help = yes\n");
    CU_ASSERT_EQUAL(settings_parse_file(&s, path, err, sizeof(err)), -1);
    unlink(path);

    CU_ASSERT_EQUAL(load(&s, NULL, 2, "--config",
                         "/nonexistent/shmc.conf"), -1);
    CU_ASSERT(contains(err, "/nonexistent/shmc.conf"));
    CU_ASSERT(contains(err, "cannot open"));
}

static void test_validate(void)
{
    struct settings s;
    settings_defaults(&s);
    s.item_size_max = 512;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "less than 1024"));

    settings_defaults(&s);
    s.item_size_max = (size_t)40 << 20;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "1/2 of memory max"));
    s.maxbytes = (size_t)4 << 30;
    s.item_size_max = (size_t)2 << 30;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "1 gigabyte"));

    settings_defaults(&s);
    s.threads = 0;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "threads"));
    s.threads = 1000;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);

    settings_defaults(&s);
    s.factor = 1.0;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "Factor"));

    settings_defaults(&s);
    s.hashpower = 5;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "too low"));
    s.hashpower = 32;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);

    settings_defaults(&s);
    s.slab_chunk_max = 600 * 1024;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "evenly divisible"));
    s.slab_chunk_max = 1024;        /* memcached's stats.t: -I 1024 too */
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
    s.slab_chunk_max = 512;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "between 1024"));
    s.maxbytes = (size_t)1 << 30;
    s.item_size_max = (size_t)4 << 20;
    s.slab_chunk_max = (size_t)2 << 20;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    s.item_size_max = (size_t)1 << 20;
    s.slab_chunk_max = (size_t)1 << 20;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
    s.item_size_max = (size_t)512 << 10;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "cannot be larger"));

    settings_defaults(&s);
    s.chunk_size = 4;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT(contains(err, "-n"));

    settings_defaults(&s);
    s.reqs_per_event = 0;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    settings_defaults(&s);
    s.maxconns = 0;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    settings_defaults(&s);
    s.udpport = 11211;          /* UDP is served (-U) */
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
    settings_defaults(&s);
    s.maxbytes = 0;
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);

    /* a loaded -I 40m against -m 64 fails validation, like memcached */
    CU_ASSERT_EQUAL(load(&s, NULL, 2, "-I", "40m"), 0);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(load(&s, NULL, 4, "-I", "40m", "-m", "128"), 0);
    CU_ASSERT_EQUAL(settings_validate(&s, err, sizeof(err)), 0);
}

UNIT_SUITE(settings, NULL, NULL,
           UNIT_TEST(test_defaults),
           UNIT_TEST(test_short_options),
           UNIT_TEST(test_long_options),
           UNIT_TEST(test_protocol),
           UNIT_TEST(test_listen_list),
           UNIT_TEST(test_size_suffixes),
           UNIT_TEST(test_extended),
           UNIT_TEST(test_extended_errors),
           UNIT_TEST(test_http_options),
           UNIT_TEST(test_errors),
           UNIT_TEST(test_repl_options), UNIT_TEST(test_memory_file),
           UNIT_TEST(test_help_version),
           UNIT_TEST(test_config_file),
           UNIT_TEST(test_config_errors),
           UNIT_TEST(test_validate))
