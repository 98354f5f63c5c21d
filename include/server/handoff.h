/*
 * handoff.h - moving a live client connection from one worker process to
 * another: the message, and its passage over a unix socket (SCM_RIGHTS).
 *
 * Path (configuration reload, worker replacement): the retiring worker
 * sends each connection, at a request boundary, to the master over its
 * control socketpair; the master queues it and forwards it, unchanged, to
 * one of the current workers over that worker's control socketpair
 * (round-robin); the new worker adopts it. The master never reads or writes
 * the client socket: it only holds the descriptor while it is queued. Going
 * through the master needs no extra socket per pair of workers and lets the
 * master hold connections while no new worker is ready (a slot shortage, a
 * crash of the new worker).
 *
 * A message is one SOCK_SEQPACKET packet: the encoded header, then the
 * connection's pending bytes: the input read but not yet parsed (pipelined
 * requests, a partial command line), then the output produced but not yet
 * sent, which the new worker sends first. The client socket travels as the
 * first SCM_RIGHTS descriptor. When the bytes exceed HANDOFF_INLINE_MAX they
 * travel in a memfd passed as a second descriptor instead (a packet stays
 * small whatever the connection held).
 *
 * Header (all fields host order: both ends are processes of one host):
 *   "SHO1" | u32 flags | u32 in_len | u32 out_len | char listen_addr[72]
 */
#ifndef SHMC_HANDOFF_H
#define SHMC_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define HANDOFF_MAGIC "SHO1"
#define HANDOFF_ADDR_MAX SHMC_ADDR_MAX
_Static_assert(HANDOFF_ADDR_MAX == 72, "the hand-off header is a wire "
               "format: its address field is 72 bytes");
#define HANDOFF_HDR_LEN (4 + 3 * 4 + HANDOFF_ADDR_MAX)
#define HANDOFF_INLINE_MAX (32u << 10)
#define HANDOFF_MSG_MAX (HANDOFF_HDR_LEN + HANDOFF_INLINE_MAX)
#define HANDOFF_PAYLOAD_MAX (64u << 20)     /* sanity bound for a memfd */
#define HANDOFF_F_MEMFD 1u

struct handoff_hdr {
    uint32_t flags;             /* HANDOFF_F_* */
    uint32_t in_len;            /* unparsed input bytes */
    uint32_t out_len;           /* unsent output bytes */
    char listen_addr[HANDOFF_ADDR_MAX]; /* "tcp:127.0.0.1:11211", or "" */
};

/* 1 when the packet starts with the hand-off magic. */
int handoff_is_msg(const void *msg, size_t len);

/* Encodes h (and, unless h->flags has HANDOFF_F_MEMFD, the in and out
 * bytes after it) into buf. Returns the packet length, or 0 when it does
 * not fit in cap or the lengths are out of range. */
size_t handoff_encode(void *buf, size_t cap, const struct handoff_hdr *h,
                      const void *in, const void *out);

/* Decodes a packet. Returns 0 with *h set and, for an inline payload,
 * *in / *out pointing into msg; -1 on a malformed packet (bad magic,
 * lengths that do not match the packet). */
int handoff_decode(const void *msg, size_t len, struct handoff_hdr *h,
                   const char **in, const char **out);

/* Sends connection fd with its pending bytes over unix socket sock
 * (non-blocking). Payloads over HANDOFF_INLINE_MAX go through a memfd.
 * Returns 0 (fd may now be closed by the caller), -1 with errno EAGAIN
 * (socket full: retry later) or another errno (logged by the caller). */
int handoff_send(int sock, int fd, const char *listen_addr,
                 const void *in, size_t in_len,
                 const void *out, size_t out_len);

/* A received packet and the descriptors it carried (the master's queue
 * entry, and the worker's view of a message). */
struct handoff_msg {
    struct handoff_msg *next;
    size_t len;
    int fds[2];                 /* -1 when absent */
    int nfds;
    char data[];
};

/* Receives one packet from sock (non-blocking) into a new message.
 * Returns 1 with *msg (free with handoff_msg_free), 0 when nothing is
 * waiting (EAGAIN), -1 on EOF or error (errno; 0 for EOF). Descriptors
 * arrive close-on-exec. */
int handoff_recv(int sock, struct handoff_msg **msg);

/* Sends a received message unchanged (same bytes, same descriptors) over
 * sock, non-blocking. Returns 0, or -1 with errno (EAGAIN: try later). */
int handoff_forward(int sock, const struct handoff_msg *msg);

/* Closes the message's descriptors (when they were not passed on, or after
 * forwarding) and frees it. */
void handoff_msg_free(struct handoff_msg *msg);

/* Reads a received hand-off: header and payload. On success returns 0 with
 * *fd (the client socket, now the caller's), and *in / *out pointing into
 * *payload (malloc'ed, free it; NULL when both are empty). -1 on a malformed
 * message or a memfd that cannot be read (errno set). */
int handoff_open(struct handoff_msg *msg, struct handoff_hdr *h, int *fd,
                 char **payload, const char **in, const char **out);

/* FIFO of messages waiting for a worker (the master's relay queue). */
struct handoff_queue {
    struct handoff_msg *head, *tail;
    unsigned count;
};

void handoff_queue_push(struct handoff_queue *q, struct handoff_msg *m);
struct handoff_msg *handoff_queue_pop(struct handoff_queue *q);
/* Drops every queued message (closing the client sockets). */
void handoff_queue_clear(struct handoff_queue *q);
/* In a forked child: closes the child's copies of the queued descriptors
 * without touching the parent's queue memory (the child's copy is just
 * abandoned). */
void handoff_queue_close_fds(const struct handoff_queue *q);

#endif
