/*
 * master.c - the master process (see master.h).
 *
 * Start-up, in this order: refuse root without -u (as memcached does);
 * raise RLIMIT_CORE (-r) and RLIMIT_NOFILE; create the engine region; open
 * the listeners; mlockall (-k); daemonize (-d); write the pidfile (-P);
 * drop privileges (-u); publish the master pid and worker count in
 * the server's shared state (srvstate.h); fork -t workers and the
 * helpers. Binding before the privilege drop lets a root-started server
 * use ports below 1024. A master started by an upgrade takes the region
 * and the listeners from the old one instead, stays where it was put (no
 * -d), and writes the pidfile once its workers run.
 *
 * Supervision: signal handlers only set the flags below; the master loop
 * sleeps in ppoll() with those signals unblocked, so a signal wakes it at
 * once, and acts on the flags there: children that died (procs.c), a stop
 * (SIGTERM, SIGINT, SIGUSR1: graceful; SIGQUIT: immediate), a reload
 * (SIGHUP), a binary upgrade (SIGUSR2, handover.c), control messages from
 * workers, the background sweep of expired items once a second, and the
 * hash table's growth (steps of splits, two thirds of the time, while it
 * doubles).
 *
 * Reload (SIGHUP): reload_apply() re-reads the --config file and the
 * original argv, validates, applies what the master owns (verbosity,
 * listeners: new ones opened first, unchanged ones kept, removed ones
 * closed before any fork; the memory limit) and names what needs a
 * restart; a rejected configuration changes nothing and counts in
 * reload_failures. Then the workers are replaced without dropping a
 * connection (handover.c).
 *
 * The end: once every process is gone, a memory file is written back and
 * marked clean after a graceful stop (cachefile.h); a master that an
 * upgrade replaced leaves the pidfile, the unix socket and the file to its
 * successor.
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

#include "server/cachefile.h"
#include "server/connquota.h"
#include "server/daemon.h"
#include "server/master_int.h"
#include "server/reload.h"
#include "server/srvstate.h"
#include "server/sasl.h"
#include "server/portfile.h"

/* Set by the signal handler, acted on by the master loop. */
static volatile sig_atomic_t sig_stop;      /* 1 graceful, 2 immediate */
static volatile sig_atomic_t sig_hup;
static volatile sig_atomic_t sig_usr2;
static volatile sig_atomic_t sig_chld;


