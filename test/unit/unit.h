/*
 * unit.h - registration of CUnit suites. Each test file describes its suite
 * with UNIT_SUITE(name, init, cleanup, tests...) and main.c adds every
 * registered suite to the CUnit registry, so files never edit a shared list.
 */
#ifndef SHMC_UNIT_H
#define SHMC_UNIT_H

#include <CUnit/CUnit.h>

struct unit_test { const char *name; CU_TestFunc fn; };
struct unit_suite {
    const char *name;
    CU_InitializeFunc init;
    CU_CleanupFunc cleanup;
    const struct unit_test *tests;
    struct unit_suite *next;
};

void unit_register(struct unit_suite *s);

#define UNIT_TEST(fn) { #fn, fn }
#define UNIT_SUITE(sname, initf, cleanupf, ...)                             \
    static const struct unit_test sname##_tests[] = { __VA_ARGS__,          \
                                                      { NULL, NULL } };     \
    static struct unit_suite sname##_suite = { #sname, initf, cleanupf,     \
                                               sname##_tests, NULL };       \
    __attribute__((constructor)) static void sname##_register(void)        \
    {                                                                       \
        unit_register(&sname##_suite);                                      \
    }

#endif
