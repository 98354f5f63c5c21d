/*
 * cachefile.c - the cache region as the server opens and closes it (see
 * cachefile.h).
 *
 * Without -e the region is a memfd that the master creates and every
 * process it forks inherits: the cache lives as long as one of them does.
 * With -e it is the file's (engine_open_file): its space is reserved up
 * front, it is reserved only for -m (or memory_reserve when given, for
 * cache_memlimit to grow into), and what the open did is logged at warning
 * level, since an operator must see a cold start and its reason without
 * -v.
 */
#include "server/cachefile.h"

#include <stdio.h>
#include <unistd.h>
#include <time.h>

#include "core/log.h"
#include "engine/engine.h"
#include "server/daemon.h"
#include "server/settings.h"

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct engine *open_memfd(const struct settings *s,
                                 struct engine_config *cfg,
                                 const struct logger *lg)
{
    const char *err = "unknown error";
    /* cache_memlimit may grow into the machine's memory: reserved address
     * space costs nothing until it is used */
    if (s->mem_reserve == 0 && daemon_default_reserve(s) > cfg->mem_reserve)
        cfg->mem_reserve = daemon_default_reserve(s);
    struct engine *e = engine_create(cfg, &err);
    if (e == NULL)
        log_error(lg, "failed to create the cache region (%zu MB): %s",
                  cfg->mem_reserve >> 20, err);
    else
        log_info(lg, "cache region ready: %zu MB limit, %zu MB reserved",
                 cfg->mem_limit >> 20, cfg->mem_reserve >> 20);
    return e;
}

static struct engine *open_file(const struct settings *s,
                                const struct engine_config *cfg,
                                const struct logger *lg)
{
    struct engine_open_info info;
    double t0 = mono_ms();
    struct engine *e = engine_open_file(cfg, s->memory_file,
                                        s->memory_file_wait * 1000, &info);
    double ms = mono_ms() - t0;
    if (e == NULL) {
        log_error(lg, "memory file %s: %s", s->memory_file, info.err);
        return NULL;
    }
    if (info.warm) {
        struct engine_stats st;
        engine_stats(e, &st);
        log_warn(lg, "memory file %s: warm start in %.1f ms after %s: "
                 "%llu item(s) kept, %u lock repair(s), %u slot(s) of the "
                 "dead server reaped, %u half-received value(s) freed",
                 s->memory_file, ms,
                 info.clean ? "a graceful stop" : "an unclean end",
                 (unsigned long long)st.curr_items, info.repairs,
                 info.reaped, info.freed);
    } else if (info.why[0] != '\0') {
        log_warn(lg, "memory file %s: cold start: its content is not used: "
                 "%s", s->memory_file, info.why);
    } else {
        log_warn(lg, "memory file %s: cold start: a new file (%zu MB "
                 "reserved in %.1f ms)", s->memory_file,
                 cfg->mem_limit >> 20, ms);
    }
    return e;
}

struct engine *cachefile_open(const struct settings *s,
                              const struct logger *lg)
{
    struct engine_config cfg;
    settings_engine_config(s, &cfg);
    struct engine *e = s->memory_file[0] ? open_file(s, &cfg, lg)
                                         : open_memfd(s, &cfg, lg);
    if (e != NULL)
        engine_set_logger(e, lg);
    return e;
}

struct engine *cachefile_adopt(const struct settings *s, int fd,
                               const struct logger *lg)
{
    const char *why;
    struct engine *e = engine_attach_fd(fd, &why);
    if (e != NULL) {
        struct engine_stats st;
        engine_stats(e, &st);
        log_warn(lg, "upgrade: the cache region is taken over as it is "
                 "(%llu item(s))", (unsigned long long)st.curr_items);
        engine_set_logger(e, lg);
        return e;
    }
    close(fd);
    log_warn(lg, "upgrade: this binary cannot read the region the old one "
             "wrote (%s): starting with a cold cache", why);
    struct engine_config cfg;
    settings_engine_config(s, &cfg);
    if (s->memory_file[0] == '\0')
        return cachefile_open(s, lg);
    struct engine_open_info info;
    e = engine_create_file(&cfg, s->memory_file, &info);
    if (e == NULL)
        log_error(lg, "memory file %s: %s", s->memory_file, info.err);
    else
        engine_set_logger(e, lg);
    return e;
}

void cachefile_close(struct engine *e, int graceful, const struct logger *lg)
{
    if (e == NULL)
        return;
    if (graceful && engine_close_clean(e) < 0)
        log_error(lg, "the memory file could not be written back; the next "
                  "start will treat it as an unclean stop");
    engine_close(e);
}

int cachefile_check(const struct settings *s)
{
    struct engine_open_info info;
    char why[512];
    if (s->memory_file[0] == '\0') {
        fprintf(stderr, "--check needs the memory file (-e FILE)\n");
        return 2;
    }
    struct engine *e = engine_open_file(NULL, s->memory_file,
                                        s->memory_file_wait * 1000, &info);
    if (e == NULL) {
        fprintf(stderr, "%s\n", info.err);
        return 2;
    }
    int rc = engine_check(e, why, sizeof(why));
    struct engine_stats st;
    engine_stats(e, &st);
    if (rc == 0)
        printf("%s: ok: %s, %llu item(s), %u lock repair(s), %u slot(s) "
               "reaped\n", s->memory_file,
               info.warm ? "warm" : info.why[0] ? info.why : "new file",
               (unsigned long long)st.curr_items, info.repairs, info.reaped);
    else
        printf("%s: BROKEN: %s\n", s->memory_file, why);
    engine_close_clean(e);
    engine_close(e);
    return rc == 0 ? 0 : 1;
}