static void on_signal(int signo)
{
    switch (signo) {
    case SIGTERM:
    case SIGINT:
    case SIGUSR1:           /* memcached's graceful shutdown */
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
    static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1,
                                SIGUSR2,
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
    m->engine = m->up.inherited
                ? cachefile_adopt(s, m->up.region_fd, &m->log)
                : cachefile_open(s, &m->log);
    if (m->engine == NULL)
        return -1;
    if (s->detail_enabled)          /* -D: prefix stats from the start */
        engine_detail_enable(m->engine, 1, (char)s->stat_key_prefix);
    struct engine_lru_config lc;    /* the policy is the settings', also
                                       over a warm region's */
    settings_lru_config(s, &lc);
    engine_set_lru(m->engine, &lc);
    return 0;
}

/* ---- helper processes (helper.h) -------------------------------------- */


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

/* The LRU crawler: every second while it is enabled (-o lru_crawler,
 * "lru_crawler enable"), and at once for an "lru_crawler crawl" (which
 * marks it running; it is done when this clears the mark). engine_sweep
 * reclaims the expired and flushed items from the tail of every class,
 * examining at most lru_crawler_tocrawl (else SWEEP_BUDGET) items of each
 * class per round, one class lock at a time. */
static void sweep(struct master *m)
{
    struct proto_shared *sh = &m->state->proto;
    struct engine_worker *mw = engine_master(m->engine);
    unsigned total = 0;
    uint32_t asked = __atomic_load_n(&sh->crawler_running, __ATOMIC_ACQUIRE);
    if (!asked && !__atomic_load_n(&sh->crawler_enabled, __ATOMIC_RELAXED))
        return;                     /* -o no_lru_crawler, lru_crawler disable */
    uint32_t tocrawl = __atomic_load_n(&sh->crawler_tocrawl, __ATOMIC_RELAXED);
    unsigned budget = tocrawl ? tocrawl : SWEEP_BUDGET;
    for (int round = 0; round < SWEEP_ROUNDS; round++) {
        unsigned n = engine_sweep(mw, budget);
        total += n;
        if (n == 0 || (!asked && n < budget))
            break;
    }
    if (asked)
        __atomic_store_n(&sh->crawler_running, 0, __ATOMIC_RELEASE);
    if (total > 0)
        log_trace(&m->log, "sweep: reclaimed %u expired item(s)", total);
}

/* Hash table growth (engine_hash_grow): while the table doubles, steps of
 * HASH_STEP_BUCKETS bucket splits (each under its own bucket lock) for
 * HASH_STEP_TIME, then HASH_BUSY_INTERVAL of rest for the loop's other
 * work and the workers' CPUs: a doubling to 2^20 buckets takes a fraction
 * of a second (make bench-hash), and no worker waits for more than one
 * split.
 * Otherwise a look at the item count every HASH_IDLE_INTERVAL. */
static void hash_grow(struct master *m)
{
    struct engine_worker *mw = engine_master(m->engine);
    double until = mono() + HASH_STEP_TIME;
    int rc;
    do
        rc = engine_hash_grow(mw, HASH_STEP_BUCKETS);
    while (rc > 0 && mono() < until);
    m->next_hash = mono() + (rc > 0 ? HASH_BUSY_INTERVAL
                                    : HASH_IDLE_INTERVAL);
}

/* The slab mover, the master's as memcached's rebalancer thread is its
 * own: a move asked for ("slabs reassign", the automover, an eviction with
 * slab_automove=2) gets up to MOVER_SLICE of work each time round the
 * loop, and the loop comes back every MOVER_PAUSE until it is done (a
 * worker's "slabs reassign" wakes the loop at once). slab_automove=1's
 * policy decides once a second, and every millisecond while it gives
 * pages back to the pool (as memcached's); with slab_automove=2 the loop
 * looks for the workers' requests every AUTOMOVE2_POLL. */
static void slab_work(struct master *m, double now, double *wake)
{
    struct engine *e = m->engine;
    int mode = engine_automove(e), rc;
    if (mode != 1 && m->am != NULL) {
        engine_automove_free(m->am);
        m->am = NULL;
    }
    if (mode == 1 && now >= m->next_automove) {
        if (m->am == NULL)
            m->am = engine_automove_new(e);
        int dst = m->am ? engine_automove_run(m->am) : -1;
        m->next_automove = now + (dst == 0 ? MOVER_PAUSE : 1.0);
    }
    double until = mono() + MOVER_SLICE;
    do
        rc = engine_slab_mover(engine_master(e), MOVER_BUDGET);
    while (rc == 1 && mono() < until);
    double next = rc != 0 ? now + MOVER_PAUSE
                : mode == 2 ? now + AUTOMOVE2_POLL : *wake;
    if (mode == 1 && m->next_automove < next)
        next = m->next_automove;
    if (next < *wake)
        *wake = next;
}

/* Seconds between the crawler's sweeps: rare when the LRU maintenance
 * already reclaims what expires at the tails (as memcached's crawler
 * leaves that to its maintainer), from the first one on. */
static double sweep_interval(const struct master *m)
{
    return m->s->lru_maintainer ? SWEEP_INTERVAL_MAINTAINED : SWEEP_INTERVAL;
}

/* The engine's background work, by one master (not a leaving one, nor one
 * whose predecessor still runs: they share the master's slot): the LRU
 * maintenance every MAINTAIN_INTERVAL (with -o lru_maintainer, memcached's
 * default), the crawler's sweep every SWEEP_INTERVAL (every
 * SWEEP_INTERVAL_MAINTAINED when the maintenance already reclaims what
 * expires at the tails), an "lru_crawler crawl" at the next turn, and the
 * hash table's growth. */
static void background(struct master *m, double now, double *wake)
{
    if (m->leaving || m->up.predecessor != 0)
        return;
    struct proto_shared *sh = &m->state->proto;
    if (m->s->lru_maintainer && now >= m->next_maintain) {
        unsigned n = engine_lru_maintain(engine_master(m->engine),
                                         MAINTAIN_BUDGET);
        /* more to do: come back soon, between the other duties */
        m->next_maintain = now + (n >= MAINTAIN_BUDGET ? MAINTAIN_SOON
                                                       : MAINTAIN_INTERVAL);
    }
    if (m->s->lru_maintainer && m->next_maintain < *wake)
        *wake = m->next_maintain;
    if (now >= m->next_sweep ||
        __atomic_load_n(&sh->crawler_running, __ATOMIC_ACQUIRE)) {
        sweep(m);
        m->next_sweep = mono() + sweep_interval(m);
    }
    if (m->next_sweep < *wake)
        *wake = m->next_sweep;
    if (now >= m->next_hash)
        hash_grow(m);
    if (m->next_hash < *wake)
        *wake = m->next_hash;
    slab_work(m, now, wake);
}

/* ---- binary upgrade (upgrade.h) ----------------------------------------- */


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
    /* -Y: the file is read again (memcached does on SIGHUP); a file that
     * fails to load leaves the credentials as they were */
    char err[300];
    if (m->cur.auth_file[0] != '\0' &&
        proto_authfile_load(&m->auth, m->cur.auth_file, err,
                            sizeof(err)) < 0)
        log_error(&m->log, "reload: %s; keeping the credentials loaded "
                  "before", err);
    replace_workers(m, "reload");
    restart_helpers(m);
}

