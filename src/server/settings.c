/*
 * settings.c - memcached's command line and the --config file.
 *
 * Design: one table (opts[]) describes every option once: its long name,
 * its short letter, whether it takes a value, and where it may appear (the
 * command line, -o, the config file). The getopt_long tables are generated
 * from it, and the config file and -o look names up in it, so the three
 * sources cannot drift apart. Every option is applied by apply(), which
 * receives either a value string or, for flags, a boolean, and hands it to
 * the apply_* of its family (network, commands, cache, process, ...); that
 * checks the value's syntax and range. apply()'s switch names every option
 * without a default, so -Wswitch reports one no family handles.
 * Cross-field rules (settings_validate()) and what the settings tell the
 * engine and the protocol are in settings_check.c.
 *
 * Precedence: defaults < config file < command line. settings_load() finds
 * --config with a dry run over argv, reads the file, then applies argv. The
 * first -l of a source replaces the list inherited from the previous one.
 *
 * Invariants: nothing here exits or prints except -h / -V / -i (to `out`);
 * errors return -1 with one line in err naming the option (and file:line).
 */
#include "server/settings.h"
#include "server/settings_tuning.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "engine/engine.h"
#include "proto/proto.h"
#include "server/listener.h"
#include "server/usage.h"
#include "core/version.h"

enum opt_arg { ARG_NONE, ARG_REQ, ARG_OPT };

/* Where a name is accepted. */
enum {
    W_CMD = 1,      /* command line (short and/or --long) */
    W_EXT = 2,      /* -o name[=value] */
    W_CFG = 4,      /* config file */
};

enum opt_id {
    O_PORT, O_UDP, O_UNIX, O_MASK, O_SHUTDOWN, O_LISTEN, O_DAEMON, O_CORE,
    O_USER, O_MEM, O_NOEVICT, O_CONNS, O_LOCKMEM, O_VERBOSE, O_HELP,
    O_LICENSE, O_VERSION, O_PIDFILE, O_FACTOR, O_MINSIZE, O_LARGEPAGES,
    O_DELIM, O_THREADS, O_REQS, O_NOCAS, O_BACKLOG, O_PROTO, O_ITEMMAX,
    O_NOFLUSH, O_NODUMP, O_NOWATCH, O_EXTENDED, O_CONFIG, O_REFUSED,
    O_NAPI, O_AUTHFILE, O_SASL,
    /* -o */
    O_MAXCONNS_FAST, O_NO_MAXCONNS_FAST, O_HASHPOWER, O_IDLE,
    O_LRU_CRAWLER, O_NO_LRU_CRAWLER, O_READ_BUF_LIMIT,
    O_MEM_RESERVE, O_BACKOFF, O_TRACK_SIZES, O_TUNING, O_IO_URING,
    O_HTTP_PORT, O_HTTP_ADDR, O_HTTP_WRITE, O_HTTP_PEERS,
    O_MEMFILE, O_MEMFILE_WAIT, O_CHECK, O_UPGRADE_TIMEOUT,
    O_REPL_PEER, O_REPL_PORT, O_REPL_SYNC, O_REPL_SYNC_TIMEOUT, O_REPL_QUEUE,
    O_REPL_TIMEOUT,
};

struct optdef {
    const char *name;       /* --long name ('-'), or -o name ('_') */
    int shortc;             /* short letter, 0 = none */
    enum opt_arg arg;
    enum opt_id id;
    int where;
    const char *refuse;     /* O_REFUSED: why */
};

#define CMD (W_CMD | W_CFG)
#define EXT (W_EXT | W_CFG)

