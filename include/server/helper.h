/*
 * helper.h - helper processes: children of the master that are not
 * workers (the operator's console; later, replication).
 *
 * A helper is described once by a struct helper_def (a name, whether the
 * running settings want it, and the function that is its whole life) and
 * handed to master_run(). The master treats it as it treats a worker: it
 * claims an engine slot for it before fork() (so a helper may call item
 * operations, and a helper that dies holding a lock is repaired by
 * engine_worker_reap()), forks it, logs its death, and starts it again,
 * with the workers' crash backoff when it keeps crashing. A helper never
 * serves memcached clients: the child closes the listeners and every
 * worker's control socket before run() is called. After a configuration
 * reload each helper is restarted with the new settings (or stopped, when
 * wanted() now says no). Its death costs the cache nothing.
 *
 * run() must detach env->slot before it returns (engine_worker_detach) and
 * return HELPER_EXIT_OK or HELPER_EXIT_FAILED; any other death (a signal,
 * another status) leaves the slot to the master's reap.
 */
#ifndef SHMC_SERVER_HELPER_H
#define SHMC_SERVER_HELPER_H

#include <sys/types.h>

#include "core/log.h"

struct engine;
struct engine_worker;
struct settings;
struct srvstate;

#define HELPER_EXIT_OK 0        /* clean stop, slot detached */
#define HELPER_EXIT_FAILED 3    /* could not start (logged), slot detached */
#define HELPERS_MAX 4

struct helper_env {
    int index;                      /* position in the master's list */
    struct engine *engine;
    struct engine_worker *slot;     /* claimed by the master before fork */
    const struct settings *settings;/* the running configuration */
    struct srvstate *state;         /* the server's shared state */
    pid_t master_pid;
    struct logger log;              /* the helper's own copy */
};

struct helper_def {
    const char *name;               /* for the log and the process table */
    int (*wanted)(const struct settings *s);
    int (*run)(struct helper_env *env);
};

#endif
