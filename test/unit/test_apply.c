/*
 * test_apply.c - the engine's side of replication: the change log (what a
 * client changed, in order, never lost to a crash, bounded) and applying a
 * peer's changes (newer wins, ties decided the same on both nodes,
 * tombstones refuse older changes, Lamport clock, full-copy purge).
 * Two engines side by side play the two nodes where it helps.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "engine/changelog.h"
#include "engine/hashtab.h"
#include "engine/keyop.h"
#include "engine/lock.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "unit.h"

static void with_log(struct engine_config *cfg)
{
    cfg->changelog_size = 4096;
}

/* Reads every record from *pos; ops[] and keys (joined by ' ') out. */
static int drain(struct fixture *f, uint64_t *pos, char *ops, char *keys,
                 size_t cap)
{
    struct engine_change c;
    int n = 0;
    ops[0] = keys[0] = '\0';
    while (engine_changelog_read(f->e, pos, &c) == 1) {
        size_t o = strlen(ops), k = strlen(keys);
        ops[o] = "?SDF"[c.op];
        ops[o + 1] = '\0';
        if (c.op != ENGINE_CHANGE_FLUSH && k + c.nkey + 2 < cap) {
            memcpy(keys + k, c.key, c.nkey);
            keys[k + c.nkey] = ' ';
            keys[k + c.nkey + 1] = '\0';
        }
        n++;
    }
    return n;
}

static void test_log_records_changes(void)
{
    struct fixture f;
    char ops[64], keys[512];
    uint64_t pos = 0, r;
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    fx_store(&f, ENGINE_SET, "a", "1", 0, 0);
    fx_store(&f, ENGINE_ADD, "a", "2", 0, 0);       /* not stored: no log */
    fx_store(&f, ENGINE_APPEND, "a", "2", 0, 0);
    engine_delta(f.w, "a", 1, 1, 5, &r, NULL);
    engine_touch(f.w, "a", 1, 0);
    engine_get(f.w, "a", 1, NULL, NULL);            /* a read: no log */
    engine_delete(f.w, "a", 1);
    engine_delete(f.w, "a", 1);                     /* a miss: no log */
    engine_flush(f.w, 0);
    CU_ASSERT_EQUAL(drain(&f, &pos, ops, keys, sizeof keys), 6);
    CU_ASSERT_STRING_EQUAL(ops, "SSSSDF");
    CU_ASSERT_STRING_EQUAL(keys, "a a a a a ");
    struct engine_changelog_state st;
    engine_changelog_state(f.e, &st);
    CU_ASSERT_EQUAL(st.head, pos);
    CU_ASSERT_EQUAL(st.dropped, 0);
    CU_ASSERT_EQUAL(engine_changelog_last(f.w), pos);
    fixture_close(&f);
}

/* Bounded: a full ring drops (and counts) until the consumer releases. */
static void test_log_bounded(void)
{
    struct fixture f;
    char key[32], ops[256], keys[4096];
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "key:%03d", i);
        fx_store(&f, ENGINE_SET, key, "v", 0, 0);
    }
    struct engine_changelog_state st;
    engine_changelog_state(f.e, &st);
    CU_ASSERT(st.dropped > 0);
    CU_ASSERT(st.head - st.tail <= st.size);
    uint64_t pos = st.tail;
    int n = drain(&f, &pos, ops, keys, sizeof keys);
    CU_ASSERT(n > 50 && n < 200);
    CU_ASSERT_EQUAL((uint64_t)n + st.dropped, 200);
    engine_changelog_release(f.e, pos);         /* room again */
    uint64_t at = engine_changelog_restart(f.w);
    engine_changelog_state(f.e, &st);
    CU_ASSERT_EQUAL(st.dropped, 0);
    CU_ASSERT_EQUAL(st.tail, at);
    fx_store(&f, ENGINE_SET, "again", "v", 0, 0);
    pos = at;
    CU_ASSERT_EQUAL(drain(&f, &pos, ops, keys, sizeof keys), 1);
    CU_ASSERT_STRING_EQUAL(keys, "again ");
    /* a position released is no longer readable */
    struct engine_change c;
    uint64_t old = 0;
    CU_ASSERT_EQUAL(engine_changelog_read(f.e, &old, &c), -1);
    fixture_close(&f);
}

/* The ring wraps at every 8-byte offset (keys of 1..16 bytes make records
 * of 32 and 40 bytes, so the end is met with 8, 16, 24... bytes left): a
 * PAD of 8 or 16 bytes writes nothing past the ring (the bytes after it,
 * the tombstones, keep a canary), every record reads back in order, and
 * the pending count follows what is not released. */
