/*
 * http.h - the console's HTTP/1.1: a request parser and response writer.
 *
 * Pure functions over buffers (no sockets), so the unit suite can feed
 * them any bytes. The parser accepts only what the console serves:
 * GET and POST (anything else is 405), origin-form targets ("/path?query"),
 * HTTP/1.0 and 1.1, a Content-Length body (no chunked uploads: 501),
 * and bounded sizes: a request head larger than HTTP_HEAD_MAX is 431, a
 * body larger than HTTP_BODY_MAX is 413. Keep-alive follows the version
 * and the Connection header.
 *
 * Invariants: a parsed request points into the caller's buffer (valid
 * until the caller consumes it); nothing here allocates.
 */
#ifndef SHMC_CONSOLE_HTTP_H
#define SHMC_CONSOLE_HTTP_H

#include <stddef.h>

struct buf;

#define HTTP_HEAD_MAX 8192          /* request line + headers */
#define HTTP_BODY_MAX 16384         /* POST bodies (forms) */
#define HTTP_PATH_MAX 2048

enum http_method { HTTP_GET = 1, HTTP_POST };

struct http_req {
    enum http_method method;
    const char *path;           /* "/api/keys" (not decoded) */
    size_t path_len;
    const char *query;          /* after '?', or NULL */
    size_t query_len;
    const char *body;           /* POST body, or NULL */
    size_t body_len;
    int minor;                  /* HTTP/1.<minor> */
    int keep_alive;
    int has_token;              /* "X-Shmcached: 1" header (see console.c:
                                   POSTs need it, which a cross-site form
                                   cannot send) */
};

/* Parses one request at the start of in[0..len). Returns the number of
 * bytes it occupies (head + body) when complete, 0 when more bytes are
 * needed, or -status for a request that must be refused with that status
 * (400, 405, 413, 414, 431, 501, 505); the connection then closes. */
long http_parse(const char *in, size_t len, struct http_req *r);

/* Finds name in an application/x-www-form-urlencoded string (a query or
 * a POST body) and percent-decodes its value into out (NUL-terminated,
 * at most outlen - 1 bytes). Returns the decoded length, or -1 when the
 * name is absent or the value does not fit. */
long http_param(const char *qs, size_t qslen, const char *name, char *out,
                size_t outlen);

/* Percent-decodes (and '+' to ' ') src into out. -1 on a bad escape or
 * when it does not fit. */
long http_unescape(const char *src, size_t len, char *out, size_t outlen);

/* The reason phrase of a status ("Not Found"). */
const char *http_reason(int status);

/* Appends a whole response: status line, Content-Type (if ctype), 
 * Content-Length, Connection, extra (already "\r\n"-terminated header
 * lines, or NULL), and the body. Returns 0 or -1 (out of memory). */
int http_respond(struct buf *out, int status, const char *ctype,
                 const void *body, size_t len, int keep_alive,
                 const char *extra);

#endif
