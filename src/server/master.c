/*
 * master.c - the master process (see master.h).
 *
 * Start-up, in this order: refuse root without -u (as memcached does);
 * raise RLIMIT_CORE (-r) and RLIMIT_NOFILE; create the engine region; open
 * the listeners; mlockall (-k); daemonize (-d); write the pidfile (-P);
 * drop privileges (-u); publish the master pid and worker count in
 * the server's shared state (srvstate.h); fork -t workers. Binding before the privilege drop
 * lets a root-started server use ports below 1024.
 *
 * Supervision: signal handlers only set the flags below; the master loop
 * sleeps in ppoll() with those signals unblocked, so a signal wakes it at
 * once, and acts on the flags there. For each worker the master keeps:
 * the engine slot it claimed for it BEFORE fork (the child uses the copied
 * handle, so the master always knows which slot a dead pid held), the
 * master end of a control socketpair (the worker sees EOF if the master
 * dies; "verbosity N" travels over it, and it is kept for the connection
 * hand-off of configuration reloads), and its crash history.
 *
 * A worker that exits with WORKER_EXIT_OK/FAILED has detached its slot
 * itself; any other death (signal, other status) gets
 * engine_worker_reap(slot), which repairs the locks it held and frees what
 * it had allocated. Either way its connections are given back to the -c
 * quota (counted per engine slot, unique among live workers), the death is
 * logged (signal or exit status), and, unless the server is stopping, it is
 * replaced at once. A worker that keeps crashing by itself (any death but
 * SIGKILL/TERM/INT/HUP/QUIT/USR1/USR2 from outside, or a non-zero exit)
 * within CRASH_WINDOW seconds of its start is restarted after
 * master_backoff_ms(): worker_backoff_ms, doubling per crash up to 64
 * times that, and the log says so.
 *
 * Reload (SIGHUP) and worker replacement (SIGUSR2): reload_apply()
 * re-reads the --config file and the original argv, validates, applies
 * what the master owns (verbosity, listeners: new ones opened first,
 * unchanged ones kept, removed ones closed before any fork; the memory
 * limit) and names what needs a restart; a rejected configuration changes
 * nothing and counts in reload_failures. Then replace_workers(): the
 * current workers move to the retiring list (old[]), a new set is forked
 * (so accepting never pauses), and each retiring worker is told "handoff".
 * A retiring worker sends each of its connections, at a request boundary,
 * over its control socket; the master queues them (relay) and forwards
 * them round-robin to the current workers (handoff.h for the message and
 * why it goes through the master). A retiring worker exits 0 when it has
 * none left; one that is still alive after RETIRE_GRACE is killed.
 *
 * Helper processes (helper.h: the console) are forked after the workers
 * and kept in h[]: each gets an engine slot like a worker (reaped the same
 * way when it dies), is restarted after it dies with the same crash
 * backoff, is restarted after every applied reload (so it runs with the
 * new settings) or stopped when the new settings no longer want it, and
 * is stopped with the workers. The master writes who holds each engine
 * slot (worker, retiring worker, helper) in the shared state's proc[]
 * table, for the console's table of processes.
 *
 * Invariants: only the master claims engine slots, and it reaps a dead
 * worker's slot before it claims another; w[i].pid != 0 exactly while
 * worker i is running, old[k].pid != 0 exactly while a retiring worker
 * runs; a dead worker's control socket is drained before it is closed (the
 * connections it sent last are still in it); the master never reads or
 * writes a client socket: it only holds relayed descriptors, and a forked
 * child closes its copies of them at once.
 */
#include "server/master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#include "server/connquota.h"
#include "server/daemon.h"
#include "engine/engine.h"
#include "server/handoff.h"
#include "server/helper.h"
#include "server/listener.h"
#include "core/log.h"
#include "server/reload.h"
#include "server/settings.h"
#include "server/srvstate.h"
#include "server/worker.h"

#define CRASH_WINDOW 5.0        /* a worker crashing sooner "keeps crashing" */
#define BACKOFF_MAX_SHIFT 6     /* backoff caps at 64 x worker_backoff_ms */
#define STOP_GRACE 15.0         /* graceful stop: SIGKILL workers after */
#define QUIT_GRACE 2.0          /* SIGQUIT: SIGKILL workers after */
#define RETIRE_GRACE (WORKER_HANDOFF_MAX + 5.0) /* retiring: SIGKILL after */
#define CTL_BURST 256           /* control messages read per wake-up */
#define SWEEP_INTERVAL 1.0      /* seconds between expired-item sweeps */
#define SWEEP_BUDGET 1024
#define SWEEP_ROUNDS 16

/* Set by the signal handler, acted on by the master loop. */
static volatile sig_atomic_t sig_stop;      /* 1 graceful, 2 immediate */
static volatile sig_atomic_t sig_hup;
static volatile sig_atomic_t sig_usr2;
static volatile sig_atomic_t sig_chld;

