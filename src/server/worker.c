/*
 * worker.c - a worker process (see worker.h).
 *
 * Everything a worker owns lives in one struct worker on worker_run()'s
 * stack: the libev loop (created here, after fork), the protocol
 * environment, the connection set, and the watchers. worker_run() sets
 * them up in that order (open_loop, setup_env, setup_conns, the UDP
 * server, setup_watchers), serve()s, then teardown() releases them and
 * release_inherited() closes what came from the master. The watchers:
 *   lio[i]   accept on listener i (stopped while paused or stopping);
 *   resume   one-shot: retry accepting after EMFILE, or after -c was
 *            reached with maxconns_fast off;
 *   tick     1 s: closes connections idle past -o idle_timeout;
 *   ctl      the control socketpair: EOF means the master is gone;
 *            carries "verbosity N", "handoff", and connections to adopt;
 *   handoff  5 ms while retiring: offers connections that reached a
 *            request boundary again (after the socket to the master was
 *            full), and ends the loop when none is left;
 *   drain    50 ms while stopping gracefully: closes connections that went
 *            quiet, then leaves the loop (hard limit WORKER_DRAIN_MAX);
 *   sig*     SIGTERM (graceful), SIGQUIT (immediate). libev turns them
 *            into loop events, so no work happens in a handler. SIGINT is
 *            ignored: a terminal's Ctrl-C reaches the master, which stops
 *            the workers itself.
 *
 * Connection limit (-c): a global count shared with the other workers
 * (connquota.h). Over the limit, with maxconns_fast (default) the new
 * client gets "ERROR Too many open connections" and is closed; without it
 * the worker holds that one client unserved (as if still in the backlog),
 * stops accepting, and serves it once the count drops (checked on each
 * close here and every 100 ms); clients beyond that wait in the kernel's
 * listen backlog, as with memcached. A second over-limit client accepted
 * in the same burst is rejected as with maxconns_fast.
 *
 * Retiring (hand-off): see conn.h and handoff.h. A connection leaves only
 * at a request boundary, with the input not yet parsed and the output not
 * yet sent; the worker that adopts it takes a quota unit unconditionally
 * (the client is already connected: a lowered -c only stops new accepts).
 *
 * Invariants: the loop is used only in this process; every accepted or
 * adopted fd is either a struct conn, or closed (or handed on) before the
 * callback returns; a quota unit is held exactly while its struct conn
 * exists; cfg->slot is detached once, just before worker_run() returns.
 */
#include "server/worker.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

/* A worker ends with _exit() in its forked process, which skips
 * LeakSanitizer's check at exit: in an ASan build the worker runs that
 * check itself once it has released everything it owns (a leak is
 * reported and the process exits 23). */
#if defined(__SANITIZE_ADDRESS__)
#define WORKER_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_LEAK_CHECK 1
#endif
#endif
#ifdef WORKER_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

#include "server/conn.h"
#include "server/connquota.h"
#include "engine/engine.h"
#include "server/handoff.h"
#include "server/daemon.h"
#include "server/listener.h"
#include "proto/proto.h"
#include "server/replsync.h"
#include "server/settings.h"
#include "server/srvstate.h"
#include "server/udp.h"
#include "server/watchlog.h"
#include "server/worker_watch.h"
#include "server/sasl.h"
#include "server/connsnap.h"
#include "server/uring.h"

#define ACCEPTS_PER_EVENT 64
#define WORKER_DRAIN_MAX 10.0      /* seconds a graceful stop may take */
#define WORKER_DRAIN_QUIET 0.0     /* at a boundary with nothing unread:
                                      idle (conn_set_drain) */

static const char too_many[] = "ERROR Too many open connections\r\n";

