/*
 * test_recover.c - processes dying inside the engine, and many processes
 * sharing it.
 *
 *  - crash points (crashpoints.c): a child performs the first steps of an
 *    operation with the engine's own internal functions and SIGKILLs
 *    itself at a chosen instruction, holding the locks; the parent reaps
 *    the slot and checks every invariant and the visible outcome.
 *  - stress: 4 processes hammer one engine with random operations; values
 *    carry their key and a checksum, so a torn or misplaced value fails.
 *  - kill: the same load while a random process is SIGKILLed every
 *    100-300 ms and replaced; afterwards the invariants hold, no lock is
 *    held, and the cache fills to exactly the item count of a fresh one.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crashpoints.h"
#include "fixture.h"
#include "core/buf.h"
#include "proto/proto.h"
#include "engine/hashtab.h"
#include "engine/lock.h"
#include "engine/region.h"
#include "engine/slab.h"
#include "unit.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs fn in a child that holds slot w; waits for it to die of SIGKILL and
 * reaps the slot. Returns the reap's result, or -100 if the child did not
 * die by SIGKILL. */
static int die_in_child(struct fixture *f, struct engine_worker *w,
                        void (*fn)(struct fixture *, struct engine_worker *))
{
    pid_t pid = fork();
    if (pid == 0) {
        fn(f, w);
        _exit(3);   /* fn must not return */
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        return -100;
    struct engine_reap rp;
    if (engine_worker_reap(f->e, engine_worker_slot(w), &rp) < 0)
        return -101;
    return (int)(rp.repairs + rp.freed);
}

static void die(void)
{
    raise(SIGKILL);
}

/* Every crash point of crashpoints.c, with one worker dying while the
 * engine lives on: the master's reap repairs what it left. */
static void test_crash_points(void)
{
    for (size_t i = 0; i < ncrashpoints; i++) {
        const struct crashpoint *cp = &crashpoints[i];
        struct fixture f;
        CU_ASSERT_FATAL(fixture_open(&f, cp->mb, cp->adjust) == 0);
        if (cp->setup)
            cp->setup(&f);
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        int done = die_in_child(&f, w, cp->die);
        free(w);
        struct engine_stats st;
        engine_stats(f.e, &st);
        if (done < 0 || st.lock_repairs < cp->min_repairs)
            fprintf(stderr, "\n    %s: reap %d, %llu repairs", cp->name,
                    done, (unsigned long long)st.lock_repairs);
        CU_ASSERT(done >= 0);
        CU_ASSERT(st.lock_repairs >= cp->min_repairs);
        fx_check(&f);
        cp->verify(&f);
        fx_check(&f);
        fixture_close(&f);
    }
}

/* ---- one byte, one lock ------------------------------------------------ */

/* A class repair (class lock only) and gets (stripe lock only) run at the
 * same time on the same items. Every field a get writes must be one the
 * repair never writes, or a get's "fetched" mark can be lost to the
 * repair's read-modify-write of the same byte. Items start unfetched, the
 * getter fetches each exactly once while the other process rebuilds the
 * class again and again; afterwards every item must read as fetched. */
#define RACE_ITEMS 3000

static int race_fetched(void *arg, const struct engine_item_info *info,
                        uint32_t last_access)
{
    (void)last_access;
    const struct engine *e = arg;
    const struct item *it = info->value;
    (void)e;
    return !(it->iflags & IF_FETCHED);    /* stop at the first lost mark */
}

static void test_one_owner_per_byte(void)
{
    struct fixture f;
    char key[32];
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    struct engine *e = f.e;
    unsigned lost_rounds = 0, rounds = 0;
    double end = now_s() + 3.0;
    while (now_s() < end) {
        engine_flush(f.w, 0);
        engine_sweep(f.w, 1u << 30);
        f.now++;
        for (int i = 0; i < RACE_ITEMS; i++) {
            snprintf(key, sizeof key, "race:%d", i);
            fx_store(&f, ENGINE_SET, key, "v", 0, 0);
        }
        unsigned id = slab_class_for(e, ITEM_HDR + 10);
        struct engine_worker *rw = engine_worker_attach(e, 0);
        pid_t pid = fork();
        if (pid == 0) {
            /* the repairer: marks the class dirty, takes it (repair) */
            for (;;) {
                e->classes[id].lock.dirty = 1;
                if (lock_class(rw, id) == 0)
                    unlock_class(rw, id);
            }
        }
        for (int i = 0; i < RACE_ITEMS; i++) {
            snprintf(key, sizeof key, "race:%d", i);
            engine_get(f.w, key, strlen(key), NULL, NULL);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        struct engine_reap rp;
        engine_worker_reap(e, engine_worker_slot(rw), &rp);
        free(rw);
        uint64_t cursor = 0;
        long seen = engine_walk(f.w, &cursor, UINT64_MAX, race_fetched, e);
        lost_rounds += cursor != ENGINE_WALK_END || seen != RACE_ITEMS;
        rounds++;
    }
    printf("\n    one owner per byte: %u rounds, %u lost a fetched mark ",
           rounds, lost_rounds);
    CU_ASSERT_EQUAL(lost_rounds, 0);
    fx_check(&f);
    fixture_close(&f);
}

/* ---- fail closed --------------------------------------------------------- */

static int failing_repairs;

static int repair_fails(struct engine_worker *w, uint32_t idx, int dead)
{
    (void)w, (void)idx, (void)dead;
    failing_repairs++;
    return -1;
}

static void cp_hold_class(struct fixture *f, struct engine_worker *w)
{
    lock_class(w, slab_class_for(f->e, ITEM_HDR + 8));
    die();
}

/* Lines written to fd since it was made. */
static int log_lines(int fd, const char *needle)
{
    char buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    int count = 0;
    buf[n > 0 ? n : 0] = '\0';
    for (char *p = buf; (p = strstr(p, needle)) != NULL; p++)
        count++;
    return count;
}

/* A lock whose repair fails: every operation that needs it answers
 * ENGINE_ERROR and changes nothing, others go on, the failure is logged
 * once; when a repair succeeds later, everything is as before. */
static void test_fail_closed(void)
{
    struct fixture f;
    char buf[32];
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    struct engine *e = f.e;
    struct logger lg;
    log_init(&lg, 0);
    lg.fd = memfd_create("log", 0);
    engine_set_logger(e, &lg);
    fx_store(&f, ENGINE_SET, "small", "v1", 0, 0);
    char big[2000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fx_store(&f, ENGINE_SET, "big", big, 0, 0);

    e->repair[LOCK_CLASS] = repair_fails;
    struct engine_worker *w = engine_worker_attach(e, 0);
    int dead = engine_worker_slot(w);
    CU_ASSERT_EQUAL(die_in_child(&f, w, cp_hold_class), -101);
    CU_ASSERT(failing_repairs >= 1);    /* the reap tried, and says so */
    free(w);
    struct engine_reap rp;

    /* the class of "small": refused, nothing changed */
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "small", "v2", 0, 0),
                    ENGINE_ERROR);
    CU_ASSERT_EQUAL(engine_delete(f.w, "small", 5), ENGINE_ERROR);
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_ADD, "new", "x", 0, 0), ENGINE_ERROR);
    CU_ASSERT_EQUAL(fx_get(&f, "small", buf, sizeof buf, NULL, NULL),
                    ENGINE_OK);         /* reads need only the stripe */
    CU_ASSERT_STRING_EQUAL(buf, "v1");
    /* another class works */
    memset(big, 'c', 1500);
    big[1500] = '\0';
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "big", big, 0, 0),
                    ENGINE_STORED);
    /* what a client sees: memcached's SERVER_ERROR, the connection goes on */
    struct proto_config pc;
    proto_config_defaults(&pc);
    struct proto_env env = { .engine = e, .worker = f.w, .cfg = &pc };
    struct buf out;
    buf_init(&out);
    static const char req[] = "set small 0 0 2\r\nv9\r\ndelete small\r\n"
                              "get small\r\n";
    CU_ASSERT_EQUAL(fx_feed_chunks(&env, req, sizeof req - 1, NULL, 0, &out),
                    0);
    CU_ASSERT_EQUAL(out.len, strlen("SERVER_ERROR internal error\r\n"
                                    "SERVER_ERROR internal error\r\n"
                                    "VALUE small 0 2\r\nv1\r\nEND\r\n"));
    CU_ASSERT(out.len > 0 && strncmp(out.data, "SERVER_ERROR internal error"
                                     "\r\nSERVER_ERROR internal error\r\n"
                                     "VALUE small 0 2\r\nv1\r\nEND\r\n",
                                     out.len) == 0);
    buf_free(&out);
    CU_ASSERT_EQUAL(log_lines(lg.fd, "unusable"), 1);   /* logged once */

    /* the repair works again: the next taker repairs, all is as before */
    e->repair[LOCK_CLASS] = slab_repair_class;
    CU_ASSERT_EQUAL(fx_store(&f, ENGINE_SET, "small", "v3", 0, 0),
                    ENGINE_STORED);
    CU_ASSERT_EQUAL(fx_get(&f, "small", buf, sizeof buf, NULL, NULL),
                    ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "v3");
    CU_ASSERT_EQUAL(log_lines(lg.fd, "repaired"), 1);
    CU_ASSERT_EQUAL(engine_worker_reap(e, dead, &rp), 0);  /* now it can */
    struct engine_stats st;
    engine_stats(e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 2);
    fx_check(&f);
    close(lg.fd);
    fixture_close(&f);
}