struct wproc {
    pid_t pid;                  /* 0: not running */
    struct engine_worker *slot; /* claimed before fork */
    int slotno;
    int ctl_fd;                 /* master end of the socketpair, or -1 */
    int ctl_eof;                /* the worker closed it: stop polling */
    double started;             /* monotonic seconds */
    unsigned streak;            /* consecutive quick crashes */
    int restart_due;
    double restart_at;          /* retiring: SIGKILL deadline */
    int no_slot;                /* restart_due for want of an engine slot */
    int stop_asked;             /* helper: the master stopped it (reload) */
};

struct master {
    const struct settings *s;   /* == &cur */
    struct settings cur;        /* the running configuration */
    int argc;                   /* the original command line (reload) */
    char **argv;
    struct logger log;
    struct engine *engine;
    struct srvstate *state;     /* shared with every worker */
    struct server_info *info;   /* &state->info */
    struct listeners ls;
    struct conn_quota *quota;
    struct wproc w[ENGINE_MAX_SLOTS];   /* current workers, by index */
    int nworkers;
    struct wproc old[ENGINE_MAX_SLOTS]; /* retiring workers (pid != 0) */
    uint64_t wrestarts[ENGINE_MAX_SLOTS]; /* restarts per worker index */
    const struct helper_def *hdef;      /* helper processes */
    int nhelpers;
    struct wproc h[HELPERS_MAX];
    struct handoff_queue relay; /* connections on their way to w[] */
    int relay_next;             /* round-robin over w[] */
    int stopping;               /* 0, 1 graceful, 2 immediate */
    int killed;                 /* SIGKILL sent to stragglers */
    double kill_at;
    double next_sweep;
    char pidfile[PATH_MAX];     /* absolute; "" if none written */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int signo)
{
    switch (signo) {
    case SIGTERM:
    case SIGINT:
        if (sig_stop == 0)
            sig_stop = 1;
        break;
    case SIGQUIT:
        sig_stop = 2;
        break;
    case SIGHUP:
        sig_hup = 1;
        break;
    case SIGUSR2:
        sig_usr2 = 1;
        break;
    case SIGCHLD:
        sig_chld = 1;
        break;
    }
}

/* Installs the handlers and blocks the signals; *waitmask gets the mask to
 * sleep with (the same signals unblocked). */
