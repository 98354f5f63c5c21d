/*
 * metrics.c - Prometheus exposition of a snapshot (see metrics.h).
 *
 * Tables name every family once: its name, type and help (those of
 * memcached_exporter's pkg/exporter), and the stats field it reads. The
 * per-slab families read "stats items" ("items:<id>:<field>") and "stats
 * slabs" ("<id>:<field>"); each family is written whole (HELP, TYPE, then
 * one sample per slab class), as the format requires. A field a server
 * does not print is left out, as the exporter does. The shmcached_*
 * families read "stats shmcached" (empty for a memcached).
 */
#include "console/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct fam {
    const char *name, *type, *help, *field;
};

static const struct fam general[] = {
    { "memcached_uptime_seconds", "counter",
      "Number of seconds since the server started.", "uptime" },
    { "memcached_time_seconds", "gauge",
      "current UNIX time according to the server.", "time" },
    { "memcached_process_user_cpu_seconds_total", "counter",
      "Accumulated user time for this process.", "rusage_user" },
    { "memcached_process_system_cpu_seconds_total", "counter",
      "Accumulated system time for this process.", "rusage_system" },
    { "memcached_read_bytes_total", "counter",
      "Total number of bytes read by this server from network.",
      "bytes_read" },
    { "memcached_written_bytes_total", "counter",
      "Total number of bytes sent by this server to network.",
      "bytes_written" },
    { "memcached_current_connections", "gauge",
      "Current number of open connections.", "curr_connections" },
    { "memcached_connections_total", "counter",
      "Total number of connections opened since the server started running.",
      "total_connections" },
    { "memcached_connections_rejected_total", "counter",
      "Total number of connections rejected due to hitting the memcached's "
      "-c limit in maxconns_fast mode.", "rejected_connections" },
    { "memcached_connections_yielded_total", "counter",
      "Total number of connections yielded running due to hitting the "
      "memcached's -R limit.", "conn_yields" },
    { "memcached_connections_listener_disabled_total", "counter",
      "Number of times that memcached has hit its connections limit and "
      "disabled its listener.", "listen_disabled_num" },
    { "memcached_current_bytes", "gauge",
      "Current number of bytes used to store items.", "bytes" },
    { "memcached_limit_bytes", "gauge",
      "Number of bytes this server is allowed to use for storage.",
      "limit_maxbytes" },
    { "memcached_current_items", "gauge",
      "Current number of items stored by this instance.", "curr_items" },
    { "memcached_items_total", "counter",
      "Total number of items stored during the life of this instance.",
      "total_items" },
    { "memcached_items_evicted_total", "counter",
      "Total number of valid items removed from cache to free memory for "
      "new items.", "evictions" },
    { "memcached_items_reclaimed_total", "counter",
      "Total number of times an entry was stored using memory from an "
      "expired entry.", "reclaimed" },
    { "memcached_item_too_large_total", "counter",
      "The number of times an item exceeded the max-item-size when being "
      "stored.", "store_too_large" },
    { "memcached_item_no_memory_total", "counter",
      "The number of times an item could not be stored due to no more "
      "memory.", "store_no_memory" },
    { "memcached_lru_crawler_starts_total", "counter",
      "Times an LRU crawler was started.", "lru_crawler_starts" },
    { "memcached_direct_reclaims_total", "counter",
      "Times worker threads had to directly reclaim or evict items.",
      "direct_reclaims" },
    { "memcached_lru_crawler_items_checked_total", "counter",
      "Total items examined by LRU Crawler.", "crawler_items_checked" },
    { "memcached_lru_crawler_reclaimed_total", "counter",
      "Total items freed by LRU Crawler.", "crawler_reclaimed" },
    { "memcached_lru_crawler_moves_to_cold_total", "counter",
      "Total number of items moved from HOT/WARM to COLD LRU's.",
      "moves_to_cold" },
    { "memcached_lru_crawler_moves_to_warm_total", "counter",
      "Total number of items moved from COLD to WARM LRU.", "moves_to_warm" },
    { "memcached_lru_crawler_moves_within_lru_total", "counter",
      "Total number of items reshuffled within HOT or WARM LRU's.",
      "moves_within_lru" },
    { "memcached_accepting_connections", "gauge",
      "The Memcached server is currently accepting new connections.",
      "accepting_conns" },
};

