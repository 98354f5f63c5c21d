/*
 * daemon.h - process-level start-up steps of the master: resource limits,
 * the default memory reserve, daemonizing, the pidfile, the privilege drop;
 * and the first steps of every child the master forks.
 * Every function logs its failures to lg; none exits except the parent in
 * daemon_detach().
 */
#ifndef SHMC_DAEMON_H
#define SHMC_DAEMON_H

#include <stddef.h>

struct logger;
struct passwd;
struct settings;

/* RLIMIT_CORE for -r; RLIMIT_NOFILE for -c connections (warns if short). */
void daemon_raise_limits(const struct settings *s, const struct logger *lg);
/* The region's reserve without -o memory_reserve: physical memory (capped),
 * or just -m with -k. */
size_t daemon_default_reserve(const struct settings *s);
/* -d: fork (the parent exits 0), setsid, chdir / (not with -r), stdio to
 * /dev/null (stderr kept with -v), syslog without -v. 0 or -1. */
int daemon_detach(const struct settings *s, struct logger *lg);
/* Makes path absolute against the current directory (into out). */
void daemon_absolute(const char *path, char *out, size_t len);
/* Writes getpid() to path. 0, or -1 (warned). */
int daemon_write_pidfile(const char *path, const struct logger *lg);
/* Removes path if non-empty (a missing file is fine). */
void daemon_remove_pidfile(const char *path, const struct logger *lg);
/* The first steps of a child of the master (a worker or a helper): the
 * master's signal handlers reset (SIGTERM/SIGQUIT/SIGCHLD default; SIGINT,
 * SIGHUP, SIGPIPE, SIGUSR1/2 ignored: Ctrl-C reaches the whole process
 * group, and those are the master's), the mask left blocked for the
 * caller's libev watchers, and SIGTERM asked for when the master dies.
 * Returns 0, or -1 when the master is already gone (it may die before the
 * death signal is asked for). */
int daemon_child_init(int master_pid, const struct logger *lg);
/* -u: chown the unix socket, drop groups, setgid/setuid. 0 or -1. */
int daemon_drop_privileges(const struct passwd *pw, const char *unix_path,
                           const struct logger *lg);

#endif
