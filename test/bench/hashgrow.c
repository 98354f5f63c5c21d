/*
 * hashgrow.c - what the hash table's growth costs (make bench-hash; also
 * run by make bench). Engine level, through the public API only, so the
 * figures are the table's and not the network's.
 *
 *   fill      N items (9-byte keys, 20-byte values) stored by one process
 *             into a table that starts at 2^12 buckets and grows as the
 *             server grows it (a second process at the master's pace:
 *             splits for 2 ms, 1 ms of rest, while a doubling is under
 *             way, a look every 10 ms otherwise); the same into a table
 *             sized for N from the start; and into 2^12 buckets that never
 *             grow (-o no_hashexpand), for scale (N/10 items).
 *   lookups   random gets of stored keys, ns per get: on a table at 1.5
 *             items per bucket (just before a doubling), while it doubles
 *             (measured only while hash_is_expanding), and after (0.75).
 *
 *             For scale, the same table with another process doing gets
 *             (the competition for two CPUs a grower also brings).
 *
 * Each figure is the median of ROUNDS runs. Timings are printed, never
 * asserted. Usage: bench_hashgrow [N] (default 1000000; the cache is
 * sized for N; the no_hashexpand fill stores N/10).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

static struct engine *make(size_t n, int power, int expand)
{
    struct engine_config cfg;
    const char *err = NULL;
    engine_config_defaults(&cfg);
    cfg.mem_limit = ((n * 96 * 5 / 4) >> 20 << 20) + (64u << 20);
    cfg.hashpower = power;
    cfg.hash_expand = expand;
    struct engine *e = engine_create(&cfg, &err);
    if (e == NULL) {
        fprintf(stderr, "engine_create: %s\n", err);
        exit(1);
    }
    return e;
}

/* The master's pace (master.c hash_grow, master_int.h HASH_*): splits for
 * 2 ms in calls of 256, 1 ms of rest, while a doubling is under way; a
 * look every 10 ms otherwise. In a process of its own until killed. */
static pid_t grower(struct engine *e)
{
    struct engine_worker *w = engine_worker_attach(e, 0);
    pid_t pid = fork();
    if (pid == 0)
        for (;;) {
            double until = now_s() + 0.002;
            int rc;
            do
                rc = engine_hash_grow(w, 256);
            while (rc > 0 && now_s() < until);
            nap(rc > 0 ? 0.001 : 0.01);
        }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void key_of(char *k, size_t i)
{
    snprintf(k, 24, "k%08zu", i);
}

static double fill(struct engine_worker *w, size_t from, size_t to)
{
    char key[24];
    static const char val[] = "01234567890123456789";
    double t0 = now_s();
    for (size_t i = from; i < to; i++) {
        key_of(key, i);
        if (engine_store(w, ENGINE_SET, key, strlen(key), 0, 0, val, 20, 0,
                         NULL) != ENGINE_STORED) {
            fprintf(stderr, "store %s failed\n", key);
            exit(1);
        }
    }
    return now_s() - t0;
}

static struct engine_stats stats_of(struct engine *e)
{
    struct engine_stats st;
    engine_stats(e, &st);
    return st;
}

/* Waits until no doubling is due or under way. */
static void settle(struct engine *e)
{
    for (int i = 0; i < 600; i++) {
        struct engine_stats st = stats_of(e);
        if (!st.hash_is_expanding &&
            st.curr_items <= (3ull << st.hash_power_level) / 2)
            return;
        nap(0.05);
    }
}

/* ns per get of random stored keys in [0, n); while `during`, only as long
 * as a doubling is under way. */
static double gets(struct engine_worker *w, struct engine *e, size_t n,
                   int during, size_t *count)
{
    char key[24];
    unsigned seed = 12345;
    size_t done = 0, misses = 0;
    double t0 = now_s();
    while (during ? stats_of(e).hash_is_expanding : done < 2000000) {
        for (int j = 0; j < 1000; j++, done++) {
            key_of(key, (size_t)rand_r(&seed) % n);
            misses += engine_get(w, key, strlen(key), NULL, NULL) !=
                      ENGINE_OK;
        }
    }
    double t = now_s() - t0;
    if (misses)
        fprintf(stderr, "%zu misses!\n", misses);
    *count = done;
    return done ? t * 1e9 / (double)done : 0;
}

#define ROUNDS 3

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return v[ROUNDS / 2];
}

