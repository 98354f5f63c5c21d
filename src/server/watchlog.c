/*
 * watchlog.c - shared log rings for "watch" (see watchlog.h).
 *
 * Layout of the shared block: a header (global line id, counters, per-slot
 * watcher counts) then ENGINE_MAX_SLOTS rings of n entries each. An entry
 * is { stamp, type, len, text }: stamp is the entry's sequence number once
 * complete, STAMP_BUSY while being written. Each ring's head is the next
 * sequence number; entry s lives at s % n. The block is anonymous shared
 * memory: pages of rings nobody writes are never touched.
 *
 * Writer (one process per slot): stamp busy, write, stamp s, head = s + 1,
 * all with release ordering. Reader, for each slot with head > pos: if
 * head - pos > n the lines between were overwritten (skipped); else read
 * the entry, copy it, and keep it only if its stamp is still s.
 */
#include "server/watchlog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>

#include "core/uri.h"
#include "engine/engine.h"

#define STAMP_BUSY UINT64_MAX

struct wl_entry {
    uint64_t stamp;
    uint32_t type;
    uint32_t len;
    char text[WATCHLOG_LINE];
};

struct wl_ring {
    uint64_t head;              /* next sequence number */
    uint64_t written;           /* lines written (stats) */
    uint64_t skipped, sent;     /* by this slot's watchers (stats) */
    uint32_t watching[PROTO_LOG_TYPES]; /* this slot's watchers, by type */
    uint32_t watchers;
} __attribute__((aligned(64)));

struct wl_shm {
    uint64_t gid;               /* memcached's global line id */
    uint32_t nentries;
    struct wl_ring ring[ENGINE_MAX_SLOTS];
};

struct watchlog {
    struct wl_shm *shm;
    struct wl_entry *entries;   /* nentries per slot, slot after slot */
    size_t map_len;
    struct proto_shared *shared;
};

struct watch_reader {
    struct watchlog *wl;
    int slot;
    unsigned mask;
    size_t out_max;
    uint64_t skipped;           /* lost, not yet reported */
    uint64_t pos[ENGINE_MAX_SLOTS];
};

struct watchlog *watchlog_create(size_t ring_bytes,
                                 struct proto_shared *shared)
{
    struct watchlog *wl = calloc(1, sizeof(*wl));
    if (wl == NULL)
        return NULL;
    size_t n = ring_bytes / 512;    /* memcached's entries are ~512 bytes */
    if (n < 64)
        n = 64;
    if (n > 65536)
        n = 65536;
    wl->map_len = sizeof(struct wl_shm) +
                  (size_t)ENGINE_MAX_SLOTS * n * sizeof(struct wl_entry);
    void *p = mmap(NULL, wl->map_len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(wl);
        return NULL;
    }
    wl->shm = p;
    wl->shm->nentries = (uint32_t)n;
    wl->entries = (struct wl_entry *)((char *)p + sizeof(struct wl_shm));
    wl->shared = shared;
    return wl;
}

void watchlog_destroy(struct watchlog *wl)
{
    if (wl == NULL)
        return;
    munmap(wl->shm, wl->map_len);
    free(wl);
}

static struct wl_entry *entry(struct watchlog *wl, int slot, uint64_t seq)
{
    uint32_t n = wl->shm->nentries;
    return &wl->entries[(size_t)slot * n + (size_t)(seq % n)];
}

