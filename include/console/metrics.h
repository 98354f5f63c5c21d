/*
 * metrics.h - Prometheus text exposition (format 0.0.4) of a snapshot,
 * with the metric names, types, help texts and labels of the official
 * memcached_exporter, so dashboards and alerts written for it work
 * unchanged; shmcached's own figures ("stats shmcached", the snapshot's
 * shmcached list) follow as shmcached_* families.
 *
 * Each sample's value is the figure of the stats reply it comes from,
 * copied as printed (memcached_current_items is "curr_items" exactly);
 * the exporter's one derived figure is kept: commands_total for set is
 * cmd_set minus the CAS commands (memcached counts them in cmd_set).
 */
#ifndef SHMC_CONSOLE_METRICS_H
#define SHMC_CONSOLE_METRICS_H

#include "console/stats.h"

struct buf;

/* One process of the local server, for the shmcached_process_* families
 * (NULL/0 for a peer). */
struct metrics_proc {
    const char *role;           /* "worker", "retiring", "console" */
    int index;
    int pid;
    long long started;          /* unix time */
    unsigned long long connections, restarts;
};

/* Appends the exposition of s (memcached_up 0 and nothing else when
 * s->up is 0). Returns 0 or -1 (out of memory). */
int metrics_render(const struct snapshot *s, const struct metrics_proc *procs,
                   int nprocs, struct buf *out);

#endif
