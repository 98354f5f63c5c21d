/*
 * reload.c - the settings diff of a configuration reload (see reload.h).
 *
 * One table lists every field of struct settings with the option name the
 * log uses and its class; a field missing from the table would be silently
 * ignored by a reload, so the unit suite checks that changing any option
 * shows up in one of the two lists. Fields are compared bytewise, except
 * the listen list (only its first nlisten entries are meaningful).
 * reload_plan() is pure (no I/O, no globals); reload_apply() reads the
 * configuration and applies the master's part of the plan.
 */
#include "server/reload.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "proto/proto.h"
#include "server/listener.h"
#include "core/log.h"

enum cls { FIXED, MASTER, WORKER };

struct field {
    const char *name;
    size_t off, size;
    enum cls cls;
    unsigned bit;       /* RELOAD_* for applied fields */
};

#define F(member, nm, c, b) \
    { nm, offsetof(struct settings, member), \
      sizeof(((struct settings *)0)->member), c, b }

static const struct field fields[] = {
    F(threads, "-t", WORKER, RELOAD_THREADS),
    F(verbose, "-v", MASTER, RELOAD_VERBOSE),
    F(maxconns, "-c", WORKER, RELOAD_WORKER),
    F(idle_timeout, "idle_timeout", WORKER, RELOAD_WORKER),
    F(reqs_per_event, "-R", WORKER, RELOAD_WORKER),
    F(port, "-p", MASTER, RELOAD_LISTEN),
    F(socketpath, "-s", MASTER, RELOAD_LISTEN),
    F(backlog, "-b", MASTER, RELOAD_LISTEN),
    F(maxbytes, "-m", MASTER, RELOAD_MEMORY),
    F(maxconns_fast, "maxconns_fast", WORKER, RELOAD_WORKER),
    F(read_buf_max, "read_buf_size", WORKER, RELOAD_WORKER),
    F(proto, "-B", WORKER, RELOAD_WORKER),
    F(enable_shutdown, "-A", WORKER, RELOAD_WORKER),
    F(enable_flush, "-F", WORKER, RELOAD_WORKER),
    F(dump_enabled, "-X", WORKER, RELOAD_WORKER),
    F(stat_key_prefix, "-D", MASTER, RELOAD_WORKER),
    F(detail_enabled, "detail_enabled", MASTER, RELOAD_WORKER),
    F(track_sizes, "track_sizes", MASTER, RELOAD_WORKER),
    F(io_uring, "io_uring", WORKER, RELOAD_WORKER),
    F(read_buf_mem_limit, "read_buf_mem_limit", WORKER, RELOAD_WORKER),
    F(worker_restart_backoff_ms, "worker_backoff_ms", WORKER,
      RELOAD_WORKER),
    F(lru_crawler, "lru_crawler", MASTER, RELOAD_WORKER),
    F(lru_maintainer, "lru_maintainer", WORKER, RELOAD_WORKER),
    F(lru_crawler_sleep, "lru_crawler_sleep", MASTER, RELOAD_WORKER),
    F(lru_crawler_tocrawl, "lru_crawler_tocrawl", MASTER, RELOAD_WORKER),
    F(watch_enabled, "-W", WORKER, RELOAD_WORKER),
    F(tuning, "the LRU/slab tuning (-o)", FIXED, 0),
    F(slab_chunk_changed, "slab_chunk_max", FIXED, 0),
    F(watcher_logbuf_size, "watcher_logbuf_size", FIXED, 0),
    F(worker_logbuf_size, "worker_logbuf_size", FIXED, 0),
    F(drop_privileges, "drop_privileges", FIXED, 0),
    F(sock_cookie_id, "sock_cookie_id", FIXED, 0),
    F(napi_ids, "-N", FIXED, 0),
    F(proto_given, "-B", WORKER, RELOAD_WORKER),
    F(auth_file, "-Y", WORKER, RELOAD_WORKER),
    F(sasl, "-S", FIXED, 0),
    F(http_port, "http_port", MASTER, RELOAD_HELPERS),
    F(http_addr, "http_addr", MASTER, RELOAD_HELPERS),
    F(http_write, "http_write", MASTER, RELOAD_HELPERS),
    F(http_peers, "http_peers", MASTER, RELOAD_HELPERS),
    F(npeers, "http_peers", MASTER, RELOAD_HELPERS),
    F(udpport, "-U", FIXED, 0),
    F(port_given, "-p", MASTER, RELOAD_LISTEN),
    F(udp_given, "-U", FIXED, 0),
    F(access_mask, "-a", FIXED, 0),
    F(daemonize, "-d", FIXED, 0),
    F(username, "-u", FIXED, 0),
    F(pidfile, "-P", FIXED, 0),
    F(maxcore, "-r", FIXED, 0),
    F(lock_memory, "-k", FIXED, 0),
    F(disable_cas, "-C", FIXED, 0),
    F(evict_to_free, "-M", FIXED, 0),
    F(mem_reserve, "memory_reserve", FIXED, 0),
    F(factor, "-f", FIXED, 0),
    F(chunk_size, "-n", FIXED, 0),
    F(item_size_max, "-I", FIXED, 0),
    F(slab_chunk_max, "slab_chunk_max", FIXED, 0),
    F(hashpower, "hashpower", FIXED, 0),
    F(large_pages, "-L", FIXED, 0),
    F(config_file, "--config", FIXED, 0),
    F(memory_file, "-e", FIXED, 0),
    F(repl_peer, "-x", FIXED, 0),
    F(repl_port, "repl_port", FIXED, 0),
    F(repl_queue, "repl_queue", FIXED, 0),
    F(repl_sync, "repl_sync", WORKER, RELOAD_WORKER),
    F(repl_sync_timeout_ms, "repl_sync_timeout_ms", WORKER, RELOAD_WORKER),
    F(repl_timeout_ms, "repl_timeout_ms", MASTER, RELOAD_HELPERS),
    F(memory_file_wait, "memory_file_wait", FIXED, 0),
    F(upgrade_timeout, "upgrade_timeout", MASTER, 0),
};