struct worker {
    struct worker_config *cfg;
    struct settings set;    /* this worker's copy: "verbosity" updates it */
    const struct settings *s;
    struct ev_loop *loop;
    struct proto_config pcfg;
    struct proto_env env;
    struct conn_set conns;
    struct udp_server udp;  /* -U: datagrams on the shared UDP sockets */
    struct worker_watch watch; /* "watch": this worker's log and watchers */
    struct replsync rsync;  /* repl_sync's waits (replsync.h) */
    struct server_counters *counters;   /* this worker's, in cfg->state */
    ev_io lio[LISTENER_MAX];
    char lname[LISTENER_MAX][SHMC_ADDR_MAX]; /* for "stats conns" */
    int nlisten;
    ev_timer resume, tick, drain, handoff, snap;
    ev_io ctl;
    int qidx;               /* quota index: the engine slot number */
    int retiring;           /* handing connections off */
    ev_tstamp handoff_deadline;
    unsigned handed, adopted;
    ev_signal sigterm, sigquit;
    int accepting;          /* listen watchers started */
    int held_fd;            /* accepted over -c without maxconns_fast: */
    int held_li;            /* waits for room, unserved (-1: none) */
    int stopping;
    ev_tstamp drain_deadline;
    struct uring uring;     /* -o io_uring: connections' reads and sends */
    int use_uring;
    volatile int done;      /* the loop ends (worker_break) */
};

/* Ends the worker's loop: libev's, or the ring's (uring_run). */
static void worker_break(struct worker *w)
{
    w->done = 1;
    ev_break(w->loop, EVBREAK_ALL);
}

static void begin_stop(struct worker *w, int immediate, const char *why);
static void begin_handoff(struct worker *w);

/* ---- accepting ------------------------------------------------------ */

static void accept_set(struct worker *w, int on)
{
    if (on == w->accepting || (on && (w->stopping || w->retiring)))
        return;
    for (int i = 0; i < w->nlisten; i++) {
        if (on)
            ev_io_start(w->loop, &w->lio[i]);
        else
            ev_io_stop(w->loop, &w->lio[i]);
    }
    w->accepting = on;
}

/* Stops accepting for a while (EMFILE, or -c reached without
 * maxconns_fast); the resume timer tries again. */
static void accept_pause(struct worker *w, double seconds)
{
    if (!w->accepting)
        return;
    accept_set(w, 0);
    w->counters->listen_disabled_num++;
    ev_timer_stop(w->loop, &w->resume);
    ev_timer_set(&w->resume, seconds, 0.);
    ev_timer_start(w->loop, &w->resume);
}

static int below_limit(const struct worker *w)
{
    return conn_quota_total(w->cfg->quota) < w->s->maxconns;
}

/* Serves the connection held back by the limit, if there is room now.
 * Returns 1 when nothing is held any more. */
static int open_held(struct worker *w)
{
    if (w->held_fd < 0)
        return 1;
    if (conn_quota_take(w->cfg->quota, w->qidx, w->s->maxconns) < 0)
        return 0;
    int fd = w->held_fd;
    w->held_fd = -1;
    if (conn_open(&w->conns, fd, w->lname[w->held_li]) == NULL)
        conn_quota_put(w->cfg->quota, w->qidx);
    return 1;
}

static void on_resume(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker *w = t->data;
    if (w->stopping)
        return;
    if (w->s->maxconns_fast || (open_held(w) && below_limit(w))) {
        accept_set(w, 1);
    } else {
        ev_timer_set(t, 0.1, 0.);
        ev_timer_start(loop, t);
    }
}

static void reject(struct worker *w, int fd)
{
    w->counters->rejected_connections++;
    ssize_t n = send(fd, too_many, sizeof(too_many) - 1,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;                    /* best effort, like memcached */
    close(fd);
    log_debug(&w->cfg->log, "<%d rejected: too many open connections", fd);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    struct worker *w = io->data;
    for (int i = 0; i < ACCEPTS_PER_EVENT && w->accepting; i++) {
        int fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                return;         /* drained, or another worker took it */
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                log_warn(&w->cfg->log, "accept: %s; pausing accepts",
                         strerror(errno));
                accept_pause(w, 0.1);
                return;
            default:
                log_error(&w->cfg->log, "accept: %s", strerror(errno));
                return;
            }
        }
        int li = (int)(io - w->lio);
        if (conn_quota_take(w->cfg->quota, w->qidx,
                            w->s->maxconns) < 0) {
            if (w->s->maxconns_fast || w->held_fd >= 0) {
                reject(w, fd);
                continue;
            }
            /* like a client left in the backlog: open, but not served
             * until a connection closes */
            w->held_fd = fd;
            w->held_li = li;
            accept_pause(w, 0.1);
            return;
        }
        struct conn *nc = conn_open(&w->conns, fd, w->lname[li]);
        if (nc == NULL) {
            conn_quota_put(w->cfg->quota, w->qidx);
            continue;
        }
        worker_watch_conn(&w->watch, nc, 1);
        if (!w->s->maxconns_fast && !below_limit(w))
            accept_pause(w, 0.1);
    }
}

