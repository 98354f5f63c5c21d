/*
 * automove.h - memcached's slab automover policy (slab_automove=1), as a
 * function of figures (engine internal; engine.h's engine_automove_run()
 * feeds it the region's figures once a second and asks the mover).
 *
 * It keeps, per class, a window of the last `window` rounds: was the class
 * "dirty" (it evicted, ran out of memory or gained pages), its
 * share of the round's evictions, the age of its LRU tail. Each round:
 *   - a class with more than 2.5 pages worth of free chunks and a clean
 *     window gives a page back to the global pool (dst 0): the first such
 *     class decides the round;
 *   - otherwise, once the window has filled, the class with the oldest
 *     tail (averaged over the window, more than 2 pages) gives a page to
 *     the youngest class that evicts steadily (in more than half the
 *     window, or more than a quarter of all evictions) and evicted in this
 *     round, when the youngest age is below ratio x the oldest.
 * Pages in the pool go to whichever class needs a page next (carving takes
 * pool pages first), which is how memcached returns them to the classes
 * that evict. slab_automove=2 (a page for every eviction) is the slab
 * allocator's (slab.c), not this.
 *
 * The state is the deciding process's own memory (the master's), not the
 * region's: a new master starts with an empty window, as a restarted
 * memcached does.
 */
#ifndef SHMC_ENGINE_AUTOMOVE_H
#define SHMC_ENGINE_AUTOMOVE_H

#include <stdint.h>

/* One class's figures at a round (cumulative counters as they are). */
struct automove_fig {
    uint64_t evicted, outofmemory;
    uint64_t pages, free_chunks, perpage;
    uint64_t age;               /* seconds since its LRU tail's last access */
};

struct automove;

/* A policy for classes 1..nclasses (< 64), window rounds (> 2), ratio in
 * (0, 1]. NULL when out of memory. */
struct automove *automove_new(unsigned nclasses, unsigned window,
                              double ratio);
void automove_free(struct automove *a);
double automove_ratio(const struct automove *a);
/* The figures the first round compares with (memcached's dry run). */
void automove_prime(struct automove *a, const struct automove_fig *fig);
/* One round with the figures of classes 1..nclasses (fig[0] unused):
 * *src and *dst, or both -1 when no page should move. */
void automove_decide(struct automove *a, const struct automove_fig *fig,
                     int *src, int *dst);

#endif
