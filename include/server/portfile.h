/*
 * portfile.h - MEMCACHED_PORT_FILENAME: memcached writes the ports it
 * listens on to the file this environment variable names, so a test
 * harness can start it on ephemeral ports (-p -1, -U -1) and learn them.
 * One line per socket, "TCP INET: 11211", "TCP INET6: ...", "UDP INET:
 * ...", written to "<file>.lck" and renamed to <file> once complete.
 */
#ifndef SHMC_SERVER_PORTFILE_H
#define SHMC_SERVER_PORTFILE_H

struct listeners;
struct logger;
struct udp_sockets;

/* Writes the file named by $MEMCACHED_PORT_FILENAME, if set. 0, or -1
 * after logging why. */
int portfile_write(const struct listeners *ls, const struct udp_sockets *u,
                   const struct logger *lg);

#endif
