/*
 * console.c - the console process: its life, its HTTP listener and
 * connections (see console.h; the routes are in routes.c).
 *
 * Life: console_run() is the whole helper process. It resets the signals
 * it inherited from the master, asks to be sent SIGTERM when the master
 * dies, binds http_addr:http_port itself (a failure is logged and the
 * process exits HELPER_EXIT_FAILED: the master retries with backoff), and
 * runs one libev loop until SIGTERM/SIGQUIT. It detaches its engine slot
 * on every way out of console_run().
 *
 * Connections: at most CONSOLE_MAX_CONNS (one more is accepted and closed
 * at once); each reads into a buffer bounded by the largest request
 * (http.h), answers complete requests in order (pipelining and keep-alive
 * work), writes without blocking (reading pauses while output is pending),
 * and is closed after CONSOLE_IDLE_TIMEOUT seconds without a request. A
 * request the parser refuses gets its status (400, 405, 413, 414, 431,
 * 501, 505) and the connection closes.
 *
 * Invariants: the loop exists only in this process (created after fork);
 * every accepted fd is a struct hconn or closed before the callback
 * returns; nothing here blocks except the bounded peer queries (peer.c).
 */
#include "console/console.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

/* The console ends with _exit() in its forked process, which skips
 * LeakSanitizer's check at exit: in an ASan build it runs that check
 * itself once it has released everything (as a worker does). */
#if defined(__SANITIZE_ADDRESS__)
#define CONSOLE_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONSOLE_LEAK_CHECK 1
#endif
#endif
#ifdef CONSOLE_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

#include "console/console_int.h"
#include "engine/engine.h"
#include "server/daemon.h"
#include "server/settings.h"
#include "server/srvstate.h"

#define ACCEPTS_PER_EVENT 16
#define IN_MAX (HTTP_HEAD_MAX + HTTP_BODY_MAX + 4)
#define READ_CHUNK 8192

struct hconn {
    struct console *c;
    int fd;
    ev_io io;
    ev_timer idle;
    struct buf in, out;
    int closing;                /* close once out is sent */
    int lingering;              /* write side shut: reading to discard */
    struct hconn *prev, *next;
};

struct proc {
    struct console c;
    int lfd;
    ev_io lio;
    ev_signal sigterm, sigquit;
};

/* ---- the local server's stats, in-process --------------------------- */

static void cb_server_stats(void *arg, struct proto_server_stats *st)
{
    struct console *c = arg;
    srvstate_server_stats(c->state, c->s->maxconns, c->s->threads, st);
}

static void cb_stats_shmcached(void *arg, struct buf *out)
{
    struct console *c = arg;
    srvstate_stats_shmcached(c->state, out);
}

static void cb_stats_settings(void *arg, struct buf *out)
{
    struct console *c = arg;
    settings_stats(c->s, c->engine, &c->state->proto, out);
}

int console_local_cmd(void *arg, const char *cmd, struct buf *out,
                      char *err, size_t errlen)
{
    struct console *c = arg;
    char line[128];
    int n = snprintf(line, sizeof(line), "%s\r\n", cmd);
    struct proto_conn *pc = proto_conn_new(&c->env);
    if (pc == NULL || n < 0 || (size_t)n >= sizeof(line)) {
        snprintf(err, errlen, "out of memory");
        proto_conn_free(pc);
        return -1;
    }
    int flags = 0;
    proto_feed(pc, line, (size_t)n, out, &flags);
    proto_conn_free(pc);
    return 0;
}

/* ---- connections ------------------------------------------------------ */

static void conn_close(struct hconn *h)
{
    struct console *c = h->c;
    ev_io_stop(c->loop, &h->io);
    ev_timer_stop(c->loop, &h->idle);
    close(h->fd);
    if (h->prev)
        h->prev->next = h->next;
    else
        c->conns = h->next;
    if (h->next)
        h->next->prev = h->prev;
    buf_free(&h->in);
    buf_free(&h->out);
    c->nconns--;
    free(h);
}

