/*
 * repl.c - the replication process: its life, its port, its links (see
 * repl.h; sender.c and receiver.c hold the two directions).
 *
 * Life: repl_run() is the whole helper process, one libev loop. It asks
 * for SIGTERM when the master dies, keeps its node token in the region
 * (made once per region: a new region is a new node to the peer), binds
 * the replication port on the -l addresses, connects out to the peer and
 * accepts the peer's connection, until SIGTERM/SIGQUIT. A tick every
 * millisecond (200 us with repl_sync) ships what the change log holds, acknowledges what was
 * applied, and publishes the figures `stats` shows (srvstate.h).
 *
 * Invariants: the loop exists only in this process; there is at most one
 * link each way (a new connection from the peer replaces the old one);
 * every accepted fd is a link or closed before the callback returns; the
 * engine slot is detached on every way out of repl_run().
 */
#include "repl/repl.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "repl/repl_int.h"
#include "server/conn.h"
#include "server/daemon.h"

#define READ_CHUNK 65536
#define TICK 0.001              /* seconds between two looks at the log */
#define TICK_SYNC 0.0002        /* ... when clients wait for the peer */

/* ---- links --------------------------------------------------------------- */

void link_init(struct repl *r, struct link *l)
{
    memset(l, 0, sizeof(*l));
    l->r = r;
    l->fd = -1;
    buf_init(&l->in);
    buf_init(&l->out);
}

void link_close(struct link *l)
{
    if (l->fd >= 0) {
        ev_io_stop(l->r->loop, &l->rio);
        ev_io_stop(l->r->loop, &l->wio);
        close(l->fd);
    }
    l->fd = -1;
    buf_free(&l->in);
    buf_free(&l->out);
}

void link_update(struct link *l)
{
    if (l->fd < 0)
        return;
    if (l->out.len > 0 && !ev_is_active(&l->wio))
        ev_io_start(l->r->loop, &l->wio);
    else if (l->out.len == 0 && ev_is_active(&l->wio))
        ev_io_stop(l->r->loop, &l->wio);
}

