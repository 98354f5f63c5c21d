/*
 * routes.c - what the console answers (see console_int.h).
 *
 *   GET  /, /app.js, /app.css   the dashboard (assets.c)
 *   GET  /metrics               Prometheus exposition (metrics.h)
 *   GET  /api/info              version, write mode, configured peers
 *   GET  /api/snapshot          stats, settings, items, slabs, sizes,
 *                               shmcached ("stats shmcached") and (local
 *                               server) the processes, in one reply
 *   GET  /api/stats, /api/settings, /api/items, /api/slabs, /api/sizes,
 *        /api/shmcached, /api/workers   one part each
 *   GET  /api/pool              every server of the pool, summarised
 *   GET  /api/keys, /api/item   the key browser (keys.c)
 *   POST /api/delete            delete a key (only with http_write)
 *
 * The local server's figures are its "stats" replies, except rusage_user
 * and rusage_system: the CPU time of all its processes (from /proc), where
 * "stats" gives the answering worker's own.
 *
 * Every /api/ reply is JSON. A "server" parameter names another server of
 * the pool; only configured peers are accepted unless http_write is on
 * (the console must not become a way to reach arbitrary addresses). Any
 * POST must carry "X-Shmcached: 1", which a page of another origin cannot
 * send without the console's consent (no CORS headers are ever sent).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "console/console_int.h"
#include "console/json.h"
#include "console/metrics.h"
#include "console/peer.h"
#include "core/version.h"
#include "server/settings.h"
#include "server/srvstate.h"

#define JSON "application/json"

void reply_error(struct reply *rep, int status, const char *msg)
{
    rep->status = status;
    rep->ctype = JSON;
    buf_reset(&rep->body, 0);
    buf_appendz(&rep->body, "{\"error\":");
    json_strz(&rep->body, msg);
    buf_appendz(&rep->body, "}\n");
}

int console_server(struct console *c, const struct http_req *r, char *addr,
                   size_t len, const char **server, struct reply *rep)
{
    *server = NULL;
    long n = http_param(r->query, r->query_len, "server", addr, len);
    if (n <= 0 || strcmp(addr, "local") == 0)
        return 0;
    for (int i = 0; i < c->s->npeers; i++)
        if (strcmp(addr, c->s->http_peers[i]) == 0) {
            *server = addr;
            return 0;
        }
    if (!c->s->http_write) {
        reply_error(rep, 403, "not a configured peer (-o http_peers); "
                    "other servers need -o http_write");
        return -1;
    }
    if (strchr(addr, ':') == NULL || strpbrk(addr, "/ \t\r\n") != NULL) {
        reply_error(rep, 400, "server must be host:port");
        return -1;
    }
    *server = addr;
    return 0;
}

/* CPU time of one process from /proc (clock ticks); 0 if it is gone. */
static void proc_cpu(int pid, unsigned long long *user,
                     unsigned long long *sys)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')');     /* the name may hold blanks */
    unsigned long long u, s;
    if (p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
                            "%*u %*u %llu %llu", &u, &s) == 2) {
        *user += u;
        *sys += s;
    }
}

/* The local "stats" says the CPU time of the process that answered it;
 * the console shows the server's: the master's and every process's in
 * the process table (workers, retiring workers, helpers) added up. */
static void server_rusage(struct console *c, struct kvlist *st)
{
    unsigned long long user = 0, sys = 0;
    long hz = sysconf(_SC_CLK_TCK);
    proc_cpu((int)c->state->info.master_pid, &user, &sys);
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        int pid = __atomic_load_n(&c->state->proc[i].pid, __ATOMIC_ACQUIRE);
        if (pid != 0)
            proc_cpu(pid, &user, &sys);
    }
    if (hz <= 0)
        return;
    char v[48];
    snprintf(v, sizeof(v), "%llu.%06llu", user / (unsigned long long)hz,
             user % (unsigned long long)hz * 1000000 / (unsigned long long)hz);
    kv_set(st, "rusage_user", v);
    snprintf(v, sizeof(v), "%llu.%06llu", sys / (unsigned long long)hz,
             sys % (unsigned long long)hz * 1000000 / (unsigned long long)hz);
    kv_set(st, "rusage_system", v);
}

/* A snapshot of the local server. */
static void local_snapshot(struct console *c, struct snapshot *s,
                           unsigned mask)
{
    snapshot_take(s, mask, console_local_cmd, c);
    if (s->up && (mask & SNAP_STATS))
        server_rusage(c, &s->stats);
}

static void kv_json(struct buf *out, const struct kvlist *l)
{
    buf_append(out, "{", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            buf_append(out, ",", 1);
        json_key(out, l->v[i].name);
        json_strz(out, l->v[i].value);
    }
    buf_append(out, "}", 1);
}

