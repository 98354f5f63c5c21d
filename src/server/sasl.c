/*
 * sasl.c - Cyrus SASL for the binary protocol (see sasl.h).
 *
 * The callbacks are memcached's (sasl_defs.c): where the configuration is,
 * the optional MEMCACHED_SASL_PWDB password file, and logging through the
 * server's log (-v shows warnings, -vv notes). A connection's sasl_conn_t
 * is created on its first SASL request and freed with the connection.
 */
#include "server/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sasl/sasl.h>

#include "core/log.h"

static const struct logger *sasl_lg;
static char sasl_hostname[256];
static const char *sasl_pwdb;

static int sasl_getconf(void *context, const char **path)
{
    static const char *const places[] = { "/etc/sasl/memcached.conf",
                                          "/etc/sasl2/memcached.conf" };
    (void)context;
    *path = getenv("SASL_CONF_PATH");
    for (size_t i = 0; *path == NULL && i < 2; i++)
        if (access(places[i], F_OK) == 0)
            *path = places[i];
    if (*path == NULL)
        log_warn(sasl_lg, "SASL: failed to locate a config path");
    return *path != NULL ? SASL_OK : SASL_FAIL;
}

static int sasl_log(void *context, int level, const char *message)
{
    (void)context;
    if (level == SASL_LOG_NONE)
        return SASL_OK;
    enum log_level l = level <= SASL_LOG_ERR ? LOG_LVL_ERROR
                     : level <= SASL_LOG_WARN ? LOG_LVL_INFO
                     : LOG_LVL_DEBUG;
    log_msg(sasl_lg, l, "SASL (severity %d): %s", level, message);
    return SASL_OK;
}

/* MEMCACHED_SASL_PWDB: "user:password" lines, checked in constant time. */
static int pwdb_checkpass(sasl_conn_t *conn, void *context, const char *user,
                          const char *pass, unsigned passlen,
                          struct propctx *propctx)
{
    (void)conn, (void)context, (void)propctx;
    FILE *f = fopen(sasl_pwdb, "r");
    size_t ulen = strlen(user);
    char line[256];
    int ok = 0;
    if (f == NULL)
        return SASL_NOAUTHZ;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n == ulen + 1 + passlen && line[ulen] == ':' &&
            strncmp(line, user, ulen) == 0) {
            unsigned char d = 0;
            for (unsigned i = 0; i < passlen; i++)
                d |= (unsigned char)(line[ulen + 1 + i] ^ pass[i]);
            ok |= d == 0;
        }
    }
    fclose(f);
    return ok ? SASL_OK : SASL_NOAUTHZ;
}

typedef int (*sasl_fn)(void);
/* void (*)(void) converts to and from any function type without a warning */
#define CB(fn) ((sasl_fn)(void (*)(void))(fn))

static sasl_callback_t callbacks[] = {
    { SASL_CB_SERVER_USERDB_CHECKPASS, CB(pwdb_checkpass), NULL },
    { SASL_CB_LOG, CB(sasl_log), NULL },
    { SASL_CB_GETCONFPATH, CB(sasl_getconf), NULL },
    { SASL_CB_LIST_END, NULL, NULL },
};

int server_sasl_init(const struct logger *lg)
{
    sasl_lg = lg;
    sasl_pwdb = getenv("MEMCACHED_SASL_PWDB");
    if (sasl_pwdb == NULL) {     /* no password file: drop its callback */
        memmove(&callbacks[0], &callbacks[1], 3 * sizeof(callbacks[0]));
    }
    if (gethostname(sasl_hostname, sizeof(sasl_hostname) - 1) < 0)
        sasl_hostname[0] = '\0';
    if (sasl_server_init(callbacks, "memcached") != SASL_OK) {
        log_error(lg, "Error initializing sasl.");
        return -1;
    }
    log_info(lg, "Initialized SASL.");
    return 0;
}

static sasl_conn_t *conn_of(void **state)
{
    if (*state == NULL) {
        sasl_conn_t *c = NULL;
        if (sasl_server_new("memcached", sasl_hostname[0] ? sasl_hostname
                                                          : NULL,
                            NULL, NULL, NULL, NULL, 0, &c) != SASL_OK)
            return NULL;
        *state = c;
    }
    return *state;
}

int server_sasl_mechs(void **state, const char **list, unsigned *len)
{
    sasl_conn_t *c = conn_of(state);
    if (c == NULL)
        return -1;
    return sasl_listmech(c, NULL, "", " ", "", list, len, NULL) == SASL_OK
               ? 0 : -1;
}

int server_sasl_step(void **state, int start, const char *mech,
                     const char *data, unsigned len, const char **out,
                     unsigned *outlen)
{
    sasl_conn_t *c = conn_of(state);
    if (c == NULL)
        return -1;
    int rc = start ? sasl_server_start(c, mech, data, len, out, outlen)
                   : sasl_server_step(c, data, len, out, outlen);
    return rc == SASL_OK ? 0 : rc == SASL_CONTINUE ? 1 : -1;
}

void server_sasl_free(void *state)
{
    if (state != NULL) {
        sasl_conn_t *c = state;
        sasl_dispose(&c);
    }
}
