/*
 * json.c - JSON output helpers (see json.h).
 */
#include "console/json.h"

#include <string.h>

#include "core/buf.h"

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int json_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

int json_str(struct buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    int err = buf_append(out, "\"", 1);
    size_t run = 0;             /* bytes copied as they are, pending */
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        size_t k = c >= 0x20 && c != '"' && c != '\\' ? utf8_seq(p + i,
                                                                 len - i)
                                                      : 0;
        if (k > 0 && c != 0x7f) {
            i += k;
            run += k;
            continue;
        }
        err |= buf_append(out, s + i - run, run);
        run = 0;
        if (c == '"' || c == '\\')
            err |= buf_printf(out, "\\%c", c);
        else if (c == '\n')
            err |= buf_append(out, "\\n", 2);
        else if (c == '\r')
            err |= buf_append(out, "\\r", 2);
        else if (c == '\t')
            err |= buf_append(out, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            err |= buf_printf(out, "\\u%04x", c);
        else
            err |= buf_append(out, "\\ufffd", 6);
        i++;
    }
    err |= buf_append(out, s + len - run, run);
    err |= buf_append(out, "\"", 1);
    return err ? -1 : 0;
}

int json_strz(struct buf *out, const char *s)
{
    return json_str(out, s, strlen(s));
}

int json_key(struct buf *out, const char *name)
{
    return json_strz(out, name) | buf_append(out, ":", 1);
}

int json_hex(struct buf *out, const void *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = s;
    int err = buf_append(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        char two[2] = { hex[p[i] >> 4], hex[p[i] & 15] };
        err |= buf_append(out, two, 2);
    }
    return (err | buf_append(out, "\"", 1)) ? -1 : 0;
}
