/*
 * fuzz_repl.c - libFuzzer target: what a replication peer sends, decoded
 * (repl/wire.c) and applied to a real engine as the receiver applies it
 * (engine_apply, engine_apply_flush, the unmark and purge sweeps of a full
 * copy), with local changes of this node in between so that versions,
 * tombstones and ties meet.
 *
 * Input: a stream of frames as on the wire; a frame that does not decode
 * ends the input (the receiver drops the link there). The low bits of a
 * frame's position choose the receiver's side of it: whether the item was
 * ours, whether the peer wins ties, whether a copy is marking, and whether
 * a local set or delete of the same key comes first.
 *
 * Checked besides the sanitizers: every call returns a documented status;
 * a frame the decoder accepted never points outside the input; after each
 * input engine_check() is 0, and after a flush and a full sweep no chunk
 * is still in use (nothing applied leaked an allocation).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "repl/wire.h"

#define MEM_MB 4
#define VALUE_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct engine *eng;
static struct engine_worker *wk;
static time_t now = 1700000000;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "\nfuzz repl: %s: %s\n", what, detail ? detail : "");
    abort();
}

static time_t fake_clock(void *arg)
{
    (void)arg;
    return now;
}

static void setup(void)
{
    struct engine_config cfg;
    const char *err = NULL;
    engine_config_defaults(&cfg);
    cfg.mem_limit = (size_t)MEM_MB << 20;
    cfg.hashpower = 12;
    cfg.changelog_size = (size_t)1 << 20;
    eng = engine_create(&cfg, &err);
    if (eng == NULL)
        fail("engine_create", err);
    engine_set_clock(eng, fake_clock, NULL);
    wk = engine_worker_attach(eng, getpid());
    if (wk == NULL)
        fail("engine_worker_attach", NULL);
}

static void sweep(int purge)
{
    uint64_t cursor = 0;
    for (int i = 0; cursor != ENGINE_WALK_END; i++) {
        long n = purge ? engine_purge(wk, 0, &cursor, 1024)
                       : engine_unmark(wk, &cursor, 1024);
        if (n < 0)
            fail(purge ? "engine_purge" : "engine_unmark", "-1");
        if (i > 1 << 20)
            fail("sweep", "does not end");
    }
}

/* A local change of the same key first, as a client of this node. */
static void local_change(const struct wire_frame *f, unsigned how)
{
    if (how == 1) {
        enum engine_status rc = engine_delete(wk, f->key, f->nkey);
        if (rc != ENGINE_OK && rc != ENGINE_NOT_FOUND &&
            rc != ENGINE_BAD_KEY)
            fail("engine_delete", "undocumented status");
    } else if (how == 2) {
        engine_store(wk, ENGINE_SET, f->key, f->nkey, 0, 0, "local", 5, 0,
                     NULL);
    }
}

static void apply(const struct wire_frame *f)
{
    unsigned bits = (unsigned)f->pos;
    local_change(f, (bits >> 3) & 3);
    struct engine_remote c = {
        .key = f->key, .nkey = f->nkey, .del = f->type == W_DEL,
        .version = f->version, .flags = f->flags, .exptime = f->exptime,
        .stime = f->stime, .value = f->value, .nbytes = f->nbytes,
        .ours = f->ours, .peer_wins_ties = bits & 1, .mark = (bits >> 1) & 1,
    };
    enum engine_status rc = engine_apply(wk, &c);
    if (rc != ENGINE_STORED && rc != ENGINE_EXISTS &&
        rc != ENGINE_TOO_LARGE && rc != ENGINE_NO_MEMORY &&
        rc != ENGINE_BAD_KEY)
        fail("engine_apply", "undocumented status");
}

static void check_clean(void)
{
    char msg[512] = "";
    if (engine_check(eng, msg, sizeof(msg)) != 0)
        fail("engine_check", msg);
    now += 1;
    engine_flush(wk, 0);
    engine_sweep(wk, UINT32_MAX);
    unsigned n = engine_class_count(eng);
    for (unsigned id = 1; id <= n; id++) {
        struct engine_class_stats st;
        if (engine_class_stats(eng, id, &st) != 0 && st.used_chunks != 0) {
            snprintf(msg, sizeof(msg), "class %u: %llu chunk(s) in use",
                     id, (unsigned long long)st.used_chunks);
            fail("chunks in use after a flush and a sweep", msg);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (eng == NULL)
        setup();
    const char *in = (const char *)data;
    size_t off = 0;
    while (off < size) {
        struct wire_frame f;
        long n = wire_get(in + off, size - off, VALUE_MAX, &f);
        if (n <= 0)
            break;
        if ((size_t)n > size - off)
            fail("wire_get", "took more than it was given");
        if ((f.nkey && (f.key < in + off || f.key + f.nkey > in + off + n)) ||
            (f.nbytes && ((const char *)f.value < in + off ||
                          (const char *)f.value + f.nbytes > in + off + n)))
            fail("wire_get", "a field points outside its frame");
        off += (size_t)n;
        switch (f.type) {
        case W_SET: case W_DEL: apply(&f); break;
        case W_FLUSH:
            engine_apply_flush(wk, f.oldest_live, f.version);
            break;
        case W_COPY_BEGIN: sweep(0); break;
        case W_COPY_END: sweep(1); break;
        case W_PING: now += (time_t)(f.pos & 7); break;
        default: break;
        }
    }
    check_clean();
    return 0;
}