/* shmcached's own, from "stats shmcached". */
static const struct fam own[] = {
    { "shmcached_workers", "gauge",
      "Worker processes configured (-t).", "workers" },
    { "shmcached_worker_restarts_total", "counter",
      "Worker processes replaced after they died.", "worker_restarts" },
    { "shmcached_worker_crashes_total", "counter",
      "Worker deaths by a signal or a non-zero exit.", "worker_crashes" },
    { "shmcached_reloads_total", "counter",
      "Configuration reloads (SIGHUP) applied.", "reloads" },
    { "shmcached_reload_failures_total", "counter",
      "Configuration reloads rejected (the old configuration kept running).",
      "reload_failures" },
    { "shmcached_lock_repairs_total", "counter",
      "Shared-memory locks repaired after their owner died.",
      "lock_repairs" },
    { "shmcached_slot_reaps_total", "counter",
      "Engine slots of dead processes reaped by the master.", "slot_reaps" },
    /* replication (-x): present only when a peer is set */
    { "shmcached_repl_queued_bytes", "gauge",
      "Change log the peer has not acknowledged yet.", "repl_queued_bytes" },
    { "shmcached_repl_queued_items", "gauge",
      "Changes the peer has not acknowledged yet.", "repl_queued_items" },
    { "shmcached_repl_sent_total", "counter",
      "Changes sent to the peer.", "repl_sent" },
    { "shmcached_repl_sent_bytes_total", "counter",
      "Bytes of changes sent to the peer.", "repl_sent_bytes" },
    { "shmcached_repl_applied_total", "counter",
      "Changes of the peer applied here.", "repl_applied" },
    { "shmcached_repl_applied_bytes_total", "counter",
      "Value bytes of the peer's changes applied here.",
      "repl_applied_bytes" },
    { "shmcached_repl_apply_failed_total", "counter",
      "Changes of the peer that did not fit in this cache.",
      "repl_apply_failed" },
    { "shmcached_repl_copies_sent_total", "counter",
      "Full copies sent to the peer.", "repl_copies_sent" },
    { "shmcached_repl_copies_received_total", "counter",
      "Full copies received from the peer.", "repl_copies_received" },
    { "shmcached_repl_refused_total", "counter",
      "Connections to the replication port from an address not the peer's.",
      "repl_refused" },
    { "shmcached_repl_link_downs_total", "counter",
      "Replication links lost.", "repl_link_downs" },
    { "shmcached_repl_lag_milliseconds", "gauge",
      "From a change to the peer's acknowledgment, last measured.",
      "repl_lag_ms" },
    { "shmcached_repl_sync_timeouts_total", "counter",
      "repl_sync writes answered before the peer confirmed them.",
      "repl_sync_timeouts" },
};

/* From "stats settings", when lru_crawler is "yes" (as the exporter). */
static const struct fam crawler[] = {
    { "memcached_lru_crawler_sleep", "gauge",
      "Microseconds to sleep between LRU crawls.", "lru_crawler_sleep" },
    { "memcached_lru_crawler_to_crawl", "gauge",
      "Max items to crawl per slab per run.", "lru_crawler_tocrawl" },
    { "memcached_lru_crawler_hot_percent", "gauge",
      "Percent of slab memory reserved for HOT LRU.", "hot_lru_pct" },
    { "memcached_lru_crawler_warm_percent", "gauge",
      "Percent of slab memory reserved for WARM LRU.", "warm_lru_pct" },
    { "memcached_lru_crawler_hot_max_factor", "gauge",
      "Set idle age of HOT LRU to COLD age * this", "hot_max_factor" },
    { "memcached_lru_crawler_warm_max_factor", "gauge",
      "Set idle age of WARM LRU to COLD age * this", "warm_max_factor" },
};