static const struct optdef opts[] = {
    { "port", 'p', ARG_REQ, O_PORT, CMD, NULL },
    { "udp-port", 'U', ARG_REQ, O_UDP, CMD, NULL },
    { "unix-socket", 's', ARG_REQ, O_UNIX, CMD, NULL },
    { "unix-mask", 'a', ARG_REQ, O_MASK, CMD, NULL },
    { "enable-shutdown", 'A', ARG_NONE, O_SHUTDOWN, CMD, NULL },
    { "listen", 'l', ARG_REQ, O_LISTEN, CMD, NULL },
    { "daemon", 'd', ARG_NONE, O_DAEMON, CMD, NULL },
    { "enable-coredumps", 'r', ARG_NONE, O_CORE, CMD, NULL },
    { "user", 'u', ARG_REQ, O_USER, CMD, NULL },
    { "memory-limit", 'm', ARG_REQ, O_MEM, CMD, NULL },
    { "disable-evictions", 'M', ARG_NONE, O_NOEVICT, CMD, NULL },
    { "conn-limit", 'c', ARG_REQ, O_CONNS, CMD, NULL },
    { "lock-memory", 'k', ARG_NONE, O_LOCKMEM, CMD, NULL },
    { "verbose", 'v', ARG_OPT, O_VERBOSE, CMD, NULL },
    { "help", 'h', ARG_NONE, O_HELP, W_CMD, NULL },
    { "license", 'i', ARG_NONE, O_LICENSE, W_CMD, NULL },
    { "version", 'V', ARG_NONE, O_VERSION, W_CMD, NULL },
    { "pidfile", 'P', ARG_REQ, O_PIDFILE, CMD, NULL },
    { "slab-growth-factor", 'f', ARG_REQ, O_FACTOR, CMD, NULL },
    { "slab-min-size", 'n', ARG_REQ, O_MINSIZE, CMD, NULL },
    { "enable-largepages", 'L', ARG_NONE, O_LARGEPAGES, CMD, NULL },
    /* -D has no long form in memcached; the config file calls it this. */
    { "stat-key-delimiter", 'D', ARG_REQ, O_DELIM, CMD, NULL },
    { "threads", 't', ARG_REQ, O_THREADS, CMD, NULL },
    { "max-reqs-per-event", 'R', ARG_REQ, O_REQS, CMD, NULL },
    { "disable-cas", 'C', ARG_NONE, O_NOCAS, CMD, NULL },
    { "listen-backlog", 'b', ARG_REQ, O_BACKLOG, CMD, NULL },
    { "protocol", 'B', ARG_REQ, O_PROTO, CMD, NULL },
    { "max-item-size", 'I', ARG_REQ, O_ITEMMAX, CMD, NULL },
    { "disable-flush-all", 'F', ARG_NONE, O_NOFLUSH, CMD, NULL },
    { "disable-dumping", 'X', ARG_NONE, O_NODUMP, CMD, NULL },
    { "disable-watch", 'W', ARG_NONE, O_NOWATCH, CMD, NULL },
    { "extended", 'o', ARG_REQ, O_EXTENDED, CMD, NULL },
    { "config", 0, ARG_REQ, O_CONFIG, CMD, NULL },
    { "enable-sasl", 'S', ARG_NONE, O_SASL, CMD, NULL },
    { "enable-ssl", 'Z', ARG_NONE, O_REFUSED, CMD,
      "TLS/SSL is not supported by shmcached" },
    { "auth-file", 'Y', ARG_REQ, O_AUTHFILE, CMD, NULL },
    { "memory-file", 'e', ARG_REQ, O_MEMFILE, CMD, NULL },
    /* repcached's -x: the replication peer (its -X cannot be: memcached's
     * --disable-dumping) */
    { "repl-peer", 'x', ARG_REQ, O_REPL_PEER, CMD, NULL },
    /* verify a memory file (-e) and exit: an operator's fsck */
    { "check", 0, ARG_NONE, O_CHECK, W_CMD, NULL },
    { "napi-ids", 'N', ARG_REQ, O_NAPI, CMD, NULL },

    { "maxconns_fast", 0, ARG_OPT, O_MAXCONNS_FAST, EXT, NULL },
    { "no_maxconns_fast", 0, ARG_OPT, O_NO_MAXCONNS_FAST, EXT, NULL },
    { "hashpower", 0, ARG_REQ, O_HASHPOWER, EXT, NULL },
    { "idle_timeout", 0, ARG_REQ, O_IDLE, EXT, NULL },
    { "lru_crawler", 0, ARG_OPT, O_LRU_CRAWLER, EXT, NULL },
    { "no_lru_crawler", 0, ARG_OPT, O_NO_LRU_CRAWLER, EXT, NULL },
    { "read_buf_mem_limit", 0, ARG_REQ, O_READ_BUF_LIMIT, EXT, NULL },
    { "memory_reserve", 0, ARG_REQ, O_MEM_RESERVE, EXT, NULL },
    { "memory_file_wait", 0, ARG_REQ, O_MEMFILE_WAIT, EXT, NULL },
    { "upgrade_timeout", 0, ARG_REQ, O_UPGRADE_TIMEOUT, EXT, NULL },
    { "repl_port", 0, ARG_REQ, O_REPL_PORT, EXT, NULL },
    { "repl_sync", 0, ARG_OPT, O_REPL_SYNC, EXT, NULL },
    { "repl_sync_timeout_ms", 0, ARG_REQ, O_REPL_SYNC_TIMEOUT, EXT, NULL },
    { "repl_queue", 0, ARG_REQ, O_REPL_QUEUE, EXT, NULL },
    { "repl_timeout_ms", 0, ARG_REQ, O_REPL_TIMEOUT, EXT, NULL },
    { "worker_backoff_ms", 0, ARG_REQ, O_BACKOFF, EXT, NULL },
    { "track_sizes", 0, ARG_OPT, O_TRACK_SIZES, EXT, NULL },
    { "io_uring", 0, ARG_OPT, O_IO_URING, EXT, NULL },
    { "http_port", 0, ARG_REQ, O_HTTP_PORT, EXT, NULL },
    { "http_addr", 0, ARG_REQ, O_HTTP_ADDR, EXT, NULL },
    { "http_write", 0, ARG_OPT, O_HTTP_WRITE, EXT, NULL },
    { "http_peers", 0, ARG_REQ, O_HTTP_PEERS, EXT, NULL },
    /* memcached's tuning of the engine, the crawler and the logger
     * (settings_tuning.c checks and stores them by name) */
#define TUNE(n, a) { n, 0, a, O_TUNING, EXT, NULL }
    TUNE("slab_chunk_max", ARG_REQ), TUNE("slab_sizes", ARG_REQ),
    TUNE("no_chunked_items", ARG_OPT), TUNE("hash_algorithm", ARG_REQ),
    TUNE("no_hashexpand", ARG_OPT), TUNE("slab_reassign", ARG_OPT),
    TUNE("no_slab_reassign", ARG_OPT), TUNE("slab_automove", ARG_OPT),
    TUNE("no_slab_automove", ARG_OPT), TUNE("slab_automove_ratio", ARG_REQ),
    TUNE("slab_automove_freeratio", ARG_REQ),
    TUNE("slab_automove_window", ARG_REQ), TUNE("lru_maintainer", ARG_OPT),
    TUNE("no_lru_maintainer", ARG_OPT), TUNE("lru_segmented", ARG_OPT),
    TUNE("no_lru_segmented", ARG_OPT), TUNE("hot_lru_pct", ARG_REQ),
    TUNE("warm_lru_pct", ARG_REQ), TUNE("hot_max_factor", ARG_REQ),
    TUNE("warm_max_factor", ARG_REQ), TUNE("temporary_ttl", ARG_REQ),
    TUNE("tail_repair_time", ARG_REQ), TUNE("lru_crawler_sleep", ARG_REQ),
    TUNE("lru_crawler_tocrawl", ARG_REQ), TUNE("watcher_logbuf_size", ARG_REQ),
    TUNE("worker_logbuf_size", ARG_REQ), TUNE("modern", ARG_OPT),
    TUNE("no_modern", ARG_OPT), TUNE("resp_obj_mem_limit", ARG_OPT),
    TUNE("inline_ascii_resp", ARG_OPT), TUNE("no_inline_ascii_resp", ARG_OPT),
    TUNE("inline_ascii_response", ARG_OPT), TUNE("drop_privileges", ARG_OPT),
    TUNE("no_drop_privileges", ARG_OPT), TUNE("sock_cookie_id", ARG_REQ),
    /* memcached-debug's test suite switch for its seccomp sandbox */
    TUNE("relaxed_privileges", ARG_OPT),
#undef TUNE
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Families of -o options that belong to other memcached builds. */
static const struct { const char *prefix, *why; } refused_ext[] = {
    { "ssl_", "TLS/SSL is not supported by shmcached" },
    { "ext_", "external storage (extstore) is not supported by shmcached" },
    { "proxy", "the memcached proxy is not supported by shmcached" },
};

/* State of one parse (one source: the command line or one file). */
struct pctx {
    struct settings *s;
    FILE *out;              /* -h / -V output, NULL: dry run */
    int in_file;
    int listen_seen;        /* the first -l of a source replaces the list */
    int done;               /* -h / -V / -i seen */
    char where[160];        /* "-p", "--config", "file:3: port" */
    char *err;
    size_t errlen;
};

static int fail(struct pctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct pctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s", c->where, msg);
    return -1;
}

void settings_defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->port = SHMC_DEFAULT_PORT;
    s->udpport = 0;
    s->access_mask = SHMC_DEFAULT_UNIX_MASK;
    s->nlisten = 0;
    s->backlog = SHMC_DEFAULT_BACKLOG;
    s->maxconns = SHMC_DEFAULT_MAXCONNS;
    s->maxconns_fast = 1;
    s->idle_timeout = 0;
    s->reqs_per_event = SHMC_REQS_PER_EVENT;
    s->read_buf_max = SHMC_LINE_MAX;
    s->proto = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = ncpu < 1 ? 4 : ncpu > 64 ? 64 : (int)ncpu;
    s->enable_flush = 1;
    s->evict_to_free = 1;
    s->maxbytes = (size_t)SHMC_DEFAULT_MEM_MB << 20;
    s->mem_reserve = 0;
    s->factor = SHMC_DEFAULT_FACTOR;
    s->chunk_size = SHMC_DEFAULT_MIN_CHUNK;
    s->item_size_max = SHMC_DEFAULT_ITEM_MAX;
    s->slab_chunk_max = 0;
    s->hashpower = 0;
    s->lru_crawler = 1;
    s->lru_maintainer = 1;
    s->stat_key_prefix = ':';
    tuning_defaults(&s->tuning);
    s->lru_crawler_sleep = 100;
    s->lru_crawler_tocrawl = 0;
    s->watch_enabled = 1;
    s->watcher_logbuf_size = (size_t)256 << 10;
    s->worker_logbuf_size = (size_t)64 << 10;
    s->worker_restart_backoff_ms = 100;
    s->memory_file_wait = 15;
    s->upgrade_timeout = 30;
    s->repl_port = 0;                   /* 11212 once -x is given */
    s->repl_sync_timeout_ms = 1000;
    s->repl_timeout_ms = 5000;
    s->repl_queue = (size_t)16 << 20;
    s->dump_enabled = 1;
    snprintf(s->http_addr, sizeof(s->http_addr), "127.0.0.1");
}

