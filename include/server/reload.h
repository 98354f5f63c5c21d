/*
 * reload.h - what a configuration reload (SIGHUP) changes.
 *
 * The master re-reads the --config file and its original command line into
 * a new struct settings, validates it, then asks reload_plan() what differs
 * from the running configuration. Each setting is in one of three classes:
 *   - applied by the master at once: verbosity (-v), the memory limit (-m,
 *     within the region's reserve), the listeners (-l, -p, -s, -b);
 *   - applied by the new workers that replace the old ones: -t, -c, -R,
 *     idle_timeout, maxconns_fast, -A, -F, -X, -D, read_buf_mem_limit,
 *     worker_backoff_ms, ...; the helper processes (the console, with
 *     http_port, http_addr, http_write, http_peers) are restarted;
 *   - fixed until a restart (the region's geometry, the process identity):
 *     -I, -f, -n, slab_chunk_max, hashpower, -C, -M, memory_reserve, -k,
 *     -L, -u, -d, -P, -r, -a. A change to one of these
 *     is named in the log and the running value is kept.
 * The plan's `next` is the configuration to run with: the new values of
 * what can change, the running values of what cannot.
 */
#ifndef SHMC_RELOAD_H
#define SHMC_RELOAD_H

#include <stddef.h>

#include "server/settings.h"

enum {
    RELOAD_THREADS = 1 << 0,
    RELOAD_VERBOSE = 1 << 1,
    RELOAD_LISTEN = 1 << 2,     /* -l, -p, -s, -b */
    RELOAD_MEMORY = 1 << 3,     /* -m */
    RELOAD_WORKER = 1 << 4,     /* anything else the new workers apply */
    RELOAD_HELPERS = 1 << 5,    /* http_*: the console is restarted */
};

#define RELOAD_NAMES_MAX 48

struct reload_plan {
    unsigned changes;                       /* RELOAD_* bits */
    struct settings next;
    const char *applied[RELOAD_NAMES_MAX];  /* options that change */
    int napplied;
    const char *fixed[RELOAD_NAMES_MAX];    /* changed, need a restart */
    int nfixed;
};

/* Compares the running settings with the new ones (both validated).
 * mem_reserve is what the region reserved at start: a new -m above it is
 * an error. Returns 0 with *p filled, or -1 with a message in err (nothing
 * should then be applied). */
int reload_plan(const struct settings *cur, const struct settings *next,
                size_t mem_reserve, struct reload_plan *p,
                char *err, size_t errlen);

struct engine;
struct listeners;
struct proto_shared;
struct logger;

/* The master's SIGHUP: loads the --config file and the original command
 * line (argc/argv), validates, plans, and applies what the master owns:
 * verbosity (lg), listeners (ls, via listeners_reconcile: new ones opened,
 * unchanged ones kept, removed ones closed), the memory limit
 * (engine_set_mem_limit on e). Logs what changed and what needs a restart.
 * Returns 0 with *cur = the new running configuration (the caller then
 * replaces the workers), or -1 after logging why the configuration was
 * rejected (nothing changed). */
int reload_apply(struct settings *cur, int argc, char **argv,
                 struct engine *e, struct proto_shared *shared,
                 struct listeners *ls, struct logger *lg);

/* Joins names into buf ("-t, -v, idle_timeout"); "" for none. */
void reload_names(const char *const *names, int n, char *buf, size_t len);

#endif