static void on_conn_close(void *arg, struct conn *c)
{
    struct worker *w = arg;
    worker_watch_conn(&w->watch, c, 0);
    conn_quota_put(w->cfg->quota, w->qidx);
    if (!w->accepting && !w->stopping && !w->s->maxconns_fast &&
        below_limit(w) && open_held(w) && below_limit(w)) {
        ev_timer_stop(w->loop, &w->resume);
        accept_set(w, 1);
    }
}

/* ---- timers, control socket, signals -------------------------------- */

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker *w = t->data;
    if (w->s->idle_timeout > 0)
        conn_set_close_idle(&w->conns, ev_now(loop), w->s->idle_timeout);
}

/* This worker's connections, for the other workers' "stats conns". */
static void on_snap(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker *w = t->data;
    connsnap_publish(w->cfg->conns, w->qidx, &w->conns, ev_now(loop));
}

static void on_drain(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker *w = t->data;
    ev_tstamp now = ev_now(loop);
    unsigned left = conn_set_drain(&w->conns, now, WORKER_DRAIN_QUIET);
    if (left > 0 && now < w->drain_deadline)
        return;
    if (left > 0)
        log_warn(&w->cfg->log, "worker %d: closing %u busy connection(s) "
                 "after %.0f s", w->cfg->index, left, WORKER_DRAIN_MAX);
    conn_set_close_all(&w->conns);
    worker_break(w);
}

/* A connection forwarded by the master: adopt it. */
static void adopt(struct worker *w, struct handoff_msg *m)
{
    struct handoff_hdr h;
    int fd = -1;
    char *payload = NULL;
    const char *in, *out;
    if (handoff_open(m, &h, &fd, &payload, &in, &out) < 0) {
        log_error(&w->cfg->log, "worker %d: bad connection hand-off: %s",
                  w->cfg->index, strerror(errno));
        return;
    }
    if (w->stopping) {
        close(fd);
        free(payload);
        return;
    }
    const char *lname = NULL;
    for (int i = 0; i < w->nlisten && lname == NULL; i++)
        if (strcmp(w->lname[i], h.listen_addr) == 0)
            lname = w->lname[i];
    /* the client is connected already: -c only limits new accepts */
    conn_quota_take(w->cfg->quota, w->qidx, LONG_MAX);
    if (conn_adopt(&w->conns, fd, lname, in, h.in_len, out, h.out_len) < 0)
        conn_quota_put(w->cfg->quota, w->qidx);
    else
        w->adopted++;
    free(payload);
}

static void on_ctl(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    struct worker *w = io->data;
    size_t pl = strlen(WORKER_MSG_VERBOSITY);
    for (int round = 0; round < 64; round++) {
        struct handoff_msg *m = NULL;
        int rc = handoff_recv(io->fd, &m);
        if (rc == 0)
            return;
        if (rc < 0) {
            if (errno == EMSGSIZE || errno == ENOMEM) {
                log_error(&w->cfg->log, "worker %d: control message: %s",
                          w->cfg->index, strerror(errno));
                continue;
            }
            ev_io_stop(w->loop, io);
            begin_stop(w, 0, "the master is gone");
            return;
        }
        if (handoff_is_msg(m->data, m->len)) {
            adopt(w, m);
        } else if (m->len > pl && m->len <= WORKER_MSG_MAX &&
                   memcmp(m->data, WORKER_MSG_VERBOSITY, pl) == 0) {
            char buf[WORKER_MSG_MAX + 1];
            memcpy(buf, m->data, m->len);
            buf[m->len] = '\0';
            log_set_verbose(&w->cfg->log, atoi(buf + pl));
            w->set.verbose = w->cfg->log.verbose;
        } else if (m->len == strlen(WORKER_MSG_HANDOFF) &&
                   memcmp(m->data, WORKER_MSG_HANDOFF, m->len) == 0) {
            begin_handoff(w);
        } else {
            log_warn(&w->cfg->log, "worker %d: unknown control message",
                     w->cfg->index);
        }
        handoff_msg_free(m);
    }
}