/* Control messages from a worker (see worker.h). */
void control_message(struct master *m, struct wproc *wp)
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
        if (msg->len == strlen(WORKER_MSG_MOVER) &&
            memcmp(msg->data, WORKER_MSG_MOVER, msg->len) == 0) {
            handoff_msg_free(msg);      /* the loop runs the mover next */
            continue;
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
    struct pollfd pfd[2 * ENGINE_MAX_SLOTS + 1];
    struct wproc *who[2 * ENGINE_MAX_SLOTS + 1];
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
    if (m->up.fd >= 0) {            /* the other master (upgrade.h) */
        pfd[n].fd = m->up.fd;
        pfd[n].events = (short)(POLLIN | (m->leaving ? out : 0));
        who[n++] = NULL;
    }
    if (left < 0)
        left = 0;
    struct timespec ts = { (time_t)left,
                           (long)((left - (double)(time_t)left) * 1e9) };
    int rc = ppoll(pfd, (nfds_t)n, &ts, waitmask);
    if (rc < 0 && errno != EINTR)
        log_error(&m->log, "ppoll: %s", strerror(errno));
    for (int k = 0; rc > 0 && k < n; k++)
        if (who[k] != NULL && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
            control_message(m, who[k]);
    upgrade_tend(m, mono());
    relay(m);
}

/* The supervision loop; returns when every worker is gone after a stop. */
static void supervise(struct master *m, const sigset_t *waitmask)
{
    m->next_sweep = mono() + sweep_interval(m);
    m->next_hash = mono() + HASH_IDLE_INTERVAL;
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
            begin_upgrade(m);
        }

        double now = mono(), wake = now + SWEEP_INTERVAL;
        upgrade_tend(m, now);
        if (m->leaving && !m->stopping && running(m) + retiring(m) +
            helpers_running(m) == 0 && m->relay.head == NULL)
            return;             /* everything went to the new master */
        if (m->up.fd >= 0 && !m->up.inherited && m->up.deadline < wake)
            wake = m->up.deadline;
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
            background(m, now, &wake);
        }
        wait_events(m, wake - mono(), waitmask);
    }
}

/* ---- entry ------------------------------------------------------------ */

/* The listeners: opened, or (an upgrade) taken over from the old master,
 * keeping those the configuration still names. */
