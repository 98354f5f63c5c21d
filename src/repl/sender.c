/*
 * sender.c - this node's changes to the peer (see repl.h).
 *
 * States: DOWN (a retry is due) -> CONNECTING (non-blocking connect) ->
 * HELLO (said who we are; waiting for how far the peer has applied our log)
 * -> LIVE (shipping the log) or COPY (a full copy first, the log's new
 * changes shipped in between) -> LIVE.
 *
 * A log record names a key; what is shipped is the key's state when it is
 * shipped (the item, or its deletion if it is gone and the record was a
 * deletion), at the record's position. A record whose key is gone for
 * another reason (expired, evicted: local matters) ships as a PING at its
 * position, so that the peer's acknowledgments still pass it. The log is
 * released up to what the peer acknowledges, never further: what it has
 * not applied stays in the region until it has.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "repl/repl_int.h"
#include "repl/wire.h"

#define COPY_BUCKETS 1024       /* buckets walked per step */
#define COPY_SLICE 0.0005       /* seconds of copying per tick (1 ms) */
#define PING_EVERY 0.1          /* seconds idle between two PINGs */
#define RETRY_MIN 0.2
#define RETRY_MAX 2.0

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec /
                      1000000);
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents);

static void schedule_retry(struct repl *r)
{
    struct sender *s = &r->out;
    double after = s->retry.repeat < RETRY_MIN ? RETRY_MIN
                 : s->retry.repeat * 2 > RETRY_MAX ? RETRY_MAX
                 : s->retry.repeat * 2;
    ev_timer_stop(r->loop, &s->retry);
    ev_timer_set(&s->retry, after, after);
    ev_timer_start(r->loop, &s->retry);
}

void sender_stop(struct repl *r, const char *why)
{
    struct sender *s = &r->out;
    if (why != NULL && s->st >= S_HELLO) {
        log_warn(&r->log, "replication: the link to the peer %s is down: "
                 "%s", s->l.addr, why);
        __atomic_add_fetch(&r->state->repl.link_downs, 1, __ATOMIC_RELAXED);
    }
    link_close(&s->l);
    s->st = S_DOWN;
    if (why != NULL)
        schedule_retry(r);
    else
        ev_timer_stop(r->loop, &s->retry);
    repl_publish(r);
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop, (void)revents;
    struct repl *r = t->data;
    ev_timer_stop(r->loop, t);
    sender_start(r);
}

