/*
 * test_shlock.c - the robust lock protocol: a holder that dies leaves the
 * lock dirty; the next acquirer gets SHLOCK_DIRTY and the dead owner's slot;
 * a try-lock never takes a dirty lock; cleaning ends it.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/shlock.h"
#include "unit.h"

static struct shlock *shared_lock(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    return shlock_init(p) == 0 ? p : NULL;
}

static void test_plain(void)
{
    struct shlock *l = shared_lock();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT_EQUAL(shlock_acquire(l, 3), SHLOCK_OK);
    CU_ASSERT_EQUAL(l->owner, 3);
    CU_ASSERT_EQUAL(shlock_try(l, 4), SHLOCK_BUSY);   /* held: never blocks */
    shlock_release(l);
    CU_ASSERT_EQUAL(shlock_try(l, 4), SHLOCK_OK);
    CU_ASSERT_EQUAL(l->owner, 4);
    shlock_release(l);
    munmap(l, 4096);
}

static void test_dead_owner(void)
{
    struct shlock *l = shared_lock();
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    pid_t pid = fork();
    if (pid == 0) {
        shlock_acquire(l, 7);
        raise(SIGKILL);
    }
    waitpid(pid, NULL, 0);
    /* a try-lock leaves the repair to a blocking acquirer */
    CU_ASSERT_EQUAL(shlock_try(l, 1), SHLOCK_BUSY);
    CU_ASSERT_EQUAL(l->dirty, 1);
    CU_ASSERT_EQUAL(shlock_acquire(l, 1), SHLOCK_DIRTY);
    CU_ASSERT_EQUAL(l->owner, 7);          /* who died, for the repair */
    /* released before repairing: still dirty for the next acquirer */
    shlock_release(l);
    CU_ASSERT_EQUAL(l->dirty, 1);
    /* and a repairer that dies half way leaves it dirty as well */
    pid = fork();
    if (pid == 0) {
        if (shlock_acquire(l, 2) == SHLOCK_DIRTY)
            raise(SIGKILL);   /* dies during the repair */
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFSIGNALED(status));
    CU_ASSERT_EQUAL(shlock_acquire(l, 1), SHLOCK_DIRTY);
    shlock_clean(l, 1);
    CU_ASSERT_EQUAL(l->dirty, 0);
    shlock_release(l);
    CU_ASSERT_EQUAL(shlock_acquire(l, 5), SHLOCK_OK);
    shlock_release(l);
    munmap(l, 4096);
}

UNIT_SUITE(shlock, NULL, NULL, UNIT_TEST(test_plain), UNIT_TEST(test_dead_owner))
