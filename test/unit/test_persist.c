/*
 * test_persist.c - a region in a file (engine_open_file) outlives every
 * process that had it open:
 *  - reopened after a graceful stop (clean) or after the whole server died
 *    (kill -9 of every process: warm recovery), it serves what it held;
 *  - every crash point of crashpoints.c, with the whole server dead, is
 *    repaired by the next server's recovery;
 *  - processes that write under load are SIGKILLed all at once, many
 *    times: every acknowledged write is there, no value is torn, nothing
 *    leaks;
 *  - a file it must not trust (another configuration, another format,
 *    unclean across a reboot) is rebuilt cold, saying why; a file in use by
 *    another server is refused; a filesystem without room is refused.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crashpoints.h"
#include "fixture.h"
#include "engine/region.h"
#include "unit.h"

static char path[64];

static int setup(void)
{
    snprintf(path, sizeof(path), "/tmp/shmc_persist_%d", (int)getpid());
    return 0;
}

static int teardown(void)
{
    unlink(path);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for pid; 1 if it died of SIGKILL. */
static int killed(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_cold_then_warm(void)
{
    struct fixture f;
    struct engine_open_info info;
    char buf[32];
    unlink(path);
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 0);
    CU_ASSERT_STRING_EQUAL(info.why, "");       /* a new file */
    fx_store(&f, ENGINE_SET, "kept", "across", 5, 0);
    CU_ASSERT_EQUAL(engine_close_clean(f.e), 0);
    fixture_close(&f);

    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 1);
    CU_ASSERT_EQUAL(info.clean, 1);
    CU_ASSERT_EQUAL(info.repairs, 0);
    uint32_t flags = 0;
    CU_ASSERT_EQUAL(fx_get(&f, "kept", buf, sizeof buf, &flags, NULL),
                    ENGINE_OK);
    CU_ASSERT_STRING_EQUAL(buf, "across");
    CU_ASSERT_EQUAL(flags, 5);
    fx_check(&f);
    /* an inspection takes the file as it is, with its own configuration */
    struct engine *e = engine_open_file(NULL, path, 0, &info);
    CU_ASSERT_PTR_NULL(e);              /* still open by f: in use */
    fixture_close(&f);          /* not clean: the next open recovers */
    e = engine_open_file(NULL, path, 0, &info);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(info.warm, 1);
    CU_ASSERT_EQUAL(engine_mem_limit(e), (size_t)8 << 20);
    engine_close(e);
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 1);
    CU_ASSERT_EQUAL(info.clean, 0);
    CU_ASSERT_TRUE(fx_has(&f, "kept"));
    fixture_close(&f);
}

static void half_mb(struct engine_config *cfg)
{
    cfg->item_size_max = 512 * 1024;
}

static void half_mb_sizes(struct engine_config *cfg)
{
    half_mb(cfg);
    cfg->slab_sizes[0] = 200;
    cfg->slab_sizes[1] = 1080;
}

/* Opens the file with these settings: cold for the reason why (NULL:
 * warm), then closes it cleanly. */
static void reopen_clean(size_t mb, void (*adjust)(struct engine_config *),
                         const char *why)
{
    struct fixture f;
    struct engine_open_info info;
    CU_ASSERT_FATAL(fixture_open_file(&f, mb, path, adjust, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, why == NULL);
    if (why != NULL)
        CU_ASSERT_PTR_NOT_NULL(strstr(info.why, why));
    engine_close_clean(f.e);
    fixture_close(&f);
}

/* Rebuilt cold, with the reason, when it must not be trusted. */
static void test_refused_content(void)
{
    struct fixture f;
    struct engine_open_info info;
    unlink(path);
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    fx_store(&f, ENGINE_SET, "k", "v", 0, 0);
    engine_close_clean(f.e);
    fixture_close(&f);

    CU_ASSERT_FATAL(fixture_open_file(&f, 16, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.why, "-m (bytes) differs"));
    CU_ASSERT_FALSE(fx_has(&f, "k"));           /* never half trusted */
    fx_store(&f, ENGINE_SET, "k", "v", 0, 0);
    engine_close_clean(f.e);
    fixture_close(&f);

    reopen_clean(16, half_mb, "-I (bytes) differs");
    reopen_clean(16, half_mb_sizes, "slab_sizes differs");
    reopen_clean(16, half_mb_sizes, NULL);      /* the same list: warm */

    /* a format this binary does not know */
    int fd = open(path, O_RDWR);
    uint32_t version = REGION_VERSION + 1;
    CU_ASSERT_EQUAL(pwrite(fd, &version, 4, offsetof(struct region, version)),
                    4);
    close(fd);
    /* an inspection never rebuilds: refused, and the file is untouched */
    struct engine *e = engine_open_file(NULL, path, 0, &info);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.err, "format version"));
    if (e != NULL)
        engine_close(e);
    CU_ASSERT_FATAL(fixture_open_file(&f, 16, path, half_mb, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.why, "format version"));
    fixture_close(&f);

    /* not a region at all */
    fd = open(path, O_RDWR | O_TRUNC);
    CU_ASSERT_EQUAL(write(fd, "garbage", 7), 7);
    close(fd);
    CU_ASSERT_FATAL(fixture_open_file(&f, 16, path, half_mb, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.why, "too short"));
    fixture_close(&f);
}