/* Per slab class, from "stats items". */
static const struct fam items[] = {
    { "memcached_slab_current_items", "gauge",
      "Number of items currently stored in this slab class.", "number" },
    { "memcached_slab_items_age_seconds", "gauge",
      "Number of seconds the oldest item has been in the slab class.",
      "age" },
    { "memcached_slab_items_crawler_reclaimed_total", "counter",
      "Number of items freed by the LRU Crawler.", "crawler_reclaimed" },
    { "memcached_slab_items_evicted_total", "counter",
      "Total number of times an item had to be evicted from the LRU before "
      "it expired.", "evicted" },
    { "memcached_slab_items_evicted_nonzero_total", "counter",
      "Total number of times an item which had an explicit expire time set "
      "had to be evicted from the LRU before it expired.",
      "evicted_nonzero" },
    { "memcached_slab_items_evicted_time_seconds", "counter",
      "Seconds since the last access for the most recent item evicted from "
      "this class.", "evicted_time" },
    { "memcached_slab_items_evicted_unfetched_total", "counter",
      "Total number of items evicted and never fetched.",
      "evicted_unfetched" },
    { "memcached_slab_items_expired_unfetched_total", "counter",
      "Total number of valid items evicted from the LRU which were never "
      "touched after being set.", "expired_unfetched" },
    { "memcached_slab_items_outofmemory_total", "counter",
      "Total number of items for this slab class that have triggered an "
      "out of memory error.", "outofmemory" },
    { "memcached_slab_items_reclaimed_total", "counter",
      "Total number of items reclaimed.", "reclaimed" },
    { "memcached_slab_items_tailrepairs_total", "counter",
      "Total number of times the entries for a particular ID need "
      "repairing.", "tailrepairs" },
    { "memcached_slab_mem_requested_bytes", "gauge",
      "Number of bytes of memory actual items take up within a slab.",
      "mem_requested" },
    { "memcached_slab_items_moves_to_cold", "counter",
      "Number of items moved from HOT or WARM into COLD.", "moves_to_cold" },
    { "memcached_slab_items_moves_to_warm", "counter",
      "Number of items moves from COLD into WARM.", "moves_to_warm" },
    { "memcached_slab_items_moves_within_lru", "counter",
      "Number of times active items were bumped within HOT or WARM.",
      "moves_within_lru" },
    { "memcached_slab_hot_items", "gauge",
      "Number of items presently stored in the HOT LRU.", "number_hot" },
    { "memcached_slab_warm_items", "gauge",
      "Number of items presently stored in the WARM LRU.", "number_warm" },
    { "memcached_slab_cold_items", "gauge",
      "Number of items presently stored in the COLD LRU.", "number_cold" },
    { "memcached_slab_temporary_items", "gauge",
      "Number of items presently stored in the TEMPORARY LRU.",
      "number_temp" },
    { "memcached_slab_hot_age_seconds", "gauge",
      "Age of the oldest item in HOT LRU.", "age_hot" },
    { "memcached_slab_warm_age_seconds", "gauge",
      "Age of the oldest item in HOT LRU.", "age_warm" },
};

/* Per slab class, from "stats slabs". */
static const struct fam slabs[] = {
    { "memcached_slab_chunk_size_bytes", "gauge",
      "Number of bytes allocated to each chunk within this slab class.",
      "chunk_size" },
    { "memcached_slab_chunks_per_page", "gauge",
      "Number of chunks within a single page for this slab class.",
      "chunks_per_page" },
    { "memcached_slab_current_pages", "gauge",
      "Number of pages allocated to this slab class.", "total_pages" },
    { "memcached_slab_current_chunks", "gauge",
      "Number of chunks allocated to this slab class.", "total_chunks" },
    { "memcached_slab_chunks_used", "gauge",
      "Number of chunks allocated to an item.", "used_chunks" },
    { "memcached_slab_chunks_free", "gauge",
      "Number of chunks not yet allocated items.", "free_chunks" },
    { "memcached_slab_chunks_free_end", "gauge",
      "Number of free chunks at the end of the last allocated page.",
      "free_chunks_end" },
};

static const char *const ops[] = { "get", "delete", "incr", "decr", "cas",
                                   "touch" };
#define NOPS (sizeof(ops) / sizeof(ops[0]))
#define N(a) (sizeof(a) / sizeof((a)[0]))

static int head(struct buf *out, const char *name, const char *type,
                const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                      type);
}

/* Writes the family if l has field; returns 0 or -1. */
static int plain(struct buf *out, const struct kvlist *l, const struct fam *f)
{
    const char *v = kv_get(l, f->field);
    if (v == NULL)
        return 0;
    return head(out, f->name, f->type, f->help) |
           buf_printf(out, "%s %s\n", f->name, v);
}

/* "yes"/"no" as 1/0. */
static int boolean(struct buf *out, const struct kvlist *l, const char *name,
                   const char *help, const char *field)
{
    const char *v = kv_get(l, field);
    if (v == NULL)
        return 0;
    return head(out, name, "gauge", help) |
           buf_printf(out, "%s %d\n", name, strcmp(v, "yes") == 0);
}

