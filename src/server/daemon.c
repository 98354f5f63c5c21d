/*
 * daemon.c - the process-level steps of the master's start-up (see
 * daemon.h): resource limits, the memory reserve, detaching from the
 * terminal, the pidfile, dropping privileges. Each step logs its own
 * failure (memcached's wording where memcached has one).
 */
#include "server/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/listener.h"
#include "core/log.h"
#include "server/settings.h"

void daemon_raise_limits(const struct settings *s, const struct logger *lg)
{
    struct rlimit rl;

    if (s->maxcore) {
        if (getrlimit(RLIMIT_CORE, &rl) == 0) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_CORE, &rl) < 0)
                log_warn(lg, "failed to ensure corefile creation: %s",
                         strerror(errno));
        }
    }
    /* Any worker may end up holding every connection. */
    rlim_t need = (rlim_t)s->maxconns + LISTENER_MAX + 32;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
        if (rl.rlim_max < need && geteuid() == 0)
            rl.rlim_max = need;
        rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
            log_warn(lg, "failed to set rlimit for open files to %lu "
                     "(-c %d): %s", (unsigned long)need, s->maxconns,
                     errno ? strerror(errno) : "hard limit too low");
    }
}

/* Without -o memory_reserve, cache_memlimit may grow the cache up to the
 * machine's physical memory (as memcached's may): reserved pages of the
 * region cost address space only. With -k every mapped page would be locked
 * in, so the reserve is then just -m. */
size_t daemon_default_reserve(const struct settings *s)
{
    const size_t region_max = 31ull << 30;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    size_t phys = pages > 0 && psize > 0 ? (size_t)pages * (size_t)psize : 0;
    if (s->lock_memory || phys < s->maxbytes)
        return s->maxbytes;
    return phys < region_max ? phys : region_max;
}

int daemon_detach(const struct settings *s, struct logger *lg)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error(lg, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid > 0)
        _exit(EXIT_SUCCESS);
    if (setsid() < 0) {
        log_error(lg, "setsid: %s", strerror(errno));
        return -1;
    }
    /* memcached keeps the directory with -r so cores land there. */
    if (!s->maxcore && chdir("/") < 0) {
        log_error(lg, "chdir(/): %s", strerror(errno));
        return -1;
    }
    /* memcached keeps stderr open with -v; otherwise log to syslog */
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (s->verbose == 0)
            dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    if (s->verbose == 0)
        log_use_syslog(lg);
    return 0;
}

/* Makes path absolute (daemonizing changes directory). */
void daemon_absolute(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    int n = -1;
    if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL)
        n = snprintf(out, len, "%.*s/%s", (int)(len / 2), cwd, path);
    if (n < 0 || (size_t)n >= len)
        snprintf(out, len, "%s", path);     /* keep it relative */
}

int daemon_write_pidfile(const char *path, const struct logger *lg)
{
    /* whole or not at all: a reader (systemd, an init script, a binary
     * upgrade's watcher) never sees it empty or half written */
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        log_warn(lg, "Could not open the pid file %s for writing: %s",
                 tmp, strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        log_warn(lg, "Could not write the pid file %s: %s", path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void daemon_remove_pidfile(const char *path, const struct logger *lg)
{
    if (path[0] != '\0' && unlink(path) < 0 && errno != ENOENT)
        log_warn(lg, "Could not remove the pid file %s: %s", path,
                 strerror(errno));
}

int daemon_drop_privileges(const struct passwd *pw, const char *unix_path,
                           const struct logger *lg)
{
    if (unix_path[0] != '\0' &&
        chown(unix_path, pw->pw_uid, pw->pw_gid) < 0)
        log_warn(lg, "chown(%s): %s", unix_path, strerror(errno));
    if (setgroups(0, NULL) < 0 && errno != EPERM) {
        log_error(lg, "failed to drop supplementary groups: %s",
                  strerror(errno));
        return -1;
    }
    if (setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        log_error(lg, "failed to assume identity of user %s: %s",
                  pw->pw_name, strerror(errno));
        return -1;
    }
    return 0;
}

int daemon_child_init(int master_pid, const struct logger *lg)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
        log_warn(lg, "prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
    return getppid() == (pid_t)master_pid ? 0 : -1;
}
