/*
 * sasl.h - -S: SASL authentication of the binary protocol with Cyrus SASL,
 * as memcached does it.
 *
 * The service name is "memcached"; the configuration is read from
 * $SASL_CONF_PATH, else /etc/sasl/memcached.conf or
 * /etc/sasl2/memcached.conf (memcached's lookup), and says which mechanisms
 * and password store to use (for instance mech_list: plain cram-md5 and a
 * sasldb). With MEMCACHED_SASL_PWDB set, a plain "user:password" file is
 * checked for PLAIN, as memcached's --enable-sasl-pwdb build does.
 * server_sasl_init() runs once in the master before any fork; each
 * connection gets its own sasl_conn_t when it first asks.
 */
#ifndef SHMC_SERVER_SASL_H
#define SHMC_SERVER_SASL_H

struct logger;

/* 0, or -1 after logging memcached's "Error initializing sasl." */
int server_sasl_init(const struct logger *lg);

/* proto_env's sasl callbacks (see proto.h); *state is the connection's. */
int server_sasl_mechs(void **state, const char **list, unsigned *len);
int server_sasl_step(void **state, int start, const char *mech,
                     const char *data, unsigned len, const char **out,
                     unsigned *outlen);
void server_sasl_free(void *state);

#endif
