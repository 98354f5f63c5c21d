/*
 * settings_stats.c - "stats settings": the running configuration in
 * memcached 1.6's names and order.
 *
 * The figures come from three places: the settings the server runs with,
 * the engine's configuration as the region was built (memory, chunk and
 * item sizes, CAS; the memory limit follows cache_memlimit), and the
 * protocol's server-wide switches (track_sizes). Lines memcached prints for
 * machinery shmcached does not have keep memcached's default values.
 */
#include "server/settings.h"

#include <string.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "proto/proto.h"

static int stat_u64(struct buf *out, const char *name, uint64_t v)
{
    return buf_printf(out, "STAT %s %llu\r\n", name, (unsigned long long)v);
}

static int stat_str(struct buf *out, const char *name, const char *v)
{
    return buf_printf(out, "STAT %s %s\r\n", name, v);
}

static int stat_yesno(struct buf *out, const char *name, int v)
{
    return stat_str(out, name, v ? "yes" : "no");
}

/* The network and process part, up to growth_factor. */
static int stats_process(const struct settings *s, struct engine *e,
                         struct buf *out)
{
    char inter[SETTINGS_MAX_LISTEN * (SHMC_HOST_MAX + 1)] = "";
    int err = 0;

    for (int i = 0; i < s->nlisten && i < SETTINGS_MAX_LISTEN; i++) {
        if (i)
            strcat(inter, ",");
        strncat(inter, s->listen[i], SHMC_HOST_MAX);
    }
    err |= stat_u64(out, "maxbytes", engine_mem_limit(e));
    err |= stat_u64(out, "maxconns", (uint64_t)s->maxconns);
    err |= buf_printf(out, "STAT tcpport %d\r\n", s->port);
    err |= buf_printf(out, "STAT udpport %d\r\n", s->udpport);
    err |= stat_str(out, "inter", inter[0] ? inter : "NULL");
    err |= stat_u64(out, "verbosity", (uint64_t)s->verbose);
    err |= stat_u64(out, "oldest", 0);
    err |= stat_str(out, "evictions", engine_config(e)->evict ? "on" : "off");
    err |= stat_str(out, "domain_socket",
                    s->socketpath[0] ? s->socketpath : "NULL");
    err |= buf_printf(out, "STAT umask %o\r\n", (unsigned)s->access_mask);
    err |= stat_yesno(out, "shutdown_command", s->enable_shutdown);
    return err;
}

/* http_peers, comma separated ("NULL" for none). */
static int stats_peers(const struct settings *s, struct buf *out)
{
    int err = buf_printf(out, "STAT http_peers ");
    for (int i = 0; i < s->npeers && i < SETTINGS_MAX_PEERS; i++)
        err |= buf_printf(out, "%s%s", i ? "," : "", s->http_peers[i]);
    return err | buf_printf(out, "%s\r\n", s->npeers ? "" : "NULL");
}

/* From hashpower_init to inline_ascii_response: the tuning of the slab
 * mover, the LRU, the crawler and the logger, as memcached prints it. */
static int stats_tuning(const struct settings *s, struct engine *e,
                        const struct engine_config *cfg,
                        const struct proto_shared *sh, struct buf *out)
{
    const struct tuning_config *t = &s->tuning;
    int err = 0;
    err |= stat_yesno(out, "slab_reassign", t->slab_reassign);
    /* as "slabs automove" left them */
    err |= stat_u64(out, "slab_automove", (uint64_t)engine_automove(e));
    err |= buf_printf(out, "STAT slab_automove_ratio %.2f\r\n",
                      engine_automove_ratio(e));
    err |= stat_u64(out, "slab_automove_window", t->slab_automove_window);
    err |= stat_u64(out, "slab_chunk_max", cfg->slab_chunk_max
                                           ? cfg->slab_chunk_max
                                           : SHMC_SLAB_PAGE_SIZE / 2);
    /* the crawler's running state ("lru_crawler enable", sleep, ...) */
    err |= stat_yesno(out, "lru_crawler", sh ? (int)__atomic_load_n(
                          &sh->crawler_enabled, __ATOMIC_RELAXED)
                                             : s->lru_crawler);
    err |= stat_u64(out, "lru_crawler_sleep", sh ? __atomic_load_n(
                        &sh->crawler_sleep, __ATOMIC_RELAXED)
                                               : (uint64_t)s->lru_crawler_sleep);
    err |= stat_u64(out, "lru_crawler_tocrawl", sh ? __atomic_load_n(
                        &sh->crawler_tocrawl, __ATOMIC_RELAXED)
                                                 : s->lru_crawler_tocrawl);
    err |= stat_u64(out, "tail_repair_time", (uint64_t)t->tail_repair_time);
    err |= stat_yesno(out, "flush_enabled", s->enable_flush);
    err |= stat_yesno(out, "dump_enabled", s->dump_enabled);
    err |= stat_str(out, "hash_algorithm", tuning_hash_name(t->hash_algorithm));
    err |= stat_yesno(out, "lru_maintainer_thread", s->lru_maintainer);
    err |= stat_yesno(out, "lru_segmented", t->lru_segmented);
    err |= stat_u64(out, "hot_lru_pct", (uint64_t)t->hot_lru_pct);
    err |= stat_u64(out, "warm_lru_pct", (uint64_t)t->warm_lru_pct);
    err |= buf_printf(out, "STAT hot_max_factor %.2f\r\n", t->hot_max_factor);
    err |= buf_printf(out, "STAT warm_max_factor %.2f\r\n",
                      t->warm_max_factor);
    err |= stat_yesno(out, "temp_lru", t->temp_lru);
    err |= stat_u64(out, "temporary_ttl", t->temporary_ttl);
    err |= stat_u64(out, "idle_timeout", (uint64_t)s->idle_timeout);
    err |= stat_u64(out, "watcher_logbuf_size", s->watcher_logbuf_size);
    err |= stat_u64(out, "worker_logbuf_size", s->worker_logbuf_size);
    err |= stat_u64(out, "read_buf_mem_limit", s->read_buf_mem_limit);
    err |= stat_yesno(out, "track_sizes",
                      sh && __atomic_load_n(&sh->track_sizes,
                                            __ATOMIC_RELAXED));
    err |= stat_yesno(out, "inline_ascii_response", 0);
    err |= stat_yesno(out, "drop_privileges", s->drop_privileges);
    err |= stat_yesno(out, "io_uring", s->io_uring);
    return err;
}