/* ---- retiring: hand every connection to the master -------------------- */

static void handoff_done(struct worker *w)
{
    log_info(&w->cfg->log, "worker %d: handed off %u connection(s); "
             "exiting", w->cfg->index, w->handed);
    worker_break(w);
}

/* conn_set on_ready: c stands at a request boundary. */
static int on_ready(void *arg, struct conn *c)
{
    struct worker *w = arg;
    size_t in_len, out_len;
    const char *in = conn_pending_in(c, &in_len);
    const char *out = conn_pending_out(c, &out_len);
    if (handoff_send(w->cfg->ctl_fd, c->fd, c->listen_addr, in, in_len, out,
                     out_len) < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
            return 0;           /* the master is busy: next tick */
        log_error(&w->cfg->log, "worker %d: handing off connection %d: %s; "
                  "closing it", w->cfg->index, c->fd, strerror(errno));
        conn_close(c);
    } else {
        conn_release(c);
        w->handed++;
    }
    return 1;               /* the tick ends the loop once none is left */
}

static void on_handoff_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct worker *w = t->data;
    if (w->held_fd >= 0) {
        if (handoff_send(w->cfg->ctl_fd, w->held_fd, w->lname[w->held_li],
                         NULL, 0, NULL, 0) == 0 ||
            (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)) {
            close(w->held_fd);
            w->held_fd = -1;
        }
    }
    conn_set_handoff(&w->conns);
    if (w->conns.count == 0 && w->held_fd < 0) {
        ev_timer_stop(loop, t);
        handoff_done(w);
        return;
    }
    if (ev_now(loop) >= w->handoff_deadline) {
        log_warn(&w->cfg->log, "worker %d: closing %u connection(s) still "
                 "in the middle of a request after %.0f s", w->cfg->index,
                 w->conns.count, WORKER_HANDOFF_MAX);
        conn_set_close_all(&w->conns);
        ev_timer_stop(loop, t);
        handoff_done(w);
    }
}

static void begin_handoff(struct worker *w)
{
    if (w->retiring || w->stopping)
        return;
    log_info(&w->cfg->log, "worker %d: retiring: handing off %u "
             "connection(s)", w->cfg->index, w->conns.count);
    w->retiring = 1;
    accept_set(w, 0);
    udp_server_stop(&w->udp);       /* the new workers read them now */
    ev_timer_stop(w->loop, &w->resume);
    w->conns.on_ready = on_ready;
    w->handoff_deadline = ev_now(w->loop) + WORKER_HANDOFF_MAX;
    ev_timer_set(&w->handoff, 0., 0.005);
    ev_timer_start(w->loop, &w->handoff);
}

static void on_signal(struct ev_loop *loop, ev_signal *sw, int revents)
{
    (void)loop;
    (void)revents;
    struct worker *w = sw->data;
    if (sw->signum == SIGQUIT)
        begin_stop(w, 1, "SIGQUIT");
    else
        begin_stop(w, 0, "SIGTERM");
}