#undef F

static int listen_differs(const struct settings *a, const struct settings *b)
{
    if (a->nlisten != b->nlisten)
        return 1;
    for (int i = 0; i < a->nlisten; i++)
        if (strcmp(a->listen[i], b->listen[i]) != 0)
            return 1;
    return 0;
}

int reload_plan(const struct settings *cur, const struct settings *next,
                size_t mem_reserve, struct reload_plan *p,
                char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->next = *cur;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        const char *a = (const char *)cur + f->off;
        const char *b = (const char *)next + f->off;
        if (memcmp(a, b, f->size) == 0)
            continue;
        if (f->cls == FIXED) {
            if (p->nfixed < RELOAD_NAMES_MAX)
                p->fixed[p->nfixed++] = f->name;
            continue;
        }
        memcpy((char *)&p->next + f->off, b, f->size);
        p->changes |= f->bit;
        if (p->napplied < RELOAD_NAMES_MAX)
            p->applied[p->napplied++] = f->name;
    }
    if (listen_differs(cur, next)) {
        p->next.nlisten = next->nlisten;
        memcpy(p->next.listen, next->listen, sizeof(next->listen));
        p->changes |= RELOAD_LISTEN;
        if (p->napplied < RELOAD_NAMES_MAX)
            p->applied[p->napplied++] = "-l";
    }
    if ((p->changes & RELOAD_MEMORY) && mem_reserve != 0 &&
        next->maxbytes > mem_reserve) {
        snprintf(err, errlen, "-m %zu MB is more than the %zu MB the cache "
                 "region reserved at start (memory_reserve); a restart is "
                 "needed", next->maxbytes >> 20, mem_reserve >> 20);
        return -1;
    }
    if (p->next.item_size_max > p->next.maxbytes / 2) {
        snprintf(err, errlen, "-m %zu MB is too small for the running -I "
                 "(%zu bytes): items may be up to half the memory limit",
                 p->next.maxbytes >> 20, p->next.item_size_max);
        return -1;
    }
    return 0;
}

