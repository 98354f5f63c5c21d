/*
 * proto_meta.h - memcached's meta commands (mg ms md ma mn me) inside the
 * text protocol. proto_text.c's command table routes the six names here;
 * an ms value is streamed by proto_text.c's ST_NREAD state, which hands the
 * filled allocation back through proto_meta_nread_done().
 *
 * Internal to the text protocol modules (the server only sees proto.h).
 */
#ifndef SHMC_PROTO_META_H
#define SHMC_PROTO_META_H

struct buf;
struct engine_alloc;
struct proto_conn;
struct proto_meta;
struct request;

/* Handler of mg ms md ma mn me; arg is the command's second letter.
 * Returns 0, or PROTO_CLOSE when the output buffer cannot grow. */
int proto_meta_cmd(struct proto_conn *pc, struct request *r, struct buf *out,
                   int arg);

/* An ms value and its two terminator bytes are in: ok is 1 when they were
 * "\r\n". Stores a (consumed either way) and replies. 0 or PROTO_CLOSE. */
int proto_meta_nread_done(struct proto_conn *pc, struct engine_alloc *a,
                          int ok, struct buf *out);

/* Frees a connection's meta state (NULL allowed). */
void proto_meta_free(struct proto_meta *m);

#endif
