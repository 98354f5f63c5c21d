/*
 * ftimer.h - a repeating timer finer than libev's epoll backend allows.
 *
 * libev's epoll backend sleeps in whole milliseconds (epoll_wait's
 * timeout), so an ev_timer of 200 us fires about every millisecond. A
 * timerfd has nanosecond resolution and wakes epoll by becoming readable:
 * an ftimer is an ev_io on one. Used where a client waits on another
 * process (repl_sync's waits, the replication tick) and a millisecond per
 * wait is the whole cost.
 *
 * Invariants: the timerfd exists from ftimer_start() to ftimer_close();
 * the callback runs once per readable event however many intervals
 * passed; a stopped timer neither fires nor holds the loop alive.
 */
#ifndef SHMC_CORE_FTIMER_H
#define SHMC_CORE_FTIMER_H

#include <ev.h>

struct ftimer {
    ev_io io;
    struct ev_loop *loop;
    int fd;                         /* -1 until first started */
    void (*cb)(struct ftimer *t);
    void *data;                     /* the caller's */
};

void ftimer_init(struct ftimer *t, struct ev_loop *loop,
                 void (*cb)(struct ftimer *t), void *data);
/* Fires every `every` seconds from now on. 0, or -1 (no timerfd: errno). */
int ftimer_start(struct ftimer *t, double every);
void ftimer_stop(struct ftimer *t);
int ftimer_active(const struct ftimer *t);
/* Stops it and closes its descriptor. */
void ftimer_close(struct ftimer *t);

#endif
