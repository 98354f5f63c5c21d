/*
 * master_int.h - the master process's state, shared by the three files
 * that make it (server internal; master.h is the interface):
 *   master.c    start-up, signals, the supervision loop, reload, the end;
 *   procs.c     the processes it forks: workers and helpers, their deaths,
 *               reaps, restarts with backoff, signals;
 *   handover.c  moving connections: retiring workers, the relay to the
 *               current workers, and a binary upgrade (upgrade.h).
 * One struct master, in the master process only; every function takes it.
 */
#ifndef SHMC_SERVER_MASTER_INT_H
#define SHMC_SERVER_MASTER_INT_H

#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/log.h"
#include "engine/engine.h"
#include "server/handoff.h"
#include "server/helper.h"
#include "server/listener.h"
#include "server/settings.h"
#include "server/srvstate.h"
#include "server/udp.h"
#include "server/watchlog.h"
#include "server/connsnap.h"
#include "proto/proto_auth.h"
#include "server/upgrade.h"
#include "server/worker.h"

struct conn_quota;

#define CRASH_WINDOW 5.0        /* a worker crashing sooner "keeps crashing" */
#define BACKOFF_MAX_SHIFT 6     /* backoff caps at 64 x worker_backoff_ms */
#define STOP_GRACE 15.0         /* graceful stop: SIGKILL workers after */
#define QUIT_GRACE 2.0          /* SIGQUIT: SIGKILL workers after */
#define RETIRE_GRACE (WORKER_HANDOFF_MAX + 5.0) /* retiring: SIGKILL after */
#define CTL_BURST 256           /* control messages read per wake-up */
#define SWEEP_INTERVAL 1.0      /* seconds between expired-item sweeps */
#define SWEEP_INTERVAL_MAINTAINED 60.0  /* ... when the LRU maintenance
                                   reclaims at the tails (memcached's
                                   crawler runs about once a minute) */
#define MAINTAIN_INTERVAL 0.1   /* seconds between LRU maintenance rounds */
#define MAINTAIN_BUDGET 2000    /* items moved per round, at most */
#define MAINTAIN_SOON 0.005     /* ... and the next round when it had more */
#define SWEEP_BUDGET 1024
#define SWEEP_ROUNDS 16
#define HASH_STEP_BUCKETS 256   /* bucket splits per engine_hash_grow */
#define HASH_STEP_TIME 0.002    /* seconds of splits per wake-up... */
#define HASH_BUSY_INTERVAL 0.001 /* ...then as long for everything else */
#define HASH_IDLE_INTERVAL 0.01 /* seconds between looks at the item count */
#define MOVER_BUDGET 1024       /* chunks per engine_slab_mover() call */
#define MOVER_SLICE 0.002       /* seconds of mover work per loop */
#define MOVER_PAUSE 0.001       /* a move in progress: loop again after */
#define AUTOMOVE2_POLL 0.01     /* automove=2: look for requests */

struct wproc {
    pid_t pid;                  /* 0: not running */
    struct engine_worker *slot; /* claimed before fork */
    int slotno;
    int ctl_fd;                 /* master end of the socketpair, or -1 */
    int ctl_eof;                /* the worker closed it: stop polling */
    double started;             /* monotonic seconds */
    unsigned streak;            /* consecutive quick crashes */
    int restart_due;
    double restart_at;          /* retiring: SIGKILL deadline */
    int no_slot;                /* restart_due for want of an engine slot */
    int stop_asked;             /* helper: the master stopped it (reload) */
};

struct master {
    const struct settings *s;   /* == &cur */
    struct settings cur;        /* the running configuration */
    int argc;                   /* the original command line (reload) */
    char **argv;
    struct logger log;
    struct engine *engine;
    struct srvstate *state;     /* shared with every worker */
    struct server_info *info;   /* &state->info */
    struct listeners ls;
    struct udp_sockets udp;     /* -U: opened at start, never reloaded */
    struct watchlog *watch;     /* the watchers' log rings */
    struct connsnap *conns;     /* every worker's connections */
    struct proto_authfile auth; /* -Y: loaded at start and on SIGHUP */
    struct conn_quota *quota;
    struct wproc w[ENGINE_MAX_SLOTS];   /* current workers, by index */
    int nworkers;
    struct wproc old[ENGINE_MAX_SLOTS]; /* retiring workers (pid != 0) */
    uint64_t wrestarts[ENGINE_MAX_SLOTS]; /* restarts per worker index */
    const struct helper_def *const *hdef;   /* helper processes */
    int nhelpers;
    struct wproc h[HELPERS_MAX];
    struct handoff_queue relay; /* connections on their way to w[] */
    int relay_next;             /* round-robin over w[] */
    int stopping;               /* 0, 1 graceful, 2 immediate */
    int killed;                 /* SIGKILL sent to stragglers */
    double kill_at;
    double next_sweep;
    double next_hash;           /* the next step of the hash table's growth */
    double next_maintain;   /* the LRU maintenance's next round */
    struct engine_automove *am;     /* slab_automove=1's decider */
    double next_automove;
    char pidfile[PATH_MAX];     /* absolute; "" if none written */
    char exe[PATH_MAX];         /* the binary's path at start (upgrade) */
    struct upgrade up;          /* a binary upgrade in progress */
    int leaving;                /* the new binary took over: retire all */
};

static inline double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- procs.c ---- */

/* Forks worker i (claims its engine slot first). 0, or -1 (retry later). */
int spawn(struct master *m, int i);
/* Workers running now, and retiring. */
int running(const struct master *m);
int retiring(const struct master *m);
/* Writes how a process ended ("was killed by signal 9 (Killed)"). */
void describe(int status, char *buf, size_t len);
/* Waits for every child that ended and acts on its death. */
void reap_children(struct master *m);
/* Publishes who holds wp's engine slot (srvstate.h proc[]). */
void publish(struct master *m, const struct wproc *wp,
             enum server_role role, const char *name, int index,
             uint64_t restarts);
int helpers_running(const struct master *m);
void spawn_helper(struct master *m, int k);
/* After a reload: helpers restart with the new settings, or stop. */
void restart_helpers(struct master *m);
/* Starts the helpers that are due; lowers *wake to the next restart. */
void tend_helpers(struct master *m, double now, double *wake);
void signal_one(struct master *m, const struct wproc *wp, int signo);
void signal_workers(struct master *m, int signo);

/* ---- handover.c ---- */

/* Forwards queued connections: to the current workers, round-robin, or to
 * the new master of an upgrade once this one is leaving. */
void relay(struct master *m);
/* SIGHUP: a new set of workers; the current ones hand over and retire. */
void replace_workers(struct master *m, const char *why);
/* SIGUSR2: starts the binary now at the server's path. */
void begin_upgrade(struct master *m);
/* The upgrade's progress, on either side (each loop, after ppoll). */
void upgrade_tend(struct master *m, double now);
/* The new binary of an upgrade died (reap_children). */
void upgrade_child_died(struct master *m, int status);

/* ---- master.c ---- */

/* Control messages from a worker: connections it hands off, verbosity. */
void control_message(struct master *m, struct wproc *wp);

#endif