/* ---- value parsers -------------------------------------------------- */

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    if (v == NULL || *v == '\0')
        return -1;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static int parse_int(struct pctx *c, const char *v, long min, long max,
                     int *out)
{
    long x;
    if (parse_long(v, min, max, &x) < 0)
        return fail(c, "'%s' is not a number in %ld..%ld", v ? v : "",
                    min, max);
    *out = (int)x;
    return 0;
}

/* "<n>[k|m|g]": a bare number counts `unit` bytes. */
static int parse_size(struct pctx *c, const char *v, size_t unit,
                      size_t *out)
{
    char *end;
    if (v == NULL || !isdigit((unsigned char)*v))
        return fail(c, "'%s' is not a size (number with optional k/m/g)",
                    v ? v : "");
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0)
        return fail(c, "'%s' is too large", v);
    switch (*end) {
    case 'k': case 'K': unit = (size_t)1 << 10; end++; break;
    case 'm': case 'M': unit = (size_t)1 << 20; end++; break;
    case 'g': case 'G': unit = (size_t)1 << 30; end++; break;
    default: break;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0')
        return fail(c, "'%s' is not a size (number with optional k/m/g)", v);
    if (x > SIZE_MAX / unit)
        return fail(c, "'%s' is too large", v);
    *out = (size_t)x * unit;
    return 0;
}

