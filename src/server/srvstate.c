/*
 * srvstate.c - the server's shared state block (see srvstate.h).
 *
 * One anonymous MAP_SHARED mapping, created by the master before it forks:
 * every worker and helper process forked afterwards sees the same bytes.
 */
#include "server/srvstate.h"

#include <string.h>

#include "core/buf.h"
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
        auth->response_obj_oom +=
            __atomic_load_n(&s->p.response_obj_oom, __ATOMIC_RELAXED);
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

void srvstate_proc_set(struct srvstate *st, int slot,
                       const struct server_proc *p)
{
    if (slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return;
    struct server_proc *d = &st->proc[slot];
    if (p == NULL || p->pid == 0) {
        __atomic_store_n(&d->pid, 0, __ATOMIC_RELEASE);
        d->role = SERVER_ROLE_NONE;
        return;
    }
    __atomic_store_n(&d->pid, 0, __ATOMIC_RELEASE);
    d->index = p->index;
    d->started = p->started;
    d->role = p->role;
    d->restarts = p->restarts;
    memcpy(d->name, p->name, sizeof(d->name));
    d->name[sizeof(d->name) - 1] = '\0';
    __atomic_store_n(&d->pid, p->pid, __ATOMIC_RELEASE);
}

void srvstate_server_stats(const struct srvstate *st, int maxconns,
                           int threads, struct proto_server_stats *out)
{
    struct server_counters c;
    struct proto_counters p;
    srvstate_sum(st, &c, &p);
    out->pid = st->info.master_pid;
    out->started = st->info.started;
    out->threads = st->info.workers ? st->info.workers : (unsigned)threads;
    out->max_connections = (uint64_t)maxconns;
    out->curr_connections = c.curr_connections;
    out->total_connections = c.total_connections;
    out->rejected_connections = c.rejected_connections;
    out->bytes_read = c.bytes_read;
    out->bytes_written = c.bytes_written;
    out->listen_disabled_num = c.listen_disabled_num;
    out->conn_yields = c.conn_yields;
    out->auth_cmds = p.auth_cmds;
    out->auth_errors = p.auth_errors;
    out->response_obj_oom = p.response_obj_oom;
    out->idle_kicks = c.idle_kicks;
}

void srvstate_stats_shmcached(const struct srvstate *st, struct buf *out)
{
    const struct server_info *i = &st->info;
    struct server_counters c;
    struct proto_counters p;
    srvstate_sum(st, &c, &p);
    buf_printf(out, "STAT workers %u\r\n", i->workers);
    /* -o io_uring: the workers' io_uring_enter calls (0: epoll) */
    buf_printf(out, "STAT io_uring_enters %llu\r\n",
               (unsigned long long)c.io_uring_enters);
    buf_printf(out, "STAT worker_restarts %llu\r\n",
               (unsigned long long)i->worker_restarts);
    buf_printf(out, "STAT worker_crashes %llu\r\n",
               (unsigned long long)i->worker_crashes);
    buf_printf(out, "STAT reloads %llu\r\n", (unsigned long long)i->reloads);
    buf_printf(out, "STAT reload_failures %llu\r\n",
               (unsigned long long)i->reload_failures);
    const struct repl_stats *r = &st->repl;
    static const char *const names[] = { "off", "down", "syncing",
                                         "connected" };
    uint32_t s = __atomic_load_n(&r->state, __ATOMIC_RELAXED);
    buf_printf(out, "STAT repl_state %s\r\n", names[s <= 3 ? s : 0]);
    if (s == REPL_OFF)
        return;
#define R(name) buf_printf(out, "STAT repl_" #name " %llu\r\n", \
        (unsigned long long)__atomic_load_n(&r->name, __ATOMIC_RELAXED));
    R(queued_bytes) R(queued_items) R(sent) R(sent_bytes) R(applied)
    R(applied_bytes) R(apply_failed) R(copies_sent) R(copies_received) R(copy_items)
    R(refused) R(link_downs) R(lag_ms) R(sync_timeouts)
#undef R
}
