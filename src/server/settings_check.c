/*
 * settings_check.c - what a parsed configuration means as a whole: the
 * cross-field rules (settings_validate()) and the configurations handed to
 * the engine, the LRU policy and the protocol layer (settings.h).
 *
 * Design: one validate_* per topic, run in a fixed order, each returning
 * -1 with one line in err on the first rule it finds broken, so the first
 * broken rule is the one reported (memcached's messages where it has one).
 * The settings_*_config() functions only copy and translate: every value
 * they read was checked by settings.c's parser or here.
 */
#include "server/settings.h"
#include "server/settings_tuning.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "engine/engine.h"
#include "proto/proto.h"
#include "server/listener.h"

/* ---- validation ----------------------------------------------------- */

/* Each check below writes one line in err and returns -1 on the first
 * rule s breaks, 0 when it keeps them all; settings_validate() runs them
 * in a fixed order, so the first broken rule is the one reported. */
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* The port, the server's counts, and the memory and item sizes. */
static int validate_sizes(const struct settings *s, char *err, size_t errlen)
{
    if (s->port < -1 || s->port > 65535)
        BAD("port %d out of range (-1..65535)", s->port);
    if (s->maxbytes == 0)
        BAD("Memory limit (-m) must be greater than 0");
    if (s->maxconns <= 0)
        BAD("Maximum connections must be greater than 0");
    if (s->threads <= 0)
        BAD("Number of threads must be greater than 0");
    if (s->threads > ENGINE_MAX_SLOTS - 1)
        BAD("Number of threads must be at most %d", ENGINE_MAX_SLOTS - 1);
    if (s->reqs_per_event <= 0)
        BAD("Number of requests per event must be greater than 0");
    if (s->backlog <= 0)
        BAD("Listen backlog (-b) must be greater than 0");
    if (!(s->factor > 1.0))
        BAD("Factor must be greater than 1");
    if (s->item_size_max < 1024)
        BAD("Item max size cannot be less than 1024 bytes.");
    if (s->item_size_max > ((size_t)1 << 30))
        BAD("Cannot set item size limit higher than 1 gigabyte.");
    if (s->item_size_max > s->maxbytes / 2)
        BAD("Cannot set item size limit higher than 1/2 of memory max.");
    return 0;
}

/* -o slab_chunk_max against -I and the slab page. */
static int validate_chunk_max(const struct settings *s, char *err,
                              size_t errlen)
{
    if (s->slab_chunk_max == 0)
        return 0;
    if (s->slab_chunk_max > s->item_size_max)
        BAD("slab_chunk_max (bytes: %zu) cannot be larger than -I "
            "(item_size_max %zu)", s->slab_chunk_max, s->item_size_max);
    if (s->item_size_max % s->slab_chunk_max != 0)
        BAD("-I (item_size_max: %zu) must be evenly divisible by "
            "slab_chunk_max (bytes: %zu)", s->item_size_max,
            s->slab_chunk_max);
    if (SHMC_SLAB_PAGE_SIZE % s->slab_chunk_max != 0)
        BAD("slab_chunk_max (bytes: %zu) must divide evenly into %u "
            "(slab_page_size)", s->slab_chunk_max, SHMC_SLAB_PAGE_SIZE);
    return 0;
}

/* -S (binary SASL) and -Y (ascii tokens) against -B and -U. */
static int validate_auth(const struct settings *s, char *err, size_t errlen)
{
    if (s->sasl && s->proto_given && s->proto != 2)
        BAD("ERROR: You cannot allow the ASCII protocol while using SASL.");
    if (s->sasl && s->udpport != 0)
        BAD("ERROR: Cannot enable UDP while using binary SASL "
            "authentication.");
    if (s->auth_file[0] != '\0' && s->proto_given && s->proto != 1)
        BAD("ERROR: You cannot allow the BINARY protocol while using ascii "
            "authentication tokens.");
    if (s->auth_file[0] != '\0' && s->udpport != 0)
        BAD("Cannot use UDP with ascii authentication enabled (-U 0 to "
            "disable)");
    return 0;
}