/* Returns 1, 0, or -1 when v is not a boolean word. */
static int parse_bool(const char *v)
{
    static const char *yes[] = { "yes", "true", "on", "1" };
    static const char *no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static int copy_str(struct pctx *c, char *dst, size_t len, const char *v)
{
    if (strlen(v) >= len)
        return fail(c, "value too long (max %zu characters)", len - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int add_listen(struct pctx *c, const char *v)
{
    struct settings *s = c->s;
    if (!c->listen_seen) {
        s->nlisten = 0;         /* this source replaces earlier lists */
        c->listen_seen = 1;
    }
    const char *p = v;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            if (s->nlisten >= SETTINGS_MAX_LISTEN)
                return fail(c, "too many listen addresses (max %d)",
                            SETTINGS_MAX_LISTEN);
            if (n >= sizeof(s->listen[0]))
                return fail(c, "listen address too long: '%.*s'", (int)n, p);
            memcpy(s->listen[s->nlisten], p, n);
            s->listen[s->nlisten][n] = '\0';
            char host[SHMC_HOST_MAX];
            int port;
            if (listener_split(s->listen[s->nlisten], 0, host, sizeof(host),
                               &port) < 0)
                return fail(c, "invalid listen address '%s'",
                            s->listen[s->nlisten]);
            s->nlisten++;
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return 0;
}

/* -o http_peers: host:port entries separated by ',', ';' or blanks,
 * appended to the list (the option itself empties it first). */
static int add_peers(struct pctx *c, const char *v)
{
    struct settings *s = c->s;
    const char *p = v;
    for (;;) {
        p += strspn(p, ",; \t");
        size_t n = strcspn(p, ",; \t");
        if (n == 0)
            return 0;
        if (s->npeers >= SETTINGS_MAX_PEERS)
            return fail(c, "too many peers (max %d)", SETTINGS_MAX_PEERS);
        if (n >= sizeof(s->http_peers[0]))
            return fail(c, "peer address too long: '%.*s'", (int)n, p);
        char *dst = s->http_peers[s->npeers];
        memcpy(dst, p, n);
        dst[n] = '\0';
        char host[SHMC_HOST_MAX];
        int port = 0;
        if (listener_split(dst, 0, host, sizeof(host), &port) < 0 ||
            port <= 0 || host[0] == '\0')
            return fail(c, "invalid peer '%s' (host:port)", dst);
        s->npeers++;
        p += n;
    }
}

/* ---- applying one option -------------------------------------------- */

static int apply_ext_list(struct pctx *c, const char *list);

/* Each apply_* below handles one family of options, as routed by apply();
 * flags (ARG_NONE, and ARG_OPT given no value) get val == NULL and
 * on = 0/1. They return 0, or -1 with the error in c->err. */

static int unhandled(struct pctx *c)
{
    return fail(c, "internal error: unhandled option");
}

/* Options about the parse itself: print and stop (-h, -i, -V), read
 * another source (--config, -o), or refuse. */
static int apply_control(struct pctx *c, const struct optdef *o,
                         const char *val)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_HELP:
        if (c->out)
            usage_print(c->out);
        c->done = 1;
        return 0;
    case O_LICENSE:
        if (c->out)
            usage_license(c->out);
        c->done = 1;
        return 0;
    case O_VERSION:
        if (c->out)
            fprintf(c->out, "%s %s (memcached-compatible)\n", SHMC_NAME,
                    SHMC_VERSION);
        c->done = 1;
        return 0;
    case O_EXTENDED: return apply_ext_list(c, val);
    case O_CONFIG:
        if (c->in_file)
            return fail(c, "a config file cannot name another one");
        return copy_str(c, s->config_file, sizeof(s->config_file), val);
    case O_REFUSED:
        return fail(c, "%s", o->refuse);
    default: return unhandled(c);
    }
}

/* The listeners, the connections and the workers that serve them. */
static int apply_network(struct pctx *c, const struct optdef *o,
                         const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_PORT:
        s->port_given = 1;
        return parse_int(c, val, -1, 65535, &s->port);
    case O_UDP:
        s->udp_given = 1;
        return parse_int(c, val, -1, 65535, &s->udpport);
    case O_UNIX:
        return copy_str(c, s->socketpath, sizeof(s->socketpath), val);
    case O_MASK: {
        char *end;
        errno = 0;
        long l = strtol(val, &end, 8);
        if (errno != 0 || *val == '\0' || *end != '\0' || l < 0 || l > 0777)
            return fail(c, "'%s' is not an octal mode (0..777)", val);
        s->access_mask = (int)l;
        return 0;
    }
    case O_LISTEN: return add_listen(c, val);
    case O_CONNS: return parse_int(c, val, 1, INT_MAX, &s->maxconns);
    case O_THREADS: return parse_int(c, val, 1, INT_MAX, &s->threads);
    case O_REQS: return parse_int(c, val, 1, INT_MAX, &s->reqs_per_event);
    case O_BACKLOG: return parse_int(c, val, 1, INT_MAX, &s->backlog);
    case O_PROTO:
        s->proto_given = 1;
        if (strcmp(val, "auto") == 0)
            s->proto = 0;
        else if (strcmp(val, "ascii") == 0)
            s->proto = 1;
        else if (strcmp(val, "binary") == 0)
            s->proto = 2;
        else
            return fail(c, "unknown protocol '%s' (ascii, binary or auto)",
                        val);
        return 0;
    case O_NAPI: return parse_int(c, val, 1, INT_MAX, &s->napi_ids);
    case O_MAXCONNS_FAST: s->maxconns_fast = on; return 0;
    case O_NO_MAXCONNS_FAST: s->maxconns_fast = !on; return 0;
    case O_IDLE: return parse_int(c, val, 0, INT_MAX, &s->idle_timeout);
    case O_IO_URING: s->io_uring = on; return 0;
    case O_READ_BUF_LIMIT:
        return parse_size(c, val, (size_t)1 << 20, &s->read_buf_mem_limit);
    default: return unhandled(c);
    }
}

