/*
 * upgrade.h - replacing the server's binary while it serves (nginx's
 * convention: `kill -USR2 <master>`).
 *
 * The old master forks a child that execs the binary found at the path the
 * server was started from, with the same command line, and hands it what
 * the running server is made of, as descriptors the exec keeps open and a
 * description of them in the environment (UPGRADE_ENV): the listening
 * sockets, the cache region (memfd or memory file, whose lock goes with the
 * descriptor), and one end of a socketpair between the two masters. The
 * new master attaches the region as it is (same format) or starts cold
 * (another format: never misread), adopts the listeners, forks its workers
 * and says "ready" on the socketpair. Then the old master retires every
 * worker: each hands its connections over at a request boundary (the
 * existing hand-off), the old master forwards them over the socketpair,
 * and the new master gives them to its workers. The old master exits once
 * it has none left; the new master writes the pidfile when it is ready.
 *
 * A new binary that cannot start, or is not ready within the bound, is
 * killed; the old master logs why and goes on serving as if nothing had
 * happened.
 */
#ifndef SHMC_SERVER_UPGRADE_H
#define SHMC_SERVER_UPGRADE_H

#include <sys/types.h>

#include "server/listener.h"

#define UPGRADE_ENV "SHMCACHED_UPGRADE"
#define UPGRADE_MSG_READY "ready"

struct logger;

struct upgrade {
    int fd;                 /* the socketpair to the other master, or -1 */
    /* the old master's side */
    pid_t child;            /* the new binary, until it is ready or fails */
    double deadline;        /* monotonic seconds: ready by then */
    int ready;              /* it said so: this master is leaving */
    /* the new master's side */
    int inherited;          /* this process was started by an upgrade */
    pid_t predecessor;      /* the old master, while it lives */
    int region_fd;          /* the cache region it hands over */
    int listen_fds[LISTENER_MAX];
    int nlisten;
};

void upgrade_init(struct upgrade *u);

/* The absolute path of the running binary, read at start (an upgrade
 * execs what is at that path by then). 0, or -1 (errno). */
int upgrade_exe_path(char *buf, size_t len);

/* New master, at start: reads and removes UPGRADE_ENV. Returns 1 when this
 * process was started by an upgrade (u filled), 0 when not, -1 when the
 * variable is malformed (logged; then it is ignored). */
int upgrade_from_env(struct upgrade *u, const struct logger *lg);

/* Old master, on SIGUSR2: starts exe with argv and the descriptors. Returns
 * 0 (u->child, u->fd, u->deadline set), or -1 (logged, nothing started). */
int upgrade_start(struct upgrade *u, const char *exe, char **argv,
                  int region_fd, const struct listeners *ls,
                  double now, double timeout, const struct logger *lg);

/* New master, once its workers run: tells the old one. 0 or -1. */
int upgrade_say_ready(struct upgrade *u);

/* Old master: what the new one said since the last call. Returns 1 once
 * when it is ready, -1 when it is gone or out of time before that (the
 * upgrade has then failed: call upgrade_abort), 0 otherwise. */
int upgrade_poll(struct upgrade *u, double now);

/* Old master: gives up on the new binary (kills it if it runs, closes the
 * socketpair) and logs why. */
void upgrade_abort(struct upgrade *u, const char *why,
                   const struct logger *lg);

#endif
