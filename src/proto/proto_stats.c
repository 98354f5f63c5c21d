/*
 * proto_stats.c - the "stats" command family in memcached 1.6's format.
 *
 * Design. Each subcommand reads one snapshot from the engine (engine_stats,
 * engine_class_stats, ...) and from the server (env->server_stats), then
 * prints "STAT <name> <value>\r\n" lines in memcached's order and names,
 * so that clients which parse them (python-memcached reads "stats slabs"
 * and "stats cachedump" by position) see what they expect. "stats" prints
 * exactly memcached 1.6's set of lines for the same settings: a line
 * memcached prints only under a setting (rejected_connections with
 * maxconns_fast, idle_kicks with idle_timeout, the slab mover's, the LRU
 * crawler's and the LRU maintainer's lines) is printed under the same one
 * (proto_config, the engine, proto_shared.crawler_enabled). Figures of
 * machinery shmcached does not have (memcached's read buffers, response
 * objects, logger drops) are printed as 0 to keep the list complete; lines
 * for extstore, proxy and TLS are left out. shmcached's own figures
 * (workers, restarts, reloads, replication, repairs) are not in "stats":
 * "stats shmcached" prints them.
 *
 * "stats detail on|off|dump" drives the engine's per-prefix table, shared
 * by every worker (engine_detail_*). "stats sizes" answers
 * "sizes_status disabled" as memcached does by default, until -o
 * track_sizes or "stats sizes_enable" turns the server-wide flag on
 * (proto_shared.track_sizes). "stats settings" is the server's to print
 * (env->stats_settings): the settings are its own.
 *
 * Invariants: every reply ends with a terminating line (END, RESET, OK,
 * ERROR or CLIENT_ERROR ...); nothing here keeps state between calls, and
 * nothing is counted (the stats command itself is not a counted command).
 */
#include "proto/proto_stats.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ev.h>

#include "engine/engine.h"
#include "core/version.h"

/* memcached's limit on a cachedump reply (2 MB, END included). */
#define CACHEDUMP_MAX (2 * 1024 * 1024)

#define LIT(s) s "\r\n", sizeof(s "\r\n") - 1

static int stat_u64(struct buf *out, const char *name, uint64_t v)
{
    return buf_printf(out, "STAT %s %llu\r\n", name, (unsigned long long)v);
}

static int stat_str(struct buf *out, const char *name, const char *v)
{
    return buf_printf(out, "STAT %s %s\r\n", name, v);
}

/* ---- stats ---------------------------------------------------------- */

/* Lines memcached prints from a table: name and figure. */
struct stat_field {
    const char *name;
    uint64_t v;
};

static int stat_fields(struct buf *out, const struct stat_field *f, size_t n)
{
    int err = 0;
    for (size_t i = 0; i < n; i++)
        err |= stat_u64(out, f[i].name, f[i].v);
    return err;
}

#define STAT_FIELDS(out, f) stat_fields(out, f, sizeof f / sizeof f[0])

/* One reading of everything "stats" prints, taken before the first line. */
struct general {
    const struct proto_env *env;
    struct proto_server_stats si;
    struct engine_stats st;
    time_t now;
    int slab_reassign;          /* the slab mover's lines */
    int crawler;                /* the LRU crawler's lines */
};

static void general_read(const struct proto_env *env, struct general *g)
{
    memset(g, 0, sizeof *g);
    g->env = env;
    if (env->server_stats)
        env->server_stats(env->arg, &g->si);
    engine_stats(env->engine, &g->st);
    g->now = engine_now(env->engine);
    g->slab_reassign = engine_slab_reassign(env->engine);
    g->crawler = env->shared && __atomic_load_n(&env->shared->crawler_enabled,
                                                __ATOMIC_RELAXED);
}

/* pid ... rusage_system: the process (memcached: its one process; here
 * the master's pid and start, the answering worker's CPU time). */
