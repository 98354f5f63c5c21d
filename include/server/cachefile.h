/*
 * cachefile.h - the cache region as the server sees it: made anew on a
 * memfd (the default: a cold cache on every start, as memcached), or kept
 * in a memory file (-e) that outlives the server and is served warm by the
 * next start; the graceful close that marks such a file clean; --check.
 */
#ifndef SHMC_SERVER_CACHEFILE_H
#define SHMC_SERVER_CACHEFILE_H

struct engine;
struct logger;
struct settings;

/* The region for s: a memory file when s->memory_file is set (waiting up to
 * memory_file_wait seconds for an earlier server's processes), else a new
 * memfd. Logs whether a file was served warm (and how long its recovery
 * took) or started cold (and why). Returns the engine, or NULL (logged). */
struct engine *cachefile_open(const struct settings *s,
                              const struct logger *lg);

/* The region a binary upgrade hands over (its descriptor fd): taken as it
 * is when this binary reads its format, else replaced by a cold one (a new
 * memfd, or a new memory file renamed over the old one, which the old
 * server keeps until it exits), with the reason logged. fd is the engine's
 * or closed. NULL when no region could be had (logged). */
struct engine *cachefile_adopt(const struct settings *s, int fd,
                               const struct logger *lg);

/* The end of the server: a memory file is written back and marked clean
 * (and FILE.meta written beside it, as memcached's) when the stop was
 * graceful and no other process has the region; then the region is closed
 * in this process. A start refuses a FILE.meta it cannot read. */
void cachefile_close(struct engine *e, const struct settings *s,
                     int graceful, const struct logger *lg);

/* --check: opens s->memory_file as a start would (recovering it), verifies
 * every invariant, prints one line to stdout and closes it cleanly.
 * Returns the exit status: 0 when it holds, 1 when not, 2 when it could
 * not be opened. */
int cachefile_check(const struct settings *s);

#endif
