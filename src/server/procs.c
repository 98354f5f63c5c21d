/*
 * procs.c - the processes the master forks (see master.h, master_int.h).
 *
 * For each worker the master keeps: the engine slot it claimed for it
 * BEFORE fork (the child uses the copied handle, so the master always
 * knows which slot a dead pid held), the master end of a control
 * socketpair (the worker sees EOF if the master dies; "verbosity N" and
 * connections to hand over travel over it), and its crash history.
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
 * connections it sent last are still in it); a forked child closes its
 * copies of every control socket and relayed descriptor at once.
 */
#include "server/master_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/connquota.h"
#include "server/master.h"

void helper_died(struct master *m, int k, int status);

/* Publishes who holds wp's engine slot (srvstate.h proc[]). */
void publish(struct master *m, const struct wproc *wp,
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
/* In a forked child: the master's descriptors go (every worker's control
 * socket, the connections waiting in the relay queue, the masters'
 * socketpair of an upgrade). */
static void child_drop_master_fds(struct master *m)
{
    for (int j = 0; j < ENGINE_MAX_SLOTS; j++) {
        if (m->w[j].ctl_fd >= 0)
            close(m->w[j].ctl_fd);
        if (m->old[j].ctl_fd >= 0)
            close(m->old[j].ctl_fd);
    }
    handoff_queue_close_fds(&m->relay);
    if (m->up.fd >= 0)
        close(m->up.fd);
}


int spawn(struct master *m, int i)
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
         * client socket waiting in the relay queue; named for ps/top */
        prctl(PR_SET_NAME, "shmc-worker");
        child_drop_master_fds(m);
        if (sv[0] >= 0)
            close(sv[0]);
        struct worker_config cfg = {
            .index = i,
            .engine = m->engine,
            .slot = wp->slot,
            .settings = m->s,
            .listeners = &m->ls,
            .udp = &m->udp,
            .watch = m->watch,
            .conns = m->conns,
            .auth = &m->auth,
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

int running(const struct master *m)
{
    int n = 0;
    for (int i = 0; i < m->nworkers; i++)
        n += m->w[i].pid != 0;
    return n;
}

void describe(int status, char *buf, size_t len)
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

void release(struct master *m, struct wproc *wp, int detached,
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
    watchlog_slot_dead(m->watch, wp->slotno);
    connsnap_clear(m->conns, wp->slotno);
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
int self_inflicted(int status)
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

void worker_died(struct master *m, int i, int status)
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

void retired_died(struct master *m, struct wproc *wp, int status)
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

void reap_children(struct master *m)
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
        else if (pid == m->up.child)
            upgrade_child_died(m, status);
        else
            log_debug(&m->log, "reaped unknown child %d", (int)pid);
    }
}

int helpers_running(const struct master *m)
{
    int n = 0;
    for (int k = 0; k < m->nhelpers; k++)
        n += m->h[k].pid != 0;
    return n;
}

/* The forked helper: keeps nothing of the workers' (listeners, control
 * sockets, relayed connections), then runs. Never returns. */
void helper_child(struct master *m, int k)
{
    child_drop_master_fds(m);
    listeners_close(&m->ls);
    udp_close(&m->udp);
    char comm[16];
    snprintf(comm, sizeof(comm), "shmc-%s", m->hdef[k]->name);
    prctl(PR_SET_NAME, comm);           /* for ps and top (15 bytes) */
    struct helper_env env = {
        .index = k,
        .engine = m->engine,
        .slot = m->h[k].slot,
        .settings = m->s,
        .state = m->state,
        .master_pid = getppid(),
        .log = m->log,
    };
    _exit(m->hdef[k]->run(&env));
}

void spawn_helper(struct master *m, int k)
{
    struct wproc *hp = &m->h[k];
    const char *name = m->hdef[k]->name;
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

void helper_died(struct master *m, int k, int status)
{
    struct wproc *hp = &m->h[k];
    const char *name = m->hdef[k]->name;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    char why[160];
    describe(status, why, sizeof(why));
    pid_t pid = hp->pid;
    release(m, hp, code == HELPER_EXIT_OK || code == HELPER_EXIT_FAILED,
            why, sizeof(why));
    if (m->stopping || hp->stop_asked) {
        log_msg(&m->log, code == HELPER_EXIT_OK ? LOG_LVL_INFO : LOG_LVL_WARN,
                "%s (pid %d) %s", name, (int)pid, why);
        hp->restart_due = !m->stopping && !m->leaving &&
                          m->hdef[k]->wanted(m->s);
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
void restart_helpers(struct master *m)
{
    for (int k = 0; k < m->nhelpers; k++) {
        struct wproc *hp = &m->h[k];
        int want = m->hdef[k]->wanted(m->s);
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
void tend_helpers(struct master *m, double now, double *wake)
{
    for (int k = 0; k < m->nhelpers; k++) {
        struct wproc *hp = &m->h[k];
        if (hp->restart_due && hp->restart_at <= now)
            spawn_helper(m, k);
        if (hp->restart_due && hp->restart_at < *wake)
            *wake = hp->restart_at;
    }
}

int retiring(const struct master *m)
{
    int n = 0;
    for (int k = 0; k < ENGINE_MAX_SLOTS; k++)
        n += m->old[k].pid != 0;
    return n;
}

void signal_one(struct master *m, const struct wproc *wp, int signo)
{
    if (wp->pid != 0 && kill(wp->pid, signo) < 0 && errno != ESRCH)
        log_error(&m->log, "kill(%d, %d): %s", (int)wp->pid, signo,
                  strerror(errno));
}

void signal_workers(struct master *m, int signo)
{
    for (int i = 0; i < m->nworkers; i++)
        signal_one(m, &m->w[i], signo);
    for (int k = 0; k < ENGINE_MAX_SLOTS; k++)
        signal_one(m, &m->old[k], signo);
    for (int k = 0; k < m->nhelpers; k++)
        signal_one(m, &m->h[k], signo);
}
