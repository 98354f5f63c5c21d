/*
 * changelog.c - the change log and the tombstones (see changelog.h), and
 * the consumer's side of the log (engine.h).
 *
 * Record layout in the ring, 8-byte aligned, never split across the end
 * (a PAD record fills the end when the next one does not fit):
 *   u32 len | u8 op | u8 nkey | u16 0 | u32 ms | u32 seq | u64 version | key
 * where ms is the time of the change (milliseconds, low 32 bits) for the
 * consumer's lag figure, seq the record's number (low 32 bits of
 * `appended` before it) so that the records not yet released can be
 * counted, and a FLUSH record's "key" is (oldest_live, oldest_cas). A PAD
 * may be only 8 bytes long (the end of the ring): only its first 8 bytes
 * (len, op) are ever written or read. Positions are byte counts since the
 * log began; a position's place in the ring is pos % size.
 */
#include "engine/changelog.h"

#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/lock.h"

#define REC_HDR 24u
#define PAD_HDR 8u              /* what a PAD record has of a header */

struct rec {
    uint32_t len;
    uint8_t op;
    uint8_t nkey;
    uint16_t pad;
    uint32_t ms;
    uint32_t seq;
    uint64_t version;
};
_Static_assert(sizeof(struct rec) == REC_HDR, "record header");

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec /
                      1000000);
}

static inline uint64_t align8(uint64_t v)
{
    return (v + 7) & ~7ull;
}

/* Writes one record (holding the log lock). 0, or -1 when it does not fit
 * before the consumer's tail. */
static int put(struct changelog *cl, int op, const void *key, size_t nkey,
               uint64_t version)
{
    uint64_t len = align8(REC_HDR + nkey);
    uint64_t head = cl->head, at = head % cl->size;
    uint64_t pad = at + len > cl->size ? cl->size - at : 0;
    uint64_t tail = __atomic_load_n(&cl->tail, __ATOMIC_ACQUIRE);
    if (head + pad + len - tail > cl->size)
        return -1;
    if (pad > 0) {
        struct rec p = { .len = (uint32_t)pad, .op = CL_PAD };
        memcpy(cl->ring + at, &p, PAD_HDR);     /* pad may be 8 bytes */
        at = 0;
    }
    struct rec r = { .len = (uint32_t)len, .op = (uint8_t)op,
                     .nkey = (uint8_t)nkey, .ms = now_ms(),
                     .seq = (uint32_t)cl->appended, .version = version };
    memcpy(cl->ring + at, &r, sizeof(r));
    memcpy(cl->ring + at + REC_HDR, key, nkey);
    __atomic_store_n(&cl->head, head + pad + len, __ATOMIC_RELEASE);
    __atomic_store_n(&cl->appended, cl->appended + 1, __ATOMIC_RELEASE);
    return 0;
}

static void append(struct engine_worker *w, int op, const void *key,
                   size_t nkey, uint64_t version)
{
    struct changelog *cl = w->e->changelog;
    if (cl == NULL || lock_take(w, LOCK_LOG, 0) < 0)
        return;             /* an unusable log lock: counted as dropped */
    if (put(cl, op, key, nkey, version) < 0)
        cl->dropped++;
    w->s->last_log = cl->head;
    lock_drop(w, LOCK_LOG, 0);
}

void changelog_append(struct engine_worker *w, int op, const char *key,
                      size_t nkey, uint64_t version)
{
    append(w, op, key, nkey, version);
}

void changelog_flush(struct engine_worker *w, int64_t oldest_live,
                     uint64_t oldest_cas)
{
    uint64_t v[2] = { (uint64_t)oldest_live, oldest_cas };
    append(w, CL_FLUSH, v, sizeof(v), oldest_cas);
}

int changelog_repair(struct engine_worker *w, uint32_t idx, int dead)
{
    (void)w, (void)idx, (void)dead;
    return 0;       /* head moves only past whole records */
}

/* ---- tombstones --------------------------------------------------------- */

uint64_t tomb_get(const struct engine *e, uint32_t s, uint64_t hv, int *peer)
{
    const struct tomb *t = e->tombs + (uint64_t)s * TOMBS_PER_STRIPE;
    *peer = 0;
    if (e->tombs == NULL)
        return 0;
    for (unsigned i = 0; i < TOMBS_PER_STRIPE; i++)
        if (t[i].hash == hv) {
            *peer = t[i].peer != 0;
            return t[i].version;
        }
    return 0;
}

void tomb_put(struct engine *e, uint32_t s, uint64_t hv, uint64_t version,
              int peer, const char *key, size_t nkey)
{
    if (e->tombs == NULL)
        return;
    struct tomb *t = e->tombs + (uint64_t)s * TOMBS_PER_STRIPE, *victim = t;
    for (unsigned i = 0; i < TOMBS_PER_STRIPE; i++) {
        if (t[i].hash == hv) {
            victim = &t[i];
            break;
        }
        if (t[i].version < victim->version)
            victim = &t[i];         /* else the oldest makes room */
    }
    if (victim->hash == hv && victim->version > version)
        return;
    victim->hash = hv;
    victim->version = version;
    victim->nkey = (uint8_t)nkey;
    victim->peer = (uint8_t)(peer != 0);
    memcpy(victim->key, key, nkey);
}