/* A non-blocking connect to the peer's replication port. */
static int connect_peer(struct repl *r)
{
    struct addrinfo hints, *res;
    char port[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", r->peer_port);
    if (getaddrinfo(r->peer_host, port, &hints, &res) != 0)
        return -1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fd;
}

void sender_start(struct repl *r)
{
    struct sender *s = &r->out;
    if (s->retry.cb == NULL) {
        ev_init(&s->retry, on_retry);
        s->retry.data = r;
    }
    link_init(r, &s->l);
    s->l.fd = connect_peer(r);
    if (s->l.fd < 0) {
        s->st = S_DOWN;
        schedule_retry(r);
        return;
    }
    snprintf(s->l.addr, sizeof(s->l.addr), "%s:%d", r->peer_host,
             r->peer_port);
    ev_io_init(&s->l.rio, on_io, s->l.fd, EV_READ);
    ev_io_init(&s->l.wio, on_io, s->l.fd, EV_WRITE);
    s->l.rio.data = s->l.wio.data = r;
    ev_io_start(r->loop, &s->l.wio);    /* writable: connected */
    s->st = S_CONNECTING;
    s->l.last_rx = ev_now(r->loop);
}

/* Connected (or failed): says HELLO. */
static void connected(struct repl *r)
{
    struct sender *s = &r->out;
    int err = 0;
    socklen_t el = sizeof(err);
    getsockopt(s->l.fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) {
        link_close(&s->l);
        s->st = S_DOWN;
        schedule_retry(r);
        return;
    }
    struct wire_frame f = { .type = W_HELLO, .token = r->app->token };
    ev_io_start(r->loop, &s->l.rio);
    s->st = S_HELLO;
    s->l.last_rx = ev_now(r->loop);
    if (wire_put(&s->l.out, &f) < 0 || link_flush(&s->l) < 0)
        sender_stop(r, "cannot send");
}

/* ---- what is shipped ----------------------------------------------------- */

struct shipping {
    struct buf *out;
    uint64_t pos;
    int err;
};

/* Under the key's stripe: the item as a SET frame. */
static void ship_item(void *arg, const struct engine_item_info *info)
{
    struct shipping *sh = arg;
    struct wire_frame f = {
        .type = W_SET, .pos = sh->pos, .version = info->version,
        .flags = info->flags, .exptime = info->exptime, .stime = info->stime,
        .ours = info->from_peer, .nkey = info->nkey, .key = info->key,
        .nbytes = info->nbytes, .value = NULL,
    };
    /* the value goes straight from the item into the frame */
    if (wire_put(sh->out, &f) < 0 || buf_reserve(sh->out, info->nbytes) < 0) {
        sh->err = 1;
        return;
    }
    engine_value_copy(info, 0, info->nbytes, sh->out->data + sh->out->len);
    sh->out->len += info->nbytes;
}

/* One log record, as its key's state now. 0, or -1 (no memory). */
static int ship_change(struct repl *r, const struct engine_change *c)
{
    struct sender *s = &r->out;
    struct shipping sh = { &s->l.out, c->end, 0 };
    struct wire_frame f = { .pos = c->end };
    size_t before = s->l.out.len;
    if (c->op == ENGINE_CHANGE_FLUSH) {
        f.type = W_FLUSH;
        f.oldest_live = c->oldest_live;
        f.version = c->oldest_cas;
    } else if (engine_peek(r->w, c->key, c->nkey, ship_item, &sh) ==
               ENGINE_OK) {
        f.type = 0;                     /* shipped by ship_item */
    } else if (c->op == ENGINE_CHANGE_DEL) {
        f.type = W_DEL;
        f.version = c->version;
        f.key = c->key;
        f.nkey = c->nkey;
    } else {
        f.type = W_PING;                /* gone: nothing to say but where */
    }
    if (sh.err || (f.type != 0 && wire_put(&s->l.out, &f) < 0))
        return -1;
    s->last_sent_pos = c->end;
    s->last_ms = c->ms;
    __atomic_add_fetch(&r->state->repl.sent, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->state->repl.sent_bytes, s->l.out.len - before,
                       __ATOMIC_RELAXED);
    return 0;
}

/* A full copy from the log's present position on. */
static void begin_copy(struct repl *r)
{
    struct sender *s = &r->out;
    s->pos = engine_changelog_restart(r->w);
    struct wire_frame f = { .type = W_COPY_BEGIN, .pos = s->pos };
    s->st = S_COPY;
    s->copy_cursor = 0;
    s->copy_deletions = 0;
    s->copy_items = 0;
    __atomic_add_fetch(&r->state->repl.copies_sent, 1, __ATOMIC_RELAXED);
    log_warn(&r->log, "replication: sending the peer a full copy");
    if (wire_put(&s->l.out, &f) < 0)
        sender_stop(r, "out of memory");
}

static int copy_one(void *arg, const struct engine_item_info *info,
                    uint32_t last_access)
{
    struct repl *r = arg;
    struct shipping sh = { &r->out.l.out, 0, 0 };
    (void)last_access;
    ship_item(&sh, info);
    r->out.copy_items++;
    return sh.err || r->out.l.out.len >= REPL_OUT_HIGH;
}

/* A deletion the copy tells the peer of. */
static void copy_deletion(void *arg, const char *key, size_t nkey,
                          uint64_t version)
{
    struct repl *r = arg;
    struct wire_frame f = { .type = W_DEL, .version = version, .key = key,
                            .nkey = nkey };
    wire_put(&r->out.l.out, &f);
}

static void copy_some(struct repl *r)
{
    struct sender *s = &r->out;
    long rc = s->copy_deletions
        ? engine_walk_deletions(r->w, &s->copy_cursor, COPY_BUCKETS / 8,
                                copy_deletion, r)
        : engine_walk(r->w, &s->copy_cursor, COPY_BUCKETS, copy_one, r);
    if (rc < 0) {
        sender_stop(r, "a lock is unusable");
        return;
    }
    if (s->copy_cursor != ENGINE_WALK_END)
        return;
    if (!s->copy_deletions) {           /* the items are out: deletions */
        s->copy_deletions = 1;
        s->copy_cursor = 0;
        return;
    }
    struct wire_frame f = { .type = W_COPY_END, .items = s->copy_items };
    __atomic_store_n(&r->state->repl.copy_items, s->copy_items,
                     __ATOMIC_RELAXED);
    log_warn(&r->log, "replication: full copy sent (%llu items)",
             (unsigned long long)s->copy_items);
    s->st = S_LIVE;
    if (wire_put(&s->l.out, &f) < 0)
        sender_stop(r, "out of memory");
}

/* Ships log records while there is room. 0, or -1 (a copy is needed). */
static int stream_some(struct repl *r)
{
    struct sender *s = &r->out;
    struct engine_changelog_state cl;
    struct engine_change c;
    engine_changelog_state(r->engine, &cl);
    if (cl.dropped > 0)
        return -1;                      /* changes were lost: copy all */
    while (s->l.out.len < REPL_OUT_HIGH) {
        int rc = engine_changelog_read(r->engine, &s->pos, &c);
        if (rc <= 0)
            return rc;
        if (ship_change(r, &c) < 0) {
            sender_stop(r, "out of memory");
            return 0;
        }
    }
    return 0;
}

void sender_pump(struct repl *r)
{
    struct sender *s = &r->out;
    double now = ev_now(r->loop);
    if (s->st >= S_CONNECTING && now - s->l.last_rx > REPL_TIMEOUT(r)) {
        sender_stop(r, s->st == S_CONNECTING ? "cannot connect"
                                             : "the peer is silent");
        return;
    }
    if (s->st != S_COPY && s->st != S_LIVE)
        return;
    /* a copy takes up to COPY_SLICE of each tick, while the link takes it */
    ev_tstamp until = ev_time() + COPY_SLICE;
    while (s->st == S_COPY && s->l.out.len < REPL_OUT_HIGH &&
           ev_time() < until) {
        copy_some(r);
        if (s->st >= S_HELLO && link_flush(&s->l) < 0) {
            sender_stop(r, strerror(errno));
            return;
        }
    }
    if ((s->st == S_COPY || s->st == S_LIVE) && stream_some(r) < 0)
        begin_copy(r);
    if (s->st >= S_COPY && s->l.out.len == 0 && now >= s->next_ping) {
        struct engine_changelog_state cl;
        engine_changelog_state(r->engine, &cl);
        struct wire_frame f = { .type = W_PING, .pos = s->pos };
        wire_put(&s->l.out, &f);
        s->next_ping = now + PING_EVERY;
    }
    if (s->st >= S_HELLO && link_flush(&s->l) < 0)
        sender_stop(r, strerror(errno));
}

/* ---- what the peer says -------------------------------------------------- */

/* WELCOME: resume where the peer is, if the log still holds it. */
static void welcome(struct repl *r, const struct wire_frame *f)
{
    struct sender *s = &r->out;
    struct engine_changelog_state cl;
    engine_changelog_state(r->engine, &cl);
    if (f->pos != WIRE_NONE && cl.dropped == 0 && f->pos >= cl.tail &&
        f->pos <= cl.head) {
        engine_changelog_release(r->engine, f->pos);
        s->pos = f->pos;
        s->st = S_LIVE;
        log_info(&r->log, "replication: the peer %s is %llu bytes of log "
                 "behind; catching up", s->l.addr,
                 (unsigned long long)(cl.head - f->pos));
    } else {
        begin_copy(r);
    }
    repl_publish(r);
}

static void ack(struct repl *r, uint64_t pos)
{
    struct sender *s = &r->out;
    engine_changelog_release(r->engine, pos);
    if (pos >= s->last_sent_pos && s->last_ms != 0) {
        uint32_t lag = now_ms() - s->last_ms;
        __atomic_store_n(&r->state->repl.lag_ms, (uint64_t)lag,
                         __ATOMIC_RELAXED);
        s->last_ms = 0;                 /* measured: until the next one */
    }
}

void sender_on_read(struct repl *r)
{
    struct sender *s = &r->out;
    struct wire_frame f;
    size_t used = 0;
    if (link_read(&s->l) < 0) {
        sender_stop(r, "the peer closed the link");
        return;
    }
    for (;;) {
        long n = wire_get(s->l.in.data + used, s->l.in.len - used, 0, &f);
        if (n == 0)
            break;
        if (n < 0 || (s->st == S_HELLO) != (f.type == W_WELCOME) ||
            (f.type != W_WELCOME && f.type != W_ACK)) {
            sender_stop(r, "a malformed or unexpected frame");
            return;
        }
        used += (size_t)n;
        if (f.type == W_WELCOME)
            welcome(r, &f);
        else
            ack(r, f.pos);
        if (s->st == S_DOWN)
            return;
    }
    buf_consume(&s->l.in, used);
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    struct repl *r = io->data;
    struct sender *s = &r->out;
    if (s->st == S_CONNECTING) {
        if (revents & EV_WRITE)
            connected(r);
        return;
    }
    if (revents & EV_READ)
        sender_on_read(r);
    if (s->st != S_DOWN && (revents & EV_WRITE) && link_flush(&s->l) < 0)
        sender_stop(r, strerror(errno));
}
