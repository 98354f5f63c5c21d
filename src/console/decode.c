/*
 * decode.c - the JSON and PHP serialize() decoders, and decode_value()
 * (see decode.h; the pickle reader is decode_pickle.c).
 *
 * JSON: a strict RFC 8259 validator (depth-bounded recursive descent,
 * UTF-8 checked); a valid document is copied to the output as it is.
 * PHP: recursive descent over serialize()'s grammar:
 *   N;  b:0|1;  i:<int>;  d:<float>;  s:<len>:"<bytes>";
 *   a:<n>:{<key><value>...}  O:<len>:"<class>":<n>:{<name><value>...}
 *   C:<len>:"<class>":<len>:{<bytes>}  r:<n>;  R:<n>;  E:<len>:"<C:case>";
 * arrays become JSON objects (keys in order, as strings); an object adds
 * "__class"; private and protected property names lose their "\0...\0"
 * prefix; references show as {"__ref": n}; INF and NAN as strings.
 */
#include "console/decode.h"

#include <string.h>

#include "console/json.h"
#include "core/buf.h"

const char *decode_name(enum decode_fmt f)
{
    switch (f) {
    case DECODE_JSON: return "json";
    case DECODE_PHP: return "php";
    case DECODE_PICKLE: return "pickle";
    default: return "none";
    }
}

/* ---- JSON validation ------------------------------------------------- */

struct jp {
    const char *p, *end;
};

static void jws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
                             *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jlit(struct jp *j, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return -1;
    j->p += n;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int jnumber(struct jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !is_digit(*j->p))
        return -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !is_digit(*j->p))
            return -1;
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !is_digit(*j->p))
            return -1;
        while (j->p < j->end && is_digit(*j->p))
            j->p++;
    }
    return 0;
}

static int jstring(struct jp *j)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    const char *start = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (++j->p >= j->end)
                return -1;
            if (*j->p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (j->p + k >= j->end ||
                        !strchr("0123456789abcdefABCDEF", j->p[k]) ||
                        j->p[k] == '\0')
                        return -1;
                j->p += 4;
            } else if (!strchr("\"\\/bfnrt", *j->p) || *j->p == '\0') {
                return -1;
            }
        }
        j->p++;
    }
    if (j->p >= j->end || !json_utf8_valid(start, (size_t)(j->p - start)))
        return -1;
    j->p++;
    return 0;
}

static int jvalue(struct jp *j, int depth);

/* An object or array after its opening bracket. */
static int jcontainer(struct jp *j, int depth, char close, int object)
{
    jws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        jws(j);
        if (object) {
            if (jstring(j) < 0)
                return -1;
            jws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return -1;
        }
        if (jvalue(j, depth + 1) < 0)
            return -1;
        jws(j);
        if (j->p >= j->end)
            return -1;
        char c = *j->p++;
        if (c == close)
            return 0;
        if (c != ',')
            return -1;
    }
}

static int jvalue(struct jp *j, int depth)
{
    if (depth > DECODE_DEPTH_MAX)
        return -1;
    jws(j);
    if (j->p >= j->end)
        return -1;
    switch (*j->p) {
    case '{': j->p++; return jcontainer(j, depth, '}', 1);
    case '[': j->p++; return jcontainer(j, depth, ']', 0);
    case '"': return jstring(j);
    case 't': return jlit(j, "true");
    case 'f': return jlit(j, "false");
    case 'n': return jlit(j, "null");
    default: return jnumber(j);
    }
}

int decode_json(const char *v, size_t n, struct buf *out)
{
    struct jp j = { v, v + n };
    if (n == 0 || n > DECODE_IN_MAX || jvalue(&j, 0) < 0)
        return -1;
    jws(&j);
    if (j.p != j.end)
        return -1;
    return buf_append(out, v, n);
}

/* ---- PHP serialize() ------------------------------------------------- */

struct pp {
    const char *p, *end;
    struct buf *out;
    size_t limit;               /* out->len may not pass this */
};

/* Reads an optionally signed decimal integer up to the byte stop. */
static int php_int(struct pp *s, char stop, long long *x)
{
    int neg = 0, digits = 0;
    unsigned long long v = 0;
    if (s->p < s->end && (*s->p == '-' || *s->p == '+'))
        neg = *s->p++ == '-';
    while (s->p < s->end && is_digit(*s->p)) {
        if (v > 922337203685477580ull)
            return -1;
        v = v * 10 + (unsigned)(*s->p++ - '0');
        digits++;
    }
    if (!digits || s->p >= s->end || *s->p != stop || v > 9223372036854775807ull)
        return -1;
    s->p++;
    *x = neg ? -(long long)v : (long long)v;
    return 0;
}