static int general_process(struct buf *out, const struct general *g)
{
    const struct proto_server_stats *si = &g->si;
    struct rusage ru;
    int err = 0;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        memset(&ru, 0, sizeof ru);
    err |= stat_u64(out, "pid", (uint64_t)(si->pid ? si->pid : getpid()));
    err |= stat_u64(out, "uptime", g->now > si->started && si->started
                                       ? (uint64_t)(g->now - si->started) : 0);
    err |= stat_u64(out, "time", (uint64_t)g->now);
    err |= stat_str(out, "version", SHMC_VERSION);
    err |= buf_printf(out, "STAT libevent libev-%d.%d\r\n",
                      ev_version_major(), ev_version_minor());
    err |= stat_u64(out, "pointer_size", 8 * sizeof(void *));
    err |= buf_printf(out, "STAT rusage_user %ld.%06ld\r\n",
                      (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    err |= buf_printf(out, "STAT rusage_system %ld.%06ld\r\n",
                      (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    return err;
}

/* max_connections ... reserved_fds. memcached's response objects and read
 * buffers are its own allocator's: 0 here. */
static int general_connections(struct buf *out, const struct general *g)
{
    const struct proto_server_stats *si = &g->si;
    int err = 0;

    err |= stat_u64(out, "max_connections", si->max_connections);
    err |= stat_u64(out, "curr_connections", si->curr_connections);
    err |= stat_u64(out, "total_connections", si->total_connections);
    if (g->env->cfg->maxconns_fast)
        err |= stat_u64(out, "rejected_connections",
                        si->rejected_connections);
    const struct stat_field f[] = {
        { "connection_structures", si->curr_connections },
        { "response_obj_oom", si->response_obj_oom },
        { "response_obj_count", 0 }, { "response_obj_bytes", 0 },
        { "read_buf_count", 0 }, { "read_buf_bytes", 0 },
        { "read_buf_bytes_free", 0 }, { "read_buf_oom", 0 },
        { "reserved_fds", 0 },
    };
    return err | STAT_FIELDS(out, f);
}

/* cmd_get ... idle_kicks: the commands' counters. */
static int general_commands(struct buf *out, const struct general *g)
{
    const struct engine_counters *c = &g->st.c;
    int err = 0;

#define C(name) { #name, c->name },
    const struct stat_field f[] = {
        C(cmd_get) C(cmd_set) C(cmd_flush) C(cmd_touch) C(cmd_meta)
        C(get_hits) C(get_misses) C(get_expired) C(get_flushed)
        C(delete_misses) C(delete_hits) C(incr_misses) C(incr_hits)
        C(decr_misses) C(decr_hits) C(cas_misses) C(cas_hits) C(cas_badval)
        C(touch_hits) C(touch_misses) C(store_too_large) C(store_no_memory)
        { "auth_cmds", g->si.auth_cmds },
        { "auth_errors", g->si.auth_errors },
    };
#undef C
    err |= STAT_FIELDS(out, f);
    if (g->env->cfg->idle_timeout)
        err |= stat_u64(out, "idle_kicks", g->si.idle_kicks);
    return err;
}

/* bytes_read ... hash_is_expanding: traffic, listeners, the hash table. */
static int general_server(struct buf *out, const struct general *g)
{
    const struct proto_server_stats *si = &g->si;
    const struct stat_field f[] = {
        { "bytes_read", si->bytes_read },
        { "bytes_written", si->bytes_written },
        { "limit_maxbytes", g->st.limit_maxbytes },
        { "accepting_conns", 1 },
        { "listen_disabled_num", si->listen_disabled_num },
        { "time_in_listen_disabled_us", 0 },
        { "threads", si->threads },
        { "conn_yields", si->conn_yields },
        { "hash_power_level", g->st.hash_power_level },
        { "hash_bytes", g->st.hash_bytes },
        { "hash_is_expanding", (uint64_t)g->st.hash_is_expanding },
    };
    return STAT_FIELDS(out, f);
}

/* The background work's lines, each block only while its machinery runs
 * (memcached: settings.slab_reassign, lru_crawler, lru_maintainer_thread). */
static int general_background(struct buf *out, const struct general *g)
{
    const struct engine_stats *st = &g->st;
    const struct proto_shared *sh = g->env->shared;
    int err = 0;

    if (g->slab_reassign) {
        const struct stat_field f[] = {
            { "slab_reassign_rescues", st->slab_reassign_rescues },
            { "slab_reassign_chunk_rescues", st->slab_reassign_chunk_rescues },
            { "slab_reassign_evictions_nomem",
              st->slab_reassign_evictions_nomem },
            { "slab_reassign_inline_reclaim",
              st->slab_reassign_inline_reclaim },
            { "slab_reassign_busy_items", st->slab_reassign_busy_items },
            { "slab_reassign_busy_deletes", st->slab_reassign_busy_deletes },
            { "slab_reassign_running", (uint64_t)st->slab_reassign_running },
            { "slabs_moved", st->slabs_moved },
        };
        err |= STAT_FIELDS(out, f);
    }
    if (g->crawler) {
        err |= stat_u64(out, "lru_crawler_running",
                        __atomic_load_n(&sh->crawler_running,
                                        __ATOMIC_RELAXED));
        err |= stat_u64(out, "lru_crawler_starts",
                        __atomic_load_n(&sh->crawler_starts,
                                        __ATOMIC_RELAXED));
    }
    if (g->env->cfg->lru_maintainer)
        err |= stat_u64(out, "lru_maintainer_juggles", st->lru_juggles);
    return err;
}

/* malloc_fails ... round_robin_fallback: the watchers' log. A worker never
 * waits for a watcher, so no line is dropped at the source; a slow watcher
 * skips. */
static int general_logger(struct buf *out, const struct general *g)
{
    const struct proto_server_stats *si = &g->si;
    const struct stat_field f[] = {
        { "malloc_fails", 0 },
        { "log_worker_dropped", 0 },
        { "log_worker_written", si->log_written },
        { "log_watcher_skipped", si->log_skipped },
        { "log_watcher_sent", si->log_sent },
        { "log_watchers", si->log_watchers },
        { "unexpected_napi_ids", 0 },
        { "round_robin_fallback", 0 },
    };
    return STAT_FIELDS(out, f);
}

/* bytes ... lru_bumps_dropped: memcached's engine lines (get_stats() and
 * item_stats_totals()); the segmented LRU's only with the maintainer. */
static int general_items(struct buf *out, const struct general *g)
{
    const struct engine_stats *st = &g->st;
    int maintainer = g->env->cfg->lru_maintainer;
    int err = 0;

    const struct stat_field f[] = {
        { "bytes", st->bytes },
        { "curr_items", st->curr_items },
        { "total_items", st->total_items },
        { "slab_global_page_pool", st->slab_global_page_pool },
        { "expired_unfetched", st->expired_unfetched },
        { "evicted_unfetched", st->evicted_unfetched },
    };
    err |= STAT_FIELDS(out, f);
    if (maintainer)
        err |= stat_u64(out, "evicted_active", st->evicted_active);
    const struct stat_field f2[] = {
        { "evictions", st->evictions },
        { "reclaimed", st->reclaimed },
        { "crawler_reclaimed", st->crawler_reclaimed },
        { "crawler_items_checked", 0 },
        { "lrutail_reflocked", 0 },
    };
    err |= STAT_FIELDS(out, f2);
    if (!maintainer)
        return err;
    const struct stat_field f3[] = {
        { "moves_to_cold", st->moves_to_cold },
        { "moves_to_warm", st->moves_to_warm },
        { "moves_within_lru", st->moves_within_lru },
        { "direct_reclaims", st->direct_reclaims },
        { "lru_bumps_dropped", 0 },     /* fetches bump in place */
    };
    return err | STAT_FIELDS(out, f3);
}

/* "stats": memcached's lines, in its order, each conditional line under
 * memcached's condition. */
static int stats_general(const struct proto_env *env, struct buf *out)
{
    static int (*const part[])(struct buf *, const struct general *) = {
        general_process, general_connections, general_commands,
        general_server, general_background, general_logger, general_items,
    };
    struct general g;
    int err = 0;

    general_read(env, &g);
    for (size_t i = 0; i < sizeof part / sizeof part[0]; i++)
        err |= part[i](out, &g);
    err |= buf_append(out, LIT("END"));
    return err ? -1 : 0;
}

/* "stats shmcached": shmcached's own lines, which memcached has not: the
 * server's (workers, restarts, reloads, replication), then the engine's
 * repairs. */
static int stats_shmcached(const struct proto_env *env, struct buf *out)
{
    struct engine_stats st;
    int err = 0;

    if (env->stats_shmcached)
        env->stats_shmcached(env->arg, out);
    engine_stats(env->engine, &st);
    err |= stat_u64(out, "lock_repairs", st.lock_repairs);
    err |= stat_u64(out, "slot_reaps", st.slot_reaps);
    err |= buf_append(out, LIT("END"));
    return err ? -1 : 0;
}

/* ---- stats items / slabs / sizes ---------------------------------------- */

/* The segments' lines, as memcached prints them: with the maintainer
 * (segmented), TEMP's only with temp_lru. */
static int items_segments(struct buf *out, unsigned id,
                          const struct engine_class_stats *cs,
                          const struct engine_lru_config *lc)
{
    int err = 0;
    if (!lc->segmented)
        return 0;
#define SEG(name, v) err |= buf_printf(out, "STAT items:%u:" name " %llu\r\n", \
                                       id, (unsigned long long)(v));
    SEG("number_hot", cs->number_hot)
    SEG("number_warm", cs->number_warm)
    SEG("number_cold", cs->number_cold)
    if (lc->temp_lru)
        SEG("number_temp", cs->number_temp)
    SEG("age_hot", cs->age_hot)
    SEG("age_warm", cs->age_warm)
#undef SEG
    return err;
}

static int stats_items(const struct proto_env *env, struct buf *out)
{
    struct engine *e = env->engine;
    unsigned n = engine_class_count(e);
    struct engine_lru_config lc;
    int err = 0;

    engine_get_lru(e, &lc);
    for (unsigned id = 1; id <= n && !err; id++) {
        struct engine_class_stats cs;
        engine_class_stats(e, id, &cs);
        if (cs.curr_items == 0)
            continue;
        err |= buf_printf(out, "STAT items:%u:number %llu\r\n", id,
                          (unsigned long long)cs.curr_items);
        err |= items_segments(out, id, &cs, &lc);
        const struct { const char *name; uint64_t v; } f[] = {
            { "age", cs.oldest_age },
            { "mem_requested", cs.requested_bytes },
            { "evicted", cs.evicted }, { "evicted_nonzero", cs.evicted_nonzero },
            { "evicted_time", cs.evicted_time },
            { "outofmemory", cs.outofmemory }, { "tailrepairs", 0 },
            { "reclaimed", cs.reclaimed },
            { "expired_unfetched", cs.expired_unfetched },
            { "evicted_unfetched", cs.evicted_unfetched },
            { "evicted_active", cs.evicted_active },
            { "crawler_reclaimed", cs.crawler_reclaimed },
            { "crawler_items_checked", 0 }, { "lrutail_reflocked", 0 },
            { "moves_to_cold", cs.moves_to_cold },
            { "moves_to_warm", cs.moves_to_warm },
            { "moves_within_lru", cs.moves_within_lru },
            { "direct_reclaims", cs.direct_reclaims },
            { "hits_to_hot", cs.c.hits_hot }, { "hits_to_warm", cs.c.hits_warm },
            { "hits_to_cold", cs.c.hits_cold },
            { "hits_to_temp", cs.c.hits_temp },
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            err |= buf_printf(out, "STAT items:%u:%s %llu\r\n", id, f[i].name,
                              (unsigned long long)f[i].v);
    }
    err |= buf_append(out, LIT("END"));
    return err ? -1 : 0;
}

static int stats_slabs(const struct proto_env *env, struct buf *out)
{
    struct engine *e = env->engine;
    unsigned n = engine_class_count(e), active = 0;
    uint64_t malloced = 0;
    int err = 0;

    for (unsigned id = 1; id <= n && !err; id++) {
        struct engine_class_stats cs;
        engine_class_stats(e, id, &cs);
        if (cs.total_pages == 0)
            continue;
        active++;
        malloced += cs.total_pages * cs.chunks_per_page * cs.chunk_size;
        const struct { const char *name; uint64_t v; } f[] = {
            { "chunk_size", cs.chunk_size },
            { "chunks_per_page", cs.chunks_per_page },
            { "total_pages", cs.total_pages },
            { "total_chunks", cs.total_chunks },
            { "used_chunks", cs.used_chunks },
            { "free_chunks", cs.free_chunks }, { "free_chunks_end", 0 },
            { "get_hits", cs.c.get_hits }, { "cmd_set", cs.c.cmd_set },
            { "delete_hits", cs.c.delete_hits },
            { "incr_hits", cs.c.incr_hits }, { "decr_hits", cs.c.decr_hits },
            { "cas_hits", cs.c.cas_hits }, { "cas_badval", cs.c.cas_badval },
            { "touch_hits", cs.c.touch_hits },
        };
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
            err |= buf_printf(out, "STAT %u:%s %llu\r\n", id, f[i].name,
                              (unsigned long long)f[i].v);
    }
    /* total_malloced: the engine's page figure when it has one */
    struct engine_stats st;
    engine_stats(e, &st);
    if (st.total_malloced)
        malloced = st.total_malloced;
    err |= stat_u64(out, "active_slabs", active);
    err |= stat_u64(out, "total_malloced", malloced);
    err |= buf_append(out, LIT("END"));
    return err ? -1 : 0;
}

struct out_ctx {
    struct buf *out;
    size_t start;           /* out->len when the reply began */
    int err;
    int full;
};

static void sizes_fn(void *arg, unsigned size, uint64_t count)
{
    struct out_ctx *o = arg;
    o->err |= buf_printf(o->out, "STAT %u %llu\r\n", size,
                         (unsigned long long)count);
}

static void dump_fn(void *arg, const char *key, size_t nkey, uint32_t nbytes,
                    uint32_t exptime)
{
    struct out_ctx *o = arg;
    char line[SHMC_KEY_MAX + 64];
    if (o->full || o->err)
        return;
    int n = snprintf(line, sizeof line, "ITEM %.*s [%u b; %u s]\r\n",
                     (int)nkey, key, nbytes, exptime);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    if (o->out->len - o->start + (size_t)n + 6 > CACHEDUMP_MAX) {
        o->full = 1;
        return;
    }
    o->err |= buf_append(o->out, line, (size_t)n);
}

/* stats cachedump <class> <limit> */
static int stats_cachedump(const struct proto_env *env,
                           const struct request *r, struct buf *out)
{
    uint32_t id, limit;
    if (!env->cfg->dump_enabled)
        return buf_append(out, LIT("CLIENT_ERROR stats cachedump not allowed"));
    if (r->ntok < 4)
        return buf_append(out, LIT("CLIENT_ERROR bad command line"));
    if (!proto_strtoul32(&r->tok[2], &id) ||
        !proto_strtoul32(&r->tok[3], &limit))
        return buf_append(out, LIT("CLIENT_ERROR bad command line format"));
    if (id >= ENGINE_MAX_CLASSES)
        return buf_append(out, LIT("CLIENT_ERROR Illegal slab id"));
    /* the 2 MB cap counts this reply only */
    struct out_ctx o = { out, out->len, 0, 0 };
    engine_cachedump(env->engine, id, limit, dump_fn, &o);
    return (buf_append(out, LIT("END")) | o.err) ? -1 : 0;
}

/* ---- dispatch --------------------------------------------------------- */


static void detail_line(void *arg, const char *prefix, size_t len,
                        uint64_t gets, uint64_t hits, uint64_t sets,
                        uint64_t dels)
{
    buf_printf(arg, "PREFIX %.*s get %llu hit %llu set %llu del %llu\r\n",
               (int)len, prefix, (unsigned long long)gets,
               (unsigned long long)hits, (unsigned long long)sets,
               (unsigned long long)dels);
}

/* stats detail on|off|dump: per-prefix counts kept by the engine for all
 * workers (engine_detail_*). */
static int stats_detail(const struct proto_env *env, const struct request *r,
                        struct buf *out)
{
    const struct proto_token *arg = r->ntok > 2 ? &r->tok[2] : NULL;
    char delim = env->cfg->detail_delimiter ? env->cfg->detail_delimiter
                                            : ':';
    if (arg && PROTO_TOK_IS(arg, "on")) {
        engine_detail_enable(env->engine, 1, delim);
        return buf_append(out, LIT("OK"));
    }
    if (arg && PROTO_TOK_IS(arg, "off")) {
        engine_detail_enable(env->engine, 0, delim);
        return buf_append(out, LIT("OK"));
    }
    if (arg && PROTO_TOK_IS(arg, "dump")) {
        engine_detail_dump(env->engine, detail_line, out);
        return buf_append(out, LIT("END"));
    }
    return buf_append(out, LIT("CLIENT_ERROR usage: stats detail on|off|dump"));
}

int proto_stats(const struct proto_env *env, const struct request *r,
                struct buf *out)
{
    if (r->ntok == 1)
        return stats_general(env, out);

    const struct proto_token *sub = &r->tok[1];
    if (PROTO_TOK_IS(sub, "reset")) {
        engine_stats_reset(env->engine);
        if (env->stats_reset)
            env->stats_reset(env->arg);
        return buf_append(out, LIT("RESET"));
    }
    if (PROTO_TOK_IS(sub, "detail"))
        return stats_detail(env, r, out);
    if (PROTO_TOK_IS(sub, "shmcached"))
        return stats_shmcached(env, out);
    if (PROTO_TOK_IS(sub, "settings")) {
        if (env->stats_settings)
            env->stats_settings(env->arg, out);
        return buf_append(out, LIT("END"));
    }
    if (PROTO_TOK_IS(sub, "cachedump"))
        return stats_cachedump(env, r, out);
    if (PROTO_TOK_IS(sub, "conns")) {
        if (env->conns)
            env->conns(env->arg, out);
        return buf_append(out, LIT("END"));
    }
    if (PROTO_TOK_IS(sub, "items"))
        return stats_items(env, out);
    if (PROTO_TOK_IS(sub, "slabs"))
        return stats_slabs(env, out);
    struct proto_shared *sh = env->shared;
    if (PROTO_TOK_IS(sub, "sizes_enable") || PROTO_TOK_IS(sub, "sizes_disable")) {
        /* memcached answers these with the new status and no END */
        uint32_t on = PROTO_TOK_IS(sub, "sizes_enable");
        if (sh)
            __atomic_store_n(&sh->track_sizes, on, __ATOMIC_RELAXED);
        return on
                   ? buf_append(out, LIT("STAT sizes_status enabled"))
                   : buf_append(out, LIT("STAT sizes_status disabled"));
    }
    if (PROTO_TOK_IS(sub, "sizes")) {
        if (!sh || !__atomic_load_n(&sh->track_sizes, __ATOMIC_RELAXED))
            return buf_append(out, LIT("STAT sizes_status disabled\r\nEND"));
        struct out_ctx o = { out, out->len, 0, 0 };
        engine_sizes(env->engine, sizes_fn, &o);
        return (buf_append(out, LIT("END")) | o.err) ? -1 : 0;
    }
    return buf_append(out, LIT("ERROR"));
}