/* Seconds to store n items into a table of 2^power buckets, grown by a
 * master-paced process (grow), or not; *tail: seconds until it settled
 * after the last store; *final: its power then. */
static double one_fill(size_t n, int power, int expand, int grow,
                       double *tail, unsigned *final)
{
    struct engine *e = make(n, power, expand);
    struct engine_worker *w = engine_worker_attach(e, getpid());
    pid_t g = grow ? grower(e) : 0;
    double t = fill(w, 0, n);
    double t0 = now_s();
    if (grow)
        settle(e);
    *tail = now_s() - t0;
    if (grow)
        stop(g);
    *final = stats_of(e).hash_power_level;
    engine_worker_detach(w);
    engine_close(e);
    return t;
}

static void bench_fill(size_t n)
{
    double grown[ROUNDS], sized[ROUNDS], flat[ROUNDS], tail[ROUNDS], x;
    unsigned power = 12, p;
    size_t small = n / 10;
    for (int r = 0; r < ROUNDS; r++) {
        grown[r] = one_fill(n, 12, 1, 1, &tail[r], &power);
        sized[r] = one_fill(n, (int)power, 1, 0, &x, &p);
        flat[r] = one_fill(small, 12, 0, 0, &x, &p);
    }
    double g = median(grown), z = median(sized), f = median(flat);
    printf("| %zu items, from 2^12, growing | %.2f s | %.0f ns | 2^%u, "
           "settled %.2f s after the last store |\n", n, g,
           g * 1e9 / (double)n, power, median(tail));
    printf("| %zu items, pre-sized 2^%u | %.2f s | %.0f ns | 2^%u |\n", n,
           power, z, z * 1e9 / (double)n, power);
    printf("| %zu items, 2^12, no_hashexpand | %.2f s | %.0f ns | 2^12 |\n",
           small, f, f * 1e9 / (double)small);
}

/* A process doing random gets on the table, until killed: the same
 * competition for the CPUs and memory as a grower, without a growth. */
static pid_t getter(struct engine *e, size_t n)
{
    struct engine_worker *w = engine_worker_attach(e, 0);
    pid_t pid = fork();
    size_t c;
    if (pid == 0)
        for (;;)
            gets(w, e, n, 0, &c);
    return pid;
}

static void bench_lookups(size_t n)
{
    unsigned p = 12;
    while ((3ull << (p + 1)) / 2 < n)
        p++;
    size_t at = (3ull << p) / 2, c;             /* 1.5 per bucket */
    double before[ROUNDS], busy[ROUNDS], during[ROUNDS], after[ROUNDS];
    double took[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        struct engine *e = make(at + 1, (int)p, 1);
        struct engine_worker *w = engine_worker_attach(e, getpid());
        fill(w, 0, at);
        before[r] = gets(w, e, at, 0, &c);
        pid_t o = getter(e, at);
        busy[r] = gets(w, e, at, 0, &c);
        stop(o);
        fill(w, at, at + 1);                    /* a doubling is due */
        pid_t g = grower(e);
        while (!stats_of(e).hash_is_expanding)
            nap(0.0005);
        double t0 = now_s();
        during[r] = gets(w, e, at, 1, &c);
        took[r] = now_s() - t0;
        stop(g);
        after[r] = gets(w, e, at, 0, &c);
        engine_worker_detach(w);
        engine_close(e);
    }
    printf("| 2^%u buckets, %zu items (1.5 per bucket) | %.0f ns |\n", p,
           at, median(before));
    printf("| the same, another process doing gets meanwhile | %.0f ns "
           "|\n", median(busy));
    printf("| while it doubles to 2^%u (the grower at the master's pace; "
           "the doubling took %.2f s) | %.0f ns |\n", p + 1, median(took),
           median(during));
    printf("| 2^%u buckets (0.75 per bucket) | %.0f ns |\n", p + 1,
           median(after));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    printf("hash table growth, engine level (medians of %d rounds)\n\n",
           ROUNDS);
    printf("| fill | time | per store | table |\n|---|---|---|---|\n");
    bench_fill(n);
    printf("\n| a get of a random stored key (one process) | time "
           "|\n|---|---|\n");
    bench_lookups(n);
    return 0;
}
