/*
 * peer.h - the console's memcached client for other servers of the pool:
 * one command over the text protocol, with bounded time and size.
 *
 * A query connects to "host:port" (a name is resolved with getaddrinfo),
 * sends one command line, and reads until the reply is complete, at most
 * PEER_REPLY_MAX bytes and PEER_TIMEOUT_MS milliseconds in all (connect
 * included), then closes. It blocks the console process only (never a
 * worker), and only for that long.
 */
#ifndef SHMC_CONSOLE_PEER_H
#define SHMC_CONSOLE_PEER_H

#include <stddef.h>

struct buf;

#define PEER_TIMEOUT_MS 1500
#define PEER_REPLY_MAX (4u << 20)

/* Tells whether reply[0..len) is complete: 1 yes, 0 not yet. */
typedef int (*peer_complete_fn)(const char *reply, size_t len);

/* Complete when the last line is END, ERROR, CLIENT_ERROR ..., or
 * SERVER_ERROR ... (stats, lru_crawler metadump, stats cachedump). */
int peer_complete_end(const char *reply, size_t len);
/* Complete after one line (delete, touch, version). */
int peer_complete_line(const char *reply, size_t len);
/* Complete after a get/gets reply: VALUE blocks with their data, END. */
int peer_complete_get(const char *reply, size_t len);

/* Sends cmd ("\r\n" is added) to addr and appends the reply to out.
 * Returns 0, or -1 with a reason in err (connect refused, timeout, reply
 * too large, ...). */
int peer_query(const char *addr, const char *cmd, peer_complete_fn done,
               struct buf *out, char *err, size_t errlen);

/* stats_cmd_fn over peer_query for stats commands: arg is the address. */
int peer_stats_cmd(void *arg, const char *cmd, struct buf *out, char *err,
                   size_t errlen);

#endif
