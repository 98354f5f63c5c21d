/*
 * proto_token.c - a text command line as tokens and numbers: memcached's
 * tokenizer (in place, no copy, no allocation), the scan of get keys past
 * the tokens of a long line, and number parsing with memcached's
 * acceptance rules (proto_text.h). Shared by the text, meta and stats
 * command modules.
 */
#include "proto/proto_text.h"

#include <string.h>

/* ---- numbers ------------------------------------------------------- */

static inline int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* strtoull semantics over a token: *mag gets the value (negated modulo
 * 2^64 for '-'), *neg whether a '-' was seen. 0 on no digits, overflow, or
 * a number not followed by the token end or whitespace. */
static int scan_number(const struct proto_token *t, uint64_t *val, int *neg,
                       uint64_t limit_pos, uint64_t limit_neg)
{
    const char *p = t->p, *e = t->p + t->len;
    *neg = 0;
    while (p < e && is_space(*p))
        p++;
    if (p < e && (*p == '+' || *p == '-'))
        *neg = *p++ == '-';
    const char *d = p;
    uint64_t v = 0;
    int over = 0;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        unsigned dig = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - dig) / 10)
            over = 1;
        else
            v = v * 10 + dig;
    }
    if (p == d)
        return 0;
    if (over || v > (*neg ? limit_neg : limit_pos))
        return 0;   /* ERANGE */
    if (p < e && !is_space(*p))
        return 0;
    *val = *neg ? (uint64_t)0 - v : v;
    return 1;
}

/* The fast path: a token of 1 to maxlen - 1 plain digits (so no overflow
 * below 10^(maxlen-1)). 1 and *v, or 0 (take the full scan). */
static inline int plain_digits(const struct proto_token *t, size_t maxlen,
                               uint64_t *v)
{
    if (t->len == 0 || t->len >= maxlen)
        return 0;
    uint64_t x = 0;
    for (size_t i = 0; i < t->len; i++) {
        if (t->p[i] < '0' || t->p[i] > '9')
            return 0;
        x = x * 10 + (unsigned)(t->p[i] - '0');
    }
    *v = x;
    return 1;
}

int proto_strtoull(const struct proto_token *t, uint64_t *out)
{
    uint64_t v;
    int neg;
    if (plain_digits(t, 20, out))
        return 1;
    if (!scan_number(t, &v, &neg, UINT64_MAX, UINT64_MAX))
        return 0;
    if ((int64_t)v < 0 && neg)
        return 0;
    *out = v;
    return 1;
}

int proto_strtoul32(const struct proto_token *t, uint32_t *out)
{
    uint64_t v;
    if (!proto_strtoull(t, &v))
        return 0;
    *out = (uint32_t)v;     /* memcached truncates: 2^32 -> 0 */
    return 1;
}

int proto_strtol32(const struct proto_token *t, int32_t *out)
{
    uint64_t v;
    int neg;
    if (plain_digits(t, 10, &v)) {
        *out = (int32_t)v;          /* below 10^9 */
        return 1;
    }
    if (!scan_number(t, &v, &neg, (uint64_t)INT64_MAX,
                     (uint64_t)INT64_MAX + 1))
        return 0;
    *out = (int32_t)(uint32_t)v;    /* memcached truncates long to int32 */
    return 1;
}

size_t proto_u64toa(uint64_t v, char *dst)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(dst, tmp + sizeof tmp - n, n);
    return n;
}

/* ---- parser -------------------------------------------------------- */

/* Splits line [p, end) at spaces into r (memcached's tokenizer: only ' '
 * separates, a NUL ends the line, at most PROTO_MAX_TOKENS tokens; the
 * remainder of a longer line is left in r->rest). */
void proto_parse_line(const char *p, const char *end, struct request *r)
{
    const char *s = p;
    size_t n = 0;
    r->rest = NULL;
    r->noreply = 0;
    for (; p < end; p++) {
        char c = *p;
        if (c == ' ') {
            if (s != p) {
                r->tok[n].p = s;
                r->tok[n].len = (size_t)(p - s);
                if (++n == PROTO_MAX_TOKENS) {
                    p++;
                    if (p < end && *p != '\0')
                        r->rest = p;
                    r->ntok = n;
                    r->end = end;
                    return;
                }
            }
            s = p + 1;
        } else if (c == '\0') {
            break;
        }
    }
    if (s != p) {
        r->tok[n].p = s;
        r->tok[n].len = (size_t)(p - s);
        n++;
    }
    r->ntok = n;
    r->end = p;
}

/* memcached's set_noreply_maybe: the last token is "noreply". */
int proto_last_is_noreply(const struct request *r)
{
    return r->ntok > 0 && PROTO_TOK_IS(&r->tok[r->ntok - 1], "noreply");
}

/* Next get key: from the tokens, then from the unparsed rest of the line.
 * *i indexes tok; *scan walks rest. Returns 0 when no key is left. */
int proto_next_key(const struct request *r, size_t *i, const char **scan,
                   struct proto_token *key)
{
    if (*i < r->ntok) {
        *key = r->tok[(*i)++];
        return 1;
    }
    const char *p = *scan, *e = r->end;
    if (p == NULL)
        return 0;
    while (p < e && *p == ' ')
        p++;
    const char *s = p;
    while (p < e && *p != ' ' && *p != '\0')
        p++;
    if (p == s) {
        *scan = NULL;
        return 0;
    }
    key->p = s;
    key->len = (size_t)(p - s);
    *scan = (p < e && *p != '\0') ? p : NULL;
    return 1;
}