void reload_names(const char *const *names, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < len; i++) {
        int w = snprintf(buf + at, len - at, "%s%s", i ? ", " : "",
                         names[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* Reads the configuration again (the command line and its --config file),
 * validates it and plans the change from cur. Returns 0, or -1 with the
 * reason in err. */
static int reload_read(const struct settings *cur, int argc, char **argv,
                       struct engine *e, struct reload_plan *plan,
                       char *err, size_t errlen)
{
    struct settings next;
    int rc = settings_load(&next, argc, argv, NULL, err, errlen);
    if (rc > 0) {
        snprintf(err, errlen, "-h, -V or -i on the command line");
        rc = -1;
    }
    if (rc == 0)
        rc = settings_validate(&next, err, errlen);
    if (rc == 0)
        rc = reload_plan(cur, &next,
                         engine_config(e)->mem_reserve, plan, err,
                         errlen);
    return rc;
}

/* Opens the listeners n adds and closes the ones it drops. Returns 0, or
 * -1 with the reason in err when the new ones cannot be opened (the
 * listeners are then unchanged). */
static int reload_listeners(const struct settings *n, struct listeners *ls,
                            struct logger *lg, char *err, size_t errlen)
{
    struct listen_config lc = {
        .addrs = n->listen, .naddrs = n->nlisten,
        .port = settings_tcp_port(n),
        .backlog = n->backlog, .unix_path = n->socketpath,
        .unix_mask = n->access_mask,
    };
    struct listeners stale;
    int rc = listeners_reconcile(ls, &lc, &stale, lg);
    if (rc < 0) {
        snprintf(err, errlen, "the new listen addresses cannot be "
                 "opened (see above)");
    } else {
        /* before any new worker is forked: none inherits them; the
         * retiring workers stop accepting on them at once */
        for (int i = 0; i < stale.n; i++)
            log_info(lg, "closing listener %s", stale.l[i].name);
        listeners_close(&stale);
        listeners_unlink(&stale);
    }
    return rc;
}

/* The server-wide switches every worker reads (in shared), and the
 * engine's detail stats: those that differ between cur and next. */
static void publish_switches(const struct settings *cur,
                             const struct settings *next, struct engine *e,
                             struct proto_shared *shared)
{
    if (next->track_sizes != cur->track_sizes)
        __atomic_store_n(&shared->track_sizes,
                         (uint32_t)next->track_sizes, __ATOMIC_RELAXED);
    if (next->lru_crawler != cur->lru_crawler)
        __atomic_store_n(&shared->crawler_enabled,
                         (uint32_t)next->lru_crawler, __ATOMIC_RELAXED);
    if (next->lru_crawler_sleep != cur->lru_crawler_sleep)
        __atomic_store_n(&shared->crawler_sleep,
                         (uint32_t)next->lru_crawler_sleep,
                         __ATOMIC_RELAXED);
    if (next->lru_crawler_tocrawl != cur->lru_crawler_tocrawl)
        __atomic_store_n(&shared->crawler_tocrawl,
                         next->lru_crawler_tocrawl, __ATOMIC_RELAXED);
    if (next->detail_enabled != cur->detail_enabled ||
        next->stat_key_prefix != cur->stat_key_prefix)
        engine_detail_enable(e, next->detail_enabled,
                             (char)next->stat_key_prefix);
}

int reload_apply(struct settings *cur, int argc, char **argv,
                 struct engine *e, struct proto_shared *shared,
                 struct listeners *ls, struct logger *lg)
{
    struct reload_plan plan;
    char err[512], names[512];
    int rc = reload_read(cur, argc, argv, e, &plan, err, sizeof(err));
    int old_verbose = lg->verbose;
    if (rc == 0 && (plan.changes & RELOAD_VERBOSE))
        log_set_verbose(lg, plan.next.verbose);
    if (rc == 0 && (plan.changes & RELOAD_LISTEN))
        rc = reload_listeners(&plan.next, ls, lg, err, sizeof(err));
    if (rc < 0) {
        log_set_verbose(lg, old_verbose);
        log_error(lg, "SIGHUP: configuration rejected: %s; keeping the "
                  "running configuration", err);
        return -1;
    }
    if (plan.nfixed > 0) {
        reload_names(plan.fixed, plan.nfixed, names, sizeof(names));
        log_warn(lg, "SIGHUP: %s cannot change without a restart; "
                 "keeping the running value(s)", names);
    }
    if ((plan.changes & RELOAD_MEMORY) &&
        engine_set_mem_limit(e, plan.next.maxbytes) < 0) {
        log_error(lg, "SIGHUP: cannot set the memory limit to %zu MB; "
                  "keeping %zu MB", plan.next.maxbytes >> 20,
                  cur->maxbytes >> 20);
        plan.next.maxbytes = cur->maxbytes;
    }
    publish_switches(cur, &plan.next, e, shared);
    *cur = plan.next;
    reload_names(plan.applied, plan.napplied, names, sizeof(names));
    log_warn(lg, "SIGHUP: configuration reloaded (%s%s)",
             plan.napplied ? "changed: " : "no change",
             plan.napplied ? names : "");
    return 0;
}
