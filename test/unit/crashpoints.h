/*
 * crashpoints.h - the engine's crash points, shared by the suites that
 * kill processes: each is a half-done operation that a process performs
 * with the engine's internal functions before it SIGKILLs itself holding
 * the locks, the state it starts from, and what must be true once the
 * death is repaired.
 *
 * test_recover runs each with one worker dying while the engine lives on
 * (the master's reap repairs it); test_persist with the whole server dying
 * (the file is reopened and recovered by the next server). Both then check
 * every invariant (engine_check) and the outcome below.
 */
#ifndef SHMC_TEST_CRASHPOINTS_H
#define SHMC_TEST_CRASHPOINTS_H

#include "fixture.h"

struct crashpoint {
    const char *name;
    size_t mb;                                  /* the cache's -m */
    void (*setup)(struct fixture *f);           /* may be NULL */
    void (*die)(struct fixture *f, struct engine_worker *w);
    void (*verify)(struct fixture *f);          /* CUnit assertions */
    unsigned min_repairs;   /* locks the dead process must have left */
    void (*adjust)(struct engine_config *cfg);  /* the cache's settings
                                                   (fixture_open), or NULL */
};

extern const struct crashpoint crashpoints[];
extern const size_t ncrashpoints;

#endif
