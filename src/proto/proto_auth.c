/*
 * proto_auth.c - the -Y file and its check (see proto_auth.h).
 *
 * Format as memcached's authfile.c reads it: each line "user:password",
 * the user up to the first ':', the password up to the line end ('\r' or
 * '\n'); a line without ':' makes the file malformed; lines after the
 * eighth are ignored. Comparison is constant time over the stored bytes.
 */
#include "proto/proto_auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int proto_authfile_load(struct proto_authfile *af, const char *path,
                        char *err, size_t errlen)
{
    struct proto_authfile next;
    char line[PROTO_AUTH_LEN + 2];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "Could not open authfile [%s] for reading, "
                 "error %s", path, strerror(errno));
        return -1;
    }
    memset(&next, 0, sizeof(next));
    while (next.n < PROTO_AUTH_MAX &&
           fgets(line, PROTO_AUTH_LEN, f) != NULL) {
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            fclose(f);
            snprintf(err, errlen, "Authfile [%s] has a malformed entry. "
                     "Should be 'user:password'", path);
            return -1;
        }
        size_t ulen = (size_t)(colon - line);
        size_t plen = strcspn(colon + 1, "\r\n");
        memcpy(next.e[next.n].user, line, ulen);
        next.e[next.n].ulen = ulen;
        memcpy(next.e[next.n].pass, colon + 1, plen);
        next.e[next.n].plen = plen;
        next.n++;
    }
    fclose(f);
    *af = next;
    return 0;
}

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char diff = alen != blen;
    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
    return diff == 0;
}

int proto_authfile_check(const struct proto_authfile *af, const char *user,
                         size_t ulen, const char *pass, size_t plen)
{
    int ok = 0;
    for (int i = 0; af != NULL && i < af->n; i++)
        ok |= same(user, ulen, af->e[i].user, af->e[i].ulen) &
              same(pass, plen, af->e[i].pass, af->e[i].plen);
    return ok;
}
