/*
 * test_daemon.c - the master's process-level steps (server/daemon.c):
 * absolute paths, the pidfile written and removed, the default memory
 * reserve, the open-files limit raised for -c, detaching (the caller's
 * process exits 0; the daemon runs in a new session in /, stdin on
 * /dev/null), and the privilege drop (root only: otherwise said so and
 * skipped). Steps that change the process run in a forked child.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "server/daemon.h"
#include "server/listener.h"
#include "server/settings.h"
#include "unit.h"

/* A logger whose lines land in a pipe, to check what was said. */
struct cap {
    int rd;
    struct logger lg;
};

static void cap_open(struct cap *c)
{
    int p[2];
    CU_ASSERT_FATAL(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    c->rd = p[0];
    log_init(&c->lg, 0);
    c->lg.fd = p[1];
}

static size_t cap_read(struct cap *c, char *buf, size_t cap)
{
    ssize_t n = read(c->rd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void cap_close(struct cap *c)
{
    close(c->rd);
    close(c->lg.fd);
}

/* Waits for pid; its exit status, or -1 if it did not exit normally. */
static int exit_status(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void test_daemon_absolute(void)
{
    char cwd[PATH_MAX], out[PATH_MAX + 64], want[PATH_MAX + 64];
    CU_ASSERT_FATAL(getcwd(cwd, sizeof(cwd)) != NULL);
    daemon_absolute("run/x.pid", out, sizeof(out));
    snprintf(want, sizeof(want), "%s/run/x.pid", cwd);
    CU_ASSERT_STRING_EQUAL(out, want);
    daemon_absolute("/var/run/x.pid", out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "/var/run/x.pid");
    /* does not fit: kept relative rather than cut */
    char small[8];
    daemon_absolute("x.pid", small, sizeof(small));
    CU_ASSERT_STRING_EQUAL(small, "x.pid");
}

static void test_daemon_pidfile(void)
{
    char dir[] = "/tmp/shmc_daemon_XXXXXX", path[128], buf[64];
    struct cap c;
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/shmcached.pid", dir);
    cap_open(&c);
    CU_ASSERT_EQUAL(daemon_write_pidfile(path, &c.lg), 0);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof(buf), f));
    fclose(f);
    char want[32];
    snprintf(want, sizeof(want), "%ld\n", (long)getpid());
    CU_ASSERT_STRING_EQUAL(buf, want);
    CU_ASSERT_EQUAL(cap_read(&c, buf, sizeof(buf)), 0);     /* silent */

    daemon_remove_pidfile(path, &c.lg);
    CU_ASSERT_EQUAL(access(path, F_OK), -1);
    daemon_remove_pidfile(path, &c.lg);         /* gone already: fine */
    daemon_remove_pidfile("", &c.lg);           /* no -P: nothing */
    CU_ASSERT_EQUAL(cap_read(&c, buf, sizeof(buf)), 0);

    /* a directory that does not exist: -1 and memcached's warning */
    char bad[160], said[512];
    snprintf(bad, sizeof(bad), "%s/no/such/dir.pid", dir);
    CU_ASSERT_EQUAL(daemon_write_pidfile(bad, &c.lg), -1);
    cap_read(&c, said, sizeof(said));
    CU_ASSERT_PTR_NOT_NULL(strstr(said, "Could not open the pid file"));
    cap_close(&c);
    rmdir(dir);
}

static void test_daemon_default_reserve(void)
{
    struct settings s;
    settings_defaults(&s);
    size_t phys = (size_t)sysconf(_SC_PHYS_PAGES) *
                  (size_t)sysconf(_SC_PAGESIZE);
    size_t r = daemon_default_reserve(&s);
    CU_ASSERT(r >= s.maxbytes);
    CU_ASSERT_EQUAL(r, phys < (31ull << 30) ? phys : (31ull << 30));
    s.lock_memory = 1;                      /* -k: only -m */
    CU_ASSERT_EQUAL(daemon_default_reserve(&s), s.maxbytes);
    s.lock_memory = 0;
    s.maxbytes = phys + ((size_t)1 << 30);  /* -m beyond the machine */
    CU_ASSERT_EQUAL(daemon_default_reserve(&s), s.maxbytes);
}

/* -c needs descriptors: the soft limit is raised to -c + listeners + 32
 * (within the hard limit), in a child so this process keeps its own. */
static void test_daemon_raise_nofile(void)
{
    struct rlimit rl;
    CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &rl) == 0);
    rlim_t hard = rl.rlim_max;
    if (hard < 200) {
        fprintf(stderr, "\n  skipped: hard RLIMIT_NOFILE %lu too low\n",
                (unsigned long)hard);
        return;
    }
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct settings s;
        struct logger lg;
        struct rlimit now = { 64, hard };
        log_init(&lg, 0);
        if (setrlimit(RLIMIT_NOFILE, &now) < 0)
            _exit(10);
        settings_defaults(&s);
        s.maxconns = 100;
        daemon_raise_limits(&s, &lg);
        if (getrlimit(RLIMIT_NOFILE, &now) < 0)
            _exit(11);
        _exit(now.rlim_cur == (rlim_t)(100 + LISTENER_MAX + 32) ? 0 : 12);
    }
    CU_ASSERT_EQUAL(exit_status(pid), 0);
}

