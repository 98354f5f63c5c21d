/*
 * listener.h - the listening sockets: TCP (IPv4 and IPv6) for each -l
 * address, or one unix socket (-s, with -a mask).
 *
 * The master opens every listener before fork(); workers inherit the
 * non-blocking descriptors and accept on them concurrently (an EAGAIN from
 * accept is normal: another worker won the race). Like memcached, -s
 * disables the network listeners.
 */
#ifndef SHMC_LISTENER_H
#define SHMC_LISTENER_H

#include <stddef.h>

#include "core/limits.h"

struct logger;

#define LISTENER_MAX 32

struct listener {
    int fd;
    int is_unix;
    char name[96];          /* "127.0.0.1:11211", "[::1]:11211", "/tmp/s" */
    int kept;               /* listeners_reconcile(): index it came from */
};

struct listeners {
    struct listener l[LISTENER_MAX];
    int n;
    char unix_path[SHMC_UNIX_PATH_MAX]; /* socket file to remove at exit,
                                           "" if none */
};

/* What listeners_open() needs from the settings. */
struct listen_config {
    const char (*addrs)[SHMC_HOST_MAX]; /* "host", "host:port", "[v6]:port" */
    int naddrs;                 /* 0: 127.0.0.1 */
    int port;                   /* -p: for addresses without a port;
                                   0 = an ephemeral port, < 0 = no TCP */
    int backlog;                /* -b */
    const char *unix_path;      /* -s; non-empty: unix socket only */
    int unix_mask;              /* -a */
};

/* Splits "host[:port]" / "[v6addr][:port]" / "v6addr". "*" or an empty host
 * means every interface (host set to ""). *port gets the port, or
 * default_port when none is given. Returns 0, or -1 on a malformed spec
 * (bad brackets, port not in 0..65535, host too long). */
int listener_split(const char *spec, int default_port, char *host,
                   size_t hostlen, int *port);

/* Opens every listener (SO_REUSEADDR, IPV6_V6ONLY, non-blocking,
 * close-on-exec). On failure logs memcached's message, e.g.
 * "failed to listen on TCP port 11211: Address already in use", closes
 * what was opened and returns -1. Returns 0 on success. */
int listeners_open(struct listeners *ls, const struct listen_config *cfg,
                   const struct logger *lg);

/* Reload: makes cur match cfg without disturbing what stays. A listener
 * of cur bound to an address cfg still names is kept as it is (never closed
 * and reopened; its backlog is set to cfg's); addresses cur lacks are opened
 * (before anything is closed); listeners cfg no longer names are moved to
 * *stale, which the caller closes (and unlinks) once no worker accepts on
 * them. A port 0 always opens a new socket. Returns 0, or -1 after logging
 * the failure, with cur unchanged and stale empty. */
int listeners_reconcile(struct listeners *cur, const struct listen_config *cfg,
                        struct listeners *stale, const struct logger *lg);

/* A binary upgrade: the listeners the old server hands over, as a set
 * listeners_reconcile() can keep from (names read from the sockets).
 * 0, or -1 when one is not a bound socket. */
int listeners_inherit(struct listeners *ls, const int *fds, int n);

/* Closes every descriptor (keeps the unix path for listeners_unlink). */
void listeners_close(struct listeners *ls);
/* Removes the unix socket file, if one was created. */
void listeners_unlink(struct listeners *ls);

#endif
