/*
 * proto_crawler.h - the "lru_crawler" command family of the text protocol
 * (crawl, enable, disable, sleep, tocrawl, metadump, mgdump). Internal to
 * the protocol layer: proto_text.c's command table calls proto_crawler_cmd,
 * and runs a dump through proto_dump_step while the connection is in its
 * dump state.
 */
#ifndef SHMC_PROTO_CRAWLER_H
#define SHMC_PROTO_CRAWLER_H

#include "core/buf.h"
#include "proto/proto.h"
#include "proto/proto_text.h"

struct proto_dump;

/* "lru_crawler ..." (r->tok[0]). Appends the reply, or starts a dump:
 * *dump is then set (the caller's dump state) and nothing is appended yet.
 * Returns 0, or PROTO_CLOSE when out could not grow. */
int proto_crawler_cmd(const struct proto_env *env, const struct request *r,
                      struct buf *out, struct proto_dump **dump);

/* Produces the next part of a dump into out (a bounded number of hash
 * buckets, while out holds less than a high-water mark). Returns 1 when
 * the dump is complete (its last line appended; the dump is freed and
 * *dump cleared), 0 when more remains. */
int proto_dump_step(const struct proto_env *env, struct proto_dump **dump,
                    struct buf *out);

/* Frees a dump cut short (the connection closed). */
void proto_dump_free(struct proto_dump *dump);

/* Parses "all" or "1,3,10" into a class bit mask (bit i = class i, 0 =
 * all); "hash" too when allow_hash. Returns 0, or -1 for a bad class. */
int proto_crawler_classes(const struct proto_token *t, int allow_hash,
                          uint64_t *mask);

#endif