static void begin_stop(struct worker *w, int immediate, const char *why)
{
    if (immediate) {
        log_info(&w->cfg->log, "worker %d: stopping now (%s)",
                 w->cfg->index, why);
        conn_set_close_all(&w->conns);
        worker_break(w);
        return;
    }
    if (w->stopping)
        return;
    log_info(&w->cfg->log, "worker %d: stopping gracefully (%s), %u "
             "connection(s) open", w->cfg->index, why, w->conns.count);
    accept_set(w, 0);
    udp_server_stop(&w->udp);
    if (w->held_fd >= 0) {
        close(w->held_fd);
        w->held_fd = -1;
    }
    w->stopping = 1;
    ev_timer_stop(w->loop, &w->resume);
    ev_io_stop(w->loop, &w->ctl);
    w->drain_deadline = ev_now(w->loop) + WORKER_DRAIN_MAX;
    ev_timer_set(&w->drain, 0., 0.05);
    ev_timer_start(w->loop, &w->drain);
}

/* ---- protocol callbacks --------------------------------------------- */

/* memcached: "shutdown" stops at once (its SIGINT), "shutdown graceful"
 * as SIGUSR1 does (requests in flight finish; a memory file is written
 * back and marked clean). Here: SIGQUIT and SIGUSR1 to the master. */
static void cb_shutdown(void *arg, int graceful)
{
    struct worker *w = arg;
    int sig = graceful ? SIGUSR1 : SIGQUIT;
    log_info(&w->cfg->log, "worker %d: \"shutdown%s\" command: asking the "
             "master (pid %d) to stop", w->cfg->index,
             graceful ? " graceful" : "", (int)w->cfg->master_pid);
    if (kill(w->cfg->master_pid, sig) < 0)
        log_error(&w->cfg->log, "kill(%d, %d): %s",
                  (int)w->cfg->master_pid, sig, strerror(errno));
}

/* "stats conns": the listeners first, then the connections. */
static void cb_conns(void *arg, struct buf *out)
{
    struct worker *w = arg;
    /* the other workers' connections first (their last snapshots) */
    if (connsnap_stats(w->cfg->conns, w->qidx, ev_now(w->loop), out) < 0)
        log_error(&w->cfg->log, "stats conns: out of memory");
    for (int i = 0; i < w->nlisten; i++) {
        int fd = w->lio[i].fd;
        buf_printf(out, "STAT %d:addr %s\r\n", fd, w->lname[i]);
        buf_printf(out, "STAT %d:state conn_listening\r\n", fd);
    }
    if (udp_server_stats(&w->udp, out) < 0 ||
        conn_set_stats(&w->conns, out) < 0)
        log_error(&w->cfg->log, "stats conns: out of memory");
}

