/*
 * engine_cas.c - an uncounted look at an item (engine_peek) and delete
 * with compare-and-swap (engine_delete_cas), for the binary protocol.
 *
 * Both follow the engine's key-operation pattern (engine_int.h): open the
 * key (stripe lock held), read or remove the item, release the stripe.
 * Nothing here keeps state; counters are updated exactly as engine.c's
 * engine_delete does, so a delete is counted once whichever path runs it.
 */
#include "engine_cas.h"

#include "detail.h"
#include "engine_int.h"
#include "recover.h"
#include "region.h"

enum engine_status engine_peek(struct engine_worker *w, const char *key,
                               size_t nkey, engine_get_fn fn, void *arg)
{
    struct lookup l;
    ref_t r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, NULL, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        return ENGINE_NOT_FOUND;
    }
    if (fn) {
        struct info_box b;
        eng_fill_info(w->e, ITEM(w->e, r), &b);
        fn(arg, &b.info);
    }
    unlock_stripe(w, l.stripe);
    return ENGINE_OK;
}

enum engine_status engine_delete_cas(struct engine_worker *w, const char *key,
                                     size_t nkey, uint64_t cas)
{
    struct lookup l;
    ref_t *link, r;
    int why;

    enum engine_status st = eng_open_key(w, key, nkey, &l, &r, &link, &why);
    if (st != ENGINE_OK)
        return st;
    if (r == 0) {
        unlock_stripe(w, l.stripe);
        detail_record(w, key, nkey, DETAIL_DEL, 0);
        w->s->c.delete_misses++;
        return ENGINE_NOT_FOUND;
    }
    struct item *it = ITEM(w->e, r);
    uint64_t have = w->e->r->cfg.use_cas ? it->cas : 0;
    if (cas != 0 && have != cas) {
        unlock_stripe(w, l.stripe);
        return ENGINE_EXISTS;
    }
    w->s->cls[it->clsid].delete_hits++;
    eng_remove_locked(w, &l, link, r);
    unlock_stripe(w, l.stripe);
    detail_record(w, key, nkey, DETAIL_DEL, 1);
    w->s->c.delete_hits++;
    return ENGINE_OK;
}