static int setup_signals(struct master *m, sigset_t *waitmask)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR2,
                                SIGCHLD };
    struct sigaction sa;
    sigset_t block;

    sigemptyset(&block);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        sigaddset(&block, sigs[i]);
        if (sigaction(sigs[i], &sa, NULL) < 0) {
            log_error(&m->log, "sigaction(%d): %s", sigs[i], strerror(errno));
            return -1;
        }
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (sigprocmask(SIG_BLOCK, &block, waitmask) < 0) {
        log_error(&m->log, "sigprocmask: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigdelset(waitmask, sigs[i]);
    return 0;
}

/* ---- start-up ------------------------------------------------------- */

static int create_engine(struct master *m)
{
    const struct settings *s = m->s;
    struct engine_config cfg;
    const char *err = "unknown error";

    settings_engine_config(s, &cfg);
    if (s->mem_reserve == 0 && daemon_default_reserve(s) > cfg.mem_reserve)
        cfg.mem_reserve = daemon_default_reserve(s);
    m->engine = engine_create(&cfg, &err);
    if (m->engine == NULL) {
        log_error(&m->log, "failed to create the cache region (%zu MB): %s",
                  cfg.mem_reserve >> 20, err);
        return -1;
    }
    engine_set_logger(m->engine, &m->log);
    if (s->detail_enabled)          /* -D: prefix stats from the start */
        engine_detail_enable(m->engine, 1, (char)s->stat_key_prefix);
    log_info(&m->log, "cache region ready: %zu MB limit, %zu MB reserved",
             cfg.mem_limit >> 20, cfg.mem_reserve >> 20);
    return 0;
}

/* ---- workers ---------------------------------------------------------- */

/* Publishes who holds wp's engine slot (srvstate.h proc[]). */
static void publish(struct master *m, const struct wproc *wp,
                    enum server_role role, const char *name, int index,
                    uint64_t restarts)
{
    struct server_proc p;
    memset(&p, 0, sizeof(p));
    p.pid = (int32_t)wp->pid;
    p.index = index;
    p.started = (int64_t)time(NULL) - (int64_t)(mono() - wp->started);
    p.role = (uint32_t)role;
    p.restarts = restarts;
    snprintf(p.name, sizeof(p.name), "%s", name);
    srvstate_proc_set(m->state, wp->slotno, &p);
}

static int spawn(struct master *m, int i)
{
    struct wproc *wp = &m->w[i];
    double now = mono();

    wp->restart_due = 0;
    wp->no_slot = 0;
    wp->slot = engine_worker_attach(m->engine, 0);
    if (wp->slot == NULL) {
        log_error(&m->log, "worker %d: no free engine slot; retrying when "
                  "a worker exits (at most 1 s)", i);
        wp->no_slot = 1;
        goto retry;
    }
    int sv[2] = { -1, -1 };
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        log_warn(&m->log, "worker %d: socketpair: %s", i, strerror(errno));

    pid_t pid = fork();
    if (pid < 0) {
        log_error(&m->log, "worker %d: fork: %s; retrying in 1 s", i,
                  strerror(errno));
        engine_worker_detach(wp->slot);
        wp->slot = NULL;
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        goto retry;
    }
    if (pid == 0) {
        /* child: keep only its own end of its own socketpair, and no
         * client socket waiting in the relay queue */
        for (int j = 0; j < ENGINE_MAX_SLOTS; j++) {
            if (m->w[j].ctl_fd >= 0)
                close(m->w[j].ctl_fd);
            if (m->old[j].ctl_fd >= 0)
                close(m->old[j].ctl_fd);
        }
        handoff_queue_close_fds(&m->relay);
        if (sv[0] >= 0)
            close(sv[0]);
        struct worker_config cfg = {
            .index = i,
            .engine = m->engine,
            .slot = wp->slot,
            .settings = m->s,
            .listeners = &m->ls,
            .quota = m->quota,
            .state = m->state,
            .ctl_fd = sv[1],
            .master_pid = getppid(),
            .log = m->log,
        };
        _exit(worker_run(&cfg));
    }
    if (sv[1] >= 0)
        close(sv[1]);
    wp->pid = pid;
    wp->ctl_fd = sv[0];
    wp->ctl_eof = 0;
    wp->slotno = engine_worker_slot(wp->slot);
    wp->started = now;
    publish(m, wp, SERVER_ROLE_WORKER, "worker", i, m->wrestarts[i]);
    log_info(&m->log, "worker %d forked: pid %d, engine slot %d", i,
             (int)pid, wp->slotno);
    return 0;

retry:
    wp->restart_due = 1;
    wp->restart_at = now + 1.0;
    return -1;
}

static int running(const struct master *m)
{
    int n = 0;
    for (int i = 0; i < m->nworkers; i++)
        n += m->w[i].pid != 0;
    return n;
}

static void describe(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "was killed by signal %d (%s)%s",
                 WTERMSIG(status), strsignal(WTERMSIG(status)),
                 WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, len, "ended (status 0x%x)", status);
}

/* Ends what the master holds for a dead worker: the engine slot (reaped
 * unless the worker detached it itself), its connection quota, its control
 * socket. Appends the reap result to why. */
static void control_message(struct master *m, struct wproc *wp);

static void release(struct master *m, struct wproc *wp, int detached,
                    char *why, size_t len)
{
    /* connections it sent just before exiting are still in the socket:
     * closing it unread would reset them */
    for (int i = 0; i < 64 && wp->ctl_fd >= 0 && !wp->ctl_eof; i++)
        control_message(m, wp);
    if (!detached) {
        struct engine_reap rp;
        size_t n = strlen(why);
        if (engine_worker_reap(m->engine, wp->slotno, &rp) == 0)
            snprintf(why + n, len - n, "; engine slot %d reaped (%u lock "
                     "repair(s), %u allocation(s) freed)", wp->slotno,
                     rp.repairs, rp.freed);
        else
            snprintf(why + n, len - n, "; engine slot %d NOT reaped: %u "
                     "lock(s) unusable, the slot stays claimed", wp->slotno,
                     rp.unusable);
    }
    conn_quota_reset(m->quota, wp->slotno);
    srvstate_slot_dead(m->state, wp->slotno);
    srvstate_proc_set(m->state, wp->slotno, NULL);
    if (wp->ctl_fd >= 0)
        close(wp->ctl_fd);
    wp->ctl_fd = -1;
    engine_worker_free(wp->slot);   /* the master's copy of the handle */
    wp->slot = NULL;
    wp->pid = 0;
    /* a slot is free again: a worker waiting for one starts now */
    for (int j = 0; j < m->nworkers; j++)
        if (m->w[j].restart_due && m->w[j].no_slot)
            m->w[j].restart_at = 0;
}

/* A death the worker caused itself (a crash loop is possible), as opposed
 * to a signal from outside (an operator, the OOM killer, a test). */
static int self_inflicted(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status) != WORKER_EXIT_OK;
    if (!WIFSIGNALED(status))
        return 1;
    switch (WTERMSIG(status)) {
    case SIGKILL: case SIGTERM: case SIGINT: case SIGHUP: case SIGQUIT:
    case SIGUSR1: case SIGUSR2:
        return 0;
    default:
        return 1;
    }
}