static int open_listeners(struct master *m, const struct listen_config *lc)
{
    struct listeners had, stale;
    if (!m->up.inherited)
        return listeners_open(&m->ls, lc, &m->log);
    if (listeners_inherit(&had, m->up.listen_fds, m->up.nlisten) < 0 ||
        listeners_reconcile(&had, lc, &stale, &m->log) < 0)
        return -1;
    m->ls = had;
    listeners_close(&stale);
    listeners_unlink(&stale);
    return 0;
}

/* Root needs -u: the user to become. 0, or the exit status. */
static int find_user(struct master *m, struct passwd **pw)
{
    const struct settings *s = m->s;
    *pw = NULL;
    if (getuid() != 0 && geteuid() != 0)
        return 0;
    if (s->username[0] == '\0') {
        log_error(&m->log, "can't run as root without the -u switch");
        return EX_USAGE;
    }
    *pw = getpwnam(s->username);
    if (*pw == NULL) {
        log_error(&m->log, "can't find the user %s to switch to",
                  s->username);
        return EX_NOUSER;
    }
    return 0;
}

/* The shared blocks beside the cache: server state, connection snapshots,
 * the watchers' log; and the credentials (-S, -Y). 0, or the status. */
static int create_shared(struct master *m)
{
    const struct settings *s = m->s;
    m->state = srvstate_create();
    if (m->state == NULL) {
        log_error(&m->log, "mmap (server state): %s", strerror(errno));
        return EX_OSERR;
    }
    m->info = &m->state->info;
    if (s->sasl && server_sasl_init(&m->log) < 0)
        return EXIT_FAILURE;
    if (s->auth_file[0] != '\0') {
        char err[300];
        if (proto_authfile_load(&m->auth, s->auth_file, err,
                                sizeof(err)) < 0) {
            log_error(&m->log, "%s", err);
            return EXIT_FAILURE;
        }
    }
    m->conns = connsnap_create();
    m->watch = m->conns ? watchlog_create(s->worker_logbuf_size,
                                          &m->state->proto) : NULL;
    m->quota = m->watch ? conn_quota_create(ENGINE_MAX_SLOTS) : NULL;
    if (m->quota == NULL) {          /* by slot */
        log_error(&m->log, "mmap (connection snapshots, watch log or "
                  "connection quota): %s", strerror(errno));
        return EX_OSERR;
    }
    m->state->proto.track_sizes = (uint32_t)s->track_sizes;
    m->state->proto.crawler_enabled = (uint32_t)s->lru_crawler;
    m->state->proto.crawler_sleep = (uint32_t)s->lru_crawler_sleep;
    m->state->proto.crawler_tocrawl = s->lru_crawler_tocrawl;
    return 0;
}

/* TCP, unix and UDP listeners. 0 or -1 (logged). */
static int open_all_listeners(struct master *m)
{
    const struct settings *s = m->s;
    struct listen_config lc = {
        .addrs = s->listen,
        .naddrs = s->nlisten,
        .port = settings_tcp_port(s),
        .backlog = s->backlog,
        .unix_path = s->socketpath,
        .unix_mask = s->access_mask,
    };
    if (open_listeners(m, &lc) < 0)
        return -1;
    /* UDP sockets are SO_REUSEPORT: an upgrade's new master binds its own
     * beside the old master's */
    if (udp_open(&m->udp, &lc, s->udpport, &m->log) < 0)
        return -1;
    if (m->ls.unix_path[0] != '\0' && m->ls.unix_path[0] != '/')
        daemon_absolute(s->socketpath, m->ls.unix_path,
                        sizeof(m->ls.unix_path));
    return 0;
}

/* The process becomes the server: -k, -d, the pidfile, -u. 0 or the
 * status. */