int settings_stats(const struct settings *s, struct engine *e,
                   const struct proto_shared *sh, struct buf *out)
{
    const struct engine_config *cfg = engine_config(e);
    int err = stats_process(s, e, out);

    err |= buf_printf(out, "STAT growth_factor %.2f\r\n", cfg->factor);
    err |= stat_u64(out, "chunk_size", cfg->min_chunk);
    err |= stat_u64(out, "num_threads", (uint64_t)s->threads);
    err |= stat_u64(out, "num_threads_per_udp", (uint64_t)s->threads);
    err |= buf_printf(out, "STAT stat_key_prefix %c\r\n",
                      s->stat_key_prefix ? s->stat_key_prefix : ':');
    err |= stat_yesno(out, "detail_enabled", engine_detail_enabled(e));
    err |= stat_u64(out, "reqs_per_event", (uint64_t)s->reqs_per_event);
    err |= stat_yesno(out, "cas_enabled", cfg->use_cas);
    err |= stat_u64(out, "tcp_backlog", (uint64_t)s->backlog);
    err |= stat_str(out, "binding_protocol",
                    s->sasl ? "binary" :
                    s->proto == 1 || s->auth_file[0] ? "ascii" :
                    s->proto == 2 ? "binary" : "auto-negotiate");
    err |= stat_yesno(out, "auth_enabled_sasl", s->sasl);
    err |= stat_str(out, "auth_enabled_ascii",
                    s->auth_file[0] ? s->auth_file : "no");
    err |= stat_u64(out, "item_size_max", cfg->item_size_max);
    err |= stat_yesno(out, "maxconns_fast", s->maxconns_fast);
    err |= stat_u64(out, "hashpower_init", (uint64_t)cfg->hashpower);
    err |= stats_tuning(s, e, cfg, sh, out);
    err |= stat_str(out, "memory_file",
                    s->memory_file[0] ? s->memory_file : "NULL");
    /* shmcached */
    err |= stat_u64(out, "memory_reserve", cfg->mem_reserve);
    err |= stat_u64(out, "worker_backoff_ms",
                    (uint64_t)s->worker_restart_backoff_ms);
    err |= stat_str(out, "config_file",
                    s->config_file[0] ? s->config_file : "NULL");
    err |= stat_u64(out, "http_port", (uint64_t)s->http_port);
    err |= stat_str(out, "http_addr", s->http_addr[0] ? s->http_addr : "NULL");
    err |= stat_yesno(out, "http_write", s->http_write);
    err |= stats_peers(s, out);
    err |= stat_str(out, "repl_peer", s->repl_peer[0] ? s->repl_peer : "NULL");
    err |= stat_u64(out, "repl_port", (uint64_t)settings_repl_port(s));
    err |= stat_yesno(out, "repl_sync", s->repl_sync);
    err |= stat_u64(out, "repl_sync_timeout_ms",
                    (uint64_t)s->repl_sync_timeout_ms);
    err |= stat_u64(out, "repl_queue", s->repl_queue);
    err |= stat_u64(out, "repl_timeout_ms", (uint64_t)s->repl_timeout_ms);
    return err ? -1 : 0;
}
