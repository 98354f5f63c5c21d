/*
 * lru.c - the eviction order of a class (see lru.h).
 */
#include "engine/lru.h"

#include "engine/lock.h"

void lru_link_locked(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    it->prev = 0;
    it->next = c->lru_head;
    if (c->lru_head)
        ITEM(e, c->lru_head)->prev = r;
    else
        c->lru_tail = r;
    c->lru_head = r;
}

void lru_unlink_locked(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    if (it->prev)
        ITEM(e, it->prev)->next = it->next;
    else
        c->lru_head = it->next;
    if (it->next)
        ITEM(e, it->next)->prev = it->prev;
    else
        c->lru_tail = it->prev;
    it->prev = it->next = 0;
}

void lru_bump(struct engine_worker *w, ref_t r, uint32_t now)
{
    struct item *it = ITEM(w->e, r);
    if (now - it->atime < LRU_BUMP_SECS)
        return;
    unsigned id = it->clsid;
    struct class *c = &w->e->classes[id];
    if (lock_class(w, id) < 0)
        return;
    if (it->state == ST_LINKED && c->lru_head != r) {
        lru_unlink_locked(w->e, c, r);
        lru_link_locked(w->e, c, r);
    }
    it->atime = now;
    unlock_class(w, id);
}
