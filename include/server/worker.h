/*
 * worker.h - a worker process: one libev loop serving client connections.
 *
 * The master forks each worker after claiming its engine slot and opening
 * the listeners; worker_run() is the whole life of the child. It creates
 * its own event loop after fork (libev's rule: a loop never crosses fork),
 * accepts on the inherited listening sockets (other workers accept on the
 * same sockets: EAGAIN from accept is normal), and serves connections until
 * told to stop:
 *   SIGTERM, the master's death (PR_SET_PDEATHSIG, or EOF on the control
 *   socket)          -> graceful: stop accepting, let requests in flight
 *                        finish, close connections, exit 0;
 *   (SIGINT is ignored: Ctrl-C reaches the whole group, the master decides)
 *   SIGQUIT           -> immediate: close everything, exit 0;
 *   "handoff" from the master (reload, worker replacement)
 *                     -> retire: stop accepting, let each connection
 *                        finish the request it is in, send it to the
 *                        master with its pending bytes (handoff.h), exit 0
 *                        once none is left (those still mid-request after
 *                        WORKER_HANDOFF_MAX seconds are closed).
 * A worker adopts the connections the master forwards to it (the same
 * messages, on the same socket).
 * The worker detaches its engine slot itself on every exit path of
 * worker_run(); the exit status tells the master whether it did (see
 * WORKER_EXIT_*): any other death (signal, crash) leaves the slot to the
 * master's engine_worker_reap().
 */
#ifndef SHMC_WORKER_H
#define SHMC_WORKER_H

#include <sys/types.h>

#include "core/log.h"

struct conn_quota;
struct engine;
struct engine_worker;
struct listeners;
struct settings;
struct srvstate;
struct udp_sockets;
struct watchlog;
struct proto_authfile;
struct connsnap;

/* Control messages on the worker <-> master socketpair (SOCK_SEQPACKET,
 * one message per packet). "verbosity N": a worker sends it when a
 * client runs "verbosity N"; the master applies it to itself and relays it
 * to every other worker, so the level is server-wide as in memcached.
 * "handoff": master -> worker, retire (above). A packet starting with
 * HANDOFF_MAGIC is a connection (handoff.h): worker -> master when
 * retiring, master -> worker to adopt it. */
#define WORKER_MSG_VERBOSITY "verbosity "
#define WORKER_MSG_HANDOFF "handoff"
#define WORKER_MSG_MOVER "mover"        /* to the master: slab mover work */
#define WORKER_MSG_MAX 64
#define WORKER_HANDOFF_MAX 10.0     /* seconds a retiring worker may take */

/* Exit statuses of a worker whose slot is detached. */
#define WORKER_EXIT_OK 0        /* clean stop */
#define WORKER_EXIT_FAILED 3    /* could not start (logged); slot detached */

struct worker_config {
    int index;                      /* 0 .. threads-1 */
    struct engine *engine;
    struct engine_worker *slot;     /* claimed by the master before fork */
    const struct settings *settings;
    const struct listeners *listeners;
    const struct udp_sockets *udp;  /* -U: shared by every worker */
    struct watchlog *watch;         /* "watch": log rings of every slot */
    const struct proto_authfile *auth; /* -Y: the credentials */
    struct connsnap *conns;         /* "stats conns" of every worker */
    struct srvstate *state;         /* the server's shared state: this
                                       worker counts in the slot of its
                                       engine slot number */
    struct conn_quota *quota;       /* -c, shared by every worker; this
                                       worker counts under its engine slot
                                       number (unique among live workers) */
    int ctl_fd;                     /* this worker's end of the control
                                       socketpair, -1 if none */
    pid_t master_pid;
    struct logger log;              /* the worker's own copy */
};

/* Runs the worker in the forked child; returns its exit status
 * (WORKER_EXIT_OK or WORKER_EXIT_FAILED). Never returns without having
 * detached cfg->slot. */
int worker_run(struct worker_config *cfg);

#endif