/* A child that opens the file, stores, and dies holding nothing special. */
static void store_and_die(void)
{
    struct fixture f;
    struct engine_open_info info;
    if (fixture_open_file(&f, 8, path, NULL, &info) != 0)
        _exit(2);
    fx_store(&f, ENGINE_SET, "survivor", "yes", 0, 0);
    raise(SIGKILL);
}

static void test_unclean_other_boot(void)
{
    struct fixture f;
    struct engine_open_info info;
    unlink(path);
    pid_t pid = fork();
    if (pid == 0)
        store_and_die();
    CU_ASSERT_TRUE(killed(pid));
    /* same boot: warm */
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 1);
    CU_ASSERT_TRUE(fx_has(&f, "survivor"));
    fixture_close(&f);          /* unclean again */
    /* as if the machine had rebooted since */
    int fd = open(path, O_RDWR);
    char other[40] = "00000000-0000-0000-0000-000000000000";
    CU_ASSERT_EQUAL(pwrite(fd, other, sizeof other,
                           offsetof(struct region, boot_id)), 40);
    close(fd);
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.why, "boot"));
    CU_ASSERT_FALSE(fx_has(&f, "survivor"));
    fixture_close(&f);
}

/* Two servers never share a file: the second waits, then gives up. */
static void test_in_use(void)
{
    struct fixture f;
    struct engine_open_info info;
    int ready[2];
    unlink(path);
    CU_ASSERT_FATAL(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (fixture_open_file(&f, 8, path, NULL, &info) != 0)
            _exit(2);
        fx_store(&f, ENGINE_SET, "owner", "first", 0, 0);
        if (write(ready[1], "x", 1) != 1)
            _exit(3);
        pause();
        _exit(0);
    }
    char c;
    CU_ASSERT_EQUAL(read(ready[0], &c, 1), 1);
    struct engine_config cfg;
    fixture_config(&cfg, 8, NULL);
    double t0 = now_s();
    struct engine *e = engine_open_file(&cfg, path, 300, &info);
    CU_ASSERT_PTR_NULL(e);
    CU_ASSERT_PTR_NOT_NULL(strstr(info.err, "in use by another server"));
    CU_ASSERT(now_s() - t0 >= 0.25);            /* it did wait */
    kill(pid, SIGKILL);
    CU_ASSERT_TRUE(killed(pid));
    CU_ASSERT_FATAL(fixture_open_file(&f, 8, path, NULL, &info) == 0);
    CU_ASSERT_EQUAL(info.warm, 1);
    CU_ASSERT_TRUE(fx_has(&f, "owner"));
    fixture_close(&f);
    close(ready[0]);
    close(ready[1]);
}

static void reserve_16m(struct engine_config *cfg)
{
    cfg->mem_reserve = (size_t)16 << 20;
}

/* No room in the filesystem for the memory limit: refused at open, never
 * a SIGBUS later. An 8 MB tmpfs in a mount namespace of a child's own
 * (root only: skipped with a message elsewhere). */