static void test_log_wraps(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    struct changelog *cl = f.e->changelog;
    unsigned char *after = (unsigned char *)cl->ring + cl->size;
    unsigned char canary[24];
    memset(canary, 0xa5, sizeof(canary));
    memcpy(after, canary, sizeof(canary));
    uint64_t pos = 0;
    int written = 0, read = 0;
    for (int i = 0; i < 3000; i++) {
        int len = 1 + i % 16;
        memset(key, 'a' + i % 26, (size_t)len);
        snprintf(key + len, sizeof(key) - (size_t)len, "%d", i % 10);
        fx_store(&f, ENGINE_SET, key, "v", 0, 0);
        written++;
        if (i % 7 == 6) {               /* the consumer keeps up, slowly */
            CU_ASSERT_EQUAL(engine_changelog_pending(f.e),
                            (uint64_t)(written - read));
            struct engine_change c;
            while (engine_changelog_read(f.e, &pos, &c) == 1) {
                CU_ASSERT_EQUAL(c.seq, (uint32_t)read);
                read++;
            }
            engine_changelog_release(f.e, pos);
            CU_ASSERT_EQUAL(engine_changelog_pending(f.e), 0);
        }
    }
    struct engine_changelog_state st;
    engine_changelog_state(f.e, &st);
    CU_ASSERT_EQUAL(st.dropped, 0);
    CU_ASSERT(st.head > 4 * st.size);           /* it wrapped, many times */
    CU_ASSERT(memcmp(after, canary, sizeof(canary)) == 0);
    fixture_close(&f);
}

/* A process killed after it changed an item, before it logged it: the
 * stripe's repair logs the key. */
static void die_unlogged(struct fixture *f, struct engine_worker *w)
{
    struct engine *e = f->e;
    enum engine_status st;
    ref_t nr = slab_alloc(w, 4, 3, 0, (uint32_t)f->now, &st);
    struct item *it = ITEM(e, nr);
    memcpy(item_key(it), "lost", 4);
    memcpy(item_data(it), "new", 3);
    uint32_t b = hash_bucket(e, hash_key("lost", 4));
    uint32_t s = hash_stripe(e, b);
    lock_stripe(w, s);
    lock_class(w, it->clsid);
    journal_set_logged(&w->s->j_op, s, nr, 0, CL_SET, "lost", 4);
    hash_insert(e, b, nr);
    slab_link_locked(e, nr, (uint32_t)f->now);
    raise(SIGKILL);                 /* before changelog_append */
}

static void test_log_survives_a_crash(void)
{
    struct fixture f;
    char ops[64], keys[512];
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    struct engine_worker *w = engine_worker_attach(f.e, 0);
    pid_t pid = fork();
    if (pid == 0)
        die_unlogged(&f, w);
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFSIGNALED(status));
    struct engine_reap rp;
    CU_ASSERT_EQUAL(engine_worker_reap(f.e, engine_worker_slot(w), &rp), 0);
    free(w);
    uint64_t pos = 0;
    CU_ASSERT(drain(&f, &pos, ops, keys, sizeof keys) >= 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(keys, "lost "));
    CU_ASSERT_TRUE(fx_has(&f, "lost"));
    fx_check(&f);
    fixture_close(&f);
}

/* ---- apply ------------------------------------------------------------- */

static struct engine_remote remote_set(const char *key, const char *val,
                                       uint64_t version)
{
    struct engine_remote c = { .key = key, .nkey = strlen(key),
                               .version = version, .flags = 7,
                               .stime = 1700000000, .value = val,
                               .nbytes = strlen(val) };
    return c;
}

static void info_cb(void *arg, const struct engine_item_info *info)
{
    *(struct engine_item_info *)arg = *info;
}

static void test_apply_newer_wins(void)
{
    struct fixture f;
    char buf[32];
    struct engine_item_info in;
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    uint64_t pos0 = 0, cas;
    fx_store(&f, ENGINE_SET, "k", "local", 0, 0);
    fx_get(&f, "k", buf, sizeof buf, NULL, &cas);
    struct engine_changelog_state st;
    engine_changelog_state(f.e, &st);
    pos0 = st.head;

    struct engine_remote c = remote_set("k", "remote", cas + 10);
    CU_ASSERT_EQUAL(engine_apply(f.w, &c), ENGINE_STORED);
    CU_ASSERT_EQUAL(engine_peek(f.w, "k", 1, info_cb, &in), ENGINE_OK);
    CU_ASSERT_EQUAL(in.cas, cas + 10);
    CU_ASSERT_EQUAL(in.flags, 7);
    CU_ASSERT_EQUAL(in.stime, 1700000000);
    CU_ASSERT_EQUAL(in.from_peer, 1);
    c = remote_set("k", "older", cas + 5);
    CU_ASSERT_EQUAL(engine_apply(f.w, &c), ENGINE_EXISTS);
    fx_get(&f, "k", buf, sizeof buf, NULL, NULL);
    CU_ASSERT_STRING_EQUAL(buf, "remote");
    /* Lamport: the next local change is newer than what was seen */
    fx_store(&f, ENGINE_SET, "k", "mine", 0, 0);
    fx_get(&f, "k", buf, sizeof buf, NULL, &cas);
    CU_ASSERT(cas > in.cas);
    /* nothing applied was logged: only the local set after it */
    char ops[16], keys[64];
    CU_ASSERT_EQUAL(drain(&f, &pos0, ops, keys, sizeof keys), 1);
    fx_check(&f);
    fixture_close(&f);
}