static int expect(struct pp *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

/* <len>:"<bytes>" then the byte after the closing quote must be `after`;
 * *str, *len get the bytes. */
static int php_lenstr(struct pp *s, char after, const char **str,
                      size_t *len)
{
    long long n;
    if (php_int(s, ':', &n) < 0 || n < 0 || expect(s, "\"") < 0 ||
        (long long)(s->end - s->p) < n + 2)
        return -1;
    *str = s->p;
    *len = (size_t)n;
    s->p += n;
    if (s->p[0] != '"' || s->p[1] != after)
        return -1;
    s->p += 2;
    return 0;
}

static int php_value(struct pp *s, int depth);

/* A property name without its visibility prefix ("\0*\0x", "\0C\0x"). */
static void php_propname(const char **str, size_t *len)
{
    if (*len >= 3 && (*str)[0] == '\0') {
        const char *z = memchr(*str + 1, '\0', *len - 1);
        if (z != NULL) {
            *len -= (size_t)(z + 1 - *str);
            *str = z + 1;
        }
    }
}

/* n key/value pairs and the closing brace, as JSON members. */
static int php_members(struct pp *s, long long n, int depth, int first,
                       int props)
{
    for (long long i = 0; i < n; i++) {
        if (!first)
            buf_append(s->out, ",", 1);
        first = 0;
        if (s->p + 2 > s->end)
            return -1;
        if (s->p[0] == 'i' && s->p[1] == ':') {
            long long k;
            s->p += 2;
            if (php_int(s, ';', &k) < 0)
                return -1;
            buf_printf(s->out, "\"%lld\":", k);
        } else if (s->p[0] == 's' && s->p[1] == ':') {
            const char *str;
            size_t len;
            s->p += 2;
            if (php_lenstr(s, ';', &str, &len) < 0)
                return -1;
            if (props)
                php_propname(&str, &len);
            json_str(s->out, str, len);
            buf_append(s->out, ":", 1);
        } else {
            return -1;
        }
        if (php_value(s, depth + 1) < 0)
            return -1;
    }
    if (expect(s, "}") < 0)
        return -1;
    return buf_append(s->out, "}", 1);
}

static int php_compound(struct pp *s, char t, int depth)
{
    long long n;
    const char *cls = NULL;
    size_t clen = 0;
    if (t != 'a' && php_lenstr(s, ':', &cls, &clen) < 0)
        return -1;
    if (t == 'C') {             /* custom serialize(): raw payload */
        long long plen;
        if (php_int(s, ':', &plen) < 0 || plen < 0 || expect(s, "{") < 0 ||
            (long long)(s->end - s->p) < plen + 1 || s->p[plen] != '}')
            return -1;
        buf_appendz(s->out, "{\"__class\":");
        json_str(s->out, cls, clen);
        buf_appendz(s->out, ",\"__serialized\":");
        json_str(s->out, s->p, (size_t)plen);
        s->p += plen + 1;
        return buf_append(s->out, "}", 1);
    }
    if (php_int(s, ':', &n) < 0 || n < 0 || n > s->end - s->p ||
        expect(s, "{") < 0)
        return -1;
    buf_append(s->out, "{", 1);
    if (t == 'O') {
        buf_appendz(s->out, "\"__class\":");
        json_str(s->out, cls, clen);
    }
    return php_members(s, n, depth, t != 'O', t == 'O');
}

static int php_value(struct pp *s, int depth)
{
    if (depth > DECODE_DEPTH_MAX || s->out->len > s->limit ||
        s->p + 2 > s->end)
        return -1;
    char t = s->p[0];
    if (t == 'N')
        return s->p[1] == ';' ? (s->p += 2, buf_appendz(s->out, "null")) : -1;
    if (s->p[1] != ':')
        return -1;
    s->p += 2;
    long long x;
    const char *str;
    size_t len;
    switch (t) {
    case 'b':
        if (expect(s, "0;") == 0)
            return buf_appendz(s->out, "false");
        return expect(s, "1;") == 0 ? buf_appendz(s->out, "true") : -1;
    case 'i':
        return php_int(s, ';', &x) < 0 ? -1 : buf_printf(s->out, "%lld", x);
    case 'r':
    case 'R':
        if (php_int(s, ';', &x) < 0)
            return -1;
        return buf_printf(s->out, "{\"__ref\":%lld}", x);
    case 'd': {
        const char *start = s->p;
        const char *semi = memchr(s->p, ';', (size_t)(s->end - s->p));
        if (semi == NULL || semi == start)
            return -1;
        s->p = semi + 1;
        struct jp j = { start, semi };
        if (jnumber(&j) == 0 && j.p == semi)
            return buf_append(s->out, start, (size_t)(semi - start));
        for (const char *q = start; q < semi; q++)  /* INF, -INF, NAN */
            if (!strchr("+-INFA", *q))
                return -1;
        return json_str(s->out, start, (size_t)(semi - start));
    }
    case 's':
        if (php_lenstr(s, ';', &str, &len) < 0)
            return -1;
        return json_str(s->out, str, len);
    case 'E':
        if (php_lenstr(s, ';', &str, &len) < 0)
            return -1;
        buf_appendz(s->out, "{\"__enum\":");
        json_str(s->out, str, len);
        return buf_append(s->out, "}", 1);
    case 'a':
    case 'O':
    case 'C':
        return php_compound(s, t, depth);
    default:
        return -1;
    }
}

int decode_php(const char *v, size_t n, struct buf *out)
{
    size_t mark = out->len;
    struct pp s = { v, v + n, out, mark + DECODE_OUT_MAX };
    if (n == 0 || n > DECODE_IN_MAX || php_value(&s, 0) < 0 ||
        s.p != s.end || out->len > s.limit) {
        out->len = mark;
        return -1;
    }
    return 0;
}

/* ---- detection ------------------------------------------------------- */

enum decode_fmt decode_value(const char *v, size_t n, struct buf *out)
{
    size_t i = 0;
    while (i < n && strchr(" \t\r\n", v[i]) && v[i] != '\0')
        i++;
    if (i < n && (v[i] == '{' || v[i] == '[') && decode_json(v, n, out) == 0)
        return DECODE_JSON;
    if (n >= 2 && (v[1] == ':' || (v[0] == 'N' && v[1] == ';')) &&
        strchr("NbidsaOCrRE", v[0]) && v[0] != '\0' &&
        decode_php(v, n, out) == 0)
        return DECODE_PHP;
    if (n >= 2 && v[n - 1] == '.' && decode_pickle(v, n, out) == 0)
        return DECODE_PICKLE;
    return DECODE_NONE;
}