/* Fills procs[] from the shared state's table; returns how many. */
static int read_procs(struct console *c, struct metrics_proc *p, int max,
                      int *slots)
{
    static const char *const roles[] = { "none", "worker", "retiring",
                                         "helper" };
    int n = 0;
    for (int i = 0; i < ENGINE_MAX_SLOTS && n < max; i++) {
        const struct server_proc *sp = &c->state->proc[i];
        int pid = __atomic_load_n(&sp->pid, __ATOMIC_ACQUIRE);
        if (pid == 0 || sp->role > SERVER_ROLE_HELPER)
            continue;
        p[n].role = sp->role == SERVER_ROLE_HELPER ? sp->name
                                                    : roles[sp->role];
        p[n].index = sp->index;
        p[n].pid = pid;
        p[n].started = sp->started;
        p[n].restarts = sp->restarts;
        p[n].connections = __atomic_load_n(
            &c->state->slot[i].c.curr_connections, __ATOMIC_RELAXED);
        slots[n++] = i;
    }
    return n;
}

static void workers_json(struct console *c, struct buf *out)
{
    struct metrics_proc p[ENGINE_MAX_SLOTS];
    int slots[ENGINE_MAX_SLOTS];
    int n = read_procs(c, p, ENGINE_MAX_SLOTS, slots);
    long long now = (long long)time(NULL);
    buf_append(out, "[", 1);
    for (int i = 0; i < n; i++) {
        const struct server_counters *sc = &c->state->slot[slots[i]].c;
        buf_printf(out, "%s{\"role\":", i ? "," : "");
        json_strz(out, p[i].role);
        buf_printf(out, ",\"index\":%d,\"pid\":%d,\"slot\":%d,"
                   "\"started\":%lld,\"uptime\":%lld,\"connections\":%llu,"
                   "\"total_connections\":%llu,\"restarts\":%llu}",
                   p[i].index, p[i].pid, slots[i], p[i].started,
                   now - p[i].started, p[i].connections,
                   (unsigned long long)__atomic_load_n(
                       &sc->total_connections, __ATOMIC_RELAXED),
                   p[i].restarts);
    }
    buf_append(out, "]", 1);
}