long master_backoff_ms(unsigned streak, long base_ms)
{
    if (streak < 2)
        return 0;
    unsigned shift = streak - 2;
    if (shift > BACKOFF_MAX_SHIFT)
        shift = BACKOFF_MAX_SHIFT;
    return base_ms << shift;
}

static void worker_died(struct master *m, int i, int status)
{
    struct wproc *wp = &m->w[i];
    double now = mono();
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int clean = code == WORKER_EXIT_OK;
    char why[160];
    describe(status, why, sizeof(why));
    pid_t pid = wp->pid;
    release(m, wp, code == WORKER_EXIT_OK || code == WORKER_EXIT_FAILED,
            why, sizeof(why));

    if (m->stopping) {
        log_msg(&m->log, clean ? LOG_LVL_INFO : LOG_LVL_WARN,
                "worker %d (pid %d) %s", i, (int)pid, why);
        return;
    }
    m->info->worker_restarts++;
    m->wrestarts[i]++;
    if (!clean)
        m->info->worker_crashes++;
    if (self_inflicted(status) && now - wp->started < CRASH_WINDOW)
        wp->streak++;
    else
        wp->streak = self_inflicted(status) ? 1 : 0;
    long delay = master_backoff_ms(wp->streak,
                                   m->s->worker_restart_backoff_ms);
    if (delay > 0)
        log_error(&m->log, "worker %d (pid %d) %s; it keeps crashing (%u in "
                  "a row): restarting in %ld ms", i, (int)pid, why,
                  wp->streak, delay);
    else
        log_msg(&m->log, clean ? LOG_LVL_WARN : LOG_LVL_ERROR,
                "worker %d (pid %d) %s%s; restarting it", i, (int)pid, why,
                clean ? " unexpectedly" : "");
    wp->restart_due = 1;
    wp->restart_at = now + (double)delay / 1000.0;
}

static void retired_died(struct master *m, struct wproc *wp, int status)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char why[160];
    describe(status, why, sizeof(why));
    pid_t pid = wp->pid;
    release(m, wp, code == WORKER_EXIT_OK || code == WORKER_EXIT_FAILED,
            why, sizeof(why));
    log_msg(&m->log, code == WORKER_EXIT_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
            "retired worker (pid %d) %s", (int)pid, why);
}

static void helper_died(struct master *m, int k, int status);

static void reap_children(struct master *m)
{
    for (int guard = 0; guard < 4 * ENGINE_MAX_SLOTS; guard++) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid < 0 && errno == EINTR)
            continue;
        if (pid < 0 && errno != ECHILD)
            log_error(&m->log, "waitpid: %s", strerror(errno));
        if (pid <= 0)
            return;
        int i, k;
        for (i = 0; i < m->nworkers && m->w[i].pid != pid; i++)
            ;
        for (k = 0; k < ENGINE_MAX_SLOTS && m->old[k].pid != pid; k++)
            ;
        int hk;
        for (hk = 0; hk < m->nhelpers && m->h[hk].pid != pid; hk++)
            ;
        if (i < m->nworkers)
            worker_died(m, i, status);
        else if (k < ENGINE_MAX_SLOTS)
            retired_died(m, &m->old[k], status);
        else if (hk < m->nhelpers)
            helper_died(m, hk, status);
        else
            log_debug(&m->log, "reaped unknown child %d", (int)pid);
    }
}

/* ---- helper processes (helper.h) -------------------------------------- */

static int helpers_running(const struct master *m)
{
    int n = 0;
    for (int k = 0; k < m->nhelpers; k++)
        n += m->h[k].pid != 0;
    return n;
}

/* The forked helper: keeps nothing of the workers' (listeners, control
 * sockets, relayed connections), then runs. Never returns. */
static void helper_child(struct master *m, int k)
{
    for (int j = 0; j < ENGINE_MAX_SLOTS; j++) {
        if (m->w[j].ctl_fd >= 0)
            close(m->w[j].ctl_fd);
        if (m->old[j].ctl_fd >= 0)
            close(m->old[j].ctl_fd);
    }
    handoff_queue_close_fds(&m->relay);
    listeners_close(&m->ls);
    struct helper_env env = {
        .index = k,
        .engine = m->engine,
        .slot = m->h[k].slot,
        .settings = m->s,
        .state = m->state,
        .master_pid = getppid(),
        .log = m->log,
    };
    _exit(m->hdef[k].run(&env));
}