static void test_apply_ties(void)
{
    struct fixture a, b;
    char buf[32];
    uint64_t cas;
    CU_ASSERT_FATAL(fixture_open(&a, 4, with_log) == 0);
    CU_ASSERT_FATAL(fixture_open(&b, 4, with_log) == 0);
    /* both nodes write k at the same version: each gets the other's */
    fx_store(&a, ENGINE_SET, "k", "from-a", 0, 0);
    fx_store(&b, ENGINE_SET, "k", "from-b", 0, 0);
    fx_get(&a, "k", buf, sizeof buf, NULL, &cas);
    struct engine_remote to_b = remote_set("k", "from-a", cas);
    fx_get(&b, "k", buf, sizeof buf, NULL, &cas);
    struct engine_remote to_a = remote_set("k", "from-b", cas);
    CU_ASSERT_EQUAL(to_a.version, to_b.version);    /* a real tie */
    to_a.peer_wins_ties = 1;        /* b's token is the larger one */
    to_b.peer_wins_ties = 0;
    engine_apply(a.w, &to_a);
    engine_apply(b.w, &to_b);
    char va[32], vb[32];
    fx_get(&a, "k", va, sizeof va, NULL, NULL);
    fx_get(&b, "k", vb, sizeof vb, NULL, NULL);
    CU_ASSERT_STRING_EQUAL(va, "from-b");
    CU_ASSERT_STRING_EQUAL(vb, "from-b");           /* converged */
    /* the same change again from the same origin: nothing to do */
    CU_ASSERT_EQUAL(engine_apply(a.w, &to_a), ENGINE_EXISTS);
    fixture_close(&a);
    fixture_close(&b);
}

/* The version the last logged change of f took (read from its log). */
static uint64_t last_version(struct fixture *f)
{
    struct engine_change c;
    uint64_t pos = 0, v = 0;
    while (engine_changelog_read(f->e, &pos, &c) == 1)
        v = c.version;
    return v;
}

/* A set on one node and a deletion of the key on the other at the same
 * version: each node gets the other's change, and both must end alike,
 * whichever node's tie rule favours. */
static void tie_set_against_delete(int a_peer_wins, const char *expect)
{
    struct fixture a, b;
    char buf[32];
    CU_ASSERT_FATAL(fixture_open(&a, 4, with_log) == 0);
    CU_ASSERT_FATAL(fixture_open(&b, 4, with_log) == 0);
    fx_store(&a, ENGINE_SET, "k", "old", 0, 0);
    fx_store(&a, ENGINE_SET, "k", "from-a", 0, 0);
    fx_store(&b, ENGINE_SET, "k", "old", 0, 0);
    CU_ASSERT_EQUAL(engine_delete(b.w, "k", 1), ENGINE_OK);
    uint64_t va = last_version(&a), vb = last_version(&b);
    CU_ASSERT_EQUAL_FATAL(va, vb);                  /* a real tie */
    struct engine_remote to_b = remote_set("k", "from-a", va);
    struct engine_remote to_a = { .key = "k", .nkey = 1, .del = 1,
                                  .version = vb };
    to_a.peer_wins_ties = a_peer_wins;  /* the two nodes decide opposite */
    to_b.peer_wins_ties = !a_peer_wins;
    engine_apply(a.w, &to_a);
    engine_apply(b.w, &to_b);
    int ha = fx_get(&a, "k", buf, sizeof buf, NULL, NULL) == ENGINE_OK;
    CU_ASSERT_EQUAL(ha, expect != NULL);
    if (ha && expect != NULL)
        CU_ASSERT_STRING_EQUAL(buf, expect);
    int hb = fx_get(&b, "k", buf, sizeof buf, NULL, NULL) == ENGINE_OK;
    CU_ASSERT_EQUAL(hb, expect != NULL);            /* converged */
    if (hb && expect != NULL)
        CU_ASSERT_STRING_EQUAL(buf, expect);
    fx_check(&a);
    fx_check(&b);
    fixture_close(&a);
    fixture_close(&b);
}

