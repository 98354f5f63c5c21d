/*
 * master.h - the master process: builds the engine region and the
 * listeners, forks the workers and supervises them. It never serves
 * clients.
 */
#ifndef SHMC_MASTER_H
#define SHMC_MASTER_H

struct settings;

/* Runs the server with validated settings until it is stopped (SIGTERM,
 * SIGINT: graceful; SIGQUIT: immediate). Returns the process exit status:
 * 0 after a clean stop, EX_USAGE (64) when run as root without -u,
 * EX_NOUSER (67) for an unknown -u user, EX_OSERR (71) when the engine,
 * the listeners or the daemon could not be set up (the reason is logged). */
int master_run(const struct settings *s);

#endif
