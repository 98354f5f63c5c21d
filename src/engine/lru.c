/*
 * lru.c - the segmented LRU of a class (see lru.h).
 *
 * Invariants kept under the class lock: a LINKED item is on exactly the
 * list its segment bits name, and each list's count and bytes are the sum
 * over its items; an item's segment bits change only while it is off every
 * list (between unlink and link), so a crash between the two leaves an
 * item whose bits still say where the class repair must put it.
 */
#include "engine/lru.h"

#include "engine/lock.h"

void engine_lru_defaults(struct engine_lru_config *lc)
{
    lc->segmented = 1;
    lc->hot_pct = 20;
    lc->warm_pct = 40;
    lc->temp_lru = 0;
    lc->temp_ttl = 61;
    lc->pad = 0;
    lc->hot_factor = 0.2;
    lc->warm_factor = 2.0;
}

void engine_set_lru(struct engine *e, const struct engine_lru_config *lc)
{
    struct engine_lru_config *p = &e->r->lru;
    __atomic_store_n(&p->hot_pct, lc->hot_pct, __ATOMIC_RELAXED);
    __atomic_store_n(&p->warm_pct, lc->warm_pct, __ATOMIC_RELAXED);
    __atomic_store_n(&p->temp_lru, lc->temp_lru, __ATOMIC_RELAXED);
    __atomic_store_n(&p->temp_ttl, lc->temp_ttl, __ATOMIC_RELAXED);
    double hot = lc->hot_factor, warm = lc->warm_factor;
    __atomic_store(&p->hot_factor, &hot, __ATOMIC_RELAXED);
    __atomic_store(&p->warm_factor, &warm, __ATOMIC_RELAXED);
    __atomic_store_n(&p->segmented, lc->segmented, __ATOMIC_RELEASE);
}

void engine_get_lru(const struct engine *e, struct engine_lru_config *lc)
{
    const struct engine_lru_config *p = &e->r->lru;
    lc->segmented = __atomic_load_n(&p->segmented, __ATOMIC_ACQUIRE);
    lc->hot_pct = __atomic_load_n(&p->hot_pct, __ATOMIC_RELAXED);
    lc->warm_pct = __atomic_load_n(&p->warm_pct, __ATOMIC_RELAXED);
    lc->temp_lru = __atomic_load_n(&p->temp_lru, __ATOMIC_RELAXED);
    lc->temp_ttl = __atomic_load_n(&p->temp_ttl, __ATOMIC_RELAXED);
    lc->pad = 0;
    __atomic_load(&p->hot_factor, &lc->hot_factor, __ATOMIC_RELAXED);
    __atomic_load(&p->warm_factor, &lc->warm_factor, __ATOMIC_RELAXED);
}

/* ---- the lists ----------------------------------------------------------- */

void lru_link_locked(struct engine *e, struct class *c, ref_t r,
                     unsigned seg)
{
    struct item *it = ITEM(e, r);
    struct lru_seg *l = &c->lru[seg];
    it->st = (uint8_t)((it->st & ST_MASK) | (seg << ST_SEG_SHIFT));
    it->prev = 0;
    it->next = l->head;
    if (l->head)
        ITEM(e, l->head)->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->count++;
    l->bytes += lru_item_bytes(it);
}

void lru_unlink_locked(struct engine *e, struct class *c, ref_t r)
{
    struct item *it = ITEM(e, r);
    struct lru_seg *l = &c->lru[lru_seg(it)];
    if (it->prev)
        ITEM(e, it->prev)->next = it->next;
    else
        l->head = it->next;
    if (it->next)
        ITEM(e, it->next)->prev = it->prev;
    else
        l->tail = it->prev;
    it->prev = it->next = 0;
    l->count--;
    l->bytes -= lru_item_bytes(it);
}

