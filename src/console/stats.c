/*
 * stats.c - "stats" replies as name/value lists (see stats.h).
 *
 * kv_parse() copies the reply once into l->text, cuts it in place into
 * NUL-terminated names and values, and indexes them. Lookups are linear:
 * a list has at most a few thousand entries and is read a few times per
 * request.
 */
#include "console/stats.h"

#include <stdlib.h>
#include <string.h>

struct kv_owned {
    struct kv_owned *next;
    char s[];
};

void kv_init(struct kvlist *l)
{
    memset(l, 0, sizeof(*l));
}

void kv_free(struct kvlist *l)
{
    while (l->owned != NULL) {
        struct kv_owned *o = l->owned;
        l->owned = o->next;
        free(o);
    }
    free(l->v);
    free(l->text);
    kv_init(l);
}

static int kv_add(struct kvlist *l, const char *name, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct kv *v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].name = name;
    l->v[l->n].value = value;
    l->n++;
    return 0;
}

int kv_parse(struct kvlist *l, const char *text, size_t len)
{
    kv_free(l);
    l->text = malloc(len + 1);
    if (l->text == NULL)
        return -1;
    memcpy(l->text, text, len);
    l->text[len] = '\0';
    char *p = l->text, *end = l->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        if (le > p && le[-1] == '\r')
            le[-1] = '\0';
        *le = '\0';
        if (strcmp(p, "END") == 0)
            break;
        if (strncmp(p, "STAT ", 5) == 0) {
            char *name = p + 5, *sp = strchr(name, ' ');
            char *value = sp ? sp + 1 : le;
            if (sp)
                *sp = '\0';
            if (*name && kv_add(l, name, value) < 0)
                return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

const char *kv_get(const struct kvlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    return NULL;
}

int kv_set(struct kvlist *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) != 0)
            continue;
        size_t n = strlen(value) + 1;
        struct kv_owned *o = malloc(sizeof(*o) + n);
        if (o == NULL)
            return -1;
        memcpy(o->s, value, n);
        o->next = l->owned;
        l->owned = o;
        l->v[i].value = o->s;
        return 0;
    }
    return 1;
}

uint64_t kv_u64(const struct kvlist *l, const char *name)
{
    const char *v = kv_get(l, name);
    if (v == NULL || *v < '0' || *v > '9')
        return 0;
    return strtoull(v, NULL, 10);
}

void snapshot_init(struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    kv_init(&s->stats);
    kv_init(&s->settings);
    kv_init(&s->items);
    kv_init(&s->slabs);
    kv_init(&s->sizes);
    kv_init(&s->shmcached);
}

void snapshot_free(struct snapshot *s)
{
    kv_free(&s->stats);
    kv_free(&s->settings);
    kv_free(&s->items);
    kv_free(&s->slabs);
    kv_free(&s->sizes);
    kv_free(&s->shmcached);
}

int snapshot_take(struct snapshot *s, unsigned mask, stats_cmd_fn fn,
                  void *arg)
{
    static const struct { unsigned bit; const char *cmd; size_t off; } parts[] = {
        { SNAP_STATS, "stats", offsetof(struct snapshot, stats) },
        { SNAP_SETTINGS, "stats settings", offsetof(struct snapshot, settings) },
        { SNAP_ITEMS, "stats items", offsetof(struct snapshot, items) },
        { SNAP_SLABS, "stats slabs", offsetof(struct snapshot, slabs) },
        { SNAP_SIZES, "stats sizes", offsetof(struct snapshot, sizes) },
        { SNAP_SHMCACHED, "stats shmcached",
          offsetof(struct snapshot, shmcached) },
    };
    struct buf out;
    buf_init(&out);
    s->up = 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (!(mask & parts[i].bit))
            continue;
        buf_reset(&out, 0);
        struct kvlist *l = (struct kvlist *)((char *)s + parts[i].off);
        if (fn(arg, parts[i].cmd, &out, s->error, sizeof(s->error)) < 0 ||
            kv_parse(l, out.data ? out.data : "", out.len) < 0) {
            s->up = 0;
            break;
        }
    }
    buf_free(&out);
    return s->up ? 0 : -1;
}
