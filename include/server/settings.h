/*
 * settings.h - the server's configuration: memcached's command line, the
 * --config file, and validation.
 *
 * settings_defaults() fills memcached 1.6's defaults (except the listen
 * address, 127.0.0.1). settings_parse_args() applies argv over it; a config
 * file named by --config is read first and the command line wins over it
 * (settings_load() does both in that order). Parsing never exits: it returns
 * -1 with a message in err. The master keeps one struct settings; a SIGHUP
 * builds a new one with settings_load() and swaps it in only if valid.
 * Workers get the master's copy through fork().
 */
#ifndef SHMC_SETTINGS_H
#define SHMC_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "core/limits.h"

#define SETTINGS_MAX_LISTEN 16
#define SETTINGS_MAX_PEERS 16       /* -o http_peers */
#define TUNING_MAX_SLAB_SIZES 64    /* -o slab_sizes */

/* memcached's tuning of the slab mover, the segmented LRU, the LRU crawler
 * and the hash table, by memcached's -o names, with memcached 1.6's
 * defaults and range checks: the part of the settings the engine consumes
 * (settings_engine_config() copies what the engine knows today; the rest
 * is shown by "stats settings" and carried here for the engine to take).
 * The crawler's own pace (lru_crawler_sleep, tocrawl) is the server's. */
enum tuning_hash { TUNING_HASH_MURMUR3 = 0, TUNING_HASH_JENKINS,
                   TUNING_HASH_XXH3 };

struct tuning_config {
    int slab_reassign;          /* slab_reassign / no_slab_reassign: yes */
    int slab_automove;          /* slab_automove[=0|1|2]: 1 */
    double slab_automove_ratio; /* (0, 1]: 0.80 */
    unsigned slab_automove_window; /* > 2: 30 */
    int lru_segmented;          /* HOT/WARM/COLD(/TEMP): yes (lru_maintainer
                                   turns it on, no_modern off) */
    int hot_lru_pct;            /* 1..79: 20 */
    int warm_lru_pct;           /* 1..79: 40 (hot + warm <= 80) */
    double hot_max_factor;      /* > 0: 0.20 */
    double warm_max_factor;     /* > 0: 2.00 */
    int temp_lru;               /* temporary_ttl given: TEMP LRU on */
    unsigned temporary_ttl;     /* TTLs below go to TEMP: 61 */
    int hash_expand;            /* no_hashexpand clears: yes */
    enum tuning_hash hash_algorithm; /* murmur3 */
    int tail_repair_time;       /* 0 = off, else >= 10 s */
    double slab_automove_freeratio; /* 0.01: the free memory extstore's
                                   automover keeps; parsed as memcached
                                   does, no effect (no extstore here) */
    unsigned slab_sizes[TUNING_MAX_SLAB_SIZES]; /* slab_sizes=a-b-c: the
                                   class sizes, increasing; 0 ends */
    int nslab_sizes;
};

void tuning_defaults(struct tuning_config *t);
/* memcached's name of the hash algorithm ("murmur3", ...). */
const char *tuning_hash_name(enum tuning_hash h);