long engine_walk_deletions(struct engine_worker *w, uint64_t *cursor,
                           uint64_t max_stripes,
                           void (*fn)(void *arg, const char *key,
                                      size_t nkey, uint64_t version),
                           void *arg)
{
    struct engine *e = w->e;
    uint64_t s = *cursor, n = 0;
    long seen = 0;
    if (e->tombs == NULL) {
        *cursor = ENGINE_WALK_END;
        return 0;
    }
    for (; s < e->r->nstripes && n < max_stripes; s++, n++) {
        if (lock_stripe(w, (uint32_t)s) < 0)
            return -1;
        const struct tomb *t = e->tombs + s * TOMBS_PER_STRIPE;
        for (unsigned i = 0; i < TOMBS_PER_STRIPE; i++)
            if (t[i].hash != 0) {
                fn(arg, t[i].key, t[i].nkey, t[i].version);
                seen++;
            }
        unlock_stripe(w, (uint32_t)s);
    }
    *cursor = s >= e->r->nstripes ? ENGINE_WALK_END : s;
    return seen;
}

/* ---- the consumer (engine.h) ------------------------------------------- */

int engine_changelog_read(struct engine *e, uint64_t *pos,
                          struct engine_change *c)
{
    const struct changelog *cl = e->changelog;
    if (cl == NULL)
        return 0;
    for (;;) {
        uint64_t head = __atomic_load_n(&cl->head, __ATOMIC_ACQUIRE);
        if (*pos >= head)
            return 0;
        if (*pos < cl->tail || head - *pos > cl->size)
            return -1;              /* released already: not in the ring */
        struct rec r;
        const char *at = cl->ring + *pos % cl->size;
        memcpy(&r, at, PAD_HDR);
        if (r.op == CL_PAD) {
            if (r.len < PAD_HDR || r.len % 8)
                return -1;
            *pos += r.len;
            continue;
        }
        memcpy(&r, at, sizeof(r));
        if (r.len < REC_HDR || r.len % 8)
            return -1;
        *pos += r.len;
        memset(c, 0, sizeof(*c));
        c->end = *pos;
        c->ms = r.ms;
        c->seq = r.seq;
        c->version = r.version;
        const char *body = cl->ring + (*pos - r.len) % cl->size + REC_HDR;
        if (r.op == CL_FLUSH) {
            uint64_t v[2];
            memcpy(v, body, sizeof(v));
            c->op = ENGINE_CHANGE_FLUSH;
            c->oldest_live = (int64_t)v[0];
            c->oldest_cas = v[1];
            return 1;
        }
        c->op = r.op == CL_DEL ? ENGINE_CHANGE_DEL : ENGINE_CHANGE_SET;
        c->nkey = r.nkey;
        memcpy(c->key, body, r.nkey);
        return 1;
    }
}

void engine_changelog_state(struct engine *e, struct engine_changelog_state *st)
{
    const struct changelog *cl = e->changelog;
    memset(st, 0, sizeof(*st));
    if (cl == NULL)
        return;
    st->size = cl->size;
    st->head = __atomic_load_n(&cl->head, __ATOMIC_ACQUIRE);
    st->tail = __atomic_load_n(&cl->tail, __ATOMIC_ACQUIRE);
    st->dropped = __atomic_load_n(&cl->dropped, __ATOMIC_ACQUIRE);
    st->appended = __atomic_load_n(&cl->appended, __ATOMIC_RELAXED);
}

uint64_t engine_changelog_pending(struct engine *e)
{
    /* the consumer's call: [tail, head) is not rewritten until it releases
     * it, and only it moves tail, so no lock is needed */
    const struct changelog *cl = e->changelog;
    if (cl == NULL)
        return 0;
    uint32_t appended = (uint32_t)__atomic_load_n(&cl->appended,
                                                  __ATOMIC_ACQUIRE);
    uint64_t head = __atomic_load_n(&cl->head, __ATOMIC_ACQUIRE);
    uint64_t pos = cl->tail;
    while (pos < head) {
        struct rec r;
        memcpy(&r, cl->ring + pos % cl->size, PAD_HDR);
        if (r.op != CL_PAD) {
            memcpy(&r, cl->ring + pos % cl->size, sizeof(r));
            return (uint32_t)(appended - r.seq);
        }
        if (r.len < PAD_HDR)
            break;
        pos += r.len;
    }
    return 0;
}

void engine_changelog_release(struct engine *e, uint64_t pos)
{
    struct changelog *cl = e->changelog;
    if (cl != NULL && pos > cl->tail &&
        pos <= __atomic_load_n(&cl->head, __ATOMIC_ACQUIRE))
        __atomic_store_n(&cl->tail, pos, __ATOMIC_RELEASE);
}

uint64_t engine_changelog_restart(struct engine_worker *w)
{
    struct changelog *cl = w->e->changelog;
    if (cl == NULL || lock_take(w, LOCK_LOG, 0) < 0)
        return 0;
    uint64_t head = cl->head;
    __atomic_store_n(&cl->tail, head, __ATOMIC_RELEASE);
    cl->dropped = 0;
    lock_drop(w, LOCK_LOG, 0);
    return head;
}

uint64_t engine_changelog_last(const struct engine_worker *w)
{
    return w->s->last_log;
}