static void test_no_room(void)
{
    char dir[64], file[96];
    snprintf(dir, sizeof dir, "/tmp/shmc_small_%d", (int)getpid());
    snprintf(file, sizeof file, "%s/cache", dir);
    if (mkdir(dir, 0700) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        struct fixture f;
        struct engine_open_info info;
        if (unshare(CLONE_NEWNS) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", dir, "tmpfs", 0, "size=8m") < 0)
            _exit(77);
        if (fixture_open_file(&f, 16, file, NULL, &info) == 0)
            _exit(1);
        if (!strstr(info.err, "cannot reserve"))
            _exit(2);
        /* no half-built file is left behind; a cache that fits opens */
        DIR *d = opendir(dir);
        int entries = 0;
        for (struct dirent *de; d && (de = readdir(d)) != NULL;)
            entries += de->d_name[0] != '.';
        if (d)
            closedir(d);
        if (entries > 1)
            _exit(3);
        if (fixture_open_file(&f, 2, file, reserve_16m, &info) != 0)
            _exit(4);
        /* growing past the room (cache_memlimit, within the region's
         * reserve) is refused too */
        if (engine_set_mem_limit(f.e, (size_t)16 << 20) != -1 ||
            engine_mem_limit(f.e) != (size_t)2 << 20)
            _exit(5);
        fixture_close(&f);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    rmdir(dir);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        printf("\n    skipped: a tmpfs cannot be mounted here (not root?) ");
        return;
    }
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "\n    no room: status 0x%x", status);
}

/* Every crash point with the whole server dead: the next server's open
 * recovers it. */
static void test_crash_points_whole_server(void)
{
    for (size_t i = 0; i < ncrashpoints; i++) {
        const struct crashpoint *cp = &crashpoints[i];
        struct fixture f;
        struct engine_open_info info;
        unlink(path);
        pid_t pid = fork();
        if (pid == 0) {
            if (fixture_open_file(&f, cp->mb, path, cp->adjust, &info) != 0)
                _exit(2);
            if (cp->setup)
                cp->setup(&f);
            cp->die(&f, engine_worker_attach(f.e, 0));
            _exit(3);
        }
        CU_ASSERT_TRUE(killed(pid));
        CU_ASSERT_FATAL(fixture_open_file(&f, cp->mb, path, cp->adjust,
                                          &info) == 0);
        if (!info.warm || info.repairs < cp->min_repairs)
            fprintf(stderr, "\n    %s: warm %d, %u repairs (%s)", cp->name,
                    info.warm, info.repairs, info.why);
        CU_ASSERT_EQUAL(info.warm, 1);
        CU_ASSERT(info.repairs >= cp->min_repairs);
        CU_ASSERT(info.reaped >= 1);
        fx_check(&f);
        cp->verify(&f);
        fx_check(&f);
        fixture_close(&f);
    }
}

/* ---- the whole tree killed under load, many times ------------------- */

#define LOADERS 3
#define KEYS 400

/* What each loader had acknowledged, shared with the test. */
struct acks {
    uint32_t seq[LOADERS][KEYS];
};

static void value_of(char *v, size_t *n, int loader, int k, uint32_t seq)
{
    int h = snprintf(v, 64, "L%d:%d:%u:", loader, k, seq);
    size_t len = 200 + (seq * 7 + (uint32_t)k) % 40;   /* one slab class */
    for (size_t i = (size_t)h; i < len; i++)
        v[i] = (char)('a' + (seq + i) % 26);
    *n = len;
}

static void loader(struct engine_worker *w, int id, struct acks *a)
{
    char key[32], v[300];
    size_t n;
    srandom((unsigned)getpid());
    for (;;) {
        int k = (int)(random() % KEYS);
        uint32_t seq = a->seq[id][k] + 1;
        snprintf(key, sizeof key, "L%d:%d", id, k);
        value_of(v, &n, id, k, seq);
        if (engine_store(w, ENGINE_SET, key, strlen(key), 0, 0, v, n, 0,
                         NULL) == ENGINE_STORED)
            __atomic_store_n(&a->seq[id][k], seq, __ATOMIC_RELEASE);
    }
}

/* A server: opens the file, forks the loaders; all die together. */
static void server(struct acks *a)
{
    struct fixture f;
    struct engine_open_info info;
    if (fixture_open_file(&f, 16, path, NULL, &info) != 0)
        _exit(2);
    engine_set_clock(f.e, NULL, NULL);
    for (int i = 0; i < LOADERS; i++) {
        struct engine_worker *w = engine_worker_attach(f.e, 0);
        if (fork() == 0)
            loader(w, i, a);
    }
    pause();
    _exit(0);
}

struct check {
    struct acks *a;
    int loader, k;
    int bad;
};