/* /api/snapshot and its parts. */
static void api_snapshot(struct console *c, const struct http_req *r,
                         struct reply *rep, unsigned mask, int workers)
{
    char addr[CONSOLE_SERVER_MAX];
    const char *server;
    if (console_server(c, r, addr, sizeof(addr), &server, rep) < 0)
        return;
    struct snapshot s;
    snapshot_init(&s);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (server)
        snapshot_take(&s, mask, peer_stats_cmd, (void *)server);
    else
        local_snapshot(c, &s, mask);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct buf *o = &rep->body;
    rep->ctype = JSON;
    buf_appendz(o, "{\"server\":");
    json_strz(o, server ? server : "local");
    buf_printf(o, ",\"up\":%s,\"ms\":%.3f", s.up ? "true" : "false",
               (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
               (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    if (!s.up) {
        buf_appendz(o, ",\"error\":");
        json_strz(o, s.error);
    }
    static const struct { unsigned bit; const char *name; size_t off; } parts[] = {
        { SNAP_STATS, "stats", offsetof(struct snapshot, stats) },
        { SNAP_SETTINGS, "settings", offsetof(struct snapshot, settings) },
        { SNAP_ITEMS, "items", offsetof(struct snapshot, items) },
        { SNAP_SLABS, "slabs", offsetof(struct snapshot, slabs) },
        { SNAP_SIZES, "sizes", offsetof(struct snapshot, sizes) },
        { SNAP_SHMCACHED, "shmcached", offsetof(struct snapshot, shmcached) },
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && s.up; i++) {
        if (!(mask & parts[i].bit))
            continue;
        buf_printf(o, ",\"%s\":", parts[i].name);
        kv_json(o, (const struct kvlist *)((const char *)&s + parts[i].off));
    }
    if (workers && server == NULL) {
        buf_appendz(o, ",\"workers\":");
        workers_json(c, o);
    }
    buf_appendz(o, "}\n");
    snapshot_free(&s);
}

static void api_metrics(struct console *c, struct reply *rep)
{
    struct snapshot s;
    struct metrics_proc p[ENGINE_MAX_SLOTS];
    int slots[ENGINE_MAX_SLOTS];
    snapshot_init(&s);
    local_snapshot(c, &s, SNAP_STATS | SNAP_SETTINGS | SNAP_ITEMS |
                   SNAP_SLABS | SNAP_SHMCACHED);
    int n = read_procs(c, p, ENGINE_MAX_SLOTS, slots);
    rep->ctype = "text/plain; version=0.0.4; charset=utf-8";
    if (metrics_render(&s, p, n, &rep->body) < 0)
        reply_error(rep, 500, "out of memory");
    snapshot_free(&s);
}

static void api_info(struct console *c, struct reply *rep)
{
    struct buf *o = &rep->body;
    rep->ctype = JSON;
    buf_appendz(o, "{\"name\":");
    json_strz(o, SHMC_NAME);
    buf_appendz(o, ",\"version\":");
    json_strz(o, SHMC_VERSION);
    buf_printf(o, ",\"write\":%s,\"master_pid\":%d,\"port\":%d,\"peers\":[",
               c->s->http_write ? "true" : "false",
               (int)c->state->info.master_pid, c->s->port);
    for (int i = 0; i < c->s->npeers; i++) {
        if (i)
            buf_append(o, ",", 1);
        json_strz(o, c->s->http_peers[i]);
    }
    buf_appendz(o, "]}\n");
}

/* One line of /api/pool. */
static void pool_entry(struct buf *o, const char *name, struct snapshot *s)
{
    static const char *const fields[] = {
        "version", "uptime", "curr_items", "bytes", "limit_maxbytes",
        "curr_connections", "get_hits", "get_misses", "evictions",
        "cmd_get", "cmd_set", "threads",
    };
    buf_appendz(o, "{\"server\":");
    json_strz(o, name);
    buf_printf(o, ",\"up\":%s", s->up ? "true" : "false");
    if (!s->up) {
        buf_appendz(o, ",\"error\":");
        json_strz(o, s->error);
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && s->up;
         i++) {
        const char *v = kv_get(&s->stats, fields[i]);
        buf_printf(o, ",\"%s\":", fields[i]);
        json_strz(o, v ? v : "");
    }
    buf_appendz(o, "}");
}

static void api_pool(struct console *c, const struct http_req *r,
                     struct reply *rep)
{
    struct buf *o = &rep->body;
    char extra[CONSOLE_SERVER_MAX];
    const char *server = NULL;
    if (console_server(c, r, extra, sizeof(extra), &server, rep) < 0)
        return;
    rep->ctype = JSON;
    buf_appendz(o, "{\"servers\":[");
    for (int i = -1; i <= c->s->npeers; i++) {
        const char *name = i < 0 ? "local"
                         : i < c->s->npeers ? c->s->http_peers[i] : server;
        if (name == NULL || (i == c->s->npeers && strcmp(name, "local") == 0))
            continue;
        struct snapshot s;
        snapshot_init(&s);
        if (i < 0)
            local_snapshot(c, &s, SNAP_STATS);
        else
            snapshot_take(&s, SNAP_STATS, peer_stats_cmd, (void *)name);
        if (i >= 0)
            buf_append(o, ",", 1);
        pool_entry(o, name, &s);
        snapshot_free(&s);
    }
    buf_appendz(o, "]}\n");
}

static void asset(const struct http_req *r, struct reply *rep)
{
    size_t len;
    const char *ctype;
    const char *data = asset_find(r->path, r->path_len, &len, &ctype);
    if (data == NULL) {
        reply_error(rep, 404, "no such page");
        return;
    }
    rep->ctype = ctype;
    buf_append(&rep->body, data, len);
}

#define PATH_IS(r, lit) \
    ((r)->path_len == sizeof(lit) - 1 && memcmp((r)->path, lit, \
                                                sizeof(lit) - 1) == 0)

static void route_get(struct console *c, const struct http_req *r,
                      struct reply *rep)
{
    if (PATH_IS(r, "/metrics"))
        api_metrics(c, rep);
    else if (PATH_IS(r, "/api/info"))
        api_info(c, rep);
    else if (PATH_IS(r, "/api/snapshot"))
        api_snapshot(c, r, rep, SNAP_ALL, 1);
    else if (PATH_IS(r, "/api/stats"))
        api_snapshot(c, r, rep, SNAP_STATS, 0);
    else if (PATH_IS(r, "/api/settings"))
        api_snapshot(c, r, rep, SNAP_SETTINGS, 0);
    else if (PATH_IS(r, "/api/items"))
        api_snapshot(c, r, rep, SNAP_ITEMS, 0);
    else if (PATH_IS(r, "/api/slabs"))
        api_snapshot(c, r, rep, SNAP_SLABS | SNAP_ITEMS, 0);
    else if (PATH_IS(r, "/api/sizes"))
        api_snapshot(c, r, rep, SNAP_SIZES, 0);
    else if (PATH_IS(r, "/api/shmcached"))
        api_snapshot(c, r, rep, SNAP_SHMCACHED, 0);
    else if (PATH_IS(r, "/api/workers"))
        api_snapshot(c, r, rep, 0, 1);
    else if (PATH_IS(r, "/api/pool"))
        api_pool(c, r, rep);
    else if (PATH_IS(r, "/api/keys"))
        keys_list(c, r, rep);
    else if (PATH_IS(r, "/api/item"))
        keys_item(c, r, rep);
    else if (PATH_IS(r, "/api/delete"))
        reply_error(rep, 405, "use POST");
    else
        asset(r, rep);
}

void console_route(struct console *c, const struct http_req *r,
                   struct reply *rep)
{
    if (r->method == HTTP_GET) {
        route_get(c, r, rep);
        return;
    }
    if (!PATH_IS(r, "/api/delete")) {
        reply_error(rep, PATH_IS(r, "/") || PATH_IS(r, "/metrics") ||
                         (r->path_len > 5 && !memcmp(r->path, "/api/", 5))
                             ? 405 : 404,
                    "POST is only for /api/delete");
        return;
    }
    if (!r->has_token) {
        reply_error(rep, 403, "a POST needs the header X-Shmcached: 1");
        return;
    }
    keys_delete(c, r, rep);
}