struct settings {
    /* network */
    int port;                  /* -p, 11211; 0: no TCP; -1: ephemeral */
    int udpport;               /* -U, 0 = UDP off (the default); -1:
                                  ephemeral */
    int port_given, udp_given; /* -p / -U appeared (-U alone moves TCP to
                                  the UDP port, as memcached) */
    char socketpath[SHMC_UNIX_PATH_MAX]; /* -s */
    int access_mask;           /* -a, 0700 */
    char listen[SETTINGS_MAX_LISTEN][SHMC_HOST_MAX]; /* -l (comma separated,
                                                     host[:port]) */
    int nlisten;               /* 0 = 127.0.0.1 */
    int backlog;               /* -b, 1024 */
    int maxconns;              /* -c, 1024: total over all workers */
    int maxconns_fast;         /* -o maxconns_fast, 1 */
    int idle_timeout;          /* -o idle_timeout, 0 = off (seconds) */
    int io_uring;              /* -o io_uring: connections through a ring */
    int reqs_per_event;        /* -R, 20 */
    int read_buf_max;          /* -o read_buf_size: max line (bytes), 2048 key line */
    int proto;                 /* -B: 0 auto, 1 ascii, 2 binary */
    int proto_given;           /* -B appeared */
    int sasl;                  /* -S: SASL on the binary protocol (forces
                                  -B binary) */
    char auth_file[256];       /* -Y: ascii authentication (forces -B
                                  ascii) */
    /* process */
    int daemonize;             /* -d */
    char username[64];         /* -u */
    char pidfile[256];         /* -P */
    int maxcore;               /* -r */
    int lock_memory;           /* -k */
    int verbose;               /* -v count */
    int threads;               /* -t, default: number of CPUs */
    int enable_shutdown;       /* -A */
    int enable_flush;          /* -F disables (0) */
    int disable_cas;           /* -C */
    int evict_to_free;         /* -M disables (0) */
    /* memory */
    size_t maxbytes;           /* -m in bytes, 64 MB */
    size_t mem_reserve;        /* -o memory_reserve: max for cache_memlimit (bytes) */
    double factor;             /* -f, 1.25 */
    int chunk_size;            /* -n, 48 */
    size_t item_size_max;      /* -I, 1 MB */
    size_t slab_chunk_max;     /* -o slab_chunk_max, page/2 */
    int hashpower;             /* -o hashpower, 0 = auto */
    int lru_crawler;           /* -o no_lru_crawler clears */
    int track_sizes;           /* -o track_sizes: stats sizes enabled */
    int lru_maintainer;        /* -o no_lru_maintainer clears */
    int stat_key_prefix;       /* -D char, ':' */
    int detail_enabled;
    int slab_chunk_changed;    /* slab_chunk_max given (-I and no_modern
                                  leave it alone then) */
    struct tuning_config tuning; /* memcached's -o tuning of the engine */
    int lru_crawler_sleep;     /* -o lru_crawler_sleep: us between items
                                  the crawler visits (0..1000000), 100 */
    unsigned lru_crawler_tocrawl; /* -o lru_crawler_tocrawl: items per
                                  class per crawl, 0 = all */
    /* logging (watch) */
    int watch_enabled;         /* -W clears */
    size_t watcher_logbuf_size;/* -o watcher_logbuf_size (KB): 256 KB */
    size_t worker_logbuf_size; /* -o worker_logbuf_size (KB): 64 KB */
    /* accepted for memcached's sake, without effect here (see usage.c) */
    int drop_privileges;       /* -o [no_]drop_privileges */
    unsigned sock_cookie_id;   /* -o sock_cookie_id: SO_MARK of sockets */
    int napi_ids;              /* -N */
    /* shmcached */
    char config_file[256];     /* --config */
    int worker_restart_backoff_ms; /* -o worker_backoff_ms, 100 */
    int dump_enabled;          /* -X clears: stats cachedump off */
    int large_pages;           /* -L: accepted, no effect (logged) */
    size_t read_buf_mem_limit; /* -o read_buf_mem_limit (MB on input), bytes
                                  of connection buffers per server, 0 = no
                                  limit; each worker gets an equal share */
    char memory_file[256];     /* -e: the cache lives in this file and
                                  outlives the server ("" = memfd) */
    int memory_file_wait;      /* -o memory_file_wait: seconds to wait for
                                  an earlier server's processes, 15 */
    int check_only;            /* --check: verify the memory file, exit */
    int upgrade_timeout;       /* -o upgrade_timeout: seconds a new binary
                                  has to be ready (SIGUSR2), 30 */
    /* replication (src/repl/): repcached's -x */
    char repl_peer[SHMC_HOST_MAX]; /* -x HOST[:PORT], "" = none */
    int repl_port;             /* -o repl_port: ours, and the peer's when
                                  -x names none; 0 = 11212 */
    int repl_sync;             /* -o repl_sync: acknowledge a write once
                                  the peer applied it */
    int repl_sync_timeout_ms;  /* -o repl_sync_timeout_ms, 1000 */
    size_t repl_queue;         /* -o repl_queue (MB): the change log, 16 */
    int repl_timeout_ms;       /* -o repl_timeout_ms: a silent link is
                                  dropped after this long, 5000 */
    /* the operator's console (src/console/) */
    int http_port;             /* -o http_port, 0 = no console */
    char http_addr[SHMC_HOST_MAX]; /* -o http_addr, 127.0.0.1 */
    int http_write;            /* -o http_write: the page may delete keys
                                  and query servers it names itself */
    char http_peers[SETTINGS_MAX_PEERS][SHMC_HOST_MAX]; /* -o http_peers,
                                  host:port of other memcached servers */
    int npeers;
};

void settings_defaults(struct settings *s);

/* Applies argv (argv[0] skipped) to s. Returns 0, 1 if -h/-V was handled
 * (text printed to out), or -1 with a message in err. */
int settings_parse_args(struct settings *s, int argc, char **argv,
                        FILE *out, char *err, size_t errlen);

/* Reads a config file ("name = value" lines, '#' comments) into s.
 * Returns 0 or -1 with a message in err (file, line and reason). */
int settings_parse_file(struct settings *s, const char *path,
                        char *err, size_t errlen);

/* defaults, then the --config file named in argv (if any), then argv.
 * Returns 0, 1 (-h/-V handled) or -1 with err. */
int settings_load(struct settings *s, int argc, char **argv, FILE *out,
                  char *err, size_t errlen);

/* Cross-field checks (ranges, -I against -m, ...). 0 or -1 with err. */
int settings_validate(const struct settings *s, char *err, size_t errlen);

struct buf;
struct engine;
struct engine_config;
struct proto_config;
struct proto_shared;

/* The engine's configuration the settings ask for (the region's reserve is
 * the larger of -m and memory_reserve; the master may raise it). */
void settings_engine_config(const struct settings *s,
                            struct engine_config *cfg);

/* The LRU policy the settings ask for (-o lru_maintainer, lru_segmented,
 * hot_lru_pct, warm_lru_pct, hot_max_factor, warm_max_factor,
 * temporary_ttl). */
struct engine_lru_config;
void settings_lru_config(const struct settings *s,
                         struct engine_lru_config *lc);

/* The hash table's starting power without -o hashpower: memcached's 16
 * (the table grows from there, engine.h: engine_hash_grow). */
#define SETTINGS_HASHPOWER_DEFAULT 16

/* The replication port: -o repl_port, or 11212. */
int settings_repl_port(const struct settings *s);

/* The port the TCP listeners take (listen_config.port): memcached's -p 0
 * means no TCP (< 0 here), -p -1 an ephemeral port (0 here). */
int settings_tcp_port(const struct settings *s);

/* What the protocol layer is told of the settings. */
void settings_proto_config(const struct settings *s, struct proto_config *pc);

/* "stats settings": every STAT line, in memcached's order, from the running
 * settings, the region as built, and the protocol's shared switches.
 * Returns 0, or -1 when out could not grow. */
int settings_stats(const struct settings *s, struct engine *e,
                   const struct proto_shared *sh, struct buf *out);

#endif
