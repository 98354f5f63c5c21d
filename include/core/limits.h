/*
 * core/limits.h - the limits and defaults every layer shares, written once.
 *
 * Protocol limits are memcached's (a key is at most 250 bytes, a command
 * line 2048 bytes unless it is a get); sizes of names are what the longest
 * form needs ("tcp6:[v6 address]:port", a unix socket path). The server's
 * defaults are memcached 1.6's, except the listen address (127.0.0.1: safe
 * by default). The engine, the protocol layer and the settings module take
 * their defaults from here; each validates what it is given.
 */
#ifndef SHMC_CORE_LIMITS_H
#define SHMC_CORE_LIMITS_H

/* ---- protocol ---- */
#define SHMC_KEY_MAX 250                /* bytes of a key */
#define SHMC_LINE_MAX 2048              /* a command line, without '\n' */
#define SHMC_LINE_MAX_GET (1u << 20)    /* a get/gets line may be this long */
#define SHMC_REQS_PER_EVENT 20          /* -R */

/* ---- names ---- */
#define SHMC_HOST_MAX 64                /* "host[:port]" of -l, one entry */
#define SHMC_ADDR_MAX 72                /* "tcp6:[v6]:port", "unix:/path" */
#define SHMC_UNIX_PATH_MAX 108          /* sockaddr_un.sun_path */

/* ---- server defaults (memcached 1.6) ---- */
#define SHMC_DEFAULT_PORT 11211
#define SHMC_DEFAULT_MAXCONNS 1024      /* -c */
#define SHMC_DEFAULT_BACKLOG 1024       /* -b */
#define SHMC_DEFAULT_UNIX_MASK 0700     /* -a */
#define SHMC_DEFAULT_REPL_PORT 11212    /* -o repl_port (repcached's) */

/* ---- engine defaults (memcached 1.6) ---- */
#define SHMC_DEFAULT_MEM_MB 64          /* -m */
#define SHMC_DEFAULT_FACTOR 1.25        /* -f */
#define SHMC_DEFAULT_MIN_CHUNK 48       /* -n */
#define SHMC_DEFAULT_ITEM_MAX (1u << 20)    /* -I */
#define SHMC_SLAB_PAGE_SIZE (1u << 20)  /* one slab page */

#endif
