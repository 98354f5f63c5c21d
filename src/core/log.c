/*
 * log.c - leveled logging (see log.h).
 *
 * Each message is formatted into a stack buffer (truncated past 1 KiB) and
 * written with a single write(2), so lines from the master and the workers,
 * which share stderr, never interleave mid-line. Nothing here allocates or
 * exits; a failed write to stderr is ignored (there is nowhere to report it).
 */
#include "core/log.h"

#include <stdio.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 1024

void log_init(struct logger *lg, int verbose)
{
    lg->verbose = 0;
    lg->use_syslog = 0;
    lg->fd = STDERR_FILENO;
    log_set_verbose(lg, verbose);
}

void log_use_syslog(struct logger *lg)
{
    openlog("shmcached", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    lg->use_syslog = 1;
}

void log_set_verbose(struct logger *lg, int verbose)
{
    if (verbose < 0)
        verbose = 0;
    if (verbose > LOG_LVL_TRACE)
        verbose = LOG_LVL_TRACE;
    lg->verbose = verbose;
}

int log_enabled(const struct logger *lg, enum log_level level)
{
    return (int)level <= lg->verbose;
}

static const char *level_name(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return "error: ";
    case LOG_LVL_WARN: return "warning: ";
    default: return "";
    }
}

static int syslog_priority(enum log_level level)
{
    switch (level) {
    case LOG_LVL_ERROR: return LOG_ERR;
    case LOG_LVL_WARN: return LOG_WARNING;
    case LOG_LVL_INFO: return LOG_INFO;
    default: return LOG_DEBUG;
    }
}

void log_vmsg(const struct logger *lg, enum log_level level, const char *fmt,
              va_list ap)
{
    if (!log_enabled(lg, level))
        return;
    char line[LOG_LINE_MAX];
    if (lg->use_syslog) {
        vsnprintf(line, sizeof(line), fmt, ap);
        syslog(syslog_priority(level), "%s%s", level_name(level), line);
        return;
    }
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ld [%ld] %s",
                  (long)(tv.tv_usec / 1000), (long)getpid(), level_name(level));
    if (n < (int)sizeof(line) - 1) {
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;      /* truncated: keep room for '\n' */
    line[n++] = '\n';
    ssize_t w = write(lg->fd, line, (size_t)n);
    (void)w;
}

void log_msg(const struct logger *lg, enum log_level level, const char *fmt,
             ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lg, level, fmt, ap);
    va_end(ap);
}