static int commands(struct buf *out, const struct kvlist *st)
{
    static const char name[] = "memcached_commands_total";
    int err = head(out, name, "counter", "Total number of all requests "
                   "broken down by command (get, set, etc.) and status.");
    char key[32];
    for (size_t i = 0; i < NOPS; i++) {
        static const char *const what[2][2] = { { "_hits", "hit" },
                                                { "_misses", "miss" } };
        for (int h = 0; h < 2; h++) {
            snprintf(key, sizeof(key), "%s%s", ops[i], what[h][0]);
            const char *v = kv_get(st, key);
            if (v != NULL)
                err |= buf_printf(out, "%s{command=\"%s\",status=\"%s\"} %s\n",
                                  name, ops[i], what[h][1], v);
        }
    }
    const char *v = kv_get(st, "cas_badval");
    if (v != NULL)
        err |= buf_printf(out, "%s{command=\"cas\",status=\"badval\"} %s\n",
                          name, v);
    if ((v = kv_get(st, "cmd_flush")) != NULL)
        err |= buf_printf(out, "%s{command=\"flush\",status=\"hit\"} %s\n",
                          name, v);
    if (kv_get(st, "cmd_set") != NULL) {
        /* memcached counts CAS commands in cmd_set too */
        uint64_t set = kv_u64(st, "cmd_set");
        uint64_t cas = kv_u64(st, "cas_misses") + kv_u64(st, "cas_hits") +
                       kv_u64(st, "cas_badval");
        err |= buf_printf(out, "%s{command=\"set\",status=\"hit\"} %llu\n",
                          name, (unsigned long long)(set - cas));
    }
    return err;
}

/* The class id and the field of a per-class name ("items:3:number" with
 * prefix "items:", or "3:chunk_size" with prefix ""); NULL if not one. */
static const char *class_field(const char *name, const char *prefix,
                               unsigned *id)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return NULL;
    char *end;
    unsigned long x = strtoul(name + pl, &end, 10);
    if (end == name + pl || *end != ':')
        return NULL;
    *id = (unsigned)x;
    return end + 1;
}

/* One per-class family: a sample per class that has the field. */
static int per_class(struct buf *out, const struct kvlist *l,
                     const char *prefix, const struct fam *f)
{
    int err = 0, any = 0;
    for (size_t i = 0; i < l->n; i++) {
        unsigned id;
        const char *field = class_field(l->v[i].name, prefix, &id);
        if (field == NULL || strcmp(field, f->field) != 0)
            continue;
        if (!any++)
            err |= head(out, f->name, f->type, f->help);
        err |= buf_printf(out, "%s{slab=\"%u\"} %s\n", f->name, id,
                          l->v[i].value);
    }
    return err;
}

static int lru_hits(struct buf *out, const struct kvlist *l)
{
    static const char *const lru[][2] = { { "hits_to_hot", "hot" },
        { "hits_to_warm", "warm" }, { "hits_to_cold", "cold" },
        { "hits_to_temp", "temporary" } };
    static const char name[] = "memcached_slab_lru_hits_total";
    int err = 0, any = 0;
    for (size_t i = 0; i < l->n; i++) {
        unsigned id;
        const char *field = class_field(l->v[i].name, "items:", &id);
        for (size_t k = 0; field != NULL && k < N(lru); k++) {
            if (strcmp(field, lru[k][0]) != 0)
                continue;
            if (!any++)
                err |= head(out, name, "counter",
                            "Number of get_hits to the LRU.");
            err |= buf_printf(out, "%s{slab=\"%u\",lru=\"%s\"} %s\n", name,
                              id, lru[k][1], l->v[i].value);
        }
    }
    return err;
}

/* memcached_slab_commands_total{slab,command,status} from "stats slabs". */
static int slab_commands(struct buf *out, const struct kvlist *l)
{
    static const char name[] = "memcached_slab_commands_total";
    int err = 0, any = 0;
    for (size_t i = 0; i < l->n; i++) {
        unsigned id;
        const char *field = class_field(l->v[i].name, "", &id);
        if (field == NULL)
            continue;
        const char *cmd = NULL, *status = "hit";
        char key[48];
        for (size_t k = 0; k < NOPS && cmd == NULL; k++) {
            snprintf(key, sizeof(key), "%s_hits", ops[k]);
            if (strcmp(field, key) == 0)
                cmd = ops[k];
        }
        if (strcmp(field, "cas_badval") == 0) {
            cmd = "cas";
            status = "badval";
        }
        int is_set = strcmp(field, "cmd_set") == 0;
        if (cmd == NULL && !is_set)
            continue;
        if (!any++)
            err |= head(out, name, "counter", "Total number of all requests "
                        "broken down by command (get, set, etc.) and status "
                        "per slab.");
        if (is_set) {
            snprintf(key, sizeof(key), "%u:cas_hits", id);
            uint64_t cas = kv_u64(l, key);
            snprintf(key, sizeof(key), "%u:cas_badval", id);
            cas += kv_u64(l, key);
            err |= buf_printf(out, "%s{slab=\"%u\",command=\"set\","
                              "status=\"hit\"} %llu\n", name, id,
                              (unsigned long long)(strtoull(l->v[i].value,
                                                            NULL, 10) - cas));
        } else {
            err |= buf_printf(out, "%s{slab=\"%u\",command=\"%s\","
                              "status=\"%s\"} %s\n", name, id, cmd, status,
                              l->v[i].value);
        }
    }
    return err;
}

