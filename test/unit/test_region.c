/*
 * test_region.c - the region's header and geometry checks: a process
 * attaching an existing region (engine_attach_fd) must refuse, with the
 * reason, anything this binary did not build or would read differently:
 * an unfinished or foreign region (magic), another format version, another
 * header size, a size or layout that does not match its own configuration.
 * A region that passes is the same cache: what was stored is there.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "engine/region.h"
#include "unit.h"

/* Attaches a second handle on f's region; returns it or NULL with *why. */
static struct engine *reattach(struct fixture *f, const char **why)
{
    int fd = dup(engine_fd(f->e));
    struct engine *e = engine_attach_fd(fd, why);
    if (e == NULL)
        close(fd);
    return e;
}

static int has(const char *why, const char *part)
{
    return why != NULL && strstr(why, part) != NULL;
}

static void test_attach_same(void)
{
    struct fixture f;
    const char *why = NULL;
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    fx_store(&f, ENGINE_SET, "kept", "value", 3, 0);
    struct engine *e = reattach(&f, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_PTR_NULL(why);
    struct engine_worker *w = engine_worker_attach(e, 0);
    CU_ASSERT_EQUAL(engine_peek(w, "kept", 4, NULL, NULL), ENGINE_OK);
    engine_worker_detach(w);
    engine_close(e);
    fixture_close(&f);
}

static void test_attach_refused(void)
{
    struct fixture f;
    const char *why = NULL;
    CU_ASSERT_FATAL(fixture_open(&f, 4, NULL) == 0);
    struct region *r = f.e->r;

    uint64_t magic = r->magic;
    r->magic = 0;                               /* creation never finished */
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "bad magic"));
    r->magic = magic;

    r->version++;                               /* another format */
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "format version"));
    r->version--;

    r->hdr_size += 8;                           /* a layout constant moved */
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "header size"));
    r->hdr_size -= 8;

    size_t limit = r->cfg.mem_limit;
    r->cfg.mem_limit = limit * 2;               /* geometry of another -m */
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "geometry"));
    r->cfg.mem_limit = limit;

    r->off_pages += 4096;                       /* an offset moved */
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "geometry"));
    r->off_pages -= 4096;

    /* the file is not the size the header says */
    off_t size = (off_t)r->region_size;
    CU_ASSERT_EQUAL(ftruncate(engine_fd(f.e), size + 4096), 0);
    CU_ASSERT_PTR_NULL(reattach(&f, &why));
    CU_ASSERT(has(why, "geometry"));
    CU_ASSERT_EQUAL(ftruncate(engine_fd(f.e), size), 0);

    /* too small to hold a header */
    int tiny = memfd_create("tiny", 0);
    CU_ASSERT_EQUAL(ftruncate(tiny, 64), 0);
    CU_ASSERT_PTR_NULL(engine_attach_fd(tiny, &why));
    CU_ASSERT(has(why, "too small"));
    close(tiny);

    /* everything restored: accepted again */
    struct engine *e = reattach(&f, &why);
    CU_ASSERT_PTR_NOT_NULL(e);
    if (e != NULL)
        engine_close(e);
    fixture_close(&f);
}

UNIT_SUITE(region, NULL, NULL,
           UNIT_TEST(test_attach_same), UNIT_TEST(test_attach_refused))
