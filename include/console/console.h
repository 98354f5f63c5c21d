/*
 * console.h - the operator's console: an HTTP server in a helper process
 * of its own (helper.h), forked and restarted by the master when
 * -o http_port is set.
 *
 * It serves a dashboard (GET /, files built into the binary), the JSON
 * behind it (/api/...), a key browser, a pool of other memcached servers,
 * and Prometheus metrics (GET /metrics). It reads the cache's figures
 * straight from the shared region and the server's shared state, through
 * its own engine slot, and takes no lock longer than one hash bucket's
 * (engine_walk). It never talks to a worker: a slow or dead console costs
 * the cache nothing.
 */
#ifndef SHMC_CONSOLE_CONSOLE_H
#define SHMC_CONSOLE_CONSOLE_H

#include "server/helper.h"

/* The helper the master runs: wanted when http_port is set. */
extern const struct helper_def console_helper;

#endif
