/*
 * proto_auth.h - memcached's ASCII authentication (-Y FILE).
 *
 * The file holds "user:password" lines (memcached reads at most 8 entries
 * of up to 255 bytes). The server loads it (at start and on SIGHUP) into a
 * struct proto_authfile and hands it to the protocol layer through
 * proto_config.auth. A text connection then starts unauthenticated: every
 * request is refused with "CLIENT_ERROR unauthenticated" except a "set"
 * whose value is "<user> <password>": a match answers STORED and
 * authenticates the connection, anything else "CLIENT_ERROR authentication
 * failure" (counted in auth_cmds / auth_errors, as memcached).
 */
#ifndef SHMC_PROTO_AUTH_H
#define SHMC_PROTO_AUTH_H

#include <stddef.h>

#define PROTO_AUTH_MAX 8            /* entries memcached reads */
#define PROTO_AUTH_LEN 256          /* bytes of one line */

struct proto_authfile {
    int n;
    struct {
        char user[PROTO_AUTH_LEN];
        size_t ulen;
        char pass[PROTO_AUTH_LEN];
        size_t plen;
    } e[PROTO_AUTH_MAX];
};

/* Reads path into *af. Returns 0, or -1 with memcached's reason in err
 * ("Could not open authfile [...]", "... has a malformed entry ..."). *af
 * is changed only on success. */
int proto_authfile_load(struct proto_authfile *af, const char *path,
                        char *err, size_t errlen);

/* 1 when user/pass (lengths given) match an entry, in time that does not
 * depend on where the bytes differ. */
int proto_authfile_check(const struct proto_authfile *af, const char *user,
                         size_t ulen, const char *pass, size_t plen);

#endif