/* ---- random load ------------------------------------------------------- */

#define NKEYS 4000

static void make_value(char *v, size_t *n, const char *key, unsigned seq,
                       unsigned len)
{
    int h = snprintf(v, 64, "%s:%u:", key, seq);
    for (unsigned i = (unsigned)h; i < len; i++)
        v[i] = (char)('a' + (seq + i) % 26);
    *n = len > (unsigned)h ? len : (unsigned)h;
}

struct verify {
    const char *key;
    int bad;
};

/* A value must name its key and carry the filler its seq implies. */
static void verify_cb(void *arg, const struct engine_item_info *info)
{
    struct verify *vf = arg;
    char v[4096];
    if (info->nbytes > sizeof(v)) {
        vf->bad = 1;
        return;
    }
    engine_value_copy(info, 0, info->nbytes, v);
    size_t kl = strlen(vf->key);
    if (info->nbytes < kl + 2 || memcmp(v, vf->key, kl) != 0 || v[kl] != ':') {
        vf->bad = 1;
        return;
    }
    unsigned seq = (unsigned)strtoul(v + kl + 1, NULL, 10);
    char *p = memchr(v + kl + 1, ':', info->nbytes - kl - 1);
    if (p == NULL) {
        vf->bad = 1;
        return;
    }
    for (unsigned i = (unsigned)(p + 1 - v); i < info->nbytes; i++)
        if (v[i] != (char)('a' + (seq + i) % 26))
            vf->bad = 1;
}

