/*
 * test_ftimer.c - the timerfd timer (core/ftimer.c): it fires repeatedly
 * once started, not at all when stopped, its descriptor appears at the
 * first start and goes at close, and it can start again after a close.
 * (How much finer than libev's own timers it is belongs to `make bench`.)
 */
#include <time.h>
#include <unistd.h>

#include "core/ftimer.h"
#include "unit.h"

static int fired;

static void count(struct ftimer *t)
{
    (void)t;
    fired++;
}

/* Runs the loop until n firings or about a second. */
static void run_until(struct ev_loop *loop, int n)
{
    for (int i = 0; i < 1000 && fired < n; i++) {
        usleep(1000);
        ev_run(loop, EVRUN_NOWAIT);
    }
}

static void test_ftimer_fires_and_stops(void)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct ftimer t;
    ftimer_init(&t, loop, count, &t);
    CU_ASSERT_EQUAL(t.fd, -1);              /* no descriptor until used */
    CU_ASSERT(!ftimer_active(&t));
    fired = 0;
    CU_ASSERT_EQUAL(ftimer_start(&t, 0.0002), 0);
    CU_ASSERT(t.fd >= 0);
    CU_ASSERT(ftimer_active(&t));
    run_until(loop, 3);
    CU_ASSERT(fired >= 3);                  /* it repeats */
    ftimer_stop(&t);
    CU_ASSERT(!ftimer_active(&t));
    int before = fired;
    usleep(5000);
    ev_run(loop, EVRUN_NOWAIT);
    CU_ASSERT_EQUAL(fired, before);         /* stopped: silent */
    /* a stopped timer does not keep the loop alive */
    CU_ASSERT_EQUAL(ev_run(loop, 0), 0);
    ftimer_close(&t);
    CU_ASSERT_EQUAL(t.fd, -1);
    ftimer_close(&t);                       /* twice: harmless */
    fired = 0;
    CU_ASSERT_EQUAL(ftimer_start(&t, 0.001), 0);
    run_until(loop, 1);
    CU_ASSERT(fired >= 1);                  /* usable after a close */
    ftimer_close(&t);
    ev_loop_destroy(loop);
}

UNIT_SUITE(ftimer, NULL, NULL,
           UNIT_TEST(test_ftimer_fires_and_stops))
