/*
 * repl.h - replication between two nodes, as repcached does it, without
 * its silent losses.
 *
 * Each node runs a replication process (a helper of the master: forked and
 * respawned like a worker, with an engine slot of its own) when -x names
 * its peer. It carries both directions over two TCP connections:
 *   out  it connects to the peer's replication port and ships this node's
 *        changes: what the change log (engine.h) says changed, as the
 *        item's state when it is shipped (value, flags, absolute expiry,
 *        version), a deletion with its version, a flush_all;
 *   in   it accepts the peer's connection on its own replication port
 *        (bound to the -l addresses; any other address is refused, logged
 *        and counted) and applies what comes with engine_apply(): the
 *        newer version wins, the same way on both nodes.
 * What waits to be shipped is the change log, in the shared region (and in
 * the memory file with -e): a worker or this process can die without
 * losing a change. The log is bounded: when it fills (a slow or absent
 * peer), the next connection starts with a full copy instead of the log.
 *
 * Catching up. On every connection the peer says how far it has applied
 * this node's log (it keeps that position in its own region, with this
 * node's token). If the log still holds everything after it, shipping
 * resumes there; otherwise (a new or emptied peer, a log that overflowed)
 * the node sends a full copy: every item, walked bucket by bucket (one
 * stripe lock at a time, while both nodes serve clients), the log's new
 * changes continuing in between. The peer marks what the copy confirms and
 * afterwards removes what it did not: items that came from this node, and
 * its own ones that this node had and no longer has.
 */
#ifndef SHMC_REPL_H
#define SHMC_REPL_H

#include "server/helper.h"

extern const struct helper_def repl_helper;

#endif
