/*
 * upgrade.c - starting a new binary with the running server's descriptors,
 * and the two masters' handshake (see upgrade.h).
 *
 * The environment variable is the only channel across exec besides the
 * descriptors themselves: "ctl=<fd>;region=<fd>;pid=<old master>;
 * listen=<fd>,<fd>,...". Every descriptor it names is open in the new
 * process (made inheritable in the child just before exec) and is checked
 * there with fcntl before use. The variable is removed at once, so the new
 * master's own children never see it.
 *
 * After "ready", the socketpair carries connections (handoff.h messages)
 * from the old master to the new one, until the old one exits (EOF).
 */
#include "server/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

#define ENV_MAX 512

void upgrade_init(struct upgrade *u)
{
    memset(u, 0, sizeof(*u));
    u->fd = -1;
    u->region_fd = -1;
}

int upgrade_exe_path(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* ---- the new master ------------------------------------------------------ */

static int open_fd(long fd)
{
    return fd >= 0 && fd < 65536 && fcntl((int)fd, F_GETFD) >= 0;
}

/* Reads "name=value" fields separated by ';'. 0 or -1. */
static int parse_env(struct upgrade *u, char *s)
{
    for (char *tok = strtok(s, ";"); tok != NULL; tok = strtok(NULL, ";")) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            return -1;
        *eq++ = '\0';
        char *end;
        if (strcmp(tok, "listen") == 0) {
            for (char *p = eq; *p != '\0' && u->nlisten < LISTENER_MAX;) {
                long fd = strtol(p, &end, 10);
                if (end == p || !open_fd(fd))
                    return -1;
                u->listen_fds[u->nlisten++] = (int)fd;
                p = *end == ',' ? end + 1 : end;
            }
            continue;
        }
        long v = strtol(eq, &end, 10);
        if (*end != '\0')
            return -1;
        if (strcmp(tok, "ctl") == 0 && open_fd(v))
            u->fd = (int)v;
        else if (strcmp(tok, "region") == 0 && open_fd(v))
            u->region_fd = (int)v;
        else if (strcmp(tok, "pid") == 0 && v > 1)
            u->predecessor = (pid_t)v;
        else
            return -1;
    }
    return u->fd >= 0 && u->region_fd >= 0 && u->predecessor > 1 ? 0 : -1;
}

int upgrade_from_env(struct upgrade *u, const struct logger *lg)
{
    const char *v = getenv(UPGRADE_ENV);
    char buf[ENV_MAX];
    upgrade_init(u);
    if (v == NULL)
        return 0;
    snprintf(buf, sizeof(buf), "%s", v);
    unsetenv(UPGRADE_ENV);
    if (parse_env(u, buf) < 0) {
        log_error(lg, "%s is malformed; starting as a new server",
                  UPGRADE_ENV);
        upgrade_init(u);
        return -1;
    }
    /* ours now: not to be inherited by the workers' execs (there are none)
     * nor left open across another upgrade by accident */
    fcntl(u->fd, F_SETFD, FD_CLOEXEC);
    fcntl(u->region_fd, F_SETFD, FD_CLOEXEC);
    for (int i = 0; i < u->nlisten; i++)
        fcntl(u->listen_fds[i], F_SETFD, FD_CLOEXEC);
    u->inherited = 1;
    return 1;
}

int upgrade_say_ready(struct upgrade *u)
{
    if (u->fd < 0)
        return -1;
    return send(u->fd, UPGRADE_MSG_READY, strlen(UPGRADE_MSG_READY),
                MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* ---- the old master ------------------------------------------------------ */

/* In the child: the descriptors survive exec, the variable names them. */
static void exec_new(const char *exe, char **argv, int ctl, int region_fd,
                     const struct listeners *ls)
{
    char env[ENV_MAX];
    int n = snprintf(env, sizeof(env), "ctl=%d;region=%d;pid=%d;listen=",
                     ctl, region_fd, (int)getppid());
    fcntl(ctl, F_SETFD, 0);
    fcntl(region_fd, F_SETFD, 0);
    for (int i = 0; i < ls->n && n < (int)sizeof(env) - 16; i++) {
        n += snprintf(env + n, sizeof(env) - (size_t)n, "%s%d",
                      i ? "," : "", ls->l[i].fd);
        fcntl(ls->l[i].fd, F_SETFD, 0);
    }
    setenv(UPGRADE_ENV, env, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(exe, argv);
    _exit(127);
}

int upgrade_start(struct upgrade *u, const char *exe, char **argv,
                  int region_fd, const struct listeners *ls,
                  double now, double timeout, const struct logger *lg)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error(lg, "upgrade: socketpair: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_error(lg, "upgrade: fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (pid == 0) {
        close(sv[0]);
        exec_new(exe, argv, sv[1], region_fd, ls);
    }
    close(sv[1]);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    u->fd = sv[0];
    u->child = pid;
    u->deadline = now + timeout;
    u->ready = 0;
    log_warn(lg, "upgrade: started %s (pid %d); it has %.0f s to be ready",
             exe, (int)pid, timeout);
    return 0;
}

int upgrade_poll(struct upgrade *u, double now)
{
    char buf[64];
    if (u->fd < 0 || u->ready)
        return 0;
    for (;;) {
        ssize_t n = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == (ssize_t)strlen(UPGRADE_MSG_READY) &&
            memcmp(buf, UPGRADE_MSG_READY, (size_t)n) == 0) {
            u->ready = 1;
            u->child = 0;       /* a master in its own right now */
            return 1;
        }
        if (n > 0)
            continue;           /* nothing else is said before ready */
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            return -1;          /* it exited, or the socket broke */
        break;
    }
    return now >= u->deadline ? -1 : 0;
}

void upgrade_abort(struct upgrade *u, const char *why,
                   const struct logger *lg)
{
    if (u->child > 0) {
        kill(u->child, SIGKILL);
        log_error(lg, "upgrade: the new binary (pid %d) %s; it is stopped "
                  "and this server goes on serving", (int)u->child, why);
    } else {
        log_error(lg, "upgrade: the new binary %s; this server goes on "
                  "serving", why);
    }
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->child = 0;
    u->ready = 0;
}