/* -o hashpower, then whatever else the engine refuses in its config. */
static int validate_engine(const struct settings *s, char *err,
                           size_t errlen)
{
    if (s->hashpower != 0 && s->hashpower < 12)
        BAD("Initial hashtable multiplier of %d is too low", s->hashpower);
    if (s->hashpower > 31)
        BAD("Initial hashtable multiplier of %d is too high\nChoose a value "
            "based on \"STAT hash_power_level\" from a running instance",
            s->hashpower);
    /* the rest of what the engine accepts is the engine's to say */
    struct engine_config ec;
    settings_engine_config(s, &ec);
    const char *why = engine_config_check(&ec);
    if (why != NULL)
        BAD("%s", why);
    return 0;
}

/* Values the option parsers already range-check, checked again for a
 * struct settings built some other way. */
static int validate_ranges(const struct settings *s, char *err,
                           size_t errlen)
{
    if (s->idle_timeout < 0)
        BAD("idle_timeout must be 0 or more seconds");
    if (s->access_mask < 0 || s->access_mask > 0777)
        BAD("unix socket mask (-a) must be an octal mode up to 777");
    if (s->proto < 0 || s->proto > 2)
        BAD("unknown protocol (ascii, binary or auto)");
    if (s->worker_restart_backoff_ms < 0)
        BAD("worker_backoff_ms must be 0 or more");
    return 0;
}

/* -x and its queue. */
static int validate_repl(const struct settings *s, char *err, size_t errlen)
{
    if (s->repl_peer[0] == '\0')
        return 0;
    char host[SHMC_HOST_MAX];
    int port;
    if (listener_split(s->repl_peer, settings_repl_port(s), host,
                       sizeof(host), &port) < 0 || host[0] == '\0')
        BAD("invalid replication peer (-x) '%s': HOST[:PORT]",
            s->repl_peer);
    if (s->repl_queue < ((size_t)1 << 20))
        BAD("repl_queue must be at least 1 (MB)");
    return 0;
}

/* The -l list, and the console's address against the memcached port. */
static int validate_listen(const struct settings *s, char *err,
                           size_t errlen)
{
    if (s->nlisten < 0 || s->nlisten > SETTINGS_MAX_LISTEN)
        BAD("too many listen addresses (max %d)", SETTINGS_MAX_LISTEN);
    for (int i = 0; i < s->nlisten; i++) {
        char host[SHMC_HOST_MAX];
        int port;
        if (listener_split(s->listen[i], s->port, host, sizeof(host),
                           &port) < 0)
            BAD("invalid listen address '%s'", s->listen[i]);
    }
    if (s->http_port != 0 && s->http_addr[0] == '\0')
        BAD("http_addr must name the console's address");
    if (s->http_port != 0 && s->http_port == s->port &&
        s->nlisten == 0 && strcmp(s->http_addr, "127.0.0.1") == 0)
        BAD("http_port %d is the memcached port", s->http_port);
    return 0;
}

#undef BAD

