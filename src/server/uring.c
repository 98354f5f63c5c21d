/*
 * uring.c - a worker's io_uring (see uring.h).
 *
 * The ring is set up with IORING_SETUP_SINGLE_ISSUER and
 * IORING_SETUP_DEFER_TASKRUN when the kernel has them (6.1+): the work that
 * turns a socket's readiness into a completion then runs only when the
 * worker enters the ring to wait, in a batch, instead of interrupting it
 * (older kernels: IORING_SETUP_COOP_TASKRUN, then nothing). The
 * completion queue has four entries per submission entry: at most two
 * operations per connection (a receive and a send) plus the libev poll
 * are in flight, and the kernel keeps overflowing completions besides.
 *
 * uring_run(), one round:
 *   1. take every completion off the ring, then call their done()s;
 *   2. run libev without blocking if its descriptor polled readable, or
 *      URING_EV_INTERVAL passed; re-arm the poll (one-shot: a poll armed
 *      on a descriptor that is already readable completes at once, so no
 *      readiness is lost between two rounds);
 *   3. the idle hook (connections that yielded get their turn);
 *   4. one io_uring_enter(): submit what was queued, and wait for one
 *      completion (at most URING_WAIT_NS), or only collect (the idle hook
 *      has more).
 */
#include "server/uring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REAP_BATCH 256

static void ev_polled(struct uring_op *op, int res)
{
    struct uring *u = (struct uring *)((char *)op -
                                       offsetof(struct uring, ev_op));
    (void)res;
    u->ev_armed = 0;
    u->ev_ready = 1;
}

struct ev_loop *uring_loop_new(int *fd)
{
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0)
        return NULL;
    close(probe);               /* the next descriptor: libev's epoll */
    struct ev_loop *loop = ev_loop_new(EVBACKEND_EPOLL);
    if (loop == NULL)
        return NULL;
    char path[64], target[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", probe);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0 || (target[n] = '\0', strcmp(target, "anon_inode:[eventpoll]"))
        || ev_backend(loop) != EVBACKEND_EPOLL) {
        ev_loop_destroy(loop);
        errno = ENOTSUP;
        return NULL;
    }
    *fd = probe;
    return loop;
}

int uring_init(struct uring *u, struct ev_loop *loop, int ev_fd,
               unsigned entries)
{
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    memset(u, 0, sizeof(*u));
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof(p));
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 4;
        rc = io_uring_queue_init_params(entries, &u->ring, &p);
        if (rc != -EINVAL)
            break;              /* EINVAL: a flag this kernel lacks */
    }
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    u->loop = loop;
    u->enters = &u->own_enters;
    u->ev_fd = ev_fd;
    u->ev_op.done = ev_polled;
    u->ev_ready = 1;            /* run libev once before the first wait */
    return 0;
}

/* A free submission entry: submits the queue when it is full. */
static struct io_uring_sqe *get_sqe(struct uring *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    for (int i = 0; sqe == NULL && i < 64; i++) {
        io_uring_submit(&u->ring);
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

/* No entry to be had (the kernel takes nothing): the op fails with
 * -EBUSY in the next reap, never inside the caller. */
static void fail_later(struct uring *u, struct uring_op *op)
{
    op->next = u->failed;
    u->failed = op;
    u->inflight++;
}

void uring_recv(struct uring *u, struct uring_op *op, int fd, void *buf,
                size_t len, int poll_first)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (sqe == NULL) {
        fail_later(u, op);
        return;
    }
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    if (poll_first)
        sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    io_uring_sqe_set_data(sqe, op);
    u->inflight++;
}

void uring_send(struct uring *u, struct uring_op *op, int fd,
                const void *buf, size_t len)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (sqe == NULL) {
        fail_later(u, op);
        return;
    }
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, op);
    u->inflight++;
}

void uring_cancel(struct uring *u, struct uring_op *op)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (sqe == NULL)
        return;                 /* the op still completes on its own */
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data(sqe, NULL);   /* its own completion is ignored */
}

/* Step 1: every completion now on the ring. Returns how many ops ended. */
static unsigned reap(struct uring *u)
{
    unsigned total = 0;
    while (u->failed != NULL) {
        struct uring_op *op = u->failed;
        u->failed = op->next;
        u->inflight--;
        op->done(op, -EBUSY);
    }
    for (int round = 0; round < 64; round++) {
        struct uring_op *ops[REAP_BATCH];
        int res[REAP_BATCH];
        unsigned head, n = 0;
        struct io_uring_cqe *cqe;
        io_uring_for_each_cqe(&u->ring, head, cqe) {
            if (n == REAP_BATCH)
                break;
            ops[n] = io_uring_cqe_get_data(cqe);
            res[n] = cqe->res;
            n++;
        }
        if (n == 0)
            break;
        io_uring_cq_advance(&u->ring, n);
        for (unsigned i = 0; i < n; i++) {
            if (ops[i] == NULL)
                continue;       /* a cancel request's own result */
            u->inflight--;
            u->completions++;
            total++;
            ops[i]->done(ops[i], res[i]);
        }
    }
    return total;
}

/* Step 2: libev's turn. */
static void run_libev(struct uring *u)
{
    ev_tstamp now = ev_time();
    if (!u->ev_ready && now - u->ev_last < URING_EV_INTERVAL)
        return;
    u->ev_ready = 0;
    u->ev_last = now;
    ev_run(u->loop, EVRUN_NOWAIT);
    if (!u->ev_armed) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe == NULL) {
            u->ev_ready = 1;    /* try again next round */
            return;
        }
        io_uring_prep_poll_add(sqe, u->ev_fd, POLLIN);
        io_uring_sqe_set_data(sqe, &u->ev_op);
        u->inflight++;
        u->ev_armed = 1;
    }
}

int uring_step(struct uring *u, int block, const volatile int *stop)
{
    reap(u);
    run_libev(u);
    if (stop != NULL && *stop)
        return 0;
    int busy = u->idle != NULL && u->idle(u->idle_arg);
    int rc;
    (*u->enters)++;
    if (busy || !block) {
        rc = io_uring_submit_and_get_events(&u->ring);
    } else {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = { 0, URING_WAIT_NS };
        rc = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
        rc != -EBUSY) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int uring_run(struct uring *u, const volatile int *stop)
{
    while (!*stop)
        if (uring_step(u, 1, stop) < 0)
            return -1;
    return 0;
}

unsigned uring_drain(struct uring *u, double seconds)
{
    if (u->ev_armed)
        uring_cancel(u, &u->ev_op);
    ev_tstamp end = ev_time() + seconds;
    reap(u);
    while (u->inflight > 0 && ev_time() < end) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = { 0, URING_WAIT_NS };
        io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
        reap(u);
    }
    return u->inflight;
}

void uring_exit(struct uring *u)
{
    io_uring_queue_exit(&u->ring);
}
