/*
 * settings_tuning.c - memcached's -o options for the slab mover, the
 * segmented LRU, the LRU crawler, the hash table and the logger.
 *
 * settings.c's option table names each of these options once (they work
 * on the command line's -o and in the config file alike) and hands them
 * here by name: settings_tuning_apply() checks the value as memcached 1.6
 * does (same ranges, same messages) and stores it in struct settings,
 * mostly in its struct tuning_config, the part the engine consumes.
 * Cross-field rules (hot + warm <= 80 %, temporary_ttl needs the LRU
 * maintainer) are in settings_tuning_validate().
 *
 * Order matters as in memcached: "no_modern" sets several defaults of
 * memcached 1.4 at the point where it appears, and a later option still
 * overrides it.
 *
 * Invariants: nothing here prints or exits; a refused value returns -1
 * with one line in msg (the caller adds where it came from).
 */
#include "server/settings_tuning.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"

void tuning_defaults(struct tuning_config *t)
{
    memset(t, 0, sizeof(*t));
    t->slab_reassign = 1;
    t->slab_automove = 1;
    t->slab_automove_ratio = 0.8;
    t->slab_automove_window = 30;
    t->lru_segmented = 1;
    t->hot_lru_pct = 20;
    t->warm_lru_pct = 40;
    t->hot_max_factor = 0.2;
    t->warm_max_factor = 2.0;
    t->temp_lru = 0;
    t->temporary_ttl = 61;
    t->hash_expand = 1;
    t->hash_algorithm = TUNING_HASH_MURMUR3;
    t->tail_repair_time = 0;
    t->slab_automove_freeratio = 0.01;
}

const char *tuning_hash_name(enum tuning_hash h)
{
    switch (h) {
    case TUNING_HASH_JENKINS: return "jenkins";
    case TUNING_HASH_XXH3: return "xxh3";
    case TUNING_HASH_MURMUR3: break;
    }
    return "murmur3";
}

struct tctx {
    struct settings *s;
    const char *val;
    char *msg;
    size_t len;
};

static int bad(struct tctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad(struct tctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->len, fmt, ap);
    va_end(ap);
    return -1;
}