/* Frames a handler's reply as an HTTP response. */
static void respond(struct hconn *h, const struct http_req *r,
                    struct reply *rep)
{
    int keep = r != NULL && r->keep_alive && !h->closing;
    if (http_respond(&h->out, rep->status, rep->ctype, rep->body.data,
                     rep->body.len, keep, rep->extra) < 0 || !keep)
        h->closing = 1;
}

/* Answers every complete request in h->in. */
static void serve(struct hconn *h)
{
    while (!h->closing && h->in.len > 0) {
        struct http_req r;
        long n = http_parse(h->in.data, h->in.len, &r);
        if (n == 0)
            return;
        struct reply rep = { .status = 200 };
        buf_init(&rep.body);
        if (n < 0) {
            h->closing = 1;
            reply_error(&rep, (int)-n, http_reason((int)-n));
            respond(h, NULL, &rep);
            buf_free(&rep.body);
            h->in.len = 0;
            return;
        }
        console_route(h->c, &r, &rep);
        respond(h, &r, &rep);
        buf_free(&rep.body);
        buf_consume(&h->in, (size_t)n);
    }
}

/* Sends what it can; returns -1 when the connection is gone. */
static int flush_out(struct hconn *h)
{
    while (h->out.len > 0) {
        ssize_t w = send(h->fd, h->out.data, h->out.len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w <= 0)
            return -1;
        buf_consume(&h->out, (size_t)w);
    }
    buf_reset(&h->out, READ_CHUNK);
    return 0;
}

static int read_in(struct hconn *h)
{
    if (h->in.len >= IN_MAX)
        return 0;               /* the parser answers 431/413 */
    if (buf_reserve(&h->in, READ_CHUNK) < 0)
        return -1;
    size_t room = h->in.cap - h->in.len;
    if (room > IN_MAX - h->in.len)
        room = IN_MAX - h->in.len;
    ssize_t n = recv(h->fd, h->in.data + h->in.len, room, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0)
        return -1;
    h->in.len += (size_t)n;
    return 1;
}

/* The answer is out but the client may still be sending (a refused
 * request): closing now would reset the connection and could destroy the
 * answer in flight. Shut the write side, discard what comes, close at EOF
 * or after LINGER seconds. */
#define LINGER 2.0
static void linger(struct ev_loop *loop, struct hconn *h)
{
    char sink[4096];
    if (!h->lingering) {
        h->lingering = 1;
        shutdown(h->fd, SHUT_WR);
        h->idle.repeat = LINGER;
        ev_timer_again(loop, &h->idle);
        ev_io_stop(loop, &h->io);
        ev_io_set(&h->io, h->fd, EV_READ);
        ev_io_start(loop, &h->io);
    }
    for (;;) {
        ssize_t n = recv(h->fd, sink, sizeof(sink), 0);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
                      errno == EINTR))
            return;
        conn_close(h);
        return;
    }
}

static void on_conn(struct ev_loop *loop, ev_io *io, int revents)
{
    struct hconn *h = io->data;
    if (h->lingering) {
        linger(loop, h);
        return;
    }
    if (revents & EV_READ) {
        if (read_in(h) < 0) {
            conn_close(h);
            return;
        }
        serve(h);
        ev_timer_again(loop, &h->idle);
    }
    if (flush_out(h) < 0) {
        conn_close(h);
        return;
    }
    if (h->closing && h->out.len == 0) {
        linger(loop, h);
        return;
    }
    int want = h->out.len > 0 ? EV_WRITE : EV_READ;
    if ((io->events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, io);
        ev_io_set(io, h->fd, want);
        ev_io_start(loop, io);
    }
}

static void on_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    conn_close(t->data);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct proc *p = io->data;
    struct console *c = &p->c;
    (void)revents;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn(&c->log, "console: accept: %s", strerror(errno));
            return;
        }
        struct hconn *h = NULL;
        if (c->nconns >= CONSOLE_MAX_CONNS ||
            (h = calloc(1, sizeof(*h))) == NULL) {
            close(fd);
            continue;
        }
        h->c = c;
        h->fd = fd;
        buf_init(&h->in);
        buf_init(&h->out);
        ev_io_init(&h->io, on_conn, fd, EV_READ);
        h->io.data = h;
        ev_init(&h->idle, on_idle);
        h->idle.repeat = CONSOLE_IDLE_TIMEOUT;
        h->idle.data = h;
        ev_io_start(loop, &h->io);
        ev_timer_again(loop, &h->idle);
        h->next = c->conns;
        if (c->conns)
            c->conns->prev = h;
        c->conns = h;
        c->nconns++;
    }
}

