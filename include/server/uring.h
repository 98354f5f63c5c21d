/*
 * uring.h - a worker's io_uring (-o io_uring): the connections' reads and
 * sends as submissions, many connections' in one system call.
 *
 * Why: a readiness loop (epoll + libev) pays at least one read and one send
 * per request plus a share of epoll_wait. With a ring, the worker queues a
 * receive for every connection that may take input and a send for every
 * reply, and one io_uring_enter() both submits what was queued since the
 * last one and waits for completions.
 *
 * How it fits libev: the worker keeps its libev loop for everything else
 * (listeners, the control socket, UDP, signals, timers). uring_run() takes
 * the place of ev_run(): it blocks in io_uring_enter(), with a poll on
 * libev's own epoll descriptor among the submissions, and runs the libev
 * loop without blocking (EVRUN_NOWAIT) when that poll fires, and at least
 * every URING_EV_INTERVAL seconds for libev's timers (the wait in the ring
 * is bounded by URING_WAIT, so a timer is late by at most that).
 *
 * An operation is a struct uring_op embedded in its owner (a connection);
 * its done() is called once per submission, with the completion's result
 * (bytes, or -errno). The owner must keep the op and the memory the
 * operation reads or writes alive until done() was called: a cancelled
 * operation completes too (-ECANCELED, or its result if it finished
 * first).
 *
 * Invariants: the ring is created in the worker process after fork and
 * used by that process only (IORING_SETUP_SINGLE_ISSUER; the deferred
 * completion work runs only inside io_uring_enter, in uring_run's wait);
 * inflight counts the operations submitted or queued whose completion has
 * not been handled; a completion is taken off the ring before its done()
 * runs, so done() may queue, submit and cancel freely.
 */
#ifndef SHMC_URING_H
#define SHMC_URING_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <liburing.h>

#define URING_EV_INTERVAL 0.001     /* libev's timers run at least this often */
#define URING_WAIT_NS 5000000       /* longest sleep in the ring (5 ms) */

struct uring_op {
    void (*done)(struct uring_op *op, int res);
    struct uring_op *next;          /* on the failed list */
};

struct uring {
    struct io_uring ring;
    struct ev_loop *loop;
    unsigned inflight;              /* operations whose done() is due */
    uint64_t *enters;               /* io_uring_enter calls of uring_step:
                                       the caller's counter, or own_enters */
    uint64_t own_enters;
    uint64_t completions;           /* done() calls */
    int ev_fd;                      /* libev's epoll descriptor */
    struct uring_op ev_op;          /* the poll on it */
    struct uring_op *failed;        /* could not be queued: done(-EBUSY)
                                       in the next reap */
    int ev_armed, ev_ready;
    ev_tstamp ev_last;              /* when libev last ran */
    /* after each batch of completions: more work that could not wait
     * (connections that yielded). Returns 1 while some is left: the next
     * wait then does not sleep. */
    int (*idle)(void *arg);
    void *idle_arg;
};

/* A libev loop on the epoll backend whose descriptor the ring can poll
 * (libev does not tell it: the loop is created when the lowest free
 * descriptor is known, and that descriptor is checked to be an epoll
 * instance). Returns the loop with *fd set, or NULL (errno; the caller
 * creates an ordinary loop and serves without a ring). */
struct ev_loop *uring_loop_new(int *fd);

/* Creates the ring (entries submissions, 4x completions) for loop, whose
 * epoll descriptor is ev_fd (uring_loop_new). Returns 0, or -1 with errno
 * (ENOSYS: no io_uring in this kernel, EPERM: disabled by
 * kernel.io_uring_disabled, ENOMEM). */
int uring_init(struct uring *u, struct ev_loop *loop, int ev_fd,
               unsigned entries);

/* Queue one operation (submitted by the next wait of uring_run, or at once
 * when the submission queue is full). recv: at most len bytes into buf;
 * poll_first: the caller expects no data yet (a reply just went out), so
 * the kernel waits for readiness without trying the read first.
 * send: len bytes from buf (MSG_NOSIGNAL; the result may be short). */
void uring_recv(struct uring *u, struct uring_op *op, int fd, void *buf,
                size_t len, int poll_first);
void uring_send(struct uring *u, struct uring_op *op, int fd,
                const void *buf, size_t len);

/* Asks the kernel to cancel op (its done() still comes). */
void uring_cancel(struct uring *u, struct uring_op *op);

/* Serves until *stop is set (by a callback of the libev loop or of an
 * operation). Returns 0, or -1 when the ring failed (logged by the caller:
 * errno is set). */
int uring_run(struct uring *u, const volatile int *stop);

/* One round of uring_run (stop may be NULL): handles the completions
 * there are, runs libev if due, submits; block: wait for a completion
 * (at most URING_WAIT_NS), else only collect. Returns 0 or -1 (errno). */
int uring_step(struct uring *u, int block, const volatile int *stop);

/* Waits up to `seconds` for every operation in flight to complete (after
 * the owners cancelled them), handling the completions. Returns how many
 * are still in flight. */
unsigned uring_drain(struct uring *u, double seconds);

/* Frees the ring. Call after uring_drain() returned 0. */
void uring_exit(struct uring *u);

#endif