/* What clients may do: the commands that can be switched off, the stats
 * detail delimiter, and authentication. */
static int apply_commands(struct pctx *c, const struct optdef *o,
                          const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_SHUTDOWN: s->enable_shutdown = on; return 0;
    case O_DELIM:
        if (strlen(val) != 1)
            return fail(c, "the delimiter must be one character");
        s->stat_key_prefix = (unsigned char)val[0];
        s->detail_enabled = 1;
        return 0;
    case O_NOFLUSH: s->enable_flush = !on; return 0;
    case O_NODUMP: s->dump_enabled = !on; return 0;
    case O_NOWATCH: s->watch_enabled = !on; return 0;
    case O_SASL: s->sasl = on; return 0;
    case O_AUTHFILE:
        return copy_str(c, s->auth_file, sizeof(s->auth_file), val);
    default: return unhandled(c);
    }
}

/* The cache: memory, slab classes, items, the hash table, the LRU and its
 * crawler, and memcached's engine tuning (settings_tuning.c). */
static int apply_cache(struct pctx *c, const struct optdef *o,
                       const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_MEM:
        return parse_size(c, val, (size_t)1 << 20, &s->maxbytes);
    case O_NOEVICT: s->evict_to_free = !on; return 0;
    case O_FACTOR: {
        char *end;
        errno = 0;
        double f = strtod(val, &end);
        if (errno != 0 || *val == '\0' || *end != '\0')
            return fail(c, "'%s' is not a number", val);
        s->factor = f;
        return 0;
    }
    case O_MINSIZE: return parse_int(c, val, 1, INT_MAX, &s->chunk_size);
    case O_ITEMMAX:
        return parse_size(c, val, 1, &s->item_size_max);
    case O_NOCAS: s->disable_cas = on; return 0;
    case O_HASHPOWER: return parse_int(c, val, 0, 64, &s->hashpower);
    case O_LRU_CRAWLER: s->lru_crawler = on; return 0;
    case O_NO_LRU_CRAWLER: s->lru_crawler = !on; return 0;
    case O_TRACK_SIZES: s->track_sizes = on; return 0;
    case O_TUNING: {
        char msg[200];
        if (settings_tuning_apply(s, o->name, val, msg, sizeof(msg)) < 0)
            return fail(c, "%s", msg);
        return 0;
    }
    case O_MEM_RESERVE:
        return parse_size(c, val, (size_t)1 << 20, &s->mem_reserve);
    default: return unhandled(c);
    }
}

