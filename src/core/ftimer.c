/*
 * ftimer.c - a repeating timer on a timerfd (see ftimer.h).
 */
#include "core/ftimer.h"

#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop, (void)revents;
    struct ftimer *t = io->data;
    uint64_t n;
    if (read(t->fd, &n, sizeof(n)) != sizeof(n))
        return;                     /* spurious: nothing expired */
    t->cb(t);
}

void ftimer_init(struct ftimer *t, struct ev_loop *loop,
                 void (*cb)(struct ftimer *t), void *data)
{
    t->loop = loop;
    t->fd = -1;
    t->cb = cb;
    t->data = data;
    ev_init(&t->io, on_readable);
    t->io.data = t;
}

static int arm(struct ftimer *t, double every)
{
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    if (every > 0) {
        long ns = (long)(every * 1e9);
        if (ns < 1000)
            ns = 1000;
        its.it_interval.tv_sec = ns / 1000000000L;
        its.it_interval.tv_nsec = ns % 1000000000L;
        its.it_value = its.it_interval;
    }
    return timerfd_settime(t->fd, 0, &its, NULL);
}

int ftimer_start(struct ftimer *t, double every)
{
    if (t->fd < 0) {
        t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (t->fd < 0)
            return -1;
        ev_io_set(&t->io, t->fd, EV_READ);
    }
    if (arm(t, every) < 0)
        return -1;
    if (!ev_is_active(&t->io))
        ev_io_start(t->loop, &t->io);
    return 0;
}

void ftimer_stop(struct ftimer *t)
{
    if (t->fd < 0)
        return;
    arm(t, 0);
    ev_io_stop(t->loop, &t->io);
}

int ftimer_active(const struct ftimer *t)
{
    return ev_is_active(&t->io);
}

void ftimer_close(struct ftimer *t)
{
    ftimer_stop(t);
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