int link_flush(struct link *l)
{
    size_t done = 0;
    while (done < l->out.len) {
        ssize_t n = send(l->fd, l->out.data + done, l->out.len - done,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        return -1;
    }
    buf_consume(&l->out, done);
    link_update(l);
    return 0;
}

int link_read(struct link *l)
{
    size_t max = l->r->value_max + SHMC_KEY_MAX + REPL_IN_MAX_EXTRA;
    int got = 0;
    for (int i = 0; i < 16; i++) {
        if (l->in.len >= max)
            return got;             /* the frame being read is whole */
        size_t room = max - l->in.len < READ_CHUNK ? max - l->in.len
                                                   : READ_CHUNK;
        if (buf_reserve(&l->in, room) < 0)
            return -1;
        ssize_t n = recv(l->fd, l->in.data + l->in.len, room, MSG_DONTWAIT);
        if (n > 0) {
            l->in.len += (size_t)n;
            l->last_rx = ev_now(l->r->loop);
            got = 1;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return got;
        return -1;
    }
    return got;
}

/* ---- the figures --------------------------------------------------------- */

void repl_publish(struct repl *r)
{
    struct repl_stats *st = &r->state->repl;
    struct engine_changelog_state cl;
    engine_changelog_state(r->engine, &cl);
    uint32_t out_up = r->out.st == S_COPY || r->out.st == S_LIVE;
    uint32_t in_up = r->in.st == R_LIVE || r->in.st == R_COPY;
    uint32_t s = !out_up || !in_up ? REPL_DOWN
               : r->out.st == S_COPY || r->in.st == R_COPY ? REPL_SYNCING
               : REPL_CONNECTED;
    __atomic_store_n(&st->out_up, out_up, __ATOMIC_RELAXED);
    __atomic_store_n(&st->in_up, in_up, __ATOMIC_RELAXED);
    __atomic_store_n(&st->state, s, __ATOMIC_RELEASE);
    __atomic_store_n(&st->queued_bytes, cl.head - cl.tail, __ATOMIC_RELAXED);
    __atomic_store_n(&st->queued_items, engine_changelog_pending(r->engine),
                     __ATOMIC_RELAXED);
}

/* ---- the port ------------------------------------------------------------ */

/* Is the address the peer's (any port)? */
static int from_peer(const struct repl *r, const struct sockaddr *sa)
{
    for (int i = 0; i < r->npeer; i++) {
        const struct sockaddr *p = (const struct sockaddr *)&r->peer[i];
        if (p->sa_family != sa->sa_family)
            continue;
        if (sa->sa_family == AF_INET &&
            ((const struct sockaddr_in *)p)->sin_addr.s_addr ==
            ((const struct sockaddr_in *)sa)->sin_addr.s_addr)
            return 1;
        if (sa->sa_family == AF_INET6 &&
            memcmp(&((const struct sockaddr_in6 *)p)->sin6_addr,
                   &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0)
            return 1;
    }
    return 0;
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    struct repl *r = io->data;
    for (int i = 0; i < 8; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &sl,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char addr[SHMC_ADDR_MAX];
        conn_sockname(fd, 1, addr, sizeof(addr));
        if (!from_peer(r, (struct sockaddr *)&ss)) {
            __atomic_add_fetch(&r->state->repl.refused, 1, __ATOMIC_RELAXED);
            log_warn(&r->log, "replication: refused a connection from %s "
                     "(not the peer %s)", addr, r->peer_host);
            close(fd);
            continue;
        }
        receiver_accept(r, fd, addr);
    }
}

/* The peer's addresses, for the check of who connects. 0 or -1. */
static int resolve_peer(struct repl *r)
{
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(r->peer_host, NULL, &hints, &res);
    if (rc != 0) {
        log_error(&r->log, "replication: cannot resolve the peer %s: %s",
                  r->peer_host, gai_strerror(rc));
        return -1;
    }
    r->npeer = 0;
    for (ai = res; ai != NULL && r->npeer < REPL_PEERS_MAX; ai = ai->ai_next)
        memcpy(&r->peer[r->npeer++], ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* The replication port on the -l addresses (hosts only). */
static int open_port(struct repl *r)
{
    char hosts[SETTINGS_MAX_LISTEN][SHMC_HOST_MAX];
    int n = 0;
    for (int i = 0; i < r->s->nlisten; i++) {
        int port;
        char host[SHMC_HOST_MAX];
        if (listener_split(r->s->listen[i], 0, host, sizeof(host), &port) < 0)
            continue;
        snprintf(hosts[n++], SHMC_HOST_MAX, strchr(host, ':') ? "[%s]"
                                                               : "%s",
                 host[0] ? host : "*");
    }
    struct listen_config lc = {
        .addrs = (const char (*)[SHMC_HOST_MAX])hosts, .naddrs = n,
        .port = settings_repl_port(r->s), .backlog = 16,
    };
    if (listeners_open(&r->ls, &lc, &r->log) < 0)
        return -1;
    for (int i = 0; i < r->ls.n; i++) {
        ev_io_init(&r->lio[i], on_accept, r->ls.l[i].fd, EV_READ);
        r->lio[i].data = r;
        ev_io_start(r->loop, &r->lio[i]);
    }
    return 0;
}

/* ---- life ---------------------------------------------------------------- */

static void on_tick(struct ftimer *t)
{
    struct repl *r = t->data;
    ev_now_update(r->loop);
    sender_pump(r);
    receiver_tick(r);
    repl_publish(r);
}

static void on_signal(struct ev_loop *loop, ev_signal *sw, int revents)
{
    (void)sw, (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* The node's token: made once per region. */
static void node_token(struct repl *r)
{
    struct repl_app *a = r->app;
    if (a->magic == REPL_APP_MAGIC && a->token != 0)
        return;
    memset(a, 0, sizeof(*a));
    while (a->token == 0 &&
           getrandom(&a->token, sizeof(a->token), 0) != sizeof(a->token))
        ;
    a->magic = REPL_APP_MAGIC;
}

static int setup(struct repl *r, struct helper_env *env)
{
    r->s = env->settings;
    r->engine = env->engine;
    r->w = env->slot;
    r->state = env->state;
    r->log = env->log;
    r->app = engine_app(r->engine);
    r->value_max = engine_config(r->engine)->item_size_max;
    if (listener_split(r->s->repl_peer, settings_repl_port(r->s),
                       r->peer_host, sizeof(r->peer_host),
                       &r->peer_port) < 0)
        return -1;
    node_token(r);
    link_init(r, &r->out.l);
    link_init(r, &r->in.l);
    if (resolve_peer(r) < 0)
        return -1;
    r->loop = ev_loop_new(EVFLAG_AUTO);
    if (r->loop == NULL)
        return -1;
    if (open_port(r) < 0) {
        ev_loop_destroy(r->loop);
        return -1;
    }
    return 0;
}

static void serve(struct repl *r)
{
    /* repl_sync: writers wait for the tick, so it comes more often */
    double every = r->s->repl_sync ? TICK_SYNC : TICK;
    ftimer_init(&r->tick, r->loop, on_tick, r);
    if (ftimer_start(&r->tick, every) < 0) {
        log_error(&r->log, "replication: timerfd: %s", strerror(errno));
        return;
    }
    ev_signal_init(&r->sigterm, on_signal, SIGTERM);
    ev_signal_init(&r->sigquit, on_signal, SIGQUIT);
    ev_signal_start(r->loop, &r->sigterm);
    ev_signal_start(r->loop, &r->sigquit);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    log_info(&r->log, "replication: port %d, peer %s:%d, node %016llx%s",
             settings_repl_port(r->s), r->peer_host, r->peer_port,
             (unsigned long long)r->app->token,
             r->s->repl_sync ? ", repl_sync" : "");
    sender_start(r);
    ev_run(r->loop, 0);
    sender_stop(r, NULL);
    receiver_stop(r, NULL);
    for (int i = 0; i < r->ls.n; i++)
        ev_io_stop(r->loop, &r->lio[i]);
    ftimer_close(&r->tick);
    ev_signal_stop(r->loop, &r->sigterm);
    ev_signal_stop(r->loop, &r->sigquit);
}

static int repl_run(struct helper_env *env)
{
    struct repl *r = calloc(1, sizeof(*r));
    int status = HELPER_EXIT_FAILED;
    if (daemon_child_init(env->master_pid, &env->log) == 0 && r != NULL &&
        setup(r, env) == 0) {
        serve(r);
        listeners_close(&r->ls);
        ev_loop_destroy(r->loop);
        status = HELPER_EXIT_OK;
    }
    if (r != NULL)
        __atomic_store_n(&env->state->repl.state, REPL_DOWN,
                         __ATOMIC_RELEASE);
    engine_worker_detach(env->slot);
    env->slot = NULL;
    free(r);
    return status;
}

static int repl_wanted(const struct settings *s)
{
    return s->repl_peer[0] != '\0';
}

const struct helper_def repl_helper = {
    .name = "repl",
    .wanted = repl_wanted,
    .run = repl_run,
};