/* The process: daemon, privileges, memory locking, logging, worker
 * restarts, the memory file (-e) and upgrades. */
static int apply_process(struct pctx *c, const struct optdef *o,
                         const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_DAEMON: s->daemonize = on; return 0;
    case O_CORE: s->maxcore = on; return 0;
    case O_USER: return copy_str(c, s->username, sizeof(s->username), val);
    case O_LOCKMEM: s->lock_memory = on; return 0;
    case O_VERBOSE:
        if (val == NULL) {
            if (c->in_file)
                s->verbose = on;
            else
                s->verbose++;
            return 0;
        }
        return parse_int(c, val, 0, 3, &s->verbose);
    case O_PIDFILE: return copy_str(c, s->pidfile, sizeof(s->pidfile), val);
    case O_LARGEPAGES: s->large_pages = on; return 0;
    case O_MEMFILE:
        return copy_str(c, s->memory_file, sizeof(s->memory_file), val);
    case O_MEMFILE_WAIT:
        return parse_int(c, val, 0, 3600, &s->memory_file_wait);
    case O_CHECK: s->check_only = on; return 0;
    case O_UPGRADE_TIMEOUT:
        return parse_int(c, val, 1, 3600, &s->upgrade_timeout);
    case O_BACKOFF:
        return parse_int(c, val, 0, 3600000, &s->worker_restart_backoff_ms);
    default: return unhandled(c);
    }
}

/* Replication (-x and its -o settings). */
static int apply_repl(struct pctx *c, const struct optdef *o,
                      const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_REPL_PEER:
        return copy_str(c, s->repl_peer, sizeof(s->repl_peer), val);
    case O_REPL_PORT: return parse_int(c, val, 1, 65535, &s->repl_port);
    case O_REPL_SYNC: s->repl_sync = on; return 0;
    case O_REPL_SYNC_TIMEOUT:
        return parse_int(c, val, 1, 3600000, &s->repl_sync_timeout_ms);
    case O_REPL_TIMEOUT:
        return parse_int(c, val, 100, 3600000, &s->repl_timeout_ms);
    case O_REPL_QUEUE:
        return parse_size(c, val, (size_t)1 << 20, &s->repl_queue);
    default: return unhandled(c);
    }
}

/* The HTTP console. */
static int apply_console(struct pctx *c, const struct optdef *o,
                         const char *val, int on)
{
    struct settings *s = c->s;
    switch (o->id) {
    case O_HTTP_PORT: return parse_int(c, val, 0, 65535, &s->http_port);
    case O_HTTP_ADDR:
        return copy_str(c, s->http_addr, sizeof(s->http_addr), val);
    case O_HTTP_WRITE: s->http_write = on; return 0;
    case O_HTTP_PEERS:
        s->npeers = 0;          /* each occurrence gives the whole list */
        return add_peers(c, val);
    default: return unhandled(c);
    }
}

/* Applies one option: routes it to its family. Every enum opt_id is named
 * here, without a default, so the compiler (-Wswitch) reports an option
 * that no family handles. */
static int apply(struct pctx *c, const struct optdef *o, const char *val,
                 int on)
{
    switch (o->id) {
    case O_HELP: case O_LICENSE: case O_VERSION: case O_EXTENDED:
    case O_CONFIG: case O_REFUSED:
        return apply_control(c, o, val);
    case O_PORT: case O_UDP: case O_UNIX: case O_MASK: case O_LISTEN:
    case O_CONNS: case O_THREADS: case O_REQS: case O_BACKLOG: case O_PROTO:
    case O_NAPI: case O_MAXCONNS_FAST: case O_NO_MAXCONNS_FAST: case O_IDLE:
    case O_IO_URING: case O_READ_BUF_LIMIT:
        return apply_network(c, o, val, on);
    case O_SHUTDOWN: case O_DELIM: case O_NOFLUSH: case O_NODUMP:
    case O_NOWATCH: case O_SASL: case O_AUTHFILE:
        return apply_commands(c, o, val, on);
    case O_MEM: case O_NOEVICT: case O_FACTOR: case O_MINSIZE: case O_ITEMMAX:
    case O_NOCAS: case O_HASHPOWER: case O_LRU_CRAWLER: case O_NO_LRU_CRAWLER:
    case O_TRACK_SIZES: case O_TUNING: case O_MEM_RESERVE:
        return apply_cache(c, o, val, on);
    case O_DAEMON: case O_CORE: case O_USER: case O_LOCKMEM: case O_VERBOSE:
    case O_PIDFILE: case O_LARGEPAGES: case O_MEMFILE: case O_MEMFILE_WAIT:
    case O_CHECK: case O_UPGRADE_TIMEOUT: case O_BACKOFF:
        return apply_process(c, o, val, on);
    case O_REPL_PEER: case O_REPL_PORT: case O_REPL_SYNC:
    case O_REPL_SYNC_TIMEOUT: case O_REPL_TIMEOUT: case O_REPL_QUEUE:
        return apply_repl(c, o, val, on);
    case O_HTTP_PORT: case O_HTTP_ADDR: case O_HTTP_WRITE: case O_HTTP_PEERS:
        return apply_console(c, o, val, on);
    }
    return unhandled(c);
}