/* ---- process life ------------------------------------------------------ */

/* Binds http_addr:http_port. Returns the listening fd or -1 (logged). */
static int listen_http(const struct settings *s, const struct logger *lg)
{
    struct addrinfo hints, *res = NULL;
    char port[16], host[SHMC_HOST_MAX];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", s->http_port);
    snprintf(host, sizeof(host), "%s", s->http_addr);
    size_t hl = strlen(host);       /* "[::1]" -> "::1" */
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        log_error(lg, "console: http_addr %s: %s", s->http_addr,
                  gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        log_error(lg, "console: failed to listen on %s port %d: %s",
                  s->http_addr, s->http_port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void on_signal(struct ev_loop *loop, ev_signal *sw, int revents)
{
    (void)sw;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

static void setup_env(struct console *c)
{
    settings_proto_config(c->s, &c->pcfg);
    c->env.engine = c->engine;
    c->env.worker = c->slot;
    c->env.cfg = &c->pcfg;
    c->env.counters = &srvstate_slot(c->state,
                                     engine_worker_slot(c->slot))->p;
    c->env.shared = &c->state->proto;
    c->env.arg = c;
    c->env.server_stats = cb_server_stats;
    c->env.stats_shmcached = cb_stats_shmcached;
    c->env.stats_settings = cb_stats_settings;
}

static void serve_loop(struct proc *p)
{
    struct console *c = &p->c;
    ev_io_init(&p->lio, on_accept, p->lfd, EV_READ);
    p->lio.data = p;
    ev_io_start(c->loop, &p->lio);
    ev_signal_init(&p->sigterm, on_signal, SIGTERM);
    ev_signal_init(&p->sigquit, on_signal, SIGQUIT);
    ev_signal_start(c->loop, &p->sigterm);
    ev_signal_start(c->loop, &p->sigquit);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    log_info(&c->log, "console: serving http://%s:%d/ (pid %d%s)",
             c->s->http_addr, c->s->http_port, (int)getpid(),
             c->s->http_write ? ", http_write" : ", read-only");
    ev_run(c->loop, 0);
    while (c->conns != NULL)
        conn_close(c->conns);
    ev_io_stop(c->loop, &p->lio);
    ev_signal_stop(c->loop, &p->sigterm);
    ev_signal_stop(c->loop, &p->sigquit);
}

static int console_run(struct helper_env *env)
{
    struct proc *p = calloc(1, sizeof(*p));
    int status = HELPER_EXIT_FAILED;
    if (daemon_child_init(env->master_pid, &env->log) < 0 || p == NULL)
        goto out;
    struct console *c = &p->c;
    c->s = env->settings;
    c->engine = env->engine;
    c->slot = env->slot;
    c->state = env->state;
    c->log = env->log;
    setup_env(c);
    p->lfd = listen_http(c->s, &c->log);
    if (p->lfd < 0)
        goto out;
    c->loop = ev_loop_new(EVFLAG_AUTO);
    if (c->loop == NULL) {
        log_error(&c->log, "console: ev_loop_new failed");
        close(p->lfd);
        goto out;
    }
    serve_loop(p);
    ev_loop_destroy(c->loop);
    close(p->lfd);
    status = HELPER_EXIT_OK;
out:
    engine_worker_detach(env->slot);
    env->slot = NULL;
    free(p);
#ifdef CONSOLE_LEAK_CHECK
    __lsan_do_leak_check();
#endif
    return status;
}

static int console_wanted(const struct settings *s)
{
    return s->http_port != 0;
}

const struct helper_def console_helper = {
    .name = "console",
    .wanted = console_wanted,
    .run = console_run,
};
