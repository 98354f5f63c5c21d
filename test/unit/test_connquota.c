/*
 * test_connquota.c - the -c connection limit shared by every worker
 * (server/connquota.c): take/put/reset arithmetic, a refused take leaves
 * nothing taken, the count is seen across fork() (MAP_SHARED), and the
 * limit is exact when processes race for the last units.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/connquota.h"
#include "unit.h"

static void test_quota(void)
{
    struct conn_quota *q = conn_quota_create(2);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(conn_quota_total(q), 0);    /* fresh: zero */
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 3), 0);
    CU_ASSERT_EQUAL(conn_quota_take(q, 1, 3), 0);
    CU_ASSERT_EQUAL(conn_quota_take(q, 1, 3), 0);
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 3), -1);
    CU_ASSERT_EQUAL(conn_quota_total(q), 3);    /* the refusal took none */
    conn_quota_put(q, 0);
    CU_ASSERT_EQUAL(conn_quota_total(q), 2);
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 3), 0);
    conn_quota_reset(q, 1);             /* worker 1 died holding 2 */
    CU_ASSERT_EQUAL(conn_quota_total(q), 1);
    conn_quota_reset(q, 1);             /* idempotent: nothing left */
    CU_ASSERT_EQUAL(conn_quota_total(q), 1);
    conn_quota_reset(q, 0);
    CU_ASSERT_EQUAL(conn_quota_total(q), 0);
    conn_quota_destroy(q);
}

/* A lowered limit refuses new takes while more are open than it allows,
 * and puts bring the count back under it. */
static void test_quota_lowered_limit(void)
{
    struct conn_quota *q = conn_quota_create(1);
    CU_ASSERT_FATAL(q != NULL);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(conn_quota_take(q, 0, 10), 0);
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 3), -1);
    CU_ASSERT_EQUAL(conn_quota_total(q), 5);
    conn_quota_put(q, 0);
    conn_quota_put(q, 0);
    conn_quota_put(q, 0);
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 3), 0);
    CU_ASSERT_EQUAL(conn_quota_total(q), 3);
    conn_quota_destroy(q);
}

/* Forked processes share one count: what a child takes the parent sees,
 * and a reset of the child's index gives back exactly its units. */
static void test_quota_shared_across_fork(void)
{
    struct conn_quota *q = conn_quota_create(3);
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(conn_quota_take(q, 0, 100), 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int ok = 1;
        for (int i = 0; i < 4; i++)
            ok &= conn_quota_take(q, 2, 100) == 0;
        _exit(ok ? 0 : 1);
    }
    int status;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(conn_quota_total(q), 5);
    conn_quota_reset(q, 2);             /* the child "died" */
    CU_ASSERT_EQUAL(conn_quota_total(q), 1);
    conn_quota_destroy(q);
}

/* Four processes race for 100 units, 1000 attempts each: exactly 100
 * takes succeed in total, never more. */
static void test_quota_exact_under_race(void)
{
    enum { PROCS = 4, LIMIT = 100, TRIES = 1000 };
    struct conn_quota *q = conn_quota_create(PROCS);
    CU_ASSERT_FATAL(q != NULL);
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        CU_ASSERT_FATAL(pids[p] >= 0);
        if (pids[p] == 0) {
            int got = 0;
            for (int i = 0; i < TRIES; i++)
                got += conn_quota_take(q, p, LIMIT) == 0;
            _exit(got);             /* 0..100 fits an exit status */
        }
    }
    int sum = 0;
    for (int p = 0; p < PROCS; p++) {
        int status;
        CU_ASSERT_EQUAL(waitpid(pids[p], &status, 0), pids[p]);
        CU_ASSERT_TRUE(WIFEXITED(status));
        sum += WEXITSTATUS(status);
    }
    CU_ASSERT_EQUAL(sum, LIMIT);
    CU_ASSERT_EQUAL(conn_quota_total(q), LIMIT);
    for (int p = 0; p < PROCS; p++)
        conn_quota_reset(q, p);
    CU_ASSERT_EQUAL(conn_quota_total(q), 0);
    conn_quota_destroy(q);
}

UNIT_SUITE(connquota, NULL, NULL,
           UNIT_TEST(test_quota),
           UNIT_TEST(test_quota_lowered_limit),
           UNIT_TEST(test_quota_shared_across_fork),
           UNIT_TEST(test_quota_exact_under_race))