static void spawn_helper(struct master *m, int k)
{
    struct wproc *hp = &m->h[k];
    const char *name = m->hdef[k].name;
    double now = mono();

    hp->restart_due = 0;
    hp->stop_asked = 0;
    hp->slot = engine_worker_attach(m->engine, 0);
    pid_t pid = hp->slot != NULL ? fork() : -1;
    if (pid == 0)
        helper_child(m, k);
    if (pid < 0) {
        log_error(&m->log, "%s: %s; retrying in 1 s", name,
                  hp->slot ? strerror(errno) : "no free engine slot");
        if (hp->slot != NULL)
            engine_worker_detach(hp->slot);
        hp->slot = NULL;
        hp->no_slot = 1;
        hp->restart_due = 1;
        hp->restart_at = now + 1.0;
        return;
    }
    hp->pid = pid;
    hp->no_slot = 0;
    hp->slotno = engine_worker_slot(hp->slot);
    hp->started = now;
    publish(m, hp, SERVER_ROLE_HELPER, name, k, hp->streak);
    log_info(&m->log, "%s forked: pid %d, engine slot %d", name, (int)pid,
             hp->slotno);
}

static void helper_died(struct master *m, int k, int status)
{
    struct wproc *hp = &m->h[k];
    const char *name = m->hdef[k].name;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char why[160];
    describe(status, why, sizeof(why));
    pid_t pid = hp->pid;
    release(m, hp, code == HELPER_EXIT_OK || code == HELPER_EXIT_FAILED,
            why, sizeof(why));
    if (m->stopping || hp->stop_asked) {
        log_msg(&m->log, code == HELPER_EXIT_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
                "%s (pid %d) %s", name, (int)pid, why);
        hp->restart_due = !m->stopping && m->hdef[k].wanted(m->s);
        hp->restart_at = 0;
        return;
    }
    double now = mono();
    if (self_inflicted(status) && now - hp->started < CRASH_WINDOW)
        hp->streak++;
    else
        hp->streak = self_inflicted(status) ? 1 : 0;
    long delay = master_backoff_ms(hp->streak,
                                   m->s->worker_restart_backoff_ms);
    log_msg(&m->log, LOG_LVL_ERROR, "%s (pid %d) %s; restarting it%s%ld ms",
            name, (int)pid, why, delay ? " (it keeps crashing) in " : " in ",
            delay);
    hp->restart_due = 1;
    hp->restart_at = now + (double)delay / 1000.0;
}

/* After a reload: every helper restarts with the new settings, or stops
 * when they no longer want it; one that was off and is now wanted starts. */
static void restart_helpers(struct master *m)
{
    for (int k = 0; k < m->nhelpers; k++) {
        struct wproc *hp = &m->h[k];
        int want = m->hdef[k].wanted(m->s);
        if (hp->pid != 0) {
            hp->stop_asked = 1;
            if (kill(hp->pid, SIGTERM) < 0 && errno != ESRCH)
                log_error(&m->log, "kill(%d): %s", (int)hp->pid,
                          strerror(errno));
        } else {
            hp->restart_due = want;
            hp->restart_at = 0;
        }
    }
}

/* Supervision: starts the helpers that are due; lowers *wake to the next
 * restart time. */
static void tend_helpers(struct master *m, double now, double *wake)
{
    for (int k = 0; k < m->nhelpers; k++) {
        struct wproc *hp = &m->h[k];
        if (hp->restart_due && hp->restart_at <= now)
            spawn_helper(m, k);
        if (hp->restart_due && hp->restart_at < *wake)
            *wake = hp->restart_at;
    }
}

static int retiring(const struct master *m)
{
    int n = 0;
    for (int k = 0; k < ENGINE_MAX_SLOTS; k++)
        n += m->old[k].pid != 0;
    return n;
}

static void signal_one(struct master *m, const struct wproc *wp, int signo)
{
    if (wp->pid != 0 && kill(wp->pid, signo) < 0 && errno != ESRCH)
        log_error(&m->log, "kill(%d, %d): %s", (int)wp->pid, signo,
                  strerror(errno));
}

static void signal_workers(struct master *m, int signo)
{
    for (int i = 0; i < m->nworkers; i++)
        signal_one(m, &m->w[i], signo);
    for (int k = 0; k < ENGINE_MAX_SLOTS; k++)
        signal_one(m, &m->old[k], signo);
    for (int k = 0; k < m->nhelpers; k++)
        signal_one(m, &m->h[k], signo);
}

static void begin_stop(struct master *m, int immediate)
{
    int level = immediate ? 2 : 1;
    if (m->stopping >= level)
        return;
    m->stopping = level;
    log_info(&m->log, immediate ? "SIGQUIT: stopping %d worker(s) now"
                                : "stopping %d worker(s) gracefully",
             running(m) + retiring(m));
    for (int i = 0; i < m->nworkers; i++)
        m->w[i].restart_due = 0;
    for (int k = 0; k < m->nhelpers; k++)
        m->h[k].restart_due = 0;
    handoff_queue_clear(&m->relay);     /* nobody will adopt them now */
    signal_workers(m, immediate ? SIGQUIT : SIGTERM);
    m->kill_at = mono() + (immediate ? QUIT_GRACE : STOP_GRACE);
}