int settings_validate(const struct settings *s, char *err, size_t errlen)
{
    if (validate_sizes(s, err, errlen) < 0 ||
        validate_chunk_max(s, err, errlen) < 0 ||
        settings_tuning_validate(s, err, errlen) < 0 ||
        validate_auth(s, err, errlen) < 0 ||
        validate_engine(s, err, errlen) < 0 ||
        validate_ranges(s, err, errlen) < 0 ||
        validate_repl(s, err, errlen) < 0 ||
        validate_listen(s, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- what other modules are told ------------------------------------- */

void settings_engine_config(const struct settings *s,
                            struct engine_config *cfg)
{
    engine_config_defaults(cfg);
    cfg->mem_limit = s->maxbytes;
    cfg->mem_reserve = s->mem_reserve > s->maxbytes ? s->mem_reserve
                                                    : s->maxbytes;
    cfg->factor = s->factor;
    cfg->min_chunk = (unsigned)s->chunk_size;
    cfg->item_size_max = s->item_size_max;
    cfg->slab_chunk_max = s->slab_chunk_max;
    for (int i = 0; i < s->tuning.nslab_sizes && i < ENGINE_MAX_CLASSES - 1;
         i++)
        cfg->slab_sizes[i] = s->tuning.slab_sizes[i];
    /* memcached starts every table at 2^16 buckets and grows it */
    cfg->hashpower = s->hashpower ? s->hashpower : SETTINGS_HASHPOWER_DEFAULT;
    cfg->hash_expand = s->tuning.hash_expand;
    cfg->use_cas = !s->disable_cas;
    cfg->evict = s->evict_to_free;
    cfg->changelog_size = s->repl_peer[0] ? s->repl_queue : 0;
    cfg->slab_reassign = s->tuning.slab_reassign;
    cfg->slab_automove = s->tuning.slab_automove;
    cfg->slab_automove_ratio = s->tuning.slab_automove_ratio;
    cfg->slab_automove_window = s->tuning.slab_automove_window;
}

int settings_tcp_port(const struct settings *s)
{
    return s->port == -1 ? 0 : s->port == 0 ? -1 : s->port;
}

void settings_lru_config(const struct settings *s,
                         struct engine_lru_config *lc)
{
    const struct tuning_config *t = &s->tuning;
    engine_lru_defaults(lc);
    /* memcached: the segmented LRU needs its maintainer */
    lc->segmented = t->lru_segmented && s->lru_maintainer;
    lc->hot_pct = (uint32_t)t->hot_lru_pct;
    lc->warm_pct = (uint32_t)t->warm_lru_pct;
    lc->hot_factor = t->hot_max_factor;
    lc->warm_factor = t->warm_max_factor;
    lc->temp_lru = (uint32_t)t->temp_lru;
    lc->temp_ttl = t->temporary_ttl;
}

void settings_proto_config(const struct settings *s, struct proto_config *pc)
{
    proto_config_defaults(pc);
    pc->sasl = s->sasl != 0;
    pc->mode = s->sasl ? PROTO_MODE_BINARY
             : s->proto == 1 || s->auth_file[0] ? PROTO_MODE_ASCII
             : s->proto == 2 ? PROTO_MODE_BINARY : PROTO_MODE_AUTO;
    if (s->reqs_per_event > 0)
        pc->reqs_per_event = s->reqs_per_event;
    if (s->read_buf_max > 0)
        pc->line_max = (size_t)s->read_buf_max;
    pc->flush_enabled = s->enable_flush != 0;
    pc->shutdown_enabled = s->enable_shutdown != 0;
    pc->dump_enabled = s->dump_enabled != 0;
    pc->watch_enabled = s->watch_enabled != 0;
    if (s->read_buf_mem_limit > 0 && s->threads > 0) {
        /* memcached: the limit split over the workers, in whole bundles
         * (at least one) of response objects */
        size_t bundles = s->read_buf_mem_limit / (size_t)s->threads /
                         PROTO_RESP_BUNDLE;
        pc->resp_obj_limit = (unsigned)((bundles ? bundles : 1) *
                                        PROTO_RESP_PER_BUNDLE);
    }
    pc->detail_delimiter = s->stat_key_prefix ? (char)s->stat_key_prefix
                                              : ':';
    pc->maxconns_fast = s->maxconns_fast != 0;
    pc->idle_timeout = s->idle_timeout > 0;
    pc->lru_maintainer = s->lru_maintainer != 0;
}

int settings_repl_port(const struct settings *s)
{
    return s->repl_port ? s->repl_port : SHMC_DEFAULT_REPL_PORT;
}