/* -d: the calling process exits 0 at once; the daemon, in a new session,
 * in / (no -r), with stdin on /dev/null, reports back through a pipe. */
static void test_daemon_detach(void)
{
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct settings s;
        struct logger lg;
        settings_defaults(&s);
        s.verbose = 1;                  /* keeps stderr, no syslog */
        log_init(&lg, 1);
        lg.fd = open("/dev/null", O_WRONLY);
        close(p[0]);
        if (daemon_detach(&s, &lg) < 0)
            _exit(20);
        /* the daemon: report, then go */
        char cwd[PATH_MAX] = "", msg[PATH_MAX + 64];
        struct stat in, null;
        int null_in = fstat(STDIN_FILENO, &in) == 0 &&
                      stat("/dev/null", &null) == 0 &&
                      in.st_rdev == null.st_rdev;
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            cwd[0] = '\0';
        int n = snprintf(msg, sizeof(msg), "%ld %d %d %s", (long)getpid(),
                         getsid(0) == getpid(), null_in, cwd);
        if (write(p[1], msg, (size_t)n) != n)
            _exit(21);
        _exit(0);
    }
    close(p[1]);
    CU_ASSERT_EQUAL(exit_status(pid), 0);       /* detach's parent side */
    char buf[PATH_MAX + 64];
    ssize_t n, len = 0;
    while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
        len += n;
    buf[len] = '\0';
    close(p[0]);
    long dpid = 0;
    int leader = 0, null_in = 0;
    char cwd[PATH_MAX] = "";
    CU_ASSERT_EQUAL(sscanf(buf, "%ld %d %d %s", &dpid, &leader, &null_in,
                           cwd), 4);
    CU_ASSERT(dpid > 0 && dpid != (long)pid);   /* a new process */
    CU_ASSERT_EQUAL(leader, 1);                 /* of its own session */
    CU_ASSERT_EQUAL(null_in, 1);
    CU_ASSERT_STRING_EQUAL(cwd, "/");
}

/* -u: groups dropped, gid then uid set; the unix socket chowned first. */
static void test_daemon_drop_privileges(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "\n  skipped: not root, cannot change identity\n");
        return;
    }
    struct passwd *pw = getpwnam("nobody");
    if (pw == NULL) {
        fprintf(stderr, "\n  skipped: no user 'nobody'\n");
        return;
    }
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char dir[] = "/tmp/shmc_daemon_XXXXXX", path[128];
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/sock", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        struct logger lg;
        log_init(&lg, 0);
        lg.fd = open("/dev/null", O_WRONLY);
        if (daemon_drop_privileges(pw, path, &lg) < 0)
            _exit(30);
        gid_t groups[4];
        int ok = getuid() == uid && geteuid() == uid && getgid() == gid &&
                 getegid() == gid && getgroups(4, groups) == 0 &&
                 setuid(0) < 0;         /* no way back */
        _exit(ok ? 0 : 31);
    }
    CU_ASSERT_EQUAL(exit_status(pid), 0);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_uid, uid);
    CU_ASSERT_EQUAL(st.st_gid, gid);
    unlink(path);
    rmdir(dir);
}

UNIT_SUITE(daemon, NULL, NULL,
           UNIT_TEST(test_daemon_absolute),
           UNIT_TEST(test_daemon_pidfile),
           UNIT_TEST(test_daemon_default_reserve),
           UNIT_TEST(test_daemon_raise_nofile),
           UNIT_TEST(test_daemon_detach),
           UNIT_TEST(test_daemon_drop_privileges))
