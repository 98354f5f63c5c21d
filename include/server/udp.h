/*
 * udp.h - memcached's UDP protocol (-U): sockets, frames, and a worker's
 * UDP service.
 *
 * Off unless -U names a port, as memcached since 1.5.6. The master opens
 * one socket per -l address (port: the -l entry's own, else -U) before it
 * forks; every worker reads the same sockets (an EAGAIN is another worker
 * having taken the datagram) and answers through the same protocol code as
 * TCP: each datagram is a fresh request stream, fed to a new proto_conn.
 *
 * Frames (memcached's 8 bytes before every datagram's payload, big endian):
 *   request id (echoed), sequence number, datagram count, reserved (0).
 * A request must fit in one datagram (count 1, sequence 0): anything else
 * is dropped, as memcached does. A reply is cut into datagrams of at most
 * UDP_MAX_PAYLOAD bytes, header included, numbered 0..count-1, all with the
 * request's id and the same count; like memcached, a reply is bounded at
 * UDP_MAX_DATAGRAMS datagrams (what does not fit is not sent, and counted).
 */
#ifndef SHMC_SERVER_UDP_H
#define SHMC_SERVER_UDP_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "core/buf.h"
#include "core/limits.h"

struct listen_config;
struct logger;
struct proto_env;
struct server_counters;

#define UDP_HEADER_SIZE 8
#define UDP_MAX_PAYLOAD 1400            /* a datagram, header included */
#define UDP_DATA_SIZE (UDP_MAX_PAYLOAD - UDP_HEADER_SIZE)
#define UDP_READ_MAX 65536              /* largest request datagram */
#define UDP_MAX_DATAGRAMS 65535         /* largest reply (a 16-bit count) */
#define UDP_MAX_SOCKETS 32

struct udp_sockets {
    int fd[UDP_MAX_SOCKETS];
    char name[UDP_MAX_SOCKETS][SHMC_ADDR_MAX];  /* "udp:127.0.0.1:11211" */
    int n;
};

/* Opens a non-blocking, close-on-exec UDP socket for each address of cfg
 * (none when cfg has a unix socket: -s disables the network, as in
 * memcached), port: the address's own, else udp_port (0: no UDP; -1: an
 * ephemeral port). Returns 0, or -1
 * after logging memcached's "failed to listen on UDP port N: ..." (nothing
 * stays open). */
int udp_open(struct udp_sockets *u, const struct listen_config *cfg,
             int udp_port, const struct logger *lg);
void udp_close(struct udp_sockets *u);

/* A request datagram: returns the payload's offset (UDP_HEADER_SIZE) and
 * *req_id, or -1 when it must be dropped (shorter than a header plus one
 * byte, or part of a multi-datagram request). */
int udp_frame_parse(const unsigned char *pkt, size_t len, uint16_t *req_id);
/* The header of datagram seq of total. */
void udp_frame_header(unsigned char hdr[UDP_HEADER_SIZE], uint16_t req_id,
                      uint16_t seq, uint16_t total);
/* Datagrams a reply of len bytes takes (at least 1; not bounded). */
size_t udp_frame_count(size_t len);

/* A worker's UDP service: one watcher per socket. */
struct udp_server {
    struct ev_loop *loop;
    const struct proto_env *env;
    struct server_counters *counters;   /* this worker's */
    const struct logger *log;
    const struct udp_sockets *socks;
    ev_io io[UDP_MAX_SOCKETS];
    int n;
    unsigned char *rbuf;                /* UDP_READ_MAX bytes */
    struct buf out;                     /* one reply at a time */
    ev_tstamp last[UDP_MAX_SOCKETS];    /* last datagram (stats conns) */
    uint64_t dropped;                   /* datagrams not answered */
};

/* Starts serving socks (kept by pointer). 0, or -1 when out of memory. */
int udp_server_start(struct udp_server *us, struct ev_loop *loop,
                     const struct udp_sockets *socks,
                     const struct proto_env *env,
                     struct server_counters *counters,
                     const struct logger *log);
void udp_server_stop(struct udp_server *us);

/* Serves the datagram pkt[0..len) from peer: feeds it to a fresh protocol
 * state and sends the framed reply to the peer over fd. Returns the number
 * of datagrams sent. (The service calls it; tests call it directly.) */
struct sockaddr;
size_t udp_serve_datagram(struct udp_server *us, int fd,
                          const unsigned char *pkt, size_t len,
                          const struct sockaddr *peer, unsigned peerlen);

/* "stats conns": STAT <fd>:UDP UDP, addr, state, secs_since_last_cmd for
 * each socket. 0, or -1 when out could not grow. */
int udp_server_stats(const struct udp_server *us, struct buf *out);

#endif
