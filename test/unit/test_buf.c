/*
 * test_buf.c - the growable byte buffer (core/buf.c): growth keeps the
 * content, appending nothing allocates nothing, printf of any length,
 * consume of a prefix or of everything, reset that gives memory back only
 * above `keep`, and a reservation too large to ever succeed fails with the
 * buffer unchanged (instead of wrapping around or looping forever).
 */
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "unit.h"

static void test_buf_init_empty(void)
{
    struct buf b;
    memset(&b, 0x5a, sizeof(b));
    buf_init(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    /* appending nothing touches nothing (no allocation, no memcpy) */
    CU_ASSERT_EQUAL(buf_append(&b, NULL, 0), 0);
    CU_ASSERT_EQUAL(buf_appendz(&b, ""), 0);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.cap, 0);
    buf_free(&b);
}

static void test_buf_append_grows(void)
{
    struct buf b;
    char chunk[100];
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_append(&b, "ab", 2), 0);
    CU_ASSERT_EQUAL(b.cap, 256);            /* first allocation */
    for (int i = 0; i < 50; i++) {
        memset(chunk, 'a' + i % 26, sizeof(chunk));
        CU_ASSERT_EQUAL_FATAL(buf_append(&b, chunk, sizeof(chunk)), 0);
    }
    CU_ASSERT_EQUAL(b.len, 2 + 50 * sizeof(chunk));
    CU_ASSERT(b.cap >= b.len);
    CU_ASSERT_EQUAL(b.cap & (b.cap - 1), 0);    /* doubled from 256 */
    CU_ASSERT(memcmp(b.data, "ab", 2) == 0);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(b.data[2 + i * sizeof(chunk) + 99], 'a' + i % 26);
    CU_ASSERT_EQUAL(buf_appendz(&b, "xyz"), 0);
    CU_ASSERT(memcmp(b.data + b.len - 3, "xyz", 3) == 0);
    buf_free(&b);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(b.len, 0);
}

static void test_buf_reserve(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_reserve(&b, 1000), 0);
    CU_ASSERT(b.cap >= 1000);
    CU_ASSERT_EQUAL(b.len, 0);
    char *before = b.data;
    size_t cap = b.cap;
    CU_ASSERT_EQUAL(buf_reserve(&b, cap), 0);   /* fits: no realloc */
    CU_ASSERT_PTR_EQUAL(b.data, before);
    CU_ASSERT_EQUAL(buf_append(&b, "hello", 5), 0);
    CU_ASSERT_EQUAL(buf_reserve(&b, cap), 0);   /* len + cap: grows */
    CU_ASSERT(b.cap - b.len >= cap);
    CU_ASSERT(memcmp(b.data, "hello", 5) == 0);
    buf_free(&b);
}

/* Sizes no allocation can satisfy fail at once, content kept: len + more
 * overflowing size_t used to wrap to a small size and report success, and
 * a size above SIZE_MAX / 2 made the doubling overflow to 0 and spin. */
static void test_buf_reserve_overflow(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_append(&b, "keep", 4), 0);
    size_t cap = b.cap;
    CU_ASSERT_EQUAL(buf_reserve(&b, SIZE_MAX), -1);
    CU_ASSERT_EQUAL(buf_reserve(&b, SIZE_MAX - 2), -1);
    CU_ASSERT_EQUAL(buf_reserve(&b, SIZE_MAX / 2 + 1), -1);
    CU_ASSERT_EQUAL(b.len, 4);
    CU_ASSERT_EQUAL(b.cap, cap);
    CU_ASSERT(memcmp(b.data, "keep", 4) == 0);
    buf_free(&b);
}

static void test_buf_printf(void)
{
    struct buf b;
    char big[1000];
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_printf(&b, "%d-%s", 42, "x"), 0);   /* empty buf */
    CU_ASSERT_EQUAL(b.len, 4);
    CU_ASSERT(memcmp(b.data, "42-x", 4) == 0);
    /* longer than the room left: formatted again after growing */
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CU_ASSERT_EQUAL(buf_printf(&b, "[%s]", big), 0);
    CU_ASSERT_EQUAL(b.len, 4 + 2 + 999);
    CU_ASSERT_EQUAL(b.data[4], '[');
    CU_ASSERT_EQUAL(b.data[4 + 1 + 998], 'q');
    CU_ASSERT_EQUAL(b.data[b.len - 1], ']');
    /* exactly filling the room (n == cap - len needs the NUL too) */
    struct buf c;
    buf_init(&c);
    CU_ASSERT_EQUAL(buf_reserve(&c, 1), 0);
    size_t room = c.cap - c.len;
    memset(big, 'r', room);
    big[room] = '\0';
    CU_ASSERT_EQUAL(buf_printf(&c, "%s", big), 0);
    CU_ASSERT_EQUAL(c.len, room);
    CU_ASSERT_EQUAL(c.data[room - 1], 'r');
    buf_free(&c);
    buf_free(&b);
}

static void test_buf_consume(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_appendz(&b, "get a\r\nget b\r\n"), 0);
    buf_consume(&b, 7);
    CU_ASSERT_EQUAL(b.len, 7);
    CU_ASSERT(memcmp(b.data, "get b\r\n", 7) == 0);
    buf_consume(&b, 0);
    CU_ASSERT_EQUAL(b.len, 7);
    buf_consume(&b, 100);                   /* more than held: empty */
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_PTR_NOT_NULL(b.data);         /* the allocation stays */
    buf_free(&b);
}

static void test_buf_reset(void)
{
    struct buf b;
    buf_init(&b);
    CU_ASSERT_EQUAL(buf_reserve(&b, 4000), 0);
    CU_ASSERT_EQUAL(buf_appendz(&b, "data"), 0);
    size_t cap = b.cap;
    buf_reset(&b, cap);                     /* within keep: kept */
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, cap);
    CU_ASSERT_PTR_NOT_NULL(b.data);
    buf_reset(&b, cap - 1);                 /* above keep: freed */
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.cap, 0);
    CU_ASSERT_PTR_NULL(b.data);
    CU_ASSERT_EQUAL(buf_appendz(&b, "again"), 0);   /* usable after */
    CU_ASSERT(memcmp(b.data, "again", 5) == 0);
    buf_free(&b);
}

UNIT_SUITE(buf, NULL, NULL,
           UNIT_TEST(test_buf_init_empty),
           UNIT_TEST(test_buf_append_grows),
           UNIT_TEST(test_buf_reserve),
           UNIT_TEST(test_buf_reserve_overflow),
           UNIT_TEST(test_buf_printf),
           UNIT_TEST(test_buf_consume),
           UNIT_TEST(test_buf_reset))
