/*
 * item.c - an item's value where it lies, and its liveness (see item.h).
 *
 * A value is one run of bytes for the caller, pieces for the engine: the
 * head chunk's room after the header and key, then CHAIN chunks of the
 * same class. Every function walks the pieces from the head; chains are
 * short (a 1 MiB value in 512 KiB chunks has three pieces).
 */
#include "engine/item.h"

#include <string.h>
#include <sys/uio.h>

int item_dead(const struct engine *e, const struct item *it, uint32_t now)
{
    if (it->exptime != 0 && it->exptime <= now)
        return 1;
    int64_t ol = __atomic_load_n(&e->r->oldest_live, __ATOMIC_ACQUIRE);
    if (ol != 0 && ol <= (int64_t)now) {
        /* with CAS the cliff is exact (below); without it, as memcached,
         * whatever was stored in the flush's second goes too */
        if ((int64_t)it->stime < ol ||
            (!e->r->cfg.use_cas && (int64_t)it->stime == ol))
            return 1;
        uint64_t oc = __atomic_load_n(&e->r->oldest_cas, __ATOMIC_ACQUIRE);
        if (oc != 0 && it->cas <= oc)
            return 1;
    }
    return 0;
}

/* Calls back for each piece of value [off, off+len): pointer and size. */
static void value_walk(const struct engine *e, struct item *it, size_t off,
                       size_t len, char *buf, int to_item)
{
    ref_t next = item_chain(e, it);
    char *seg = item_data(it);
    size_t segcap = next ? item_head_room(e, it) - it->nkey : len + off;

    while (len > 0) {
        if (off < segcap) {
            size_t n = segcap - off < len ? segcap - off : len;
            if (to_item)
                memcpy(seg + off, buf, n);
            else
                memcpy(buf, seg + off, n);
            buf += n;
            len -= n;
            off = 0;
        } else {
            off -= segcap;
        }
        if (len == 0 || next == 0)
            break;
        struct item *x = ITEM(e, next);
        seg = (char *)(x + 1);
        segcap = item_chunk_room(e, x);
        next = x->next;
    }
}

size_t item_window(const struct engine *e, struct item *it, size_t off,
                   char **p)
{
    if (off >= it->nbytes)
        return 0;
    size_t left = it->nbytes - off;
    ref_t next = item_chain(e, it);
    size_t cap = next ? item_head_room(e, it) - it->nkey : it->nbytes;
    char *seg = item_data(it);
    while (off >= cap && next != 0) {
        off -= cap;
        struct item *x = ITEM(e, next);
        seg = (char *)(x + 1);
        cap = item_chunk_room(e, x);
        next = x->next;
    }
    *p = seg + off;
    return cap - off < left ? cap - off : left;
}

int item_iov(const struct engine *e, struct item *it, struct iovec *iov,
             int max)
{
    size_t left = it->nbytes;
    ref_t next = item_chain(e, it);
    size_t cap = next ? item_head_room(e, it) - it->nkey : left;
    char *seg = item_data(it);
    int n = 0;
    while (left > 0) {
        if (n == max)
            return -1;
        size_t take = cap < left ? cap : left;
        iov[n].iov_base = seg;
        iov[n].iov_len = take;
        n++;
        left -= take;
        if (left == 0 || next == 0)
            break;
        struct item *x = ITEM(e, next);
        seg = (char *)(x + 1);
        cap = item_chunk_room(e, x);
        next = x->next;
    }
    return n;
}

void item_read(const struct engine *e, struct item *it, size_t off,
               size_t len, void *dst)
{
    value_walk(e, it, off, len, dst, 0);
}

void item_write(const struct engine *e, struct item *it, size_t off,
                const void *src, size_t len)
{
    value_walk(e, it, off, len, (char *)src, 1);
}