static int become_server(struct master *m, struct passwd *pw,
                         char *pidpath, size_t len)
{
    const struct settings *s = m->s;
    if (s->lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        log_warn(&m->log, "-k invalid, mlockall() failed: %s",
                 strerror(errno));
    if (s->pidfile[0] != '\0')
        daemon_absolute(s->pidfile, pidpath, len);
    /* an upgrade's new master is already where the old one was (detached,
     * maybe); it writes the pidfile once it is ready */
    if (s->daemonize && !m->up.inherited && daemon_detach(s, &m->log) < 0)
        return EX_OSERR;
    if (s->pidfile[0] != '\0' && !m->up.inherited &&
        daemon_write_pidfile(pidpath, &m->log) == 0)
        snprintf(m->pidfile, sizeof(m->pidfile), "%s", pidpath);
    if (pw != NULL && daemon_drop_privileges(pw, m->ls.unix_path,
                                             &m->log) < 0)
        return EX_OSERR;
    return 0;
}

/* The workers and helpers; an upgrade's new master then says it is
 * ready. */
static void start_processes(struct master *m, const char *pidpath)
{
    const struct settings *s = m->s;
    m->nworkers = s->threads;
    for (int i = 0; i < m->nworkers; i++)
        m->w[i].ctl_fd = -1;
    for (int i = 0; i < m->nworkers; i++)
        spawn(m, i);
    for (int k = 0; k < m->nhelpers; k++)
        if (m->hdef[k]->wanted(s))
            spawn_helper(m, k);
    /* MEMCACHED_PORT_FILENAME: written once the signal handlers are in
     * place (a harness that reads it may stop the server at once) */
    portfile_write(&m->ls, &m->udp, &m->log);
    log_info(&m->log, "master %d: %d worker(s), %d listener(s)",
             (int)getpid(), m->nworkers, m->ls.n);
    if (!m->up.inherited)
        return;
    if (s->pidfile[0] != '\0' && daemon_write_pidfile(pidpath, &m->log) == 0)
        snprintf(m->pidfile, sizeof(m->pidfile), "%s", pidpath);
    if (upgrade_say_ready(&m->up) < 0)
        log_error(&m->log, "upgrade: cannot tell the old master: %s",
                  strerror(errno));
    log_warn(&m->log, "upgrade: master %d (pid %d before) is ready",
             (int)getpid(), (int)m->up.predecessor);
}

static int startup(struct master *m, sigset_t *waitmask)
{
    struct passwd *pw;
    char pidpath[PATH_MAX] = "";
    int rc = find_user(m, &pw);
    if (rc != 0)
        return rc;
    daemon_raise_limits(m->s, &m->log);
    if (m->s->large_pages)
        log_warn(&m->log, "large memory pages (-L) are not supported; "
                 "ignored");
    if (create_engine(m) < 0)
        return EX_OSERR;
    if ((rc = create_shared(m)) != 0)
        return rc;
    if (open_all_listeners(m) < 0)
        return EX_OSERR;
    if ((rc = become_server(m, pw, pidpath, sizeof(pidpath))) != 0)
        return rc;
    m->info->master_pid = (int32_t)getpid();
    m->info->workers = (uint32_t)m->s->threads;
    if (setup_signals(m, waitmask) < 0)
        return EX_OSERR;
    start_processes(m, pidpath);
    return 0;
}

int master_run(const struct settings *s, int argc, char **argv,
               const struct helper_def *const *helpers, int nhelpers)
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

    upgrade_from_env(&m->up, &m->log);
    if (upgrade_exe_path(m->exe, sizeof(m->exe)) < 0)
        log_warn(&m->log, "cannot read /proc/self/exe: %s; SIGUSR2 "
                 "(binary upgrade) will not work", strerror(errno));
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
    listeners_close(&m->ls);
    udp_close(&m->udp);
    if (!m->leaving) {
        /* the new master of an upgrade owns these now */
        daemon_remove_pidfile(m->pidfile, &m->log);
        listeners_unlink(&m->ls);
    }
    if (m->up.fd >= 0)
        close(m->up.fd);
    conn_quota_destroy(m->quota);
    srvstate_destroy(m->state);
    watchlog_destroy(m->watch);
    connsnap_destroy(m->conns);
    engine_automove_free(m->am);
    /* every process is gone: a memory file is written back and marked
     * clean, unless the stop was immediate (SIGQUIT), a failed start, or
     * an upgrade (the new server has it) */
    cachefile_close(m->engine, m->s,
                    rc == 0 && m->stopping == 1 && !m->leaving, &m->log);
    free(m);
    return rc;
}