static void cb_verbosity(void *arg, int level)
{
    struct worker *w = arg;
    log_set_verbose(&w->cfg->log, level);
    w->set.verbose = w->cfg->log.verbose;
    /* the master relays it to the other workers */
    char msg[WORKER_MSG_MAX];
    int n = snprintf(msg, sizeof(msg), "%s%d", WORKER_MSG_VERBOSITY, level);
    if (w->cfg->ctl_fd >= 0 &&
        send(w->cfg->ctl_fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_warn(&w->cfg->log, "worker %d: relaying verbosity: %s",
                 w->cfg->index, strerror(errno));
}

/* "slabs reassign" / "slabs automove": the master's slab mover, now. */
static void cb_mover_kick(void *arg)
{
    struct worker *w = arg;
    if (w->cfg->ctl_fd >= 0 &&
        send(w->cfg->ctl_fd, WORKER_MSG_MOVER, strlen(WORKER_MSG_MOVER),
             MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_warn(&w->cfg->log, "worker %d: waking the slab mover: %s",
                 w->cfg->index, strerror(errno));
}

static void cb_server_stats(void *arg, struct proto_server_stats *st)
{
    struct worker *w = arg;
    srvstate_server_stats(w->cfg->state, w->s->maxconns, w->s->threads, st);
    struct watchlog_stats ls;
    watchlog_stats(w->cfg->watch, &ls);
    st->log_written = ls.written;
    st->log_skipped = ls.skipped;
    st->log_sent = ls.sent;
    st->log_watchers = ls.watchers;
}

/* "stats shmcached": the server's own lines. */
static void cb_stats_shmcached(void *arg, struct buf *out)
{
    struct worker *w = arg;
    srvstate_stats_shmcached(w->cfg->state, out);
}

static void cb_stats_reset(void *arg)
{
    struct worker *w = arg;
    srvstate_reset(w->cfg->state);
}

static void cb_stats_settings(void *arg, struct buf *out)
{
    struct worker *w = arg;
    settings_stats(w->s, w->cfg->engine, &w->cfg->state->proto, out);
}

static void cb_log_item(void *arg, const struct proto_log_item *ev)
{
    struct worker *w = arg;
    worker_watch_item(&w->watch, ev);
}

static void *cb_watch_open(void *arg, unsigned mask)
{
    struct worker *w = arg;
    return worker_watch_open(&w->watch, mask);
}

static size_t cb_watch_read(void *arg, void *watch, struct buf *out)
{
    struct worker *w = arg;
    return worker_watch_read(&w->watch, watch, out);
}

static void cb_watch_close(void *arg, void *watch)
{
    struct worker *w = arg;
    worker_watch_close(&w->watch, watch);
}

static int cb_sasl_mechs(void *arg, void **state, const char **list,
                         unsigned *len)
{
    (void)arg;
    return server_sasl_mechs(state, list, len);
}

static int cb_sasl_step(void *arg, void **state, int start, const char *mech,
                        const char *data, unsigned len, const char **out,
                        unsigned *outlen)
{
    (void)arg;
    return server_sasl_step(state, start, mech, data, len, out, outlen);
}

static void cb_sasl_free(void *arg, void *state)
{
    (void)arg;
    server_sasl_free(state);
}

/* ---- life ------------------------------------------------------------ */

static void setup_watchers(struct worker *w)
{
    const struct listeners *ls = w->cfg->listeners;
    w->nlisten = ls->n;
    for (int i = 0; i < ls->n; i++) {
        ev_io_init(&w->lio[i], on_accept, ls->l[i].fd, EV_READ);
        conn_sockname(ls->l[i].fd, 0, w->lname[i], sizeof(w->lname[i]));
        w->lio[i].data = w;
    }
    accept_set(w, 1);

    ev_timer_init(&w->resume, on_resume, 0.1, 0.);
    w->resume.data = w;
    ev_timer_init(&w->drain, on_drain, 0., 0.05);
    w->drain.data = w;
    ev_timer_init(&w->handoff, on_handoff_tick, 0., 0.005);
    w->handoff.data = w;
    ev_timer_init(&w->snap, on_snap, CONNSNAP_PERIOD, CONNSNAP_PERIOD);
    w->snap.data = w;
    if (w->cfg->conns)
        ev_timer_start(w->loop, &w->snap);
    ev_timer_init(&w->tick, on_tick, 1., 1.);
    w->tick.data = w;
    if (w->s->idle_timeout > 0)
        ev_timer_start(w->loop, &w->tick);

    ev_io_init(&w->ctl, on_ctl, w->cfg->ctl_fd, EV_READ);
    w->ctl.data = w;
    if (w->cfg->ctl_fd >= 0)
        ev_io_start(w->loop, &w->ctl);

    ev_signal_init(&w->sigterm, on_signal, SIGTERM);
    ev_signal_init(&w->sigquit, on_signal, SIGQUIT);
    w->sigterm.data = w->sigquit.data = w;
    ev_signal_start(w->loop, &w->sigterm);
    ev_signal_start(w->loop, &w->sigquit);
}

/* -o io_uring: the ring, or the readiness path when this kernel has none
 * (logged). Returns 0 when the ring is in use. */
static int start_uring(struct worker *w, int ev_fd)
{
    unsigned entries = 1024;
    while (entries < 4096 && entries < (unsigned)w->s->maxconns * 2)
        entries *= 2;
    if (uring_init(&w->uring, w->loop, ev_fd, entries) < 0) {
        log_warn(&w->cfg->log, "worker %d: io_uring unavailable (%s): "
                 "serving with epoll", w->cfg->index, strerror(errno));
        return -1;
    }
    w->use_uring = 1;
    w->uring.enters = &w->counters->io_uring_enters;
    log_info(&w->cfg->log, "worker %d: io_uring, %u entries", w->cfg->index,
             entries);
    return 0;
}

static void teardown(struct worker *w)
{
    if (w->held_fd >= 0)
        close(w->held_fd);
    w->held_fd = -1;
    conn_set_close_all(&w->conns);
    if (w->use_uring) {
        unsigned left = uring_drain(&w->uring, 2.0);
        if (left > 0)       /* the ring's memory stays: the process ends */
            log_error(&w->cfg->log, "worker %d: %u io_uring operation(s) "
                      "did not complete", w->cfg->index, left);
        else
            uring_exit(&w->uring);
        w->use_uring = 0;
    }
    accept_set(w, 0);
    udp_server_stop(&w->udp);
    worker_watch_stop(&w->watch);
    ev_timer_stop(w->loop, &w->resume);
    ev_timer_stop(w->loop, &w->tick);
    ev_timer_stop(w->loop, &w->drain);
    ev_timer_stop(w->loop, &w->handoff);
    ev_timer_stop(w->loop, &w->snap);
    connsnap_clear(w->cfg->conns, w->qidx);
    ev_io_stop(w->loop, &w->ctl);
    ev_signal_stop(w->loop, &w->sigterm);
    ev_signal_stop(w->loop, &w->sigquit);
    ev_loop_destroy(w->loop);
    w->loop = NULL;
}

/* The event loop, created after fork. With -o io_uring: an epoll loop whose
 * descriptor the ring can watch (*ev_fd set), or, when this system has none
 * (logged), libev's own choice as without the option. Returns 0, or -1
 * when no loop can be made (logged). */
static int open_loop(struct worker *w, int *ev_fd)
{
    struct worker_config *cfg = w->cfg;
    if (w->s->io_uring && (w->loop = uring_loop_new(ev_fd)) == NULL)
        log_warn(&cfg->log, "worker %d: no epoll loop for io_uring (%s): "
                 "serving with epoll", cfg->index, strerror(errno));
    if (w->loop == NULL)
        w->loop = ev_loop_new(EVFLAG_AUTO);
    if (w->loop == NULL) {
        log_error(&cfg->log, "worker %d: ev_loop_new failed", cfg->index);
        return -1;
    }
    return 0;
}

/* The protocol environment: this worker's protocol settings, the engine,
 * the protocol counters (pc) and the callbacks into this file (cb_*). */
static void setup_env(struct worker *w, struct proto_counters *pc)
{
    struct worker_config *cfg = w->cfg;
    settings_proto_config(w->s, &w->pcfg);
    if (w->s->auth_file[0] != '\0')
        w->pcfg.auth = cfg->auth;
    w->env.engine = cfg->engine;
    w->env.worker = cfg->slot;
    w->env.cfg = &w->pcfg;
    w->env.counters = pc;
    w->env.shared = &cfg->state->proto;
    w->env.arg = w;
    w->env.shutdown = cb_shutdown;
    w->env.set_verbosity = cb_verbosity;
    w->env.mover_kick = cb_mover_kick;
    w->env.conns = cb_conns;
    w->env.server_stats = cb_server_stats;
    w->env.stats_shmcached = cb_stats_shmcached;
    w->env.stats_reset = cb_stats_reset;
    w->env.stats_settings = cb_stats_settings;
    w->env.log_item = cb_log_item;
    w->env.watch_open = cb_watch_open;
    w->env.watch_read = cb_watch_read;
    w->env.watch_close = cb_watch_close;
    if (w->s->sasl) {
        w->env.sasl_mechs = cb_sasl_mechs;
        w->env.sasl_step = cb_sasl_step;
        w->env.sasl_free = cb_sasl_free;
    }
}

/* The connection set (served by the ring when -o io_uring starts one on
 * ev_fd), its limits, repl_sync's waits, and the "watch" log, which also
 * hears of the engine's evictions. */
static void setup_conns(struct worker *w, int ev_fd)
{
    struct worker_config *cfg = w->cfg;
    conn_set_init(&w->conns, w->loop, &w->env, w->counters, &cfg->log);
    if (ev_fd >= 0 && start_uring(w, ev_fd) == 0)
        conn_set_uring(&w->conns, &w->uring);
    w->conns.on_close = on_conn_close;
    w->conns.arg = w;
    w->conns.in_max = w->pcfg.line_max_get + w->conns.read_chunk;
    if (w->s->read_buf_mem_limit > 0)
        w->conns.mem_limit = w->s->read_buf_mem_limit / (size_t)w->s->threads;
    conn_set_sync(&w->conns, replsync_init(&w->rsync, w->s, cfg->engine,
                                           cfg->slot, cfg->state, &cfg->log));

    worker_watch_init(&w->watch, cfg->watch, w->qidx,
                      w->s->watcher_logbuf_size, &cfg->state->proto, w->loop,
                      &w->conns);
    engine_on_evict(cfg->engine, worker_watch_evicted, &w->watch);
}

/* Unblocks the signals (the master blocks them for its ppoll loop, and the
 * mask survives fork) and runs the loop until the worker stops: the ring's with -o io_uring, else libev's.
 * Returns WORKER_EXIT_OK, or WORKER_EXIT_FAILED when the ring failed
 * (logged). */
static int serve(struct worker *w)
{
    struct worker_config *cfg = w->cfg;
    int status = WORKER_EXIT_OK;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    log_info(&cfg->log, "worker %d started (pid %d, engine slot %d)",
             cfg->index, (int)getpid(), engine_worker_slot(cfg->slot));
    if (w->use_uring) {
        if (uring_run(&w->uring, &w->done) < 0) {
            log_error(&cfg->log, "worker %d: io_uring: %s; stopping",
                      cfg->index, strerror(errno));
            status = WORKER_EXIT_FAILED;
        }
    } else {
        ev_run(w->loop, 0);
    }
    return status;
}

/* Closes what the worker inherited from the master (the listeners, the UDP
 * sockets, its end of the control socket) and detaches the engine slot. */
static void release_inherited(struct worker_config *cfg)
{
    for (int i = 0; i < cfg->listeners->n; i++)
        close(cfg->listeners->l[i].fd);
    for (int i = 0; cfg->udp != NULL && i < cfg->udp->n; i++)
        close(cfg->udp->fd[i]);
    if (cfg->ctl_fd >= 0)
        close(cfg->ctl_fd);
    engine_worker_detach(cfg->slot);
    cfg->slot = NULL;
}

int worker_run(struct worker_config *cfg)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    w.set = *cfg->settings;
    w.set.verbose = cfg->log.verbose;   /* may have changed since start */
    w.s = &w.set;
    w.held_fd = -1;
    w.qidx = engine_worker_slot(cfg->slot);
    int status = WORKER_EXIT_OK;

    if (daemon_child_init(cfg->master_pid, &cfg->log) < 0) {
        log_warn(&cfg->log, "worker %d: the master is gone", cfg->index);
        goto out;
    }

    int ev_fd = -1;
    if (open_loop(&w, &ev_fd) < 0) {
        status = WORKER_EXIT_FAILED;
        goto out;
    }
    struct server_slot *ss = srvstate_slot(cfg->state, w.qidx);
    w.counters = &ss->c;
    engine_set_logger(cfg->engine, &cfg->log);
    setup_env(&w, &ss->p);
    setup_conns(&w, ev_fd);
    if (udp_server_start(&w.udp, w.loop, cfg->udp, &w.env, w.counters,
                         &cfg->log) < 0) {
        log_error(&cfg->log, "worker %d: out of memory for UDP", cfg->index);
        status = WORKER_EXIT_FAILED;
        ev_loop_destroy(w.loop);
        goto out;
    }
    setup_watchers(&w);
    status = serve(&w);
    teardown(&w);
    log_info(&cfg->log, "worker %d stopped", cfg->index);

out:
    release_inherited(cfg);
#ifdef WORKER_LEAK_CHECK
    __lsan_do_leak_check();
#endif
    return status;
}
