/*
 * proto_slabs.c - memcached's "slabs reassign" and "slabs automove" (see
 * proto_slabs.h).
 *
 * The commands only ask: engine_slabs_reassign() records the move in the
 * shared region (or says why not, in memcached 1.6's words: OK, BUSY,
 * BADCLASS, NOSPARE, SAME), engine_set_automove() changes the policy for
 * the whole server, and env->mover_kick tells the master, whose slab mover
 * does the work (memcached's rebalancer thread). The token rules are
 * memcached's: reassign takes exactly two numbers (strtol), automove a
 * level (strtoul: a bad number is a CLIENT_ERROR, 3 or more an ERROR) or
 * "ratio" and a number (strtod); anything else is ERROR.
 */
#include "proto/proto_slabs.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define LIT(s) s "\r\n", sizeof(s "\r\n") - 1

static int reply(const struct request *r, struct buf *out, const char *s,
                 size_t n)
{
    if (r->noreply)
        return 0;
    return buf_append(out, s, n) == 0 ? 0 : PROTO_CLOSE;
}

static void kick(const struct proto_env *env)
{
    if (env->mover_kick)
        env->mover_kick(env->arg);
}

/* memcached's safe_strtod: a number up to the token's end. */
static int token_double(const struct proto_token *t, double *out)
{
    char buf[64];
    if (t->len == 0 || t->len >= sizeof buf)
        return 0;
    memcpy(buf, t->p, t->len);
    buf[t->len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return end != buf && (*end == '\0' || isspace((unsigned char)*end)) &&
           isfinite(*out);
}

static int reassign(const struct proto_env *env, struct request *r,
                    struct buf *out)
{
    int32_t src, dst;
    if (!engine_slab_reassign(env->engine))
        return reply(r, out, LIT("CLIENT_ERROR slab reassignment disabled"));
    if (!proto_strtol32(&r->tok[2], &src) || !proto_strtol32(&r->tok[3], &dst))
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    switch (engine_slabs_reassign(env->engine, src, dst)) {
    case ENGINE_REASSIGN_OK:
        kick(env);
        return reply(r, out, LIT("OK"));
    case ENGINE_REASSIGN_RUNNING:
        return reply(r, out, LIT("BUSY currently processing reassign "
                                 "request"));
    case ENGINE_REASSIGN_BADCLASS:
        return reply(r, out, LIT("BADCLASS invalid src or dst class id"));
    case ENGINE_REASSIGN_NOSPARE:
        return reply(r, out, LIT("NOSPARE source class has no spare pages"));
    case ENGINE_REASSIGN_SAME:
        return reply(r, out, LIT("SAME src and dst class are identical"));
    default:
        return reply(r, out, LIT("CLIENT_ERROR slab reassignment disabled"));
    }
}

static int automove(const struct proto_env *env, struct request *r,
                    struct buf *out)
{
    r->noreply = PROTO_TOK_IS(&r->tok[r->ntok - 1], "noreply");
    if (PROTO_TOK_IS(&r->tok[2], "ratio")) {
        double ratio;
        if (r->ntok < 4 || !token_double(&r->tok[3], &ratio))
            return reply(r, out, LIT("ERROR"));
        engine_set_automove_ratio(env->engine, ratio);
        return reply(r, out, LIT("OK"));
    }
    uint32_t level;
    if (!proto_strtoul32(&r->tok[2], &level))
        return reply(r, out, LIT("CLIENT_ERROR bad command line format"));
    if (level > 2)
        return reply(r, out, LIT("ERROR"));
    engine_set_automove(env->engine, (int)level);
    kick(env);
    return reply(r, out, LIT("OK"));
}

int proto_slabs_cmd(const struct proto_env *env, struct request *r,
                    struct buf *out)
{
    if (r->ntok == 4 && r->rest == NULL &&
        PROTO_TOK_IS(&r->tok[1], "reassign"))
        return reassign(env, r, out);
    if (r->ntok >= 3 && PROTO_TOK_IS(&r->tok[1], "automove"))
        return automove(env, r, out);
    return buf_append(out, LIT("ERROR")) == 0 ? 0 : PROTO_CLOSE;
}