static void check_cb(void *arg, const struct engine_item_info *info)
{
    struct check *c = arg;
    char v[300], want[300];
    size_t n;
    uint32_t ack = c->a->seq[c->loader][c->k], seq = 0;
    engine_value_copy(info, 0, info->nbytes < sizeof v ? info->nbytes
                                                       : sizeof v, v);
    if (sscanf(v, "L%*d:%*d:%u:", &seq) != 1 || (seq != ack && seq != ack + 1))
        c->bad++;                       /* lost, or from nowhere */
    value_of(want, &n, c->loader, c->k, seq);
    if (n != info->nbytes || memcmp(v, want, n) != 0)
        c->bad++;                       /* torn */
}

static void test_kill_whole_tree(void)
{
    struct acks *a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(a != MAP_FAILED);
    memset(a, 0, sizeof(*a));
    unlink(path);
    unsigned seed = 42, rounds = 0, repairs = 0, lost = 0, missing = 0;
    double end = now_s() + 6.0;
    while (now_s() < end && rounds < 40) {
        pid_t pid = fork();
        if (pid == 0) {
            setpgid(0, 0);
            server(a);
        }
        setpgid(pid, pid);
        /* the first server's file must be whole (renamed in place) before
         * the kill, or the next open is a new file: on a loaded machine
         * the first open can take longer than the shortest wait */
        for (int w = 0; w < 500 && access(path, F_OK) != 0; w++)
            usleep(10000);
        usleep(20000 + (useconds_t)(rand_r(&seed) % 150000));
        kill(-pid, SIGKILL);            /* the whole tree, at once */
        while (waitpid(-pid, NULL, 0) > 0 || waitpid(pid, NULL, 0) > 0)
            ;
        usleep(20000);                  /* the loaders are reaped by init */
        struct fixture f;
        struct engine_open_info info;
        CU_ASSERT_FATAL(fixture_open_file(&f, 16, path, NULL, &info) == 0);
        CU_ASSERT_EQUAL(info.warm, 1);
        if (!info.warm)
            fprintf(stderr, "\n    round %u: cold: %s", rounds,
                    info.why[0] ? info.why : "a new file");
        repairs += info.repairs;
        fx_check(&f);
        char key[32];
        for (int l = 0; l < LOADERS; l++)
            for (int k = 0; k < KEYS; k++) {
                struct check c = { a, l, k, 0 };
                snprintf(key, sizeof key, "L%d:%d", l, k);
                if (engine_peek(f.w, key, strlen(key), check_cb, &c) != ENGINE_OK)
                    missing += a->seq[l][k] != 0;
                lost += (unsigned)c.bad;
            }
        fixture_close(&f);
        rounds++;
    }
    printf("\n    kill the tree: %u rounds, %u lock repairs, %u lost or torn, "
           "%u missing ", rounds, repairs, lost, missing);
    CU_ASSERT(rounds >= 10);
    CU_ASSERT_EQUAL(lost, 0);
    CU_ASSERT_EQUAL(missing, 0);

    /* nothing leaked: emptied, it holds as much as a fresh one */
    struct fixture f, fresh;
    struct engine_open_info info;
    CU_ASSERT_FATAL(fixture_open_file(&f, 16, path, NULL, &info) == 0);
    CU_ASSERT_FATAL(fixture_open(&fresh, 16, NULL) == 0);
    engine_flush(f.w, 0);
    f.now++;
    engine_sweep(f.w, 1u << 30);
    char key[32], v[221];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "fill:%d", i);
        fx_store(&f, ENGINE_SET, key, v, 0, 0);
        fx_store(&fresh, ENGINE_SET, key, v, 0, 0);
    }
    struct engine_stats s1, s2;
    engine_stats(f.e, &s1);
    engine_stats(fresh.e, &s2);
    CU_ASSERT_EQUAL(s1.curr_items, s2.curr_items);
    fx_check(&f);
    fixture_close(&f);
    fixture_close(&fresh);
    munmap(a, sizeof(*a));
}

UNIT_SUITE(persist, setup, teardown,
           UNIT_TEST(test_cold_then_warm), UNIT_TEST(test_refused_content),
           UNIT_TEST(test_unclean_other_boot), UNIT_TEST(test_in_use),
           UNIT_TEST(test_no_room), UNIT_TEST(test_crash_points_whole_server),
           UNIT_TEST(test_kill_whole_tree))
