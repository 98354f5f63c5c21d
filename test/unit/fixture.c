/*
 * fixture.c - see fixture.h.
 */
#include "fixture.h"

#include "core/buf.h"
#include "proto/proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

static time_t fake_clock(void *arg)
{
    return *(time_t *)arg;
}

void fixture_config(struct engine_config *cfg, size_t mb,
                    void (*adjust)(struct engine_config *cfg))
{
    engine_config_defaults(cfg);
    cfg->mem_limit = mb << 20;
    cfg->hashpower = 16;
    if (adjust)
        adjust(cfg);
}

/* The fake clock and a worker slot on f->e. */
static int fixture_start(struct fixture *f)
{
    engine_set_clock(f->e, fake_clock, &f->now);
    f->w = engine_worker_attach(f->e, getpid());
    return f->w ? 0 : -1;
}

int fixture_open(struct fixture *f, size_t mb,
                 void (*adjust)(struct engine_config *cfg))
{
    struct engine_config cfg;
    const char *err = NULL;
    fixture_config(&cfg, mb, adjust);
    memset(f, 0, sizeof(*f));
    f->now = 1700000000;
    f->e = engine_create(&cfg, &err);
    if (f->e == NULL) {
        fprintf(stderr, "engine_create: %s\n", err);
        return -1;
    }
    return fixture_start(f);
}

int fixture_open_file(struct fixture *f, size_t mb, const char *path,
                      void (*adjust)(struct engine_config *cfg),
                      struct engine_open_info *info)
{
    struct engine_config cfg;
    fixture_config(&cfg, mb, adjust);
    memset(f, 0, sizeof(*f));
    f->now = 1700000000;
    f->e = engine_open_file(&cfg, path, 2000, info);
    if (f->e == NULL) {
        fprintf(stderr, "engine_open_file: %s\n", info->err);
        return -1;
    }
    return fixture_start(f);
}

void fixture_close(struct fixture *f)
{
    if (f->w)
        engine_worker_detach(f->w);
    engine_close(f->e);
    memset(f, 0, sizeof(*f));
}

enum engine_status fx_store(struct fixture *f, enum engine_store_op op,
                            const char *key, const char *val,
                            uint32_t flags, int64_t exptime)
{
    return engine_store(f->w, op, key, strlen(key), flags,
                        engine_exptime(f->e, exptime), val, strlen(val), 0,
                        NULL);
}

struct getbuf {
    char *buf;
    size_t cap;
    uint32_t flags;
    uint64_t cas;
};

static void copy_cb(void *arg, const struct engine_item_info *info)
{
    struct getbuf *g = arg;
    size_t n = info->nbytes < g->cap - 1 ? info->nbytes : g->cap - 1;
    engine_value_copy(info, 0, n, g->buf);
    g->buf[n] = '\0';
    g->flags = info->flags;
    g->cas = info->cas;
}

enum engine_status fx_get(struct fixture *f, const char *key, char *buf,
                          size_t cap, uint32_t *flags, uint64_t *cas)
{
    struct getbuf g = { buf, cap, 0, 0 };
    buf[0] = '\0';
    enum engine_status st = engine_get(f->w, key, strlen(key), copy_cb, &g);
    if (flags)
        *flags = g.flags;
    if (cas)
        *cas = g.cas;
    return st;
}

int fx_has(struct fixture *f, const char *key)
{
    char b[8];
    return fx_get(f, key, b, sizeof(b), NULL, NULL) == ENGINE_OK;
}

void fx_check(struct fixture *f)
{
    char msg[256] = "";
    int rc = engine_check(f->e, msg, sizeof(msg));
    if (rc != 0)
        fprintf(stderr, "\n  engine_check: %s\n", msg);
    CU_ASSERT_EQUAL(rc, 0);
}

int fx_reap_check(struct fixture *f, struct engine_worker *w,
                  unsigned round)
{
    struct engine_reap rp;
    char msg[256] = "";
    int bad = engine_worker_reap(f->e, engine_worker_slot(w), &rp) != 0;
    free(w);
    if (bad)
        snprintf(msg, sizeof msg, "the reap failed");
    else if (engine_check(f->e, msg, sizeof msg) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, "\n    round %u: %s", round, msg);
    return bad;
}

/* Feeds in[0..len) to a new connection, the bytes arriving in pieces that
 * end at cuts[0..ncuts) then len, the way a server does (unconsumed input
 * kept, more appended). Returns 1 if the connection closed. */
int fx_feed_chunks(const struct proto_env *env, const char *in, size_t len,
                   const size_t *cuts, size_t ncuts, struct buf *out)
{
    struct proto_conn *pc = proto_conn_new(env);
    struct buf inb;
    size_t at = 0;
    int closed = 0;

    buf_init(&inb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
    for (size_t c = 0; c <= ncuts && !closed; c++) {
        size_t to = c < ncuts ? cuts[c] : len;
        buf_append(&inb, in + at, to - at);
        at = to;
        for (int guard = 0; guard < 100000; guard++) {
            int flags;
            size_t used = proto_feed(pc, inb.data, inb.len, out, &flags);
            buf_consume(&inb, used);
            if (flags & PROTO_CLOSE) {
                closed = 1;
                break;
            }
            if (!(flags & PROTO_YIELD))
                break;
        }
    }
    proto_conn_free(pc);
    buf_free(&inb);
    return closed;
}

void fx_lru(struct fixture *f, int segmented)
{
    struct engine_lru_config lc;
    engine_lru_defaults(&lc);
    lc.segmented = (uint32_t)segmented;
    engine_set_lru(f->e, &lc);
}