void lru_replace_locked(struct engine *e, struct class *c, ref_t old,
                        ref_t nr)
{
    struct item *o = ITEM(e, old), *n = ITEM(e, nr);
    struct lru_seg *l = &c->lru[lru_seg(o)];
    n->prev = o->prev;
    n->next = o->next;
    if (o->prev)
        ITEM(e, o->prev)->next = nr;
    else
        l->head = nr;
    if (o->next)
        ITEM(e, o->next)->prev = nr;
    else
        l->tail = nr;
    o->prev = o->next = 0;
}

void lru_link_new_locked(struct engine *e, struct class *c, ref_t r,
                         uint32_t now)
{
    const struct engine_lru_config *p = &e->r->lru;
    const struct item *it = ITEM(e, r);
    unsigned seg = LRU_COLD;
    if (__atomic_load_n(&p->temp_lru, __ATOMIC_RELAXED) &&
        it->exptime != 0 && it->exptime >= now &&
        it->exptime - now <= __atomic_load_n(&p->temp_ttl, __ATOMIC_RELAXED))
        seg = LRU_TEMP;
    else if (__atomic_load_n(&p->segmented, __ATOMIC_ACQUIRE))
        seg = LRU_HOT;
    lru_link_locked(e, c, r, seg);
}

void lru_move_locked(struct engine *e, struct class *c, ref_t r,
                     unsigned to)
{
    unsigned from = lru_seg(ITEM(e, r));
    lru_unlink_locked(e, c, r);
    lru_link_locked(e, c, r, to);
    if (to == LRU_COLD)
        c->moves_to_cold++;
    else if (from == LRU_WARM)
        c->moves_within_lru++;
    else
        c->moves_to_warm++;
}

int lru_pull_to_cold_locked(struct engine *e, struct class *c)
{
    ref_t r = c->lru[LRU_HOT].tail;
    if (r == 0)
        r = c->lru[LRU_WARM].tail;
    if (r == 0)
        return 0;
    lru_move_locked(e, c, r, LRU_COLD);
    return 1;
}

/* ---- fetches ------------------------------------------------------------- */

/* Segmented: the second fetch makes the item ACTIVE; in COLD it is rescued
 * to WARM at once (memcached bumps it asynchronously, soon after). */
static void bump_segmented(struct engine_worker *w, ref_t r, uint32_t now)
{
    struct item *it = ITEM(w->e, r);
    uint8_t st = __atomic_load_n(&it->st, __ATOMIC_RELAXED);
    if ((st & ST_ACTIVE) && now - it->atime < LRU_BUMP_SECS)
        return;                     /* nothing new to say */
    unsigned id = it->clsid;
    struct class *c = &w->e->classes[id];
    if (lock_class(w, id) < 0)
        return;
    if (item_state(it) == ST_LINKED) {
        if (lru_seg(it) == LRU_COLD)
            lru_move_locked(w->e, c, r, LRU_WARM);  /* clears ACTIVE */
        else if (lru_seg(it) != LRU_TEMP)
            it->st |= ST_ACTIVE;
        it->atime = now;
    }
    unlock_class(w, id);
}

/* Flat: to the head at most every LRU_BUMP_SECS. */
static void bump_flat(struct engine_worker *w, ref_t r, uint32_t now)
{
    struct item *it = ITEM(w->e, r);
    if (now - it->atime < LRU_BUMP_SECS)
        return;
    unsigned id = it->clsid;
    struct class *c = &w->e->classes[id];
    if (lock_class(w, id) < 0)
        return;
    if (item_state(it) == ST_LINKED) {
        unsigned seg = lru_seg(it);
        if (c->lru[seg].head != r) {
            lru_unlink_locked(w->e, c, r);
            lru_link_locked(w->e, c, r, seg);
        }
    }
    it->atime = now;
    unlock_class(w, id);
}

void lru_bump(struct engine_worker *w, ref_t r, uint32_t now, int again)
{
    if (!__atomic_load_n(&w->e->r->lru.segmented, __ATOMIC_ACQUIRE))
        bump_flat(w, r, now);
    else if (again)
        bump_segmented(w, r, now);
}
