/*
 * srvstate.c - the server's shared state block (see srvstate.h).
 *
 * One anonymous MAP_SHARED mapping, created by the master before it forks:
 * every worker and helper process forked afterwards sees the same bytes.
 */
#include "server/srvstate.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct srvstate *srvstate_create(void)
{
    struct srvstate *st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (st == MAP_FAILED)
        return NULL;
    memset(st, 0, sizeof(*st));
    st->info.started = (int64_t)time(NULL);
    st->info.master_pid = (int32_t)getpid();
    return st;
}

void srvstate_destroy(struct srvstate *st)
{
    if (st != NULL)
        munmap(st, sizeof(*st));
}

void srvstate_slot_dead(struct srvstate *st, int slot)
{
    if (slot >= 0 && slot < ENGINE_MAX_SLOTS)
        __atomic_store_n(&st->slot[slot].c.curr_connections, 0,
                         __ATOMIC_RELAXED);
}

void srvstate_sum(const struct srvstate *st, struct server_counters *sum,
                  struct proto_counters *auth)
{
    memset(sum, 0, sizeof(*sum));
    memset(auth, 0, sizeof(*auth));
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        const struct server_slot *s = &st->slot[i];
#define X(name) sum->name += __atomic_load_n(&s->c.name, __ATOMIC_RELAXED);
        SERVER_COUNTERS(X)
#undef X
        auth->auth_cmds += __atomic_load_n(&s->p.auth_cmds, __ATOMIC_RELAXED);
        auth->auth_errors += __atomic_load_n(&s->p.auth_errors,
                                             __ATOMIC_RELAXED);
    }
}

void srvstate_reset(struct srvstate *st)
{
    for (int i = 0; i < ENGINE_MAX_SLOTS; i++) {
        struct server_slot *s = &st->slot[i];
        uint64_t conns = s->c.curr_connections;
        memset(&s->c, 0, sizeof(s->c));
        memset(&s->p, 0, sizeof(s->p));
        s->c.curr_connections = conns;   /* a gauge, not a counter */
    }
}