/* Applies an option that may be a flag: val NULL means "on"; a value must
 * then be a boolean word (or, for --verbose, a level). */
static int apply_value(struct pctx *c, const struct optdef *o,
                       const char *val)
{
    if (o->arg == ARG_REQ) {
        if (val == NULL || (*val == '\0' && o->id != O_UNIX &&
                            o->id != O_PIDFILE && o->id != O_USER))
            return fail(c, "requires a value");
        return apply(c, o, val, 1);
    }
    if (val == NULL)
        return apply(c, o, NULL, 1);
    if (o->id == O_VERBOSE && isdigit((unsigned char)val[0]))
        return apply(c, o, val, 1);
    if (o->id == O_TUNING)          /* a number, a name or a boolean */
        return apply(c, o, val, 1);
    int b = parse_bool(val);
    if (b < 0)
        return fail(c, "'%s' is not a boolean (yes/no/true/false/1/0)", val);
    return apply(c, o, NULL, b);
}

/* Compares a user-given name with a table name, '-' and '_' alike. */
static int name_eq(const char *user, size_t ulen, const char *name)
{
    size_t i;
    for (i = 0; i < ulen && name[i]; i++) {
        char a = user[i] == '-' ? '_' : user[i];
        char b = name[i] == '-' ? '_' : name[i];
        if (a != b)
            return 0;
    }
    return i == ulen && name[i] == '\0';
}

static const struct optdef *find_opt(const char *name, size_t len, int where)
{
    for (size_t i = 0; i < NOPTS; i++)
        if ((opts[i].where & where) && name_eq(name, len, opts[i].name))
            return &opts[i];
    return NULL;
}

static const char *refused_family(const char *name)
{
    for (size_t i = 0; i < sizeof(refused_ext) / sizeof(refused_ext[0]); i++)
        if (strncmp(name, refused_ext[i].prefix,
                    strlen(refused_ext[i].prefix)) == 0)
            return refused_ext[i].why;
    return NULL;
}

/* One -o item: "name" or "name=value". */
static int apply_ext(struct pctx *c, const char *item, size_t len)
{
    char buf[256];
    if (len >= sizeof(buf))
        return fail(c, "extended option too long");
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *eq = strchr(buf, '=');
    const char *val = NULL;
    if (eq != NULL) {
        *eq = '\0';
        val = eq + 1;
    }
    char saved[sizeof(c->where)];
    memcpy(saved, c->where, sizeof(saved));
    snprintf(c->where, sizeof(c->where), "%.100s %.50s", saved, buf);
    const struct optdef *o = find_opt(buf, strlen(buf), W_EXT);
    int rc;
    if (o == NULL) {
        const char *why = refused_family(buf);
        rc = why ? fail(c, "%s", why)
                 : fail(c, "unknown extended option (see -h for the list)");
    } else {
        rc = apply_value(c, o, val);
    }
    memcpy(c->where, saved, sizeof(saved));
    return rc;
}

/* -o is comma separated, and so is http_peers' value: an item without '='
 * that follows http_peers and names no option is one more peer
 * ("-o http_peers=a:1,b:2,http_port=11280"). */
static int peer_continues(struct pctx *c, const char *item, size_t n,
                          int after_peers)
{
    if (!after_peers || memchr(item, '=', n) != NULL ||
        find_opt(item, n, W_EXT) != NULL || n >= SHMC_HOST_MAX)
        return 0;
    char buf[SHMC_HOST_MAX];
    memcpy(buf, item, n);
    buf[n] = '\0';
    return add_peers(c, buf) == 0 ? 1 : -1;
}

