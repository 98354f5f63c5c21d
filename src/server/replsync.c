/*
 * replsync.c - repl_sync's conn_sync for a worker (see replsync.h).
 */
#include "server/replsync.h"

#include "engine/engine.h"
#include "server/settings.h"
#include "server/srvstate.h"

#define POLL_SECONDS 0.0002     /* a look at the log's tail every 200 us */

static uint64_t rs_mark(void *arg)
{
    struct replsync *rs = arg;
    return engine_changelog_last(rs->slot);
}

static int rs_settled(void *arg, uint64_t pos)
{
    struct replsync *rs = arg;
    if (!__atomic_load_n(&rs->state->repl.out_up, __ATOMIC_ACQUIRE))
        return 1;                       /* no link: nothing to wait for */
    struct engine_changelog_state cl;
    engine_changelog_state(rs->engine, &cl);
    return cl.tail >= pos;
}

static void rs_timed_out(void *arg)
{
    struct replsync *rs = arg;
    __atomic_add_fetch(&rs->state->repl.sync_timeouts, 1, __ATOMIC_RELAXED);
    if (!rs->warned)
        log_warn(rs->log, "repl_sync: the peer did not confirm a write "
                 "within repl_sync_timeout_ms; answered anyway (counted in "
                 "STAT repl_sync_timeouts, logged once)");
    rs->warned = 1;
}

const struct conn_sync *replsync_init(struct replsync *rs,
                                      const struct settings *s,
                                      struct engine *e,
                                      struct engine_worker *slot,
                                      struct srvstate *state,
                                      const struct logger *log)
{
    rs->engine = e;
    rs->slot = slot;
    rs->state = state;
    rs->log = log;
    rs->warned = 0;
    rs->cs = (struct conn_sync){
        .mark = rs_mark, .settled = rs_settled, .timed_out = rs_timed_out,
        .timeout = s->repl_sync_timeout_ms / 1000.0, .poll = POLL_SECONDS,
        .arg = rs,
    };
    return s->repl_sync && s->repl_peer[0] ? &rs->cs : NULL;
}
