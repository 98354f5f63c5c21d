/*
 * receiver.c - the peer's changes to this node (see repl.h).
 *
 * States: HELLO (accepted; waiting for the peer to say who it is) -> LIVE
 * (applying its changes) <-> COPY (a full copy is coming: every item was
 * unmarked at its start; what it sends is marked; at its end what it did
 * not confirm and came from the peer is removed).
 *
 * Where we are in the peer's log is kept in the region (struct repl_app):
 * `applied` moves after each change is applied, so a crash of this process
 * at any point re-applies at most the changes after it, which is harmless
 * (a version applied twice is refused the second time). During a copy the
 * kept position is void (peer_token 0): a copy that did not finish must be
 * done again, not resumed.
 *
 * Invariants: positions of changes only increase on a link (anything else
 * drops it); a frame is applied whole or not at all (wire.c decodes it
 * whole first); nothing applied is logged again (engine_apply).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <stdio.h>
#include <unistd.h>

#include "repl/repl_int.h"
#include "repl/wire.h"

#define SWEEP_BUCKETS 4096

static void on_io(struct ev_loop *loop, ev_io *io, int revents);

void receiver_stop(struct repl *r, const char *why)
{
    struct receiver *in = &r->in;
    if (in->l.fd >= 0 && why != NULL) {
        log_warn(&r->log, "replication: the link from the peer %s is "
                 "down: %s", in->l.addr, why);
        __atomic_add_fetch(&r->state->repl.link_downs, 1, __ATOMIC_RELAXED);
    }
    link_close(&in->l);
    in->st = R_NONE;
    repl_publish(r);
}

void receiver_accept(struct repl *r, int fd, const char *addr)
{
    struct receiver *in = &r->in;
    if (in->l.fd >= 0)
        receiver_stop(r, "the peer connected again");
    link_init(r, &in->l);
    in->l.fd = fd;
    snprintf(in->l.addr, sizeof(in->l.addr), "%s", addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev_io_init(&in->l.rio, on_io, fd, EV_READ);
    ev_io_init(&in->l.wio, on_io, fd, EV_WRITE);
    in->l.rio.data = in->l.wio.data = r;
    ev_io_start(r->loop, &in->l.rio);
    in->l.last_rx = ev_now(r->loop);
    in->st = R_HELLO;
    in->since_ack = 0;
}

/* Acknowledges what is applied. */
static void send_ack(struct repl *r)
{
    struct receiver *in = &r->in;
    struct wire_frame f = { .type = W_ACK, .pos = in->applied };
    if (in->applied == WIRE_NONE || wire_put(&in->l.out, &f) < 0)
        return;
    in->since_ack = 0;
    link_update(&in->l);
}

/* HELLO: who the peer is; WELCOME: how far we applied its log. */
static int hello(struct repl *r, const struct wire_frame *f)
{
    struct receiver *in = &r->in;
    struct repl_app *a = r->app;
    if (f->token == a->token) {
        log_error(&r->log, "replication: %s is this node itself (-x names "
                  "this server)", in->l.addr);
        return -1;
    }
    in->peer_token = f->token;
    in->applied = a->peer_token == f->token ? a->applied : WIRE_NONE;
    struct wire_frame w = { .type = W_WELCOME, .token = a->token,
                            .pos = in->applied };
    if (wire_put(&in->l.out, &w) < 0)
        return -1;
    link_update(&in->l);
    in->st = R_LIVE;
    log_info(&r->log, "replication: the peer %s (node %016llx) is in%s",
             in->l.addr, (unsigned long long)f->token,
             in->applied == WIRE_NONE ? "; it will send a full copy" : "");
    repl_publish(r);
    return 0;
}

/* Runs an engine sweep (unmark, purge) over every bucket. 0 or -1. */
static int sweep(struct repl *r, int purge)
{
    uint64_t cursor = 0;
    while (cursor != ENGINE_WALK_END) {
        long n = purge ? engine_purge(r->w, 0, &cursor, SWEEP_BUCKETS)
                       : engine_unmark(r->w, &cursor, SWEEP_BUCKETS);
        if (n < 0)
            return -1;
    }
    return 0;
}

static int copy_begin(struct repl *r, const struct wire_frame *f)
{
    struct receiver *in = &r->in;
    __atomic_store_n(&r->app->peer_token, 0, __ATOMIC_RELEASE);
    if (sweep(r, 0) < 0)
        return -1;
    in->applied = f->pos;
    in->copy_items = 0;
    in->st = R_COPY;
    __atomic_add_fetch(&r->state->repl.copies_received, 1,
                       __ATOMIC_RELAXED);
    log_warn(&r->log, "replication: receiving a full copy from %s",
             in->l.addr);
    repl_publish(r);
    return 0;
}

static int copy_end(struct repl *r, const struct wire_frame *f)
{
    struct receiver *in = &r->in;
    if (sweep(r, 1) < 0)
        return -1;
    r->app->applied = in->applied;
    __atomic_store_n(&r->app->peer_token, in->peer_token, __ATOMIC_RELEASE);
    in->st = R_LIVE;
    log_warn(&r->log, "replication: full copy received (%llu items, %llu "
             "sent)", (unsigned long long)in->copy_items,
             (unsigned long long)f->items);
    repl_publish(r);
    return 0;
}