static void cas_cb(void *arg, const struct engine_item_info *info)
{
    *(uint64_t *)arg = info->cas;
}

/* Random operations until the deadline; returns 0 if every value read was
 * intact. `uniform` keeps every value in one slab class. */
static int load(struct engine_worker *w, unsigned seed, double deadline,
                int uniform)
{
    char key[32], v[4096];
    size_t n;
    unsigned seq = seed * 1000003u;
    srandom(seed);
    for (long iter = 0; iter < 50000000 && now_s() < deadline; iter++) {
        snprintf(key, sizeof(key), "key:%05ld", random() % NKEYS);
        size_t nk = strlen(key);
        unsigned len = uniform ? 200 + (unsigned)(random() % 40)
                               : 20 + (unsigned)(random() % 3000);
        make_value(v, &n, key, ++seq, len);
        struct verify vf = { key, 0 };
        uint64_t cas = 0, r;
        switch (random() % 10) {
        case 0: case 1:
            engine_store(w, ENGINE_SET, key, nk, 0, 0, v, n, 0, NULL);
            break;
        case 2:
            engine_store(w, ENGINE_ADD, key, nk, 0, 0, v, n, 0, NULL);
            break;
        case 3:
            engine_store(w, ENGINE_REPLACE, key, nk, 0, 0, v, n, 0, NULL);
            break;
        case 4:
            engine_delete(w, key, nk);
            break;
        case 5:
            engine_touch(w, key, nk, 0);
            break;
        case 6:
            if (!uniform) {
                engine_delta(w, key, nk, 1, 1, &r, NULL);
                break;
            }
            __attribute__((fallthrough));
        case 7:
            /* gets + cas */
            engine_get(w, key, nk, cas_cb, &cas);
            engine_store(w, ENGINE_CAS, key, nk, 0, 0, v, n, cas, NULL);
            break;
        default:
            engine_get(w, key, nk, verify_cb, &vf);
            if (vf.bad)
                return 1;
        }
    }
    return 0;
}