/* A flag's value: none means on; else a boolean word. -1 if neither. */
static int flag(const char *v)
{
    static const char *yes[] = { "yes", "true", "on", "1" };
    static const char *no[] = { "no", "false", "off", "0" };
    if (v == NULL)
        return 1;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A whole decimal integer in [min, max]; 0 or -1. */
static int whole(const char *v, long long min, long long max, long long *out)
{
    char *end;
    if (v == NULL || *v == '\0')
        return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static int real(const char *v, double *out)
{
    char *end;
    if (v == NULL || *v == '\0')
        return -1;
    errno = 0;
    double x = strtod(v, &end);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = x;
    return 0;
}

/* slab_chunk_max: kilobytes, as memcached's -h documents ("16" is 16 KB,
 * "512" the default); a value of 1024 or more is bytes, the unit memcached
 * 1.4.29 to 1.6.x actually parsed and its own tests still use (16384,
 * 4096, 1024); a k/m suffix says it outright. */
static int chunk_max(struct tctx *c)
{
    const char *v = c->val;
    char *end;
    if (v == NULL || !isdigit((unsigned char)*v))
        return bad(c, "Missing slab_chunk_max argument");
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    unsigned long long unit = x < 1024 ? 1024 : 1;
    if (errno == 0 && x == 0 && *end == '\0') {
        c->s->slab_chunk_max = 0;       /* the default: half a page */
        return 0;
    }
    if (*end == 'k' || *end == 'K')
        unit = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        unit = 1024 * 1024, end++;
    if (errno != 0 || *end != '\0' || x == 0 || x > (1ull << 30) / unit)
        return bad(c, "could not parse argument to slab_chunk_max");
    c->s->slab_chunk_max = (size_t)(x * unit);
    c->s->slab_chunk_changed = 1;
    return 0;
}

/* slab_sizes=a-b-c: chunk sizes, memcached's syntax; their range and order
 * are checked once -n and slab_chunk_max are known (validate). */
static int slab_sizes(struct tctx *c)
{
    struct tuning_config *t = &c->s->tuning;
    const char *p = c->val;
    int n = 0;
    if (p == NULL || *p == '\0')
        return bad(c, "Missing slab_sizes argument");
    while (*p) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(p, &end, 10);
        if (end == p || errno != 0 || x > UINT_MAX ||
            (*end != '-' && *end != '\0'))
            return bad(c, "slab_sizes: could not parse '%s'", c->val);
        t->slab_sizes[n++] = (unsigned)x;
        if (n >= TUNING_MAX_SLAB_SIZES - 1)
            return bad(c, "too many slab classes specified");
        p = *end == '-' ? end + 1 : end;
    }
    t->slab_sizes[n] = 0;
    t->nslab_sizes = n;
    return 0;
}

/* memcached's checks of slab_sizes, in its order and words. */
static int validate_slab_sizes(const struct settings *s, char *err,
                               size_t errlen)
{
    const struct tuning_config *t = &s->tuning;
    size_t max = s->slab_chunk_max ? s->slab_chunk_max
                                   : SHMC_SLAB_PAGE_SIZE / 2;
    unsigned last = 0;
    for (int i = 0; i < t->nslab_sizes; i++) {
        unsigned x = t->slab_sizes[i];
        const char *why = NULL;
        if (x < (unsigned)s->chunk_size || x > max)
            why = "is out of valid range";
        else if (last >= x)
            why = "cannot be lower than or equal to a previous class size";
        else if (x <= last + 8)
            why = "must be at least 8 bytes larger than previous class";
        if (why != NULL) {
            snprintf(err, errlen, "slab size %u %s", x, why);
            return -1;
        }
        last = x;
    }
    return 0;
}

static int hash_algorithm(struct tctx *c)
{
    struct tuning_config *t = &c->s->tuning;
    if (c->val == NULL)
        return bad(c, "Missing hash_algorithm argument");
    if (strcmp(c->val, "jenkins") == 0)
        t->hash_algorithm = TUNING_HASH_JENKINS;
    else if (strcmp(c->val, "murmur3") == 0)
        t->hash_algorithm = TUNING_HASH_MURMUR3;
    else if (strcmp(c->val, "xxh3") == 0)
        t->hash_algorithm = TUNING_HASH_XXH3;
    else
        return bad(c, "Unknown hash_algorithm option (jenkins, murmur3, "
                   "xxh3)");
    return 0;
}

/* memcached 1.4's defaults, where no_modern appears. */
static void no_modern(struct settings *s)
{
    if (!s->slab_chunk_changed)
        s->slab_chunk_max = SHMC_SLAB_PAGE_SIZE;
    s->tuning.slab_reassign = 0;
    s->tuning.slab_automove = 0;
    s->maxconns_fast = 0;
    s->tuning.lru_segmented = 0;
    s->tuning.hash_algorithm = TUNING_HASH_JENKINS;
    s->lru_crawler = 0;
    s->lru_maintainer = 0;
}

/* Options taking a number: "name", range, where, memcached's message. */
static int numeric(struct tctx *c, const char *name)
{
    struct settings *s = c->s;
    struct tuning_config *t = &s->tuning;
    long long x;
    double d;
    if (c->val == NULL)
        return bad(c, "Missing %s argument", name);
#define WHOLE(lo, hi, ...) \
    do { if (whole(c->val, lo, hi, &x) < 0) return bad(c, __VA_ARGS__); } \
    while (0)
    if (strcmp(name, "slab_automove_ratio") == 0) {
        if (real(c->val, &d) < 0 || d <= 0 || d > 1)
            return bad(c, "slab_automove_ratio must be > 0 and < 1");
        t->slab_automove_ratio = d;
    } else if (strcmp(name, "slab_automove_freeratio") == 0) {
        if (real(c->val, &d) < 0)
            return bad(c, "could not parse argument to "
                       "slab_automove_freeratio");
        t->slab_automove_freeratio = d;
    } else if (strcmp(name, "slab_automove_window") == 0) {
        WHOLE(3, UINT_MAX, "slab_automove_window must be > 2");
        t->slab_automove_window = (unsigned)x;
    } else if (strcmp(name, "hot_lru_pct") == 0) {
        WHOLE(1, 79, "hot_lru_pct must be > 1 and < 80");
        t->hot_lru_pct = (int)x;
    } else if (strcmp(name, "warm_lru_pct") == 0) {
        WHOLE(1, 79, "warm_lru_pct must be > 1 and < 80");
        t->warm_lru_pct = (int)x;
    } else if (strcmp(name, "hot_max_factor") == 0 ||
               strcmp(name, "warm_max_factor") == 0) {
        if (real(c->val, &d) < 0 || !(d > 0))
            return bad(c, "%s must be > 0", name);
        *(name[0] == 'h' ? &t->hot_max_factor : &t->warm_max_factor) = d;
    } else if (strcmp(name, "temporary_ttl") == 0) {
        WHOLE(0, UINT_MAX, "temporary_ttl must be 0 or more seconds");
        t->temp_lru = 1;
        t->temporary_ttl = (unsigned)x;
    } else if (strcmp(name, "tail_repair_time") == 0) {
        WHOLE(0, INT_MAX, "could not parse argument to tail_repair_time");
        if (x > 0 && x < 10)        /* 0: off, the default */
            return bad(c, "Cannot set tail_repair_time to less than 10 "
                       "seconds");
        t->tail_repair_time = (int)x;
    } else if (strcmp(name, "lru_crawler_sleep") == 0) {
        WHOLE(0, 1000000, "LRU crawler sleep must be between 0 and 1 second");
        s->lru_crawler_sleep = (int)x;
    } else if (strcmp(name, "lru_crawler_tocrawl") == 0) {
        WHOLE(0, UINT32_MAX, "lru_crawler_tocrawl takes a numeric 32bit value");
        s->lru_crawler_tocrawl = (unsigned)x;
    } else if (strcmp(name, "watcher_logbuf_size") == 0 ||
               strcmp(name, "worker_logbuf_size") == 0) {
        WHOLE(1, 1 << 20, "could not parse argument to %s (kilobytes, "
              "1..1048576)", name);
        *(name[1] == 'a' ? &s->watcher_logbuf_size
                         : &s->worker_logbuf_size) = (size_t)x << 10;
    } else if (strcmp(name, "sock_cookie_id") == 0) {
        WHOLE(0, UINT32_MAX, "could not parse argument to sock_cookie_id");
        s->sock_cookie_id = (unsigned)x;
    } else {
        return bad(c, "internal error: unknown tuning option %s", name);
    }
#undef WHOLE
    return 0;
}

/* Boolean options: name, where the bit goes, and whether "no_" inverts. */
static int boolean(struct tctx *c, const char *name)
{
    struct settings *s = c->s;
    struct tuning_config *t = &s->tuning;
    int on = flag(c->val);
    if (on < 0)
        return bad(c, "'%s' is not a boolean (yes/no/true/false/1/0)",
                   c->val);
    int neg = strncmp(name, "no_", 3) == 0;
    const char *base = neg ? name + 3 : name;
    int v = neg ? !on : on;
    if (strcmp(base, "slab_reassign") == 0)
        t->slab_reassign = v;
    else if (strcmp(base, "slab_automove") == 0)     /* no_slab_automove */
        t->slab_automove = v;
    else if (strcmp(base, "lru_segmented") == 0)
        t->lru_segmented = v;
    else if (strcmp(base, "lru_maintainer") == 0) {
        s->lru_maintainer = v;
        if (v)
            t->lru_segmented = 1;       /* as memcached */
    } else if (strcmp(base, "hashexpand") == 0)
        t->hash_expand = v;
    else if (strcmp(base, "drop_privileges") == 0)
        s->drop_privileges = v;
    else if (strcmp(base, "chunked_items") == 0) {
        if (!v)
            s->slab_chunk_max = SHMC_SLAB_PAGE_SIZE;
    } else if (strcmp(base, "modern") == 0) {
        if (!v)
            no_modern(s);               /* memcached 1.6: modern is empty */
    } else if (strcmp(base, "inline_ascii_resp") == 0 ||
               strcmp(base, "inline_ascii_response") == 0 ||
               strcmp(base, "relaxed_privileges") == 0) {
        /* dead in memcached 1.6 as well ("inline_ascii_response no") */
    } else
        return bad(c, "internal error: unknown tuning flag %s", name);
    return 0;
}

int settings_tuning_apply(struct settings *s, const char *name,
                          const char *val, char *msg, size_t msglen)
{
    struct tctx c = { s, val, msg, msglen };
    if (strcmp(name, "slab_chunk_max") == 0)
        return chunk_max(&c);
    if (strcmp(name, "slab_sizes") == 0)
        return slab_sizes(&c);
    if (strcmp(name, "hash_algorithm") == 0)
        return hash_algorithm(&c);
    if (strcmp(name, "slab_automove") == 0) {
        long long x = 1;
        if (val != NULL && whole(val, 0, 2, &x) < 0)
            return bad(&c, "slab_automove must be between 0 and 2");
        s->tuning.slab_automove = (int)x;
        return 0;
    }
    if (strcmp(name, "resp_obj_mem_limit") == 0)
        return 0;   /* deprecated and unused in memcached 1.6 as well */
    static const char *const numbers[] = {
        "slab_automove_ratio", "slab_automove_freeratio",
        "slab_automove_window", "hot_lru_pct",
        "warm_lru_pct", "hot_max_factor", "warm_max_factor",
        "temporary_ttl", "tail_repair_time", "lru_crawler_sleep",
        "lru_crawler_tocrawl", "watcher_logbuf_size", "worker_logbuf_size",
        "sock_cookie_id",
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
        if (strcmp(name, numbers[i]) == 0)
            return numeric(&c, name);
    return boolean(&c, name);
}

int settings_tuning_validate(const struct settings *s, char *err,
                             size_t errlen)
{
    const struct tuning_config *t = &s->tuning;
    if (t->hot_lru_pct + t->warm_lru_pct > 80) {
        snprintf(err, errlen, "hot_lru_pct + warm_lru_pct cannot be more "
                 "than 80%% combined");
        return -1;
    }
    if (t->temp_lru && !s->lru_maintainer) {
        snprintf(err, errlen, "temporary_ttl requires lru_maintainer to be "
                 "enabled");
        return -1;
    }
    if (validate_slab_sizes(s, err, errlen) < 0)
        return -1;
    if (s->napi_ids > s->threads) {
        snprintf(err, errlen, "Number of napi_ids(%d) cannot be greater "
                 "than number of threads(%d)", s->napi_ids, s->threads);
        return -1;
    }
    return 0;
}