static void sweep(struct master *m)
{
    struct engine_worker *mw = engine_master(m->engine);
    unsigned total = 0;
    if (!m->cur.lru_crawler)        /* -o no_lru_crawler */
        return;
    for (int round = 0; round < SWEEP_ROUNDS; round++) {
        unsigned n = engine_sweep(mw, SWEEP_BUDGET);
        total += n;
        if (n < SWEEP_BUDGET)
            break;
    }
    if (total > 0)
        log_trace(&m->log, "sweep: reclaimed %u expired item(s)", total);
}

/* ---- worker replacement and the relay of connections ------------------ */

/* Forwards queued connections to the current workers, round-robin, as far
 * as their control sockets take them. */
static void relay(struct master *m)
{
    while (m->relay.head != NULL && !m->stopping) {
        int sent = 0;
        for (int k = 0; k < m->nworkers && !sent; k++) {
            int i = (m->relay_next + k) % m->nworkers;
            struct wproc *wp = &m->w[i];
            if (wp->pid == 0 || wp->ctl_fd < 0 || wp->ctl_eof)
                continue;
            if (handoff_forward(wp->ctl_fd, m->relay.head) == 0) {
                handoff_msg_free(handoff_queue_pop(&m->relay));
                m->relay_next = i + 1;
                sent = 1;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != ENOBUFS) {
                log_warn(&m->log, "worker %d: forwarding a connection: %s",
                         i, strerror(errno));
                wp->ctl_eof = 1;        /* dying: waitpid will tell */
            }
        }
        if (!sent)
            return;             /* all full: ppoll waits for POLLOUT */
    }
}

/* Moves every current worker to the retiring list and forks a new set of
 * m->s->threads workers; then tells the old ones to hand their connections
 * over (new workers first, so accepting never pauses). */
