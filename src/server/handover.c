/*
 * handover.c - moving client connections between processes without the
 * clients noticing (see master.h, master_int.h, handoff.h, upgrade.h).
 *
 * Reload (SIGHUP): replace_workers() moves the current workers to the
 * retiring list (old[]), forks a new set (so accepting never pauses), and
 * tells each retiring worker "handoff". A retiring worker sends each of
 * its connections, at a request boundary, over its control socket; the
 * master queues them and relay() forwards them round-robin to the current
 * workers (the master never reads or writes a client socket: it only holds
 * relayed descriptors). A retiring worker exits 0 when it has none left;
 * one still alive after RETIRE_GRACE is killed.
 *
 * Upgrade (SIGUSR2): begin_upgrade() starts the binary now installed at
 * the server's path with the listeners, the region and a socketpair
 * (upgrade.h). When it says it is ready, this master leaves: every worker
 * retires as on a reload, but relay() forwards their connections to the
 * new master over the socketpair, helpers stop, nothing is restarted, and
 * the master exits once no process of its own is left. If the new binary
 * dies or is not ready in time, it is stopped and nothing else changes. On
 * the new master's side, upgrade_tend() reads the old master's connections
 * from the socketpair into its own relay queue until the old one exits.
 */
#include "server/master_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/srvstate.h"

/* Forwards queued connections to the current workers, round-robin, as far
 * as their control sockets take them. */
void relay(struct master *m)
{
    while (m->leaving && m->relay.head != NULL && m->up.fd >= 0) {
        if (handoff_forward(m->up.fd, m->relay.head) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
                return;         /* full: ppoll waits for POLLOUT */
            log_error(&m->log, "upgrade: forwarding a connection to the new "
                      "master: %s", strerror(errno));
            handoff_queue_clear(&m->relay);
            return;
        }
        handoff_msg_free(handoff_queue_pop(&m->relay));
    }
    while (m->relay.head != NULL && !m->stopping && !m->leaving) {
        int sent = 0;
        for (int k = 0; k < m->nworkers && !sent; k++) {
            int i = (m->relay_next + k) % m->nworkers;
            struct wproc *wp = &m->w[i];
            if (wp->pid == 0 || wp->ctl_fd < 0 || wp->ctl_eof)
                continue;
            if (handoff_forward(wp->ctl_fd, m->relay.head) == 0) {
                handoff_msg_free(handoff_queue_pop(&m->relay));
                m->relay_next = i + 1;
                sent = 1;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != ENOBUFS) {
                log_warn(&m->log, "worker %d: forwarding a connection: %s",
                         i, strerror(errno));
                wp->ctl_eof = 1;        /* dying: waitpid will tell */
            }
        }
        if (!sent)
            return;             /* all full: ppoll waits for POLLOUT */
    }
}

/* Moves every current worker to the retiring list and forks a new set of
 * m->s->threads workers; then tells the old ones to hand their connections
 * over (new workers first, so accepting never pauses). */
/* Moves every current worker to the retiring list; moved[] gets their
 * places in it. Returns how many. */
int move_to_retiring(struct master *m, int *moved)
{
    int nmoved = 0, k = 0;
    for (int i = 0; i < m->nworkers; i++) {
        struct wproc *wp = &m->w[i];
        if (wp->pid != 0) {
            while (k < ENGINE_MAX_SLOTS && m->old[k].pid != 0)
                k++;
            if (k == ENGINE_MAX_SLOTS)
                break;          /* cannot happen: slots bound both lists */
            m->old[k] = *wp;
            m->old[k].restart_at = mono() + RETIRE_GRACE;
            publish(m, wp, SERVER_ROLE_RETIRING, "worker", i,
                    m->wrestarts[i]);
            moved[nmoved++] = k;
        }
        memset(wp, 0, sizeof(*wp));
        wp->ctl_fd = -1;
    }
    return nmoved;
}