static int apply_ext_list(struct pctx *c, const char *list)
{
    const char *p = list;
    int after_peers = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        int cont = n > 0 ? peer_continues(c, p, n, after_peers) : 0;
        if (cont < 0)
            return -1;
        if (n > 0 && !cont) {
            if (apply_ext(c, p, n) < 0)
                return -1;
            after_peers = strncmp(p, "http_peers=", 11) == 0;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* ---- command line --------------------------------------------------- */

static int parse_args(struct pctx *c, int argc, char **argv)
{
    struct option longopts[NOPTS + 1];
    char shortopts[2 * NOPTS + 2];
    size_t nl = 0, ns = 0;

    shortopts[ns++] = ':';          /* report missing values as ':' */
    for (size_t i = 0; i < NOPTS; i++) {
        const struct optdef *o = &opts[i];
        if (!(o->where & W_CMD))
            continue;
        longopts[nl].name = o->name;
        longopts[nl].has_arg = o->arg == ARG_REQ ? required_argument :
                               o->arg == ARG_OPT ? optional_argument :
                               no_argument;
        longopts[nl].flag = NULL;
        longopts[nl].val = 256 + (int)i;
        nl++;
        if (o->shortc) {
            shortopts[ns++] = (char)o->shortc;
            if (o->arg == ARG_REQ)
                shortopts[ns++] = ':';      /* -v takes no value: -vv */
        }
    }
    memset(&longopts[nl], 0, sizeof(longopts[nl]));
    shortopts[ns] = '\0';

    optind = 0;                     /* glibc: full re-initialisation */
    opterr = 0;
    for (;;) {
        int prev = optind ? optind : 1;
        int ch = getopt_long(argc, argv, shortopts, longopts, NULL);
        if (ch == -1)
            break;
        if (ch == '?' || ch == ':') {
            const char *arg = prev < argc ? argv[prev] : "";
            snprintf(c->where, sizeof(c->where), "%s", arg);
            if (ch == ':')
                return fail(c, "requires a value");
            if (optopt && strncmp(arg, "--", 2) != 0)
                return fail(c, "unknown option -%c (see -h)", optopt);
            return fail(c, "unknown option (see -h)");
        }
        const struct optdef *o = NULL;
        if (ch >= 256) {
            o = &opts[ch - 256];
        } else {
            for (size_t i = 0; i < NOPTS && o == NULL; i++)
                if (opts[i].shortc == ch)
                    o = &opts[i];
        }
        if (o == NULL)
            return fail(c, "internal error: option %d", ch);
        if (o->shortc && ch < 256)
            snprintf(c->where, sizeof(c->where), "-%c", o->shortc);
        else
            snprintf(c->where, sizeof(c->where), "--%s", o->name);
        if (apply_value(c, o, optarg) < 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(c->where, sizeof(c->where), "%s", argv[optind]);
        return fail(c, "unexpected argument (options start with -)");
    }
    return 0;
}

int settings_parse_args(struct settings *s, int argc, char **argv,
                        FILE *out, char *err, size_t errlen)
{
    struct pctx c = { .s = s, .out = out, .err = err, .errlen = errlen };
    if (parse_args(&c, argc, argv) < 0)
        return -1;
    return c.done ? 1 : 0;
}

/* ---- config file ---------------------------------------------------- */

static char *trim(char *p)
{
    while (isspace((unsigned char)*p))
        p++;
    char *e = p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return p;
}

static int parse_line(struct pctx *c, char *line)
{
    /* '#' starts a comment at the start of a line or after a blank. */
    for (char *h = line; (h = strchr(h, '#')) != NULL; h++)
        if (h == line || isspace((unsigned char)h[-1])) {
            *h = '\0';
            break;
        }
    char *p = trim(line);
    if (*p == '\0')
        return 0;
    char *eq = strchr(p, '=');
    if (eq == NULL)
        return fail(c, "expected 'name = value', got '%s'", p);
    *eq = '\0';
    char *name = trim(p), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && (val[0] == '"' || val[0] == '\'') && val[vl - 1] == val[0]) {
        val[vl - 1] = '\0';
        val++;
    }
    char *colon = c->where + strlen(c->where);
    snprintf(colon, sizeof(c->where) - (size_t)(colon - c->where), " %s",
             name);
    const struct optdef *o = find_opt(name, strlen(name), W_CFG);
    if (o == NULL) {
        const char *why = refused_family(name);
        return why ? fail(c, "%s", why) : fail(c, "unknown setting");
    }
    if (o->arg != ARG_REQ && *val == '\0')
        return fail(c, "requires a value (yes or no)");
    return apply_value(c, o, val);
}

static int parse_file(struct pctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(c->where, sizeof(c->where), "%s", path);
        return fail(c, "cannot open: %s", strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;
    c->in_file = 1;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(c->where, sizeof(c->where), "%s:%u:", path, lineno);
        if (n > 4096)
            rc = fail(c, "line too long");
        else
            rc = parse_line(c, line);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(c->where, sizeof(c->where), "%s", path);
        rc = fail(c, "read error: %s", strerror(errno));
    }
    free(line);
    fclose(f);
    return rc;
}

int settings_parse_file(struct settings *s, const char *path, char *err,
                        size_t errlen)
{
    struct pctx c = { .s = s, .err = err, .errlen = errlen };
    return parse_file(&c, path);
}

int settings_load(struct settings *s, int argc, char **argv, FILE *out,
                  char *err, size_t errlen)
{
    /* Dry run to learn --config (getopt also resolves abbreviations). */
    struct settings probe;
    settings_defaults(&probe);
    int rc = settings_parse_args(&probe, argc, argv, NULL, err, errlen);
    if (rc < 0)
        return -1;
    settings_defaults(s);
    if (rc == 0 && probe.config_file[0] != '\0' &&
        settings_parse_file(s, probe.config_file, err, errlen) < 0)
        return -1;
    rc = settings_parse_args(s, argc, argv, out, err, errlen);
    /* memcached: -U without -p puts TCP on the UDP port too */
    if (rc == 0 && s->udp_given && s->udpport != 0 && !s->port_given)
        s->port = s->udpport;
    return rc;
}