static void replace_workers(struct master *m, const char *why)
{
    int moved[ENGINE_MAX_SLOTS], nmoved = 0, k = 0;
    for (int i = 0; i < m->nworkers; i++) {
        struct wproc *wp = &m->w[i];
        if (wp->pid != 0) {
            while (k < ENGINE_MAX_SLOTS && m->old[k].pid != 0)
                k++;
            if (k == ENGINE_MAX_SLOTS)
                break;          /* cannot happen: slots bound both lists */
            m->old[k] = *wp;
            m->old[k].restart_at = mono() + RETIRE_GRACE;
            publish(m, wp, SERVER_ROLE_RETIRING, "worker", i,
                    m->wrestarts[i]);
            moved[nmoved++] = k;
        }
        memset(wp, 0, sizeof(*wp));
        wp->ctl_fd = -1;
    }
    m->nworkers = m->s->threads;
    for (int i = 0; i < m->nworkers; i++) {
        memset(&m->w[i], 0, sizeof(m->w[i]));
        m->w[i].ctl_fd = -1;
        spawn(m, i);
    }
    m->info->workers = (uint32_t)m->nworkers;
    for (int j = 0; j < nmoved; j++) {
        struct wproc *op = &m->old[moved[j]];
        if (op->ctl_fd < 0 ||
            send(op->ctl_fd, WORKER_MSG_HANDOFF, strlen(WORKER_MSG_HANDOFF),
                 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            log_warn(&m->log, "retiring worker (pid %d): no control socket; "
                     "stopping it", (int)op->pid);
            signal_one(m, op, SIGTERM);
        }
    }
    log_info(&m->log, "%s: %d worker(s) retiring, %d new worker(s)", why,
             nmoved, m->nworkers);
}

/* SIGHUP: re-reads the configuration and applies it if valid (else keeps
 * the running one and counts a failure), then replaces every worker. */
static void reload(struct master *m)
{
    if (reload_apply(&m->cur, m->argc, m->argv, m->engine,
                     &m->state->proto, &m->ls, &m->log) < 0) {
        m->info->reload_failures++;
        return;
    }
    m->info->reloads++;
    replace_workers(m, "reload");
    restart_helpers(m);
}

/* Control messages from a worker (see worker.h). */
static void control_message(struct master *m, struct wproc *wp)
{
    size_t pl = strlen(WORKER_MSG_VERBOSITY);
    for (int round = 0; round < CTL_BURST; round++) {
        struct handoff_msg *msg = NULL;
        int rc = handoff_recv(wp->ctl_fd, &msg);
        if (rc == 0)
            return;
        if (rc < 0) {
            if (errno == EMSGSIZE || errno == ENOMEM) {
                log_warn(&m->log, "control message from pid %d: %s",
                         (int)wp->pid, strerror(errno));
                continue;
            }
            wp->ctl_eof = 1;    /* exiting; waitpid will tell */
            return;
        }
        if (handoff_is_msg(msg->data, msg->len)) {
            if (m->stopping)
                handoff_msg_free(msg);
            else
                handoff_queue_push(&m->relay, msg);
            continue;
        }
        if (msg->len <= pl || msg->len > WORKER_MSG_MAX ||
            memcmp(msg->data, WORKER_MSG_VERBOSITY, pl) != 0) {
            log_warn(&m->log, "worker pid %d: unknown control message",
                     (int)wp->pid);
            handoff_msg_free(msg);
            continue;
        }
        char buf[WORKER_MSG_MAX + 1];
        memcpy(buf, msg->data, msg->len);
        buf[msg->len] = '\0';
        log_set_verbose(&m->log, atoi(buf + pl));
        for (int j = 0; j < m->nworkers; j++) {
            struct wproc *o = &m->w[j];
            if (o != wp && o->pid != 0 && o->ctl_fd >= 0 &&
                send(o->ctl_fd, buf, msg->len,
                     MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_warn(&m->log, "relaying verbosity to worker %d: %s", j,
                         strerror(errno));
        }
        handoff_msg_free(msg);
    }
}

/* Sleeps until a signal, a control message, room for a queued connection,
 * or `left` seconds. */
static void wait_events(struct master *m, double left,
                        const sigset_t *waitmask)
{
    struct pollfd pfd[2 * ENGINE_MAX_SLOTS];
    struct wproc *who[2 * ENGINE_MAX_SLOTS];
    int n = 0;
    short out = m->relay.head != NULL ? POLLOUT : 0;
    for (int i = 0; i < m->nworkers; i++) {
        struct wproc *wp = &m->w[i];
        if (wp->pid != 0 && wp->ctl_fd >= 0 && !wp->ctl_eof) {
            pfd[n].fd = wp->ctl_fd;
            pfd[n].events = POLLIN | out;
            who[n++] = wp;
        }
    }
    for (int k = 0; k < ENGINE_MAX_SLOTS; k++) {
        struct wproc *wp = &m->old[k];
        if (wp->pid != 0 && wp->ctl_fd >= 0 && !wp->ctl_eof) {
            pfd[n].fd = wp->ctl_fd;
            pfd[n].events = POLLIN;
            who[n++] = wp;
        }
    }
    if (left < 0)
        left = 0;
    struct timespec ts = { (time_t)left,
                           (long)((left - (double)(time_t)left) * 1e9) };
    int rc = ppoll(pfd, (nfds_t)n, &ts, waitmask);
    if (rc < 0 && errno != EINTR)
        log_error(&m->log, "ppoll: %s", strerror(errno));
    for (int k = 0; rc > 0 && k < n; k++)
        if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
            control_message(m, who[k]);
    relay(m);
}

/* The supervision loop; returns when every worker is gone after a stop. */
static void supervise(struct master *m, const sigset_t *waitmask)
{
    m->next_sweep = mono() + SWEEP_INTERVAL;
    for (;;) {
        if (sig_stop)
            begin_stop(m, sig_stop == 2);
        sig_chld = 0;
        reap_children(m);
        if (sig_stop)           /* arrived while reaping: no restarts */
            begin_stop(m, sig_stop == 2);
        if (sig_hup && !m->stopping) {
            sig_hup = 0;
            reload(m);
        }
        if (sig_usr2 && !m->stopping) {
            sig_usr2 = 0;
            replace_workers(m, "SIGUSR2");
        }

        double now = mono(), wake = now + SWEEP_INTERVAL;
        if (m->stopping) {
            if (running(m) + retiring(m) + helpers_running(m) == 0)
                return;
            if (now >= m->kill_at && !m->killed) {
                log_warn(&m->log, "%d process(es) still running; sending "
                         "SIGKILL",
                         running(m) + retiring(m) + helpers_running(m));
                signal_workers(m, SIGKILL);
                m->killed = 1;
            }
            if (!m->killed && m->kill_at < wake)
                wake = m->kill_at;
        } else {
            for (int i = 0; i < m->nworkers; i++) {
                struct wproc *wp = &m->w[i];
                if (wp->restart_due && wp->restart_at <= now)
                    spawn(m, i);
                if (wp->restart_due && wp->restart_at < wake)
                    wake = wp->restart_at;
            }
            for (int k = 0; k < ENGINE_MAX_SLOTS; k++) {
                struct wproc *op = &m->old[k];
                if (op->pid == 0)
                    continue;
                if (op->restart_at <= now) {
                    log_warn(&m->log, "retiring worker (pid %d) did not "
                             "exit; sending SIGKILL", (int)op->pid);
                    signal_one(m, op, SIGKILL);
                    op->restart_at = now + RETIRE_GRACE;
                }
                if (op->restart_at < wake)
                    wake = op->restart_at;
            }
            tend_helpers(m, now, &wake);
            m->info->workers = (uint32_t)m->nworkers;
            if (now >= m->next_sweep) {
                sweep(m);
                m->next_sweep = mono() + SWEEP_INTERVAL;
            }
            if (m->next_sweep < wake)
                wake = m->next_sweep;
        }
        wait_events(m, wake - mono(), waitmask);
    }
}

/* ---- entry ------------------------------------------------------------ */

static int startup(struct master *m, sigset_t *waitmask)
{
    const struct settings *s = &m->cur;
    struct passwd *pw = NULL;

    if (getuid() == 0 || geteuid() == 0) {
        if (s->username[0] == '\0') {
            log_error(&m->log, "can't run as root without the -u switch");
            return EX_USAGE;
        }
        pw = getpwnam(s->username);
        if (pw == NULL) {
            log_error(&m->log, "can't find the user %s to switch to",
                      s->username);
            return EX_NOUSER;
        }
    }
    daemon_raise_limits(s, &m->log);
    if (s->large_pages)
        log_warn(&m->log, "large memory pages (-L) are not supported; "
                 "ignored");
    if (create_engine(m) < 0)
        return EX_OSERR;
    m->state = srvstate_create();
    if (m->state == NULL) {
        log_error(&m->log, "mmap (server state): %s", strerror(errno));
        return EX_OSERR;
    }
    m->info = &m->state->info;
    m->state->proto.track_sizes = (uint32_t)s->track_sizes;
    struct listen_config lc = {
        .addrs = s->listen,
        .naddrs = s->nlisten,
        .port = s->port,
        .backlog = s->backlog,
        .unix_path = s->socketpath,
        .unix_mask = s->access_mask,
    };
    if (listeners_open(&m->ls, &lc, &m->log) < 0)
        return EX_OSERR;
    if (m->ls.unix_path[0] != '\0' && m->ls.unix_path[0] != '/')
        daemon_absolute(s->socketpath, m->ls.unix_path, sizeof(m->ls.unix_path));
    if (s->lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        log_warn(&m->log, "-k invalid, mlockall() failed: %s",
                 strerror(errno));

    char pidpath[PATH_MAX];
    if (s->pidfile[0] != '\0')
        daemon_absolute(s->pidfile, pidpath, sizeof(pidpath));
    if (s->daemonize && daemon_detach(s, &m->log) < 0)
        return EX_OSERR;
    if (s->pidfile[0] != '\0' && daemon_write_pidfile(pidpath, &m->log) == 0)
        snprintf(m->pidfile, sizeof(m->pidfile), "%s", pidpath);
    if (pw != NULL && daemon_drop_privileges(pw, m->ls.unix_path, &m->log) < 0)
        return EX_OSERR;

    m->info->master_pid = (int32_t)getpid();
    m->info->workers = (uint32_t)s->threads;
    m->quota = conn_quota_create(ENGINE_MAX_SLOTS);   /* by slot */
    if (m->quota == NULL) {
        log_error(&m->log, "mmap (connection quota): %s", strerror(errno));
        return EX_OSERR;
    }
    if (setup_signals(m, waitmask) < 0)
        return EX_OSERR;
    m->nworkers = s->threads;
    for (int i = 0; i < m->nworkers; i++)
        m->w[i].ctl_fd = -1;
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    for (int k = 0; k < m->nhelpers; k++)
        if (m->hdef[k].wanted(s))
            spawn_helper(m, k);
    log_info(&m->log, "master %d: %d worker(s), %d listener(s)",
             (int)getpid(), m->nworkers, m->ls.n);
    return 0;
}

int master_run(const struct settings *s, int argc, char **argv,
               const struct helper_def *helpers, int nhelpers)
{
    struct master *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        fprintf(stderr, "out of memory\n");
        return EX_OSERR;
    }
    m->cur = *s;
    m->s = &m->cur;
    m->argc = argc;
    m->argv = argv;
    m->hdef = helpers;
    m->nhelpers = nhelpers < HELPERS_MAX ? nhelpers : HELPERS_MAX;
    log_init(&m->log, s->verbose);
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++)
        m->w[i].ctl_fd = m->old[i].ctl_fd = -1;
    for (int k = 0; k < HELPERS_MAX; k++)
        m->h[k].ctl_fd = -1;

    sigset_t waitmask;
    int rc = startup(m, &waitmask);
    if (rc == 0) {
        supervise(m, &waitmask);
        log_info(&m->log, "master %d: all workers stopped; exiting",
                 (int)getpid());
    } else if (running(m) + helpers_running(m) > 0) {
        begin_stop(m, 1);       /* workers already forked */
        for (int i = 0; running(m) + helpers_running(m) > 0 && i < 100;
             i++) {
            reap_children(m);
            usleep(20000);
        }
    }
    handoff_queue_clear(&m->relay);
    daemon_remove_pidfile(m->pidfile, &m->log);
    listeners_close(&m->ls);
    listeners_unlink(&m->ls);
    conn_quota_destroy(m->quota);
    srvstate_destroy(m->state);
    if (m->engine != NULL)
        engine_close(m->engine);
    free(m);
    return rc;
}
