/*
 * test_log.c - leveled logging (core/log.c), written to a pipe: which
 * levels pass at each verbosity, the line format (local time with
 * milliseconds, [pid], level prefix, newline), one write() per line, the
 * clamping of the verbosity, and the truncation of long messages to one
 * line within the 1 KiB buffer that still ends in a newline.
 */
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/log.h"
#include "unit.h"

struct cap {
    int rd;
    struct logger lg;
};

static int cap_open(struct cap *c, int verbose)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    c->rd = p[0];
    log_init(&c->lg, verbose);
    c->lg.fd = p[1];
    return 0;
}

static void cap_close(struct cap *c)
{
    close(c->rd);
    close(c->lg.fd);
}

/* What was written so far (NUL-terminated). */
static size_t cap_read(struct cap *c, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len < cap - 1 && (n = read(c->rd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    return len;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_log_init_clamps(void)
{
    struct logger lg;
    log_init(&lg, 7);
    CU_ASSERT_EQUAL(lg.verbose, 3);
    CU_ASSERT_EQUAL(lg.use_syslog, 0);
    CU_ASSERT_EQUAL(lg.fd, STDERR_FILENO);
    log_init(&lg, -4);
    CU_ASSERT_EQUAL(lg.verbose, 0);
    log_set_verbose(&lg, 2);
    CU_ASSERT_EQUAL(lg.verbose, 2);
    log_set_verbose(&lg, 99);
    CU_ASSERT_EQUAL(lg.verbose, LOG_LVL_TRACE);
}

static void test_log_levels(void)
{
    struct logger lg;
    log_init(&lg, 0);
    CU_ASSERT_TRUE(log_enabled(&lg, LOG_LVL_ERROR));
    CU_ASSERT_TRUE(log_enabled(&lg, LOG_LVL_WARN));
    CU_ASSERT_FALSE(log_enabled(&lg, LOG_LVL_INFO));
    log_set_verbose(&lg, 1);
    CU_ASSERT_TRUE(log_enabled(&lg, LOG_LVL_INFO));
    CU_ASSERT_FALSE(log_enabled(&lg, LOG_LVL_DEBUG));
    log_set_verbose(&lg, 2);
    CU_ASSERT_TRUE(log_enabled(&lg, LOG_LVL_DEBUG));
    CU_ASSERT_FALSE(log_enabled(&lg, LOG_LVL_TRACE));
    log_set_verbose(&lg, 3);
    CU_ASSERT_TRUE(log_enabled(&lg, LOG_LVL_TRACE));
}

/* At -v: error, warning and info lines are written, debug is not. */
static void test_log_filters(void)
{
    struct cap c;
    char buf[4096];
    CU_ASSERT_FATAL(cap_open(&c, 1) == 0);
    log_error(&c.lg, "e%d", 1);
    log_warn(&c.lg, "w%d", 2);
    log_info(&c.lg, "i%d", 3);
    log_debug(&c.lg, "d%d", 4);
    log_trace(&c.lg, "t%d", 5);
    cap_read(&c, buf, sizeof(buf));
    CU_ASSERT_EQUAL(count_lines(buf), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "error: e1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "warning: w2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "] i3\n"));     /* no prefix */
    CU_ASSERT_PTR_NULL(strstr(buf, "d4"));
    CU_ASSERT_PTR_NULL(strstr(buf, "t5"));
    cap_close(&c);
}

static void test_log_format(void)
{
    struct cap c;
    char buf[512], want[160];
    regex_t re;
    CU_ASSERT_FATAL(cap_open(&c, 0) == 0);
    log_warn(&c.lg, "worker %d: %s", 2, "started");
    size_t n = cap_read(&c, buf, sizeof(buf));
    snprintf(want, sizeof(want), "^[0-9]{4}-[0-9]{2}-[0-9]{2} "
             "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} \\[%ld\\] warning: "
             "worker 2: started\n$", (long)getpid());
    CU_ASSERT_FATAL(regcomp(&re, want, REG_EXTENDED) == 0);
    CU_ASSERT_EQUAL(regexec(&re, buf, 0, NULL, 0), 0);
    if (regexec(&re, buf, 0, NULL, 0) != 0)
        fprintf(stderr, "\n  got: \"%.*s\"\n", (int)n, buf);
    regfree(&re);
    cap_close(&c);
}

/* A message longer than a line is cut to fit the 1 KiB line buffer
 * (1022 bytes, then the newline), in one write: the next message starts
 * on a line of its own. */
static void test_log_truncates(void)
{
    struct cap c;
    static char big[3000], buf[8192];
    CU_ASSERT_FATAL(cap_open(&c, 0) == 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_error(&c.lg, "%s", big);
    log_error(&c.lg, "after");
    size_t n = cap_read(&c, buf, sizeof(buf));
    char *nl = strchr(buf, '\n');
    CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
    CU_ASSERT_EQUAL(nl - buf + 1, 1023);
    CU_ASSERT_EQUAL(nl[-1], 'x');
    CU_ASSERT_EQUAL(count_lines(buf), 2);
    CU_ASSERT(n > 1023 && strstr(nl + 1, "error: after\n") != NULL);
    cap_close(&c);
}

/* Verbosity 0 writes nothing for info; raising it at run time takes
 * effect for the next message. */
static void test_log_set_verbose_live(void)
{
    struct cap c;
    char buf[512];
    CU_ASSERT_FATAL(cap_open(&c, 0) == 0);
    log_info(&c.lg, "hidden");
    CU_ASSERT_EQUAL(cap_read(&c, buf, sizeof(buf)), 0);
    log_set_verbose(&c.lg, 1);
    log_info(&c.lg, "shown");
    cap_read(&c, buf, sizeof(buf));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "shown\n"));
    cap_close(&c);
}

UNIT_SUITE(log, NULL, NULL,
           UNIT_TEST(test_log_init_clamps),
           UNIT_TEST(test_log_levels),
           UNIT_TEST(test_log_filters),
           UNIT_TEST(test_log_format),
           UNIT_TEST(test_log_truncates),
           UNIT_TEST(test_log_set_verbose_live))