static int settings_part(struct buf *out, const struct kvlist *se)
{
    int err = 0;
    const char *v = kv_get(se, "maxconns");
    if (v != NULL)
        err |= head(out, "memcached_max_connections", "gauge",
                    "Maximum number of clients allowed.") |
               buf_printf(out, "memcached_max_connections %s\n", v);
    v = kv_get(se, "lru_crawler");
    if (v == NULL || strcmp(v, "yes") != 0)
        return err;
    err |= boolean(out, se, "memcached_lru_crawler_enabled",
                   "Whether the LRU crawler is enabled.", "lru_crawler");
    for (size_t i = 0; i < N(crawler); i++)
        err |= plain(out, se, &crawler[i]);
    err |= boolean(out, se, "memcached_lru_crawler_maintainer_thread",
                   "Split LRU mode and background threads.",
                   "lru_maintainer_thread");
    return err;
}

static int procs_part(struct buf *out, const struct metrics_proc *p, int n)
{
    static const struct { const char *name, *type, *help; } f[] = {
        { "shmcached_process_id", "gauge",
          "Process id of each process of the server." },
        { "shmcached_process_start_time_seconds", "gauge",
          "Start time of each process, in seconds since the epoch." },
        { "shmcached_process_current_connections", "gauge",
          "Open client connections of each process." },
        { "shmcached_process_restarts_total", "counter",
          "Times this worker index or helper was started again." },
    };
    int err = 0;
    for (size_t k = 0; k < N(f) && n > 0; k++) {
        err |= head(out, f[k].name, f[k].type, f[k].help);
        for (int i = 0; i < n; i++) {
            unsigned long long v = k == 0 ? (unsigned long long)p[i].pid
                                 : k == 1 ? (unsigned long long)p[i].started
                                 : k == 2 ? p[i].connections : p[i].restarts;
            err |= buf_printf(out, "%s{role=\"%s\",index=\"%d\"} %llu\n",
                              f[k].name, p[i].role, p[i].index, v);
        }
    }
    return err;
}

int metrics_render(const struct snapshot *s, const struct metrics_proc *procs,
                   int nprocs, struct buf *out)
{
    int err = head(out, "memcached_up", "gauge",
                   "Could the memcached server be reached.");
    err |= buf_printf(out, "memcached_up %d\n", s->up ? 1 : 0);
    if (!s->up)
        return err ? -1 : 0;
    const char *ver = kv_get(&s->stats, "version");
    if (ver != NULL)
        err |= head(out, "memcached_version", "gauge",
                    "The version of this memcached server.") |
               buf_printf(out, "memcached_version{version=\"%s\"} 1\n", ver);
    err |= commands(out, &s->stats);
    for (size_t i = 0; i < N(general); i++)
        err |= plain(out, &s->stats, &general[i]);
    for (size_t i = 0; i < N(own); i++)
        err |= plain(out, &s->shmcached, &own[i]);
    const char *rs = kv_get(&s->shmcached, "repl_state");
    if (rs != NULL && strcmp(rs, "off") != 0)
        err |= head(out, "shmcached_repl_connected", "gauge",
                    "Both replication links are up and streaming.") |
               buf_printf(out, "shmcached_repl_connected %d\n",
                          strcmp(rs, "connected") == 0);
    const char *mall = kv_get(&s->slabs, "total_malloced");
    if (mall != NULL)
        err |= head(out, "memcached_malloced_bytes", "gauge",
                    "Number of bytes of memory allocated to slab pages.") |
               buf_printf(out, "memcached_malloced_bytes %s\n", mall);
    err |= settings_part(out, &s->settings);
    for (size_t i = 0; i < N(items); i++)
        err |= per_class(out, &s->items, "items:", &items[i]);
    err |= lru_hits(out, &s->items);
    err |= slab_commands(out, &s->slabs);
    for (size_t i = 0; i < N(slabs); i++)
        err |= per_class(out, &s->slabs, "", &slabs[i]);
    err |= procs_part(out, procs, nprocs);
    return err ? -1 : 0;
}
