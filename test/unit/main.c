/*
 * main.c - runs every registered CUnit suite and prints CUnit's summary.
 * An optional argument runs only the suite of that name.
 * Exit status: 0 when every test passed.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

static struct unit_suite *suites;

void unit_register(struct unit_suite *s)
{
    /* keep file order stable: append */
    struct unit_suite **p = &suites;
    while (*p)
        p = &(*p)->next;
    s->next = NULL;
    *p = s;
}

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (struct unit_suite *s = suites; s; s = s->next) {
        if (argc > 1 && strcmp(argv[1], s->name) != 0)
            continue;
        CU_pSuite cs = CU_add_suite(s->name, s->init, s->cleanup);
        if (cs == NULL)
            return 2;
        for (const struct unit_test *t = s->tests; t->name; t++)
            if (CU_add_test(cs, t->name, t->fn) == NULL)
                return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() +
                      CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