/* A SET or DEL. 0, or -1 (the cache cannot take changes: drop the link). */
static int apply(struct repl *r, const struct wire_frame *f)
{
    struct receiver *in = &r->in;
    struct engine_remote c = {
        .key = f->key, .nkey = f->nkey, .del = f->type == W_DEL,
        .version = f->version, .flags = f->flags, .exptime = f->exptime,
        .stime = f->stime, .value = f->value, .nbytes = f->nbytes,
        .ours = f->ours, .peer_wins_ties = repl_peer_wins_ties(r,
                                                             in->peer_token),
        .mark = in->st == R_COPY,
    };
    enum engine_status rc = engine_apply(r->w, &c);
    if (rc == ENGINE_ERROR)
        return -1;
    if (rc == ENGINE_NO_MEMORY || rc == ENGINE_TOO_LARGE) {
        __atomic_add_fetch(&r->state->repl.apply_failed, 1,
                           __ATOMIC_RELAXED);
        if (!in->warned_full)
            log_warn(&r->log, "replication: a change from the peer did not "
                     "fit in this cache (%s); it is not here",
                     rc == ENGINE_TOO_LARGE ? "too large" : "out of memory");
        in->warned_full = 1;
    }
    if (in->st == R_COPY && f->pos == 0)
        in->copy_items++;
    __atomic_add_fetch(&r->state->repl.applied, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&r->state->repl.applied_bytes, f->nbytes,
                       __ATOMIC_RELAXED);
    return 0;
}

/* A change's position: after the last one, or part of a copy (0, only
 * while copying). 0 or -1. */
static int check_pos(const struct receiver *in, const struct wire_frame *f)
{
    if (f->pos == 0)
        return in->st == R_COPY && f->type != W_FLUSH ? 0 : -1;
    return in->applied == WIRE_NONE || f->pos > in->applied ? 0 : -1;
}

/* One frame. 0, or -1 with *why set. */
static int frame(struct repl *r, const struct wire_frame *f, const char **why)
{
    struct receiver *in = &r->in;
    *why = "an unexpected frame";
    if (in->st == R_HELLO)
        return f->type == W_HELLO ? hello(r, f) : -1;
    switch (f->type) {
    case W_SET: case W_DEL: case W_FLUSH:
        if (check_pos(in, f) < 0 || (in->applied == WIRE_NONE &&
                                     in->st != R_COPY))
            return -1;
        if (f->type == W_FLUSH)
            engine_apply_flush(r->w, f->oldest_live, f->version);
        else if (apply(r, f) < 0) {
            *why = "a lock is unusable";
            return -1;
        }
        break;
    case W_PING:
        if (in->applied != WIRE_NONE && f->pos < in->applied)
            return -1;
        in->since_ack = REPL_ACK_EVERY;     /* answer every ping */
        break;
    case W_COPY_BEGIN:
        if (in->st == R_HELLO)
            return -1;
        *why = "a lock is unusable";
        return copy_begin(r, f);
    case W_COPY_END:
        if (in->st != R_COPY)
            return -1;
        *why = "a lock is unusable";
        return copy_end(r, f);
    default:
        return -1;
    }
    if (f->pos != 0 && in->applied != WIRE_NONE) {
        in->applied = f->pos;
        if (in->st == R_LIVE)
            r->app->applied = f->pos;
    }
    if (++in->since_ack >= REPL_ACK_EVERY)
        send_ack(r);
    return 0;
}

void receiver_on_read(struct repl *r)
{
    struct receiver *in = &r->in;
    int rc = link_read(&in->l);
    size_t used = 0;
    struct wire_frame f;
    while (in->st != R_NONE) {
        const char *why;
        long n = wire_get(in->l.in.data + used, in->l.in.len - used,
                          r->value_max, &f);
        if (n == 0)
            break;
        if (n < 0) {
            receiver_stop(r, "a malformed frame");
            return;
        }
        used += (size_t)n;
        if (frame(r, &f, &why) < 0) {
            receiver_stop(r, why);
            return;
        }
    }
    buf_consume(&in->l.in, used);
    if (in->since_ack > 0 && in->st != R_HELLO)
        send_ack(r);                    /* what a batch applied, at once */
    if (rc < 0) {
        receiver_stop(r, "the peer closed the link");
        return;
    }
    if (link_flush(&in->l) < 0)
        receiver_stop(r, strerror(errno));
}

void receiver_tick(struct repl *r)
{
    struct receiver *in = &r->in;
    if (in->st == R_NONE)
        return;
    if (ev_now(r->loop) - in->l.last_rx > REPL_TIMEOUT(r)) {
        receiver_stop(r, "the peer is silent");
        return;
    }
    if (in->st != R_HELLO && in->since_ack > 0 &&
        in->applied != WIRE_NONE)
        send_ack(r);
    if (link_flush(&in->l) < 0)
        receiver_stop(r, strerror(errno));
}

static void on_io(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    struct repl *r = io->data;
    if (revents & EV_READ)
        receiver_on_read(r);
    if (r->in.st != R_NONE && (revents & EV_WRITE) &&
        link_flush(&r->in.l) < 0)
        receiver_stop(r, strerror(errno));
}
