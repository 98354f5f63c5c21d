/*
 * master.h - the master process: builds the engine region and the
 * listeners, forks the workers and supervises them. It never serves
 * clients.
 */
#ifndef SHMC_MASTER_H
#define SHMC_MASTER_H

struct settings;
struct helper_def;

/* Runs the server with validated settings until it is stopped (SIGTERM,
 * SIGINT, SIGUSR1: graceful; SIGQUIT: immediate) or replaced by a new
 * binary (SIGUSR2: the binary now at the server's path takes over, see
 * upgrade.h). argc/argv are the original command line, read again (with
 * the --config file) on SIGHUP to reload the configuration, and given to
 * the new binary on SIGUSR2. A reload hands every open client connection
 * to new workers, an upgrade to the new binary's. Returns the process exit
 * status:
 * 0 after a clean stop, EX_USAGE (64) when run as root without -u,
 * EX_NOUSER (67) for an unknown -u user, EX_OSERR (71) when the engine,
 * the listeners or the daemon could not be set up (the reason is logged).
 * helpers[0..nhelpers) are the helper processes (helper.h) the master runs
 * beside the workers while their wanted() says so (at most HELPERS_MAX). */
int master_run(const struct settings *s, int argc, char **argv,
               const struct helper_def *const *helpers, int nhelpers);

/* Delay before restarting a worker that crashed `streak` times in a row
 * shortly after its start: 0 for the first crash, then base_ms doubling
 * per crash, capped at 64 x base_ms. */
long master_backoff_ms(unsigned streak, long base_ms);

#endif