void watchlog_write(struct watchlog *wl, int slot, enum proto_log_type t,
                    const char *fmt, ...)
{
    if (wl == NULL || slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return;
    struct wl_ring *r = &wl->shm->ring[slot];
    uint64_t seq = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    struct wl_entry *e = entry(wl, slot, seq);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t gid = __atomic_fetch_add(&wl->shm->gid, 1, __ATOMIC_RELAXED);

    __atomic_store_n(&e->stamp, STAMP_BUSY, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    int n = snprintf(e->text, sizeof(e->text), "ts=%lld.%d gid=%llu ",
                     (long long)tv.tv_sec, (int)tv.tv_usec,
                     (unsigned long long)gid);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(e->text + n, sizeof(e->text) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(e->text) - 2)
        len = sizeof(e->text) - 2;
    e->text[len++] = '\n';
    e->len = (uint32_t)len;
    e->type = (uint32_t)t;
    __atomic_store_n(&e->stamp, seq, __ATOMIC_RELEASE);
    __atomic_store_n(&r->head, seq + 1, __ATOMIC_RELEASE);
    __atomic_store_n(&r->written, r->written + 1, __ATOMIC_RELAXED);
}

static void count_watcher(struct watchlog *wl, int slot, unsigned mask,
                          int delta)
{
    struct wl_ring *r = &wl->shm->ring[slot];
    for (int t = 0; t < PROTO_LOG_TYPES; t++) {
        if (!(mask & (1u << t)))
            continue;
        __atomic_add_fetch(&r->watching[t], (uint32_t)delta, __ATOMIC_RELAXED);
        if (wl->shared)
            __atomic_add_fetch(&wl->shared->watching[t], (uint32_t)delta,
                               __ATOMIC_RELEASE);
    }
    __atomic_add_fetch(&r->watchers, (uint32_t)delta, __ATOMIC_RELAXED);
}

struct watch_reader *watchlog_reader_new(struct watchlog *wl, int slot,
                                         unsigned mask, size_t out_max)
{
    if (wl == NULL || slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return NULL;
    struct watch_reader *rd = calloc(1, sizeof(*rd));
    if (rd == NULL)
        return NULL;
    rd->wl = wl;
    rd->slot = slot;
    rd->mask = mask;
    rd->out_max = out_max ? out_max : (size_t)256 << 10;
    count_watcher(wl, slot, mask, 1);
    for (int s = 0; s < ENGINE_MAX_SLOTS; s++)
        rd->pos[s] = __atomic_load_n(&wl->shm->ring[s].head, __ATOMIC_ACQUIRE);
    return rd;
}

void watchlog_reader_free(struct watch_reader *rd)
{
    if (rd == NULL)
        return;
    count_watcher(rd->wl, rd->slot, rd->mask, -1);
    free(rd);
}

/* Copies the next wanted line of ring s into out; 1 when something was
 * consumed (a line, a lost stretch or an unwanted line), 0 when the ring
 * has nothing new. */
static int read_one(struct watch_reader *rd, int s, struct buf *out,
                    size_t *lines)
{
    struct watchlog *wl = rd->wl;
    uint64_t head = __atomic_load_n(&wl->shm->ring[s].head, __ATOMIC_ACQUIRE);
    uint32_t n = wl->shm->nentries;
    if (rd->pos[s] >= head)
        return 0;
    if (head - rd->pos[s] > n) {            /* lapped: those are gone */
        rd->skipped += head - n - rd->pos[s];
        rd->pos[s] = head - n;
    }
    uint64_t seq = rd->pos[s]++;
    struct wl_entry *e = entry(wl, s, seq);
    if (__atomic_load_n(&e->stamp, __ATOMIC_ACQUIRE) != seq) {
        rd->skipped++;                      /* overwritten or half written */
        return 1;
    }
    uint32_t type = e->type, len = e->len;
    if (len > sizeof(e->text) || type >= PROTO_LOG_TYPES ||
        !(rd->mask & (1u << type)))
        return 1;
    size_t at = out->len;
    if (buf_append(out, e->text, len) < 0)
        return 0;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&e->stamp, __ATOMIC_RELAXED) != seq) {
        out->len = at;                      /* overwritten while copied */
        rd->skipped++;
        return 1;
    }
    (*lines)++;
    return 1;
}

size_t watchlog_read(struct watch_reader *rd, struct buf *out)
{
    size_t lines = 0;
    struct wl_ring *mine = &rd->wl->shm->ring[rd->slot];
    for (int s = 0; s < ENGINE_MAX_SLOTS && out->len < rd->out_max; s++) {
        while (out->len < rd->out_max) {
            size_t before = out->len;
            if (!read_one(rd, s, out, &lines))
                break;
            if (rd->skipped && out->len > before) {
                /* memcached reports the loss before the next line */
                char line[64];
                int k = snprintf(line, sizeof(line), "skipped=%llu\n",
                                 (unsigned long long)rd->skipped);
                char save[WATCHLOG_LINE + 64];
                size_t got = out->len - before;
                memcpy(save, out->data + before, got);
                out->len = before;
                buf_append(out, line, (size_t)k);
                buf_append(out, save, got);
                __atomic_add_fetch(&mine->skipped, rd->skipped,
                                   __ATOMIC_RELAXED);
                rd->skipped = 0;
            }
        }
    }
    __atomic_add_fetch(&mine->sent, lines, __ATOMIC_RELAXED);
    return lines;
}

void watchlog_slot_dead(struct watchlog *wl, int slot)
{
    if (wl == NULL || slot < 0 || slot >= ENGINE_MAX_SLOTS)
        return;
    struct wl_ring *r = &wl->shm->ring[slot];
    for (int t = 0; t < PROTO_LOG_TYPES; t++) {
        uint32_t k = __atomic_exchange_n(&r->watching[t], 0,
                                         __ATOMIC_RELAXED);
        if (k && wl->shared)
            __atomic_sub_fetch(&wl->shared->watching[t], k, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&r->watchers, 0, __ATOMIC_RELAXED);
}

void watchlog_stats(const struct watchlog *wl, struct watchlog_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (wl == NULL)
        return;
    for (int s = 0; s < ENGINE_MAX_SLOTS; s++) {
        const struct wl_ring *r = &wl->shm->ring[s];
        st->written += __atomic_load_n(&r->written, __ATOMIC_RELAXED);
        st->skipped += __atomic_load_n(&r->skipped, __ATOMIC_RELAXED);
        st->sent += __atomic_load_n(&r->sent, __ATOMIC_RELAXED);
        st->watchers += __atomic_load_n(&r->watchers, __ATOMIC_RELAXED);
    }
}

size_t watchlog_uriencode(const char *key, size_t n, char *dst)
{
    return uri_encode(key, n, dst);
}
