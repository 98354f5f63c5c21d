/*
 * console_int.h - what the console's modules share inside the console
 * process: the process context, the reply a handler fills, the routes.
 *
 * One struct console per process, created in console_run(); handlers get
 * it as their first argument (no globals). A handler fills a struct reply
 * (status, type, body); console.c frames it as an HTTP response.
 */
#ifndef SHMC_CONSOLE_INT_H
#define SHMC_CONSOLE_INT_H

#include <stddef.h>

#include "console/http.h"
#include "console/stats.h"
#include "core/buf.h"
#include "core/log.h"
#include "proto/proto.h"

struct engine;
struct engine_worker;
struct settings;
struct srvstate;
struct ev_loop;

#define CONSOLE_MAX_CONNS 64        /* HTTP connections at once */
#define CONSOLE_IDLE_TIMEOUT 30.0   /* seconds a connection may sit idle */
#define CONSOLE_SERVER_MAX 128      /* "host:port" of a server parameter */

struct console {
    struct ev_loop *loop;
    const struct settings *s;
    struct engine *engine;
    struct engine_worker *slot;
    struct srvstate *state;
    struct logger log;
    struct proto_config pcfg;
    struct proto_env env;           /* the local server's stats, in-process */
    int nconns;
    struct hconn *conns;            /* open connections (list) */
};

struct reply {
    int status;
    const char *ctype;
    struct buf body;
    const char *extra;              /* extra header lines, or NULL */
};

/* ---- routes.c ---- */
/* Fills rep for request r. */
void console_route(struct console *c, const struct http_req *r,
                   struct reply *rep);
/* A JSON error body {"error": msg} with status. */
void reply_error(struct reply *rep, int status, const char *msg);

/* Which server a request names (its "server" parameter): NULL for this
 * one; else the address, if allowed (a configured peer, or any with
 * http_write). Returns 0, or -1 after filling rep with 403/400. */
int console_server(struct console *c, const struct http_req *r,
                   char *addr, size_t len, const char **server,
                   struct reply *rep);
/* Runs a stats command on the local server (stats_cmd_fn). */
int console_local_cmd(void *arg, const char *cmd, struct buf *out,
                      char *err, size_t errlen);

/* ---- keys.c ---- */
void keys_list(struct console *c, const struct http_req *r,
               struct reply *rep);
void keys_item(struct console *c, const struct http_req *r,
               struct reply *rep);
void keys_delete(struct console *c, const struct http_req *r,
                 struct reply *rep);

/* ---- assets.c ---- */
/* The built-in file served at path, or NULL. */
const char *asset_find(const char *path, size_t path_len, size_t *len,
                       const char **ctype);

#endif
