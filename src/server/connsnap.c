/*
 * connsnap.c - snapshots of every worker's connections (see connsnap.h).
 */
#include "server/connsnap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/limits.h"
#include "engine/engine.h"
#include "server/conn.h"

struct snap_entry {
    int32_t fd;
    char state[16];
    char addr[SHMC_ADDR_MAX];
    char listen[SHMC_ADDR_MAX];
    double last;
};

struct snap_slot {
    uint32_t seq;               /* odd while being written */
    uint32_t n;
    struct snap_entry e[CONNSNAP_MAX];
};

struct connsnap {
    struct snap_slot *slot;     /* ENGINE_MAX_SLOTS of them, shared */
    size_t len;
};

struct connsnap *connsnap_create(void)
{
    struct connsnap *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return NULL;
    cs->len = sizeof(struct snap_slot) * ENGINE_MAX_SLOTS;
    void *p = mmap(NULL, cs->len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(cs);
        return NULL;
    }
    cs->slot = p;
    return cs;
}

void connsnap_destroy(struct connsnap *cs)
{
    if (cs == NULL)
        return;
    munmap(cs->slot, cs->len);
    free(cs);
}

static void copy(char *dst, size_t len, const char *src)
{
    size_t n = src ? strnlen(src, len - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

void connsnap_publish(struct connsnap *cs, int slot,
                      const struct conn_set *set, double now)
{
    (void)now;
    if (cs == NULL || slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return;
    struct snap_slot *s = &cs->slot[slot];
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);   /* odd */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint32_t n = 0;
    for (const struct conn *c = set->head; c && n < CONNSNAP_MAX;
         c = c->next, n++) {
        struct snap_entry *e = &s->e[n];
        e->fd = c->fd;
        copy(e->state, sizeof(e->state), conn_state_name(c));
        copy(e->addr, sizeof(e->addr), c->addr);
        copy(e->listen, sizeof(e->listen), c->listen_addr ? c->listen_addr
                                                          : "unknown");
        e->last = c->last_active;
    }
    s->n = n;
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);   /* even */
}

void connsnap_clear(struct connsnap *cs, int slot)
{
    if (cs == NULL || slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return;
    struct snap_slot *s = &cs->slot[slot];
    __atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
    s->n = 0;
    __atomic_store_n(&s->seq, (s->seq + 1) & ~1u, __ATOMIC_RELEASE);
}

int connsnap_stats(const struct connsnap *cs, int self, double now,
                   struct buf *out)
{
    struct snap_slot *copy_of = malloc(sizeof(*copy_of)); /* one slot */
    int err = 0;
    if (copy_of == NULL)
        return -1;
    for (int i = 0; cs != NULL && i < ENGINE_MAX_SLOTS; i++) {
        const struct snap_slot *s = &cs->slot[i];
        if (i == self || __atomic_load_n(&s->n, __ATOMIC_RELAXED) == 0)
            continue;
        int ok = 0;
        for (int tries = 0; tries < 4 && !ok; tries++) {
            uint32_t a = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
            if (a & 1)
                continue;
            uint32_t n = s->n < CONNSNAP_MAX ? s->n : CONNSNAP_MAX;
            memcpy(copy_of->e, s->e, n * sizeof(s->e[0]));
            copy_of->n = n;
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            ok = __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == a;
        }
        for (uint32_t k = 0; ok && k < copy_of->n; k++) {
            const struct snap_entry *e = &copy_of->e[k];
            long long secs = (long long)now - (long long)e->last;
            err |= buf_printf(out, "STAT %d:addr %s\r\n", e->fd, e->addr);
            err |= buf_printf(out, "STAT %d:listen_addr %s\r\n", e->fd,
                              e->listen);
            err |= buf_printf(out, "STAT %d:state %s\r\n", e->fd, e->state);
            err |= buf_printf(out, "STAT %d:secs_since_last_cmd %lld\r\n",
                              e->fd, secs < 0 ? 0 : secs);
        }
    }
    free(copy_of);
    return err ? -1 : 0;
}
