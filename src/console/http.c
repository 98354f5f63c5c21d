/*
 * http.c - the console's HTTP/1.1 parser and response writer (see http.h).
 *
 * The parser first finds the end of the head (an empty line, CRLF or bare
 * LF) within HTTP_HEAD_MAX bytes, then reads the request line and the few
 * headers the console cares about (Content-Length, Transfer-Encoding,
 * Connection, X-Shmcached); every other header is only
 * checked for well-formedness. It never reads past len and never writes
 * to the input.
 */
#include "console/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"

/* Position just past the empty line ending the head, or 0 if none yet. */
static size_t head_end(const char *in, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (in[i] != '\n')
            continue;
        if (in[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && in[i + 1] == '\r' && in[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/* One header line (without its line end). Returns 0 or -status. */
static int header(const char *p, size_t n, struct http_req *r,
                  long *clen, int *te)
{
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return -400;
    for (const char *q = p; q < colon; q++)
        if (!is_tchar((unsigned char)*q))
            return -400;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vl = (size_t)(end - v);
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(p, name, nl) == 0)
    if (IS("Content-Length")) {
        long x = 0;
        if (vl == 0 || vl > 9)
            return vl > 9 ? -413 : -400;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -400;
            x = x * 10 + (v[i] - '0');
        }
        if (*clen >= 0 && *clen != x)
            return -400;
        *clen = x;
    } else if (IS("Transfer-Encoding")) {
        *te = 1;
    } else if (IS("Connection")) {
        if (vl == 5 && strncasecmp(v, "close", 5) == 0)
            r->keep_alive = 0;
        else if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0)
            r->keep_alive = 1;
    } else if (IS("X-Shmcached")) {
        r->has_token = vl == 1 && v[0] == '1';
    }
#undef IS
    return 0;
}

/* "METHOD SP target SP HTTP/1.x". Returns 0 or -status. */
static int request_line(const char *p, size_t n, struct http_req *r)
{
    const char *sp1 = memchr(p, ' ', n);
    if (sp1 == NULL || sp1 == p)
        return -400;
    size_t ml = (size_t)(sp1 - p);
    for (size_t i = 0; i < ml; i++)
        if (!is_tchar((unsigned char)p[i]))
            return -400;
    const char *t = sp1 + 1, *end = p + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (sp2 == NULL || sp2 == t)
        return -400;
    const char *ver = sp2 + 1;
    size_t vl = (size_t)(end - ver);
    if (vl != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.')
        return -400;
    if (ver[5] != '1' || (ver[7] != '0' && ver[7] != '1'))
        return -505;
    r->minor = ver[7] - '0';
    r->keep_alive = r->minor == 1;
    if (ml == 3 && memcmp(p, "GET", 3) == 0)
        r->method = HTTP_GET;
    else if (ml == 4 && memcmp(p, "POST", 4) == 0)
        r->method = HTTP_POST;
    else
        return -405;
    size_t tl = (size_t)(sp2 - t);
    if (t[0] != '/')
        return -400;
    if (tl > HTTP_PATH_MAX)
        return -414;
    for (size_t i = 0; i < tl; i++)
        if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
            return -400;
    const char *q = memchr(t, '?', tl);
    r->path = t;
    r->path_len = q ? (size_t)(q - t) : tl;
    r->query = q ? q + 1 : NULL;
    r->query_len = q ? tl - r->path_len - 1 : 0;
    return 0;
}

long http_parse(const char *in, size_t len, struct http_req *r)
{
    memset(r, 0, sizeof(*r));
    size_t he = head_end(in, len < HTTP_HEAD_MAX + 4 ? len
                                                     : HTTP_HEAD_MAX + 4);
    if (he == 0)
        return len > HTTP_HEAD_MAX ? -431 : 0;
    if (he > HTTP_HEAD_MAX)
        return -431;
    long clen = -1;
    int te = 0, first = 1, rc = 0;
    for (size_t at = 0; at < he && rc == 0;) {
        const char *nl = memchr(in + at, '\n', he - at);
        size_t n = (size_t)(nl - (in + at));
        if (n > 0 && in[at + n - 1] == '\r')
            n--;
        if (n == 0 && !first)
            break;
        if (first)
            rc = n == 0 ? -400 : request_line(in + at, n, r);
        else if (in[at] == ' ' || in[at] == '\t')
            rc = -400;          /* obsolete line folding */
        else
            rc = header(in + at, n, r, &clen, &te);
        first = 0;
        at = (size_t)(nl - in) + 1;
    }
    if (rc < 0)
        return rc;
    if (te)
        return -501;
    if (clen > HTTP_BODY_MAX)
        return -413;
    if (clen < 0)
        clen = 0;
    if (len - he < (size_t)clen)
        return 0;
    r->body = clen > 0 ? in + he : NULL;
    r->body_len = (size_t)clen;
    return (long)(he + (size_t)clen);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long http_unescape(const char *src, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = c;
    }
    if (outlen == 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

long http_param(const char *qs, size_t qslen, const char *name, char *out,
                size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = qs, *end = qs ? qs + qslen : NULL;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq ? eq + 1 : stop;
            return http_unescape(v, (size_t)(stop - v), out, outlen);
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_respond(struct buf *out, int status, const char *ctype,
                 const void *body, size_t len, int keep_alive,
                 const char *extra)
{
    int err = buf_printf(out, "HTTP/1.1 %d %s\r\n", status,
                         http_reason(status));
    if (ctype != NULL)
        err |= buf_printf(out, "Content-Type: %s\r\n", ctype);
    err |= buf_printf(out, "Content-Length: %zu\r\n"
                      "Connection: %s\r\n"
                      "X-Content-Type-Options: nosniff\r\n"
                      "Cache-Control: no-store\r\n",
                      len, keep_alive ? "keep-alive" : "close");
    if (status == 405)
        err |= buf_printf(out, "Allow: GET, POST\r\n");
    if (extra != NULL)
        err |= buf_appendz(out, extra);
    err |= buf_append(out, "\r\n", 2);
    if (len > 0)
        err |= buf_append(out, body, len);
    return err ? -1 : 0;
}