static void test_apply_tie_set_and_delete(void)
{
    tie_set_against_delete(1, NULL);        /* b's deletion wins on both */
    tie_set_against_delete(0, "from-a");    /* a's set wins on both */
}

static void test_apply_deletes_and_tombstones(void)
{
    struct fixture f;
    uint64_t cas;
    char buf[32];
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    fx_store(&f, ENGINE_SET, "k", "v", 0, 0);
    fx_get(&f, "k", buf, sizeof buf, NULL, &cas);
    struct engine_remote del = { .key = "k", .nkey = 1, .del = 1,
                                 .version = cas - 1 };
    CU_ASSERT_EQUAL(engine_apply(f.w, &del), ENGINE_EXISTS);   /* older */
    CU_ASSERT_TRUE(fx_has(&f, "k"));
    del.version = cas + 100;
    CU_ASSERT_EQUAL(engine_apply(f.w, &del), ENGINE_STORED);
    CU_ASSERT_FALSE(fx_has(&f, "k"));
    /* an older set arriving after the deletion is refused */
    struct engine_remote late = remote_set("k", "late", cas + 50);
    CU_ASSERT_EQUAL(engine_apply(f.w, &late), ENGINE_EXISTS);
    CU_ASSERT_FALSE(fx_has(&f, "k"));
    late.version = cas + 150;
    CU_ASSERT_EQUAL(engine_apply(f.w, &late), ENGINE_STORED);
    CU_ASSERT_TRUE(fx_has(&f, "k"));
    /* a local delete leaves a tombstone too, newer than what it removed */
    engine_delete(f.w, "k", 1);
    struct engine_remote again = remote_set("k", "again", cas + 150);
    CU_ASSERT_EQUAL(engine_apply(f.w, &again), ENGINE_EXISTS);
    /* flush_all from the peer */
    fx_store(&f, ENGINE_SET, "old", "v", 0, 0);
    f.now += 5;
    engine_apply_flush(f.w, (int64_t)f.now, 0);
    CU_ASSERT_FALSE(fx_has(&f, "old"));
    fx_check(&f);
    fixture_close(&f);
}

/* A full copy: unmark all, mark what comes, purge the rest. */
static void test_full_copy_purge(void)
{
    struct fixture f;
    uint64_t cas_mine_old, cursor, horizon;
    char buf[32];
    CU_ASSERT_FATAL(fixture_open(&f, 4, with_log) == 0);
    struct engine_remote c = remote_set("peer-gone", "x", 10);
    engine_apply(f.w, &c);                          /* came from the peer */
    c = remote_set("peer-kept", "x", 11);
    engine_apply(f.w, &c);
    fx_store(&f, ENGINE_SET, "mine-old", "x", 0, 0);    /* the peer had it */
    fx_get(&f, "mine-old", buf, sizeof buf, NULL, &cas_mine_old);
    horizon = cas_mine_old + 1;
    fx_store(&f, ENGINE_SET, "mine-new", "x", 0, 0);    /* not sent yet */
    cursor = 0;
    while (cursor != ENGINE_WALK_END)
        CU_ASSERT(engine_unmark(f.w, &cursor, 1000) >= 0);
    c = remote_set("peer-kept", "x", 11);
    c.mark = 1;
    CU_ASSERT_EQUAL(engine_apply(f.w, &c), ENGINE_EXISTS);  /* same, marked */
    c = remote_set("copied", "y", 12);
    c.mark = 1;
    CU_ASSERT_EQUAL(engine_apply(f.w, &c), ENGINE_STORED);
    long gone = 0;
    cursor = 0;
    while (cursor != ENGINE_WALK_END)
        gone += engine_purge(f.w, horizon, &cursor, 1000);
    CU_ASSERT_EQUAL(gone, 2);
    CU_ASSERT_FALSE(fx_has(&f, "peer-gone"));
    CU_ASSERT_FALSE(fx_has(&f, "mine-old"));
    CU_ASSERT_TRUE(fx_has(&f, "peer-kept"));
    CU_ASSERT_TRUE(fx_has(&f, "copied"));
    CU_ASSERT_TRUE(fx_has(&f, "mine-new"));
    fx_check(&f);
    fixture_close(&f);
}

UNIT_SUITE(apply, NULL, NULL,
           UNIT_TEST(test_log_records_changes), UNIT_TEST(test_log_bounded),
           UNIT_TEST(test_log_wraps),
           UNIT_TEST(test_log_survives_a_crash),
           UNIT_TEST(test_apply_newer_wins), UNIT_TEST(test_apply_ties),
           UNIT_TEST(test_apply_tie_set_and_delete),
           UNIT_TEST(test_apply_deletes_and_tombstones),
           UNIT_TEST(test_full_copy_purge))
