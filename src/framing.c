/*
 * framing.c - request boundaries of the text protocol (see framing.h).
 *
 * The tokenizer below is the protocol's (proto_text.c parse_line): only ' '
 * separates tokens, a NUL ends the line, a trailing '\r' is dropped when the
 * line holds more than that one byte. Only the first 8 tokens matter here:
 * a storage command has at most 7, and a longer line is refused by the
 * protocol's token-count check before any value is expected.
 */
#include "framing.h"

#include <string.h>

#include "proto_text.h"

#define FR_TOKENS 8

struct fr_cmd {
    const char *name;
    size_t len;
    size_t min, max;        /* token count including the command */
    int cas;
};

static const struct fr_cmd fr_cmds[] = {
    { "set", 3, 5, 6, 0 },
    { "add", 3, 5, 6, 0 },
    { "replace", 7, 5, 6, 0 },
    { "append", 6, 5, 6, 0 },
    { "prepend", 7, 5, 6, 0 },
    { "cas", 3, 6, 7, 1 },
};

int framing_line_value(const char *line, const char *end, uint64_t *vlen)
{
    struct proto_token tok[FR_TOKENS];
    size_t n = 0;
    const char *s = line, *p = line;

    for (; p < end && n < FR_TOKENS; p++) {
        if (*p == ' ') {
            if (s != p) {
                tok[n].p = s;
                tok[n].len = (size_t)(p - s);
                n++;
            }
            s = p + 1;
        } else if (*p == '\0') {
            break;
        }
    }
    if (n < FR_TOKENS && s != p) {
        tok[n].p = s;
        tok[n].len = (size_t)(p - s);
        n++;
    }
    if (n == 0 || tok[0].len < 2)
        return 0;
    const struct fr_cmd *c = NULL;
    for (size_t i = 0; i < sizeof(fr_cmds) / sizeof(fr_cmds[0]); i++)
        if (fr_cmds[i].len == tok[0].len &&
            memcmp(fr_cmds[i].name, tok[0].p, tok[0].len) == 0)
            c = &fr_cmds[i];
    if (c == NULL || n < c->min || n > c->max)
        return 0;
    if (tok[1].len > PROTO_KEY_MAX)
        return 0;
    uint32_t flags;
    int32_t exptime, len;
    uint64_t cas;
    if (!proto_strtoul32(&tok[2], &flags) ||
        !proto_strtol32(&tok[3], &exptime) ||
        !proto_strtol32(&tok[4], &len) ||
        (c->cas && !proto_strtoull(&tok[5], &cas)) ||
        len < 0 || len > INT32_MAX - 2)
        return 0;
    *vlen = (uint64_t)len;
    return 1;
}

void framing_consume(struct framing *f, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end && !f->lost) {
        if (f->skip > 0) {
            size_t take = (size_t)(end - p) < f->skip ? (size_t)(end - p)
                                                      : (size_t)f->skip;
            f->skip -= take;
            p += take;
            continue;
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            f->lost = 1;        /* a partial line was consumed */
            return;
        }
        const char *le = nl;
        if (le - p > 1 && le[-1] == '\r')
            le--;
        uint64_t vlen;
        if (framing_line_value(p, le, &vlen))
            f->skip = vlen + 2;
        p = nl + 1;
    }
}