/* Tells the retiring workers in moved[] to hand their connections off. */
void tell_retiring(struct master *m, const int *moved, int nmoved)
{
    for (int j = 0; j < nmoved; j++) {
        struct wproc *op = &m->old[moved[j]];
        if (op->ctl_fd < 0 ||
            send(op->ctl_fd, WORKER_MSG_HANDOFF, strlen(WORKER_MSG_HANDOFF),
                 MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            log_warn(&m->log, "retiring worker (pid %d): no control socket; "
                     "stopping it", (int)op->pid);
            signal_one(m, op, SIGTERM);
        }
    }
}

/* Moves every current worker to the retiring list and forks a new set of
 * m->s->threads workers; then tells the old ones to hand their connections
 * over (new workers first, so accepting never pauses). */
void replace_workers(struct master *m, const char *why)
{
    int moved[ENGINE_MAX_SLOTS];
    int nmoved = move_to_retiring(m, moved);
    m->nworkers = m->s->threads;
    for (int i = 0; i < m->nworkers; i++) {
        memset(&m->w[i], 0, sizeof(m->w[i]));
        m->w[i].ctl_fd = -1;
        spawn(m, i);
    }
    m->info->workers = (uint32_t)m->nworkers;
    tell_retiring(m, moved, nmoved);
    log_info(&m->log, "%s: %d worker(s) retiring, %d new worker(s)", why,
             nmoved, m->nworkers);
}

/* SIGUSR2: starts the binary now installed at the server's path. */
void begin_upgrade(struct master *m)
{
    if (m->up.fd >= 0 || m->leaving) {
        log_warn(&m->log, "SIGUSR2: an upgrade is already under way");
        return;
    }
    if (m->up.inherited && m->up.predecessor > 0) {
        log_warn(&m->log, "SIGUSR2: the previous master is still handing "
                 "over; try again when it has exited");
        return;
    }
    upgrade_start(&m->up, m->exe, m->argv, engine_fd(m->engine), &m->ls,
                  mono(), (double)m->s->upgrade_timeout, &m->log);
}

/* The new master is ready: every worker hands its connections over (to
 * the new master, through relay()), helpers stop, nothing restarts. */
void leave(struct master *m)
{
    int moved[ENGINE_MAX_SLOTS];
    m->leaving = 1;
    int nmoved = move_to_retiring(m, moved);
    m->nworkers = 0;
    for (int k = 0; k < m->nhelpers; k++) {
        m->h[k].restart_due = 0;
        m->h[k].stop_asked = 1;
        signal_one(m, &m->h[k], SIGTERM);
    }
    tell_retiring(m, moved, nmoved);
    log_warn(&m->log, "upgrade: the new master is ready; %d worker(s) hand "
             "their connections over to it, then this master exits",
             nmoved);
}

void upgrade_child_died(struct master *m, int status)
{
    char why[192];
    int n = snprintf(why, sizeof(why), "(pid %d) ", (int)m->up.child);
    describe(status, why + n, sizeof(why) - (size_t)n);
    m->up.child = 0;            /* reaped: nothing left to stop */
    upgrade_abort(&m->up, why, &m->log);
}

/* The upgrade's progress, on either side. */
void upgrade_tend(struct master *m, double now)
{
    if (m->up.fd >= 0 && !m->up.inherited && !m->up.ready) {
        int rc = upgrade_poll(&m->up, now);
        if (rc > 0) {
            leave(m);
        } else if (rc < 0 && now >= m->up.deadline) {
            upgrade_abort(&m->up, "was not ready in time", &m->log);
        } else if (rc < 0) {
            /* it closed its end: most likely it is exiting; say how */
            int status;
            for (int i = 0; i < 50; i++) {
                if (waitpid(m->up.child, &status, WNOHANG) == m->up.child) {
                    upgrade_child_died(m, status);
                    return;
                }
                usleep(2000);
            }
            upgrade_abort(&m->up, "closed its end of the socket", &m->log);
        }
        return;
    }
    if (m->up.inherited && m->up.fd >= 0) {
        /* the old master's connections, until it exits (EOF) */
        for (int i = 0; i < CTL_BURST; i++) {
            struct handoff_msg *msg = NULL;
            int rc = handoff_recv(m->up.fd, &msg);
            if (rc == 0)
                return;
            if (rc > 0 && handoff_is_msg(msg->data, msg->len)) {
                handoff_queue_push(&m->relay, msg);
                continue;
            }
            if (rc > 0) {
                handoff_msg_free(msg);
                continue;
            }
            if (errno == EMSGSIZE || errno == ENOMEM)
                continue;
            log_warn(&m->log, "upgrade complete: the previous master (pid "
                     "%d) is gone", (int)m->up.predecessor);
            close(m->up.fd);
            m->up.fd = -1;
            m->up.predecessor = 0;
            m->up.inherited = 0;    /* a master like any other now */
            return;
        }
    }
}
