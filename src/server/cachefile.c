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
 *
 * FILE.meta, as memcached's: a graceful stop writes a short description
 * beside the file (tmp + rename); the next start reads it and removes it.
 * The file's own header is the truth about its content (a memory file
 * survives kill -9, which writes no .meta); a .meta that is there but
 * unreadable stops the start, as memcached's does, since whoever wrote it
 * is not this server and the operator must look.
 */
#include "server/cachefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "core/log.h"
#include "core/version.h"
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

#define META_MAGIC "shmcached_meta 1"

static void meta_path(const char *file, char *out, size_t len)
{
    snprintf(out, len, "%s.meta", file);
}

/* FILE.meta at a start: none, or ours (then consumed): 0; anything else:
 * -1 (logged). */
static int meta_check(const char *file, const struct logger *lg)
{
    char path[PATH_MAX + 8], buf[256];
    meta_path(file, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (f == NULL && errno == ENOENT)
        return 0;
    if (f == NULL) {
        log_error(lg, "memory file %s: cannot read %s: %s", file, path,
                  strerror(errno));
        return -1;
    }
    int ok = fgets(buf, sizeof(buf), f) != NULL &&
             strncmp(buf, META_MAGIC "\n", sizeof(META_MAGIC)) == 0;
    fclose(f);
    if (!ok) {
        log_error(lg, "memory file %s: %s is not a metadata file this "
                  "server wrote (empty or foreign): refusing to start; "
                  "remove it to go on", file, path);
        return -1;
    }
    unlink(path);
    return 0;
}

/* FILE.meta at a graceful stop. */
static void meta_write(const char *file, struct engine *e,
                       const struct logger *lg)
{
    char path[PATH_MAX + 8], tmp[PATH_MAX + 16];
    struct engine_stats st;
    engine_stats(e, &st);
    meta_path(file, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        log_warn(lg, "cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    fprintf(f, META_MAGIC "\nversion %s\nstopped_at %lld\ncurr_items "
            "%llu\nhash_power_level %u\n", SHMC_VERSION,
            (long long)time(NULL), (unsigned long long)st.curr_items,
            st.hash_power_level);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        log_warn(lg, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

struct engine *cachefile_open(const struct settings *s,
                              const struct logger *lg)
{
    struct engine_config cfg;
    settings_engine_config(s, &cfg);
    if (s->memory_file[0] && meta_check(s->memory_file, lg) < 0)
        return NULL;
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

void cachefile_close(struct engine *e, const struct settings *s,
                     int graceful, const struct logger *lg)
{
    if (e == NULL)
        return;
    if (graceful && s->memory_file[0] != '\0') {
        if (engine_close_clean(e) < 0)
            log_error(lg, "the memory file could not be written back; the "
                      "next start will treat it as an unclean stop");
        else
            meta_write(s->memory_file, e, lg);
    }
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
