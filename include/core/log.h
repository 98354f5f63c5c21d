/*
 * log.h - leveled logging to stderr (or syslog once daemonized).
 *
 * A struct logger is a small per-process context: the master owns one and
 * each worker gets its copy through fork(), so "verbosity N" on a worker
 * changes only that worker. Lines go out as one write() each, prefixed with
 * the local time and the pid:
 *     2024-11-22 02:22:01.123 [4711] worker 2: started
 * Levels follow memcached's -v count: errors and warnings always, info from
 * -v, debug (per-connection / per-command traces) from -vv, trace from -vvv.
 */
#ifndef SHMC_LOG_H
#define SHMC_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LVL_ERROR = -2,
    LOG_LVL_WARN = -1,
    LOG_LVL_INFO = 1,       /* -v */
    LOG_LVL_DEBUG = 2,      /* -vv */
    LOG_LVL_TRACE = 3,      /* -vvv */
};

struct logger {
    int verbose;        /* -v count; messages with level <= verbose print */
    int use_syslog;     /* 1: syslog(3) instead of stderr */
    int fd;             /* stderr normally */
};

void log_init(struct logger *lg, int verbose);
/* Switches to syslog (ident "shmcached", LOG_DAEMON facility). */
void log_use_syslog(struct logger *lg);
/* Sets the verbosity (0..3; larger values are clamped). */
void log_set_verbose(struct logger *lg, int verbose);
/* Non-zero when a message of `level` would be written. */
int log_enabled(const struct logger *lg, enum log_level level);

void log_msg(const struct logger *lg, enum log_level level, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));
void log_vmsg(const struct logger *lg, enum log_level level, const char *fmt,
              va_list ap);

#define log_error(lg, ...) log_msg((lg), LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_msg((lg), LOG_LVL_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_msg((lg), LOG_LVL_DEBUG, __VA_ARGS__)
#define log_trace(lg, ...) log_msg((lg), LOG_LVL_TRACE, __VA_ARGS__)

#endif