static void real_clock(struct fixture *f)
{
    engine_set_clock(f->e, NULL, NULL);
}

static void test_stress_4_processes(void)
{
    struct fixture f;
    pid_t pids[4];
    CU_ASSERT_FATAL(fixture_open(&f, 16, NULL) == 0);
    real_clock(&f);
    double deadline = now_s() + 3.0;
    for (int i = 0; i < 4; i++) {
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(load(w, (unsigned)i + 1, deadline, 0));
        free(w);
    }
    int clean = 0;
    for (int i = 0; i < 4; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        clean += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CU_ASSERT_EQUAL(clean, 4);
    fx_check(&f);
    struct engine_stats st;
    engine_stats(f.e, &st);
    CU_ASSERT_TRUE(st.c.cmd_set > 10000);
    CU_ASSERT_TRUE(st.curr_items > 0);
    printf("\n    stress: %llu sets, %llu gets, %llu evictions ",
           (unsigned long long)st.c.cmd_set, (unsigned long long)st.c.cmd_get,
           (unsigned long long)st.evictions);
    fixture_close(&f);
}

/* Fills with uniform items; returns curr_items once memory is full. */
static uint64_t fill(struct fixture *f)
{
    char key[32], v[300];
    size_t n;
    for (int i = 0; i < 60000; i++) {
        snprintf(key, sizeof(key), "fill:%05d", i);
        make_value(v, &n, key, (unsigned)i, 230);
        engine_store(f->w, ENGINE_SET, key, strlen(key), 0, 0, v, n, 0, NULL);
    }
    struct engine_stats st;
    engine_stats(f->e, &st);
    return st.curr_items;
}

static void test_kill_random_workers(void)
{
    struct fixture f;
    enum { NPROC = 4 };
    pid_t pids[NPROC];
    struct engine_worker *ws[NPROC];
    CU_ASSERT_FATAL(fixture_open(&f, 8, NULL) == 0);
    real_clock(&f);
    uint64_t fresh = fill(&f);
    engine_flush(f.w, 0);
    engine_sweep(f.w, 1u << 30);
    fx_check(&f);

    double end = now_s() + 5.0;
    for (int i = 0; i < NPROC; i++) {
        ws[i] = engine_worker_attach(f.e, 0);
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(load(ws[i], (unsigned)i + 11, end + 60, 1));
    }
    unsigned kills = 0, seed = 7;
    struct engine_reap rp;
    while (now_s() < end) {
        usleep(100000 + (useconds_t)(rand_r(&seed) % 200000));
        int k = (int)(rand_r(&seed) % NPROC);
        kill(pids[k], SIGKILL);
        waitpid(pids[k], NULL, 0);
        engine_worker_reap(f.e, engine_worker_slot(ws[k]), &rp);
        free(ws[k]);
        kills++;
        ws[k] = engine_worker_attach(f.e, 0);
        pids[k] = fork();
        if (pids[k] == 0)
            _exit(load(ws[k], 100 + kills, end + 60, 1));
    }
    for (int i = 0; i < NPROC; i++) {
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        engine_worker_reap(f.e, engine_worker_slot(ws[i]), &rp);
        free(ws[i]);
    }
    alarm(60);   /* a lock left held would hang engine_check: fail instead */
    fx_check(&f);
    struct engine_stats st;
    engine_stats(f.e, &st);
    printf("\n    kill: %u kills, %llu lock repairs, %llu sets ", kills,
           (unsigned long long)st.lock_repairs, (unsigned long long)st.c.cmd_set);
    CU_ASSERT_TRUE(kills >= 15);
    /* nothing leaked: empty it, and it holds exactly as much as before */
    engine_flush(f.w, 0);
    engine_sweep(f.w, 1u << 30);
    engine_stats(f.e, &st);
    CU_ASSERT_EQUAL(st.curr_items, 0);
    uint64_t again = fill(&f);
    CU_ASSERT_EQUAL(again, fresh);
    fx_check(&f);
    alarm(0);
    fixture_close(&f);
}

UNIT_SUITE(recover, NULL, NULL, UNIT_TEST(test_crash_points),
           UNIT_TEST(test_one_owner_per_byte), UNIT_TEST(test_fail_closed),
           UNIT_TEST(test_stress_4_processes),
           UNIT_TEST(test_kill_random_workers))
